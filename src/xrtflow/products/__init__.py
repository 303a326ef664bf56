"""Pure-Python equivalents of the XRT product tasks (used by the ``native`` backend).

Modules: :mod:`~xrtflow.products.events` (level-2 event files and their sky WCS),
:mod:`~xrtflow.products.regions` (DS9 regions, event selection), :mod:`~xrtflow.products.expomap`
(``xrtexpomap``), :mod:`~xrtflow.products.image`, :mod:`~xrtflow.products.lightcurve` and
:mod:`~xrtflow.products.spectrum` (``xrtproducts``), :mod:`~xrtflow.products.arf` and
:mod:`~xrtflow.products.psf` (``xrtmkarf``) and :mod:`~xrtflow.products.grouping` (``ftgrouppha``).
"""

from .events import EventFileError, EventList, read_events
from .regions import read_region, write_regions

__all__ = ["EventFileError", "EventList", "read_events", "read_region", "write_regions"]
