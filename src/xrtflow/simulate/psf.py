"""PSF helpers for the simulator (the formulas live in :mod:`xrtflow.calibration`)."""

from __future__ import annotations

from numpy.typing import ArrayLike

from xrtflow.calibration import (
    psf_encircled_fraction,
    psf_profile,
    sample_psf_radius,
)

__all__ = ["king_psf_fraction", "psf_encircled_fraction", "psf_profile", "sample_psf_radius"]


def king_psf_fraction(radius_arcsec: ArrayLike, energy_keV: ArrayLike, offaxis_arcmin: ArrayLike):
    """Encircled fraction within ``radius_arcsec`` (arcsec!) for the Swift-XRT PSF."""
    import numpy as np

    return psf_encircled_fraction(
        np.asarray(radius_arcsec, dtype=float) / 60.0, energy_keV, offaxis_arcmin
    )
