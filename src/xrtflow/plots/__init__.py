"""Figures, one module each, all drawn in the style of :mod:`xrtflow.plots.style`.

* :mod:`~xrtflow.plots.timeline` -- observation timeline
* :mod:`~xrtflow.plots.parameters` -- parameter evolution and fluxes (from the results table)
* :mod:`~xrtflow.plots.spectra` -- spectra, residuals, background, unfolded E F(E)
* :mod:`~xrtflow.plots.images` -- image cutouts and the larger image of the last ObsID
* :mod:`~xrtflow.plots.lightcurve` -- long-term light curve and hardness ratio

Submodules are imported on first use (matplotlib is slow to import).
"""

from __future__ import annotations

import importlib

_WHERE = {
    "plot_timeline": "timeline",
    "plot_parameters": "parameters",
    "plot_spectra": "spectra",
    "plot_image_grid": "images",
    "plot_last_image": "images",
    "plot_lightcurve": "lightcurve",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str):  # noqa: ANN202
    if name in _WHERE:
        return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
