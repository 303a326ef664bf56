"""Offline demo archive: simulated Swift-XRT PC-mode observations of T Pyx plus a CALDB-like tree.

Everything written is synthetic and labelled ``SIMULATED`` in the FITS headers.

>>> from xrtflow.simulate import DemoConfig, make_demo_archive      # doctest: +SKIP
>>> catalog = make_demo_archive("demo", DemoConfig(n_obs=8))        # doctest: +SKIP
"""

from importlib import import_module

# Re-exported lazily (PEP 562): ``import xrtflow.simulate.config`` stays cheap.
_EXPORTS = {
    "CATALOG_NAME": "archive",
    "TRUTH_NAME": "archive",
    "make_demo_archive": "archive",
    "DemoConfig": "config",
    "ObservationSpec": "config",
    "SyntheticResponse": "response",
    "write_caldb": "response",
    "PhotonFlux": "spectrum",
    "model_photon_flux": "spectrum",
    "powerlaw_flux": "spectrum",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):  # noqa: ANN202 (module attribute)
    if name in _EXPORTS:
        return getattr(import_module(f"xrtflow.simulate.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
