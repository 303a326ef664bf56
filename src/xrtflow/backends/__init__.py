"""Interchangeable processing backends: ``native`` (pure Python) and ``heasoft`` (HEASoft + PyXspec)."""
