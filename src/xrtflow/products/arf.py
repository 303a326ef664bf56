"""Native equivalent of ``xrtmkarf`` (``psfflag=yes``, ``extended=no``): the source ARF.

.. math::

    ARF(E) = A_{on}(E)\\; \\bar V(E)\\; F_{PSF}(E, \\bar\\theta, \\text{region})\\; C_{bad}

* :math:`A_{on}` -- the on-axis effective area of the CALDB (``inarffile=CALDB``: mirror, filter
  and CCD quantum efficiency for the observation's mode, grades and epoch).
* :math:`\\bar V(E) = \\sum_i f_i V(E, \\theta_i)` -- the vignetting at the source's off-axis angle
  :math:`\\theta_i` for every attitude bin :math:`i` (exposure fraction :math:`f_i`), i.e. the
  exposure-weighted vignetting over the attitude (``xrtmkarf`` evaluates the vignetting at the
  off-axis angle of the source computed from the exposure map/attitude).
* :math:`F_{PSF}` -- the fraction of the point source's photons inside the region (circle or
  annulus, centred on the source) from the King+Gauss PSF of the CALDB at the exposure-weighted
  mean off-axis angle; energy dependent (``psfflag=yes``). Extended sources (``extended=yes``)
  are not supported.
* :math:`C_{bad}` -- with an exposure map (``expofile``), the PSF-weighted fraction of the region
  that is actually exposed, which corrects for bad pixels/columns and the field edge:
  :math:`\\sum_{pix} PSF(r) w / \\sum_{pix} PSF(r)` with :math:`w` the exposure map divided by the
  exposure and by its own 1.5 keV vignetting (so that vignetting is not counted twice), PSF at
  1.5 keV. ``xrtmkarf`` makes the same correction from the (vignetting-free) ``xrtexpomap`` map,
  on a box of ``arfboxsize`` pixels.

Differences from ``xrtmkarf``: the PSF fraction is the analytic integral over the exact region
(``xrtmkarf`` integrates the PSF image on a pixel grid); :math:`C_{bad}` is energy independent.
"""

from __future__ import annotations

from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.wcs import WCS
from regions import SkyRegion

from xrtflow.calibration import (
    PIXEL_ARCMIN,
    psf_annulus_fraction,
    psf_profile,
    vignetting,
)

from .events import EventList
from .expomap import REFERENCE_ENERGY_KEV, AttitudePositions
from .regions import region_pixel_mask, region_radii_arcmin

__all__ = [
    "read_arf",
    "offaxis_angles",
    "psf_fraction",
    "bad_pixel_correction",
    "make_arf",
    "write_arf",
]


def read_arf(path: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``ENERG_LO``, ``ENERG_HI``, ``SPECRESP`` of an ARF file."""
    with fits.open(path, memmap=False) as hdul:
        hdu = hdul["SPECRESP"] if "SPECRESP" in hdul else hdul[1]
        d = hdu.data
        return (
            np.asarray(d["ENERG_LO"], float),
            np.asarray(d["ENERG_HI"], float),
            np.asarray(d["SPECRESP"], float),
        )


def offaxis_angles(source: SkyCoord, positions: AttitudePositions) -> np.ndarray:
    """Off-axis angle (arcmin) of ``source`` for every attitude bin."""
    pnt = SkyCoord(positions.ra * u.deg, positions.dec * u.deg, frame="icrs")
    return np.asarray(pnt.separation(source.icrs).to_value(u.arcmin), float)


def psf_fraction(
    region: SkyRegion, energy_keV: np.ndarray, offaxis_arcmin: float, psf_coefficients=None
) -> np.ndarray:
    """Encircled (circle) or annular fraction of a point source centred in ``region``."""
    r_in, r_out = region_radii_arcmin(region)
    return psf_annulus_fraction(r_in, r_out, energy_keV, offaxis_arcmin, psf_coefficients)


def bad_pixel_correction(
    region: SkyRegion,
    source: SkyCoord,
    wcs: WCS,
    expomap: np.ndarray,
    exposure: float,
    positions: AttitudePositions,
    offaxis_arcmin: float,
    psf_coefficients=None,
    vignetting_coefficients=None,
    map_has_vignetting: bool = True,
    energy_keV: float = REFERENCE_ENERGY_KEV,
) -> float:
    """PSF-weighted exposed fraction of the region (1 when no pixel is lost)."""
    mask = region_pixel_mask(region, wcs, expomap.shape)
    jj, ii = np.nonzero(mask)
    if len(ii) == 0 or exposure <= 0:
        return 1.0
    sx, sy = wcs.world_to_pixel(source)
    r_arcmin = np.hypot(ii - float(sx), jj - float(sy)) * PIXEL_ARCMIN
    weight = psf_profile(r_arcmin, energy_keV, offaxis_arcmin, psf_coefficients)
    w = expomap[jj, ii] / exposure
    if map_has_vignetting:
        world = wcs.pixel_to_world(ii, jj)
        vig = np.zeros(len(ii))
        for ra, dec, frac in zip(positions.ra, positions.dec, positions.fraction, strict=True):
            theta = world.separation(SkyCoord(ra * u.deg, dec * u.deg, frame="icrs"))
            vig += frac * vignetting(energy_keV, theta.to_value(u.arcmin), vignetting_coefficients)
        with np.errstate(divide="ignore", invalid="ignore"):
            w = np.where(vig > 0, w / vig, 0.0)
    w = np.clip(w, 0.0, 1.0)
    return float(np.sum(weight * w) / np.sum(weight))


def make_arf(
    onaxis_arf: str | Path,
    region: SkyRegion,
    positions: AttitudePositions,
    psf_coefficients=None,
    vignetting_coefficients=None,
    source: SkyCoord | None = None,
    expomap: np.ndarray | None = None,
    exposure: float | None = None,
    wcs: WCS | None = None,
    map_has_vignetting: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
    """Compute the source ARF (see the module notes).

    Returns
    -------
    energ_lo, energ_hi, specresp : numpy.ndarray
    info : dict
        ``offaxis`` (exposure-weighted mean, arcmin), ``bad_pixel_correction``,
        ``psf_fraction_1p5keV``, ``vignetting_1p5keV``.
    """
    elo, ehi, aon = read_arf(onaxis_arf)
    emid = 0.5 * (elo + ehi)
    source = region.center if source is None else source
    theta = offaxis_angles(source, positions)
    theta_mean = float(np.sum(positions.fraction * theta))
    vig = np.sum(
        positions.fraction[:, None]
        * vignetting(emid[None, :], theta[:, None], vignetting_coefficients),
        axis=0,
    )
    psf = psf_fraction(region, emid, theta_mean, psf_coefficients)
    corr = 1.0
    if expomap is not None and wcs is not None and exposure:
        corr = bad_pixel_correction(
            region,
            source,
            wcs,
            expomap,
            float(exposure),
            positions,
            theta_mean,
            psf_coefficients,
            vignetting_coefficients,
            map_has_vignetting,
        )
    info = {
        "offaxis": theta_mean,
        "bad_pixel_correction": corr,
        "psf_fraction_1p5keV": float(
            psf_fraction(region, REFERENCE_ENERGY_KEV, theta_mean, psf_coefficients)
        ),
        "vignetting_1p5keV": float(
            np.sum(positions.fraction * vignetting(1.5, theta, vignetting_coefficients))
        ),
    }
    return elo, ehi, aon * vig * psf * corr, info


def write_arf(
    path: str | Path,
    energ_lo: np.ndarray,
    energ_hi: np.ndarray,
    specresp: np.ndarray,
    events: EventList,
    info: dict | None = None,
    onaxis_name: str = "",
) -> Path:
    """Write an OGIP ARF (``SPECRESP`` extension, OGIP CAL/GEN/92-002)."""
    cols = [
        fits.Column("ENERG_LO", "E", unit="keV", array=energ_lo),
        fits.Column("ENERG_HI", "E", unit="keV", array=energ_hi),
        fits.Column("SPECRESP", "E", unit="cm**2", array=specresp),
    ]
    hdu = fits.BinTableHDU.from_columns(cols, name="SPECRESP")
    h = hdu.header
    events.copy_keywords(h)
    if "FILTER" not in h:
        h["FILTER"] = "NONE"
    h["HDUCLASS"] = ("OGIP", "format conforms to OGIP standard")
    h["HDUCLAS1"] = ("RESPONSE", "dataset relates to spectral response")
    h["HDUCLAS2"] = ("SPECRESP", "dataset contains spectral response")
    h["HDUVERS"] = ("1.1.0", "version of the format")
    h["ARFVERSN"] = "1992a"
    h["PSFFLAG"] = (True, "PSF correction applied")
    h["VIGFLAG"] = (True, "vignetting correction applied")
    h["EXTENDED"] = (False, "point-source ARF")
    if onaxis_name:
        h["INARFFIL"] = (onaxis_name, "on-axis ARF used")
    for key, name in (
        ("offaxis", "OFFAXIS"),
        ("bad_pixel_correction", "BPCORR"),
        ("psf_fraction_1p5keV", "PSFFR15"),
        ("vignetting_1p5keV", "VIGN15"),
    ):
        if info and key in info:
            h[name] = float(info[key])
    h["CREATOR"] = "xrtflow.products.arf"
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    primary = fits.PrimaryHDU(header=events.copy_keywords(fits.Header()))
    fits.HDUList([primary, hdu]).writeto(path, overwrite=True)
    return path
