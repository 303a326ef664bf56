"""Native equivalent of ``xrtmkarf`` (``psfflag=yes``, ``extended=no``, ``offaxis=-99``): the ARF.

.. math::

    ARF(E) = A_{on}(E)\\; V(E, \\theta)\\; F_{PSF}(E, \\theta, \\text{region}, \\text{exposure map})

following ``xrtmkarf`` 0.6.3 (HEASoft 6.20), which it equals to 3e-6 on the reference
ObsIDs (``tests/test_products_arf_reference.py``):

* :math:`A_{on}` -- the on-axis ARF of the CALDB, linearly interpolated (in bin centres, constant
  beyond the ends) onto the energy grid of the RMF (the output grid), as ``xrtmkarf`` does.
* :math:`\\theta` -- one off-axis angle: from the region centre (the source position, ``srcx=-1``)
  to the nominal pointing ``RA_PNT``/``DEC_PNT`` on the sky grid, at 2.36"/pixel
  (:func:`xrtflow.products.psf.optical_axis_sky`). Not exposure weighted: ``xrtmkarf`` uses the
  nominal pointing whatever the attitude did.
* :math:`V = 1 - (PAR0\\, PAR1^E + PAR2)\\,\\theta^2` (clipped at 0) from the CALDB vignetting
  coefficients, or 1 if the exposure map already holds the vignetting (``VIGNAPP = T``).
* :math:`F_{PSF}` -- the King (+ Gaussian) PSF of the CALDB coefficients integrated over the
  region's sky pixels in one-pixel rings, each ring weighted by the region's exposure relative to
  the map's maximum (:mod:`xrtflow.products.psf`): bad columns, the CCD edge, the pixel grid and
  annuli (pile-up excision) count as in ``xrtmkarf``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.wcs import WCS
from regions import SkyRegion

from xrtflow.calibration import vignetting

from .events import EventList
from .expomap import REFERENCE_ENERGY_KEV, AttitudePositions
from .psf import offaxis_arcmin, optical_axis_sky, ring_psf_fraction, ring_weights
from .regions import region_pixel_mask

__all__ = [
    "read_arf",
    "read_energy_grid",
    "source_pixel",
    "xrtmkarf_offaxis",
    "psf_fraction",
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


def read_energy_grid(rmf: str | Path) -> tuple[np.ndarray, np.ndarray] | None:
    """``ENERG_LO``, ``ENERG_HI`` of an RMF's matrix extension (``None`` if it has none)."""
    with fits.open(rmf, memmap=False) as hdul:
        for hdu in hdul[1:]:
            cols = getattr(hdu, "columns", None)
            if cols is not None and {"ENERG_LO", "ENERG_HI"} <= set(cols.names):
                return (
                    np.asarray(hdu.data["ENERG_LO"], float),
                    np.asarray(hdu.data["ENERG_HI"], float),
                )
    return None


def source_pixel(source: SkyCoord, wcs: WCS) -> tuple[float, float]:
    """1-based sky pixel ``(X, Y)`` of ``source`` (the region centre ``extractor`` records)."""
    px, py = wcs.world_to_pixel(source)
    return float(px) + 1.0, float(py) + 1.0


def xrtmkarf_offaxis(
    source: SkyCoord, wcs: WCS, pointing: tuple[float, float]
) -> tuple[float, tuple[float, float]]:
    """Off-axis angle (arcmin) of ``source`` and the optical-axis sky pixel, as ``xrtmkarf``."""
    sx, sy = source_pixel(source, wcs)
    crval1, crval2 = (float(v) for v in wcs.wcs.crval)
    ax, ay = optical_axis_sky(float(pointing[0]), float(pointing[1]), crval1, crval2)
    return offaxis_arcmin(sx, sy, ax, ay), (ax, ay)


def psf_fraction(
    region: SkyRegion,
    wcs: WCS,
    shape: tuple[int, int],
    energy_keV: np.ndarray,
    offaxis: float,
    expomap: np.ndarray | None = None,
    psf_coefficients=None,
    source: SkyCoord | None = None,
) -> np.ndarray:
    """Fraction of a point source's photons counted in ``region`` (circle or annulus).

    ``expomap`` (sky exposure map on the event grid) weights every pixel by its exposure relative
    to the map's maximum; without it every region pixel counts fully.

    Raises
    ------
    ValueError
        The region holds no pixel of the grid, or the map is not on the grid.
    """
    mask = region_pixel_mask(region, wcs, shape)
    if not mask.any():
        c = region.center.icrs
        raise ValueError(
            f"the region centred at RA={c.ra.deg:.5f} Dec={c.dec.deg:.5f} holds no sky pixel of "
            f"the {shape[1]}x{shape[0]} event grid: check the region file against the event file"
        )
    relative = None
    if expomap is not None:
        if np.shape(expomap) != tuple(shape):
            raise ValueError(
                f"exposure map of shape {np.shape(expomap)} is not on the {tuple(shape)} sky grid "
                "of the events: make it from the same event file"
            )
        peak = float(np.max(expomap))
        relative = np.asarray(expomap, float) / peak if peak > 0 else np.zeros(shape)
    sx, sy = source_pixel(region.center if source is None else source, wcs)
    weights = ring_weights(mask, relative, sx, sy)
    return ring_psf_fraction(weights, energy_keV, offaxis, psf_coefficients)


def _mean_pointing(positions: AttitudePositions) -> tuple[float, float]:
    """Exposure-weighted mean pointing (fallback when the header has no ``RA_PNT``/``DEC_PNT``)."""
    ra, dec = np.radians(positions.ra), np.radians(positions.dec)
    w = positions.fraction
    x = np.sum(w * np.cos(dec) * np.cos(ra))
    y = np.sum(w * np.cos(dec) * np.sin(ra))
    z = np.sum(w * np.sin(dec))
    return float(np.degrees(np.arctan2(y, x)) % 360.0), float(
        np.degrees(np.arctan2(z, np.hypot(x, y)))
    )


def make_arf(
    onaxis_arf: str | Path,
    region: SkyRegion,
    wcs: WCS,
    pointing: tuple[float, float] | AttitudePositions,
    psf_coefficients=None,
    vignetting_coefficients=None,
    expomap: np.ndarray | None = None,
    map_has_vignetting: bool = False,
    rmf: str | Path | None = None,
    shape: tuple[int, int] | None = None,
    source: SkyCoord | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
    """Compute the source ARF like ``xrtmkarf`` (see the module notes).

    Parameters
    ----------
    onaxis_arf : path
        On-axis ARF of the CALDB (``inarffile``).
    region : SkyRegion
        Extraction region (circle or annulus); its centre is the source position.
    wcs : WCS
        Sky WCS of the event file (``X``/``Y`` columns).
    pointing : (RA_PNT, DEC_PNT) in deg, or AttitudePositions
        Nominal pointing of the event header; binned attitude only as a fallback (its
        exposure-weighted mean).
    psf_coefficients, vignetting_coefficients : optional
        CALDB coefficients (defaults: the built-in v004 / v001 values).
    expomap : (ny, nx) array, optional
        Sky exposure map (``expofile``); ``None`` as ``expofile=NONE``.
    map_has_vignetting : bool
        The map's ``VIGNAPP``: if true the vignetting is not applied again.
    rmf : path, optional
        RMF whose energy grid the ARF takes; the on-axis ARF's grid if ``None`` or matrix-less.
    shape : (ny, nx), optional
        Sky grid shape (default: the exposure map's, else 1000 x 1000).

    Returns
    -------
    energ_lo, energ_hi, specresp : numpy.ndarray
    info : dict
        ``offaxis`` (arcmin), ``src_x``/``src_y`` (sky pixel), ``psf_fraction_1p5keV``,
        ``vignetting_1p5keV`` and ``bad_pixel_correction`` (PSF fraction with the exposure map
        over the one without, at 1.5 keV).
    """
    a_lo, a_hi, aon = read_arf(onaxis_arf)
    grid = read_energy_grid(rmf) if rmf is not None else None
    elo, ehi = grid if grid is not None else (a_lo, a_hi)
    emid = 0.5 * (elo + ehi)
    # xrtmkarf: linear in bin centres, constant beyond the ends (np.interp's convention)
    area = np.interp(emid, 0.5 * (a_lo + a_hi), aon)
    source = region.center if source is None else source
    if isinstance(pointing, AttitudePositions):
        pointing = _mean_pointing(pointing)
    theta, _ = xrtmkarf_offaxis(source, wcs, pointing)
    if shape is None:
        shape = expomap.shape if expomap is not None else (1000, 1000)
    vig = (
        np.ones_like(emid)
        if map_has_vignetting
        else vignetting(emid, theta, vignetting_coefficients)
    )
    energies = np.append(emid, REFERENCE_ENERGY_KEV)
    psf = psf_fraction(region, wcs, shape, energies, theta, expomap, psf_coefficients, source)
    flat = psf_fraction(
        region, wcs, shape, REFERENCE_ENERGY_KEV, theta, None, psf_coefficients, source
    )
    sx, sy = source_pixel(source, wcs)
    info = {
        "offaxis": theta,
        "src_x": sx,
        "src_y": sy,
        "psf_fraction_1p5keV": float(psf[-1]),
        "vignetting_1p5keV": float(
            vignetting(REFERENCE_ENERGY_KEV, theta, vignetting_coefficients)
        ),
        "bad_pixel_correction": float(psf[-1] / flat) if flat > 0 else 0.0,
    }
    return elo, ehi, area * vig * psf[:-1], info


def write_arf(
    path: str | Path,
    energ_lo: np.ndarray,
    energ_hi: np.ndarray,
    specresp: np.ndarray,
    events: EventList,
    info: dict | None = None,
    onaxis_name: str = "",
    rmf_name: str = "",
) -> Path:
    """Write an OGIP ARF (``SPECRESP`` extension, OGIP CAL/GEN/92-002).

    Besides ``xrtmkarf``'s keywords (``RESPFILE``, ``XRTSX``/``XRTSY``) it records the off-axis
    angle and the 1.5 keV PSF fraction, vignetting and exposure correction from ``info``.
    """
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
    if rmf_name:
        h["RESPFILE"] = (rmf_name, "RMF file used to get the energies")
    info = info or {}
    if "src_x" in info and "src_y" in info:
        # xrtmkarf writes the truncated source position under these names
        h["XRTSX"] = (int(info["src_x"]), "source sky x coordinate")
        h["XRTSY"] = (int(info["src_y"]), "source sky y coordinate")
    for key, name, comment in (
        ("offaxis", "OFFAXIS", "[arcmin] off-axis angle (xrtmkarf convention)"),
        ("bad_pixel_correction", "BPCORR", "PSF fraction with / without exposure map"),
        ("psf_fraction_1p5keV", "PSFFR15", "PSF fraction in the region at 1.5 keV"),
        ("vignetting_1p5keV", "VIGN15", "vignetting at 1.5 keV"),
    ):
        if key in info:
            h[name] = (float(info[key]), comment)
    h["CREATOR"] = "xrtflow.products.arf"
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    primary = fits.PrimaryHDU(header=events.copy_keywords(fits.Header()))
    fits.HDUList([primary, hdu]).writeto(path, overwrite=True)
    return path
