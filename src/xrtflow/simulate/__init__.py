"""Offline demo archive: simulated Swift-XRT PC-mode observations of T Pyx plus a CALDB-like tree.

Everything written is synthetic and labelled ``SIMULATED`` in the FITS headers.

>>> from xrtflow.simulate import DemoConfig, make_demo_archive      # doctest: +SKIP
>>> catalog = make_demo_archive("demo", DemoConfig(n_obs=8))        # doctest: +SKIP
"""

from xrtflow.simulate.archive import CATALOG_NAME, TRUTH_NAME, make_demo_archive
from xrtflow.simulate.config import DemoConfig, ObservationSpec
from xrtflow.simulate.response import SyntheticResponse, write_caldb
from xrtflow.simulate.spectrum import PhotonFlux, model_photon_flux, powerlaw_flux

__all__ = [
    "CATALOG_NAME",
    "TRUTH_NAME",
    "DemoConfig",
    "ObservationSpec",
    "PhotonFlux",
    "SyntheticResponse",
    "make_demo_archive",
    "model_photon_flux",
    "powerlaw_flux",
    "write_caldb",
]
