"""Spectral models, OGIP data, fit statistics and the native fitter."""
