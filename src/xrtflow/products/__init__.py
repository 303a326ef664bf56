"""Pure-Python equivalents of the XRT product tasks (used by the ``native`` backend).

Modules: :mod:`~xrtflow.products.events` (level-2 event files and their sky WCS),
:mod:`~xrtflow.products.regions` (DS9 regions, event selection), :mod:`~xrtflow.products.expomap`
(``xrtexpomap``), :mod:`~xrtflow.products.image`, :mod:`~xrtflow.products.lightcurve` and
:mod:`~xrtflow.products.spectrum` (``xrtproducts``), :mod:`~xrtflow.products.arf` and
:mod:`~xrtflow.products.psf` (``xrtmkarf``) and :mod:`~xrtflow.products.grouping` (``ftgrouppha``).
"""

from importlib import import_module

# Names re-exported lazily (PEP 562): importing one product module (e.g. ``grouping``) must not
# import the others' dependencies (``regions`` pulls in matplotlib).
_EXPORTS = {
    "EventFileError": "events",
    "EventList": "events",
    "read_events": "events",
    "read_region": "regions",
    "write_regions": "regions",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str):  # noqa: ANN202 (module attribute)
    if name in _EXPORTS:
        return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
