"""Native equivalent of ``xrtexpomap``: a sky exposure map (seconds per sky pixel).

The map is built the way ``xrtexpomap`` builds it, with simplifications listed below:

1. An *instrument map* on the 600 x 600 detector: 1 for good pixels, 0 for the bad pixels and
   column segments of the event file's ``BADPIX`` extension; with ``vigflag=yes`` multiplied,
   like ``xrtexpocorr`` (which ``xrtexpomap`` runs on the raw instrument map), by the vignetting
   :math:`1 - (PAR0\\,PAR1^E + PAR2)\\,\\theta^2` at one energy (``energy``, 1.5 keV by default),
   :math:`\\theta` the distance of the raw pixel (0-based) from ``RAWX = RAWY = 300`` at 2.36"
   per pixel, clipped at 0; the map then carries ``VIGNAPP = T`` and ``XRTVIGEN``.
2. The attitude file is the one the event file's ``ATTFLAG`` names (``100`` sat, ``110`` pat,
   ``101``/``111`` uat; :func:`choose_attitude_file`), as xrtpipeline chooses it.
   The attitude (``POINTING`` = RA, Dec, roll of the attitude file) is sampled over the good time
   intervals and binned into a few positions: samples whose pointings agree within
   ``tolerance_pix`` sky pixels (2.4" ~ 1 pixel, as ``xrtexpomap checkattitude=yes``) and 0.1 deg
   of roll share a bin; the tolerance doubles until at most ``max_positions`` bins remain.
3. For every bin the instrument map is projected onto the sky grid of the event file (same WCS as
   the ``X``/``Y`` columns, nearest detector pixel) and weighted by the bin's share of the
   exposure (``EXPOSURE`` keyword, i.e. dead-time corrected GTI time).

Differences from HEASoft: the detector-to-sky transform is a plain rotation about the optical axis
(``DETX = DETY = 300.5``) by the roll angle plus :data:`ROLL_OFFSET_DEG` instead of the telescope
definition file; the raw-to-detector mapping is ``DET = RAW + 1``; the field of view is the full
CCD square; the attitude is binned by position instead of by CCD frame (``pcnframe``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS

from xrtflow.calibration import SWIFT_XRT_VIGNETTING, vignetting

from .events import EventList, wcs_header

__all__ = [
    "DET_SIZE",
    "OPTICAL_AXIS",
    "ROLL_OFFSET_DEG",
    "REFERENCE_ENERGY_KEV",
    "AttitudePositions",
    "read_attitude",
    "bin_attitude",
    "VIGNETTING_CENTER_RAW",
    "choose_attitude_file",
    "instrument_map",
    "sky_to_detector",
    "make_exposure_map",
    "write_exposure_map",
]

#: XRT CCD size in pixels (DETX/DETY run 1..600).
DET_SIZE = 600
#: 1-based detector position of the optical axis (where the attitude's pointing falls).
OPTICAL_AXIS = (300.5, 300.5)
#: Sky position angle of the detector +Y axis is ``roll + ROLL_OFFSET_DEG`` (see module notes).
ROLL_OFFSET_DEG = 0.0
#: Energy (keV) at which the vignetting is evaluated, as ``xrtexpomap``'s ``energy`` parameter.
REFERENCE_ENERGY_KEV = 1.5
#: 0-based raw pixel from which ``xrtexpocorr`` measures the off-axis angle (``CCD_CENTERX/Y``).
VIGNETTING_CENTER_RAW = (300, 300)
#: Pixel size (arcsec) of ``xrtexpocorr``'s off-axis angles (``PIXEL_SIZE`` of ``xrtdefs.h``).
VIGNETTING_PIXEL_ARCSEC = 2.36


class AttitudePositions:
    """Binned attitude: pointing (deg) and exposure fraction of every bin."""

    def __init__(self, ra, dec, roll, fraction):
        self.ra = np.atleast_1d(np.asarray(ra, float))
        self.dec = np.atleast_1d(np.asarray(dec, float))
        self.roll = np.atleast_1d(np.asarray(roll, float))
        self.fraction = np.atleast_1d(np.asarray(fraction, float))

    def __len__(self) -> int:
        return len(self.ra)

    def __repr__(self) -> str:
        return f"AttitudePositions(n={len(self)}, fraction={np.round(self.fraction, 3)})"


def read_attitude(path: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``TIME``, RA, Dec, roll (deg) from the ``ATTITUDE`` extension of a Swift attitude file."""
    with fits.open(path, memmap=False) as hdul:
        hdu = hdul["ATTITUDE"] if "ATTITUDE" in hdul else hdul[1]
        t = np.asarray(hdu.data["TIME"], float)
        pnt = np.asarray(hdu.data["POINTING"], float).reshape(len(t), -1)
    order = np.argsort(t, kind="stable")
    return t[order], pnt[order, 0], pnt[order, 1], pnt[order, 2]


def _gti_overlap(start: np.ndarray, stop: np.ndarray, gti: np.ndarray) -> np.ndarray:
    """Seconds of each interval ``[start, stop)`` inside the GTIs (vectorised)."""
    lo = np.maximum(start[:, None], gti[None, :, 0])
    hi = np.minimum(stop[:, None], gti[None, :, 1])
    return np.clip(hi - lo, 0.0, None).sum(axis=1)


def bin_attitude(
    time: np.ndarray,
    ra: np.ndarray,
    dec: np.ndarray,
    roll: np.ndarray,
    gti: np.ndarray,
    wcs: WCS,
    tolerance_pix: float = 1.0,
    roll_tolerance_deg: float = 0.1,
    max_positions: int = 16,
) -> AttitudePositions | None:
    """Bin attitude samples within the GTIs into at most ``max_positions`` pointings.

    Each sample holds until the next one (the last one for the median step). Returns ``None`` if
    no sample overlaps the GTIs.
    """
    if len(time) == 0:
        return None
    dt = np.diff(time)
    step = float(np.median(dt)) if len(dt) else 1.0
    stop = np.append(time[1:], time[-1] + step)
    weight = _gti_overlap(time, stop, np.asarray(gti, float).reshape(-1, 2))
    good = weight > 0
    if not np.any(good):
        return None
    px, py = wcs.world_to_pixel_values(ra[good], dec[good])
    px, py = np.asarray(px, float), np.asarray(py, float)
    r, w = roll[good], weight[good]
    # unwrap roll around the first sample so that 359.9 and 0.1 deg are neighbours
    r = r[0] + (r - r[0] + 180.0) % 360.0 - 180.0
    tol, rtol = float(tolerance_pix), float(roll_tolerance_deg)
    while True:
        keys = np.column_stack([np.round(px / tol), np.round(py / tol), np.round(r / rtol)]).astype(
            np.int64
        )
        uniq, inverse = np.unique(keys, axis=0, return_inverse=True)
        if len(uniq) <= max_positions:
            break
        tol, rtol = 2 * tol, 2 * rtol
    inverse = inverse.ravel()
    wsum = np.bincount(inverse, weights=w)
    mean_px = np.bincount(inverse, weights=w * px) / wsum
    mean_py = np.bincount(inverse, weights=w * py) / wsum
    mean_r = np.bincount(inverse, weights=w * r) / wsum
    bra, bdec = wcs.pixel_to_world_values(mean_px, mean_py)
    return AttitudePositions(bra, bdec, mean_r % 360.0, wsum / wsum.sum())


def choose_attitude_file(event_header, given: str | Path | None) -> Path | None:
    """The attitude file named by the event file's ``ATTFLAG``, next to ``given``.

    ``given`` is the attitude file staged for the ObsID (``<obs>/auxil/sw<obsid>pat.fits.gz``).
    If ``ATTFLAG`` asks for another kind (``100`` sat, ``110`` pat, ``101``/``111`` uat) and that
    file is in the same directory, it is returned; otherwise ``given`` (with a warning when
    ``ATTFLAG`` names a file that is not there).
    """
    import logging

    from xrtflow.heasoft.tasks import ATTFLAG_KINDS

    log = logging.getLogger(__name__)
    if given is None:
        return None
    given = Path(given)
    flag = str(event_header.get("ATTFLAG", "")).strip().strip("'").strip().split(".")[0]
    if not flag:
        return given
    kind = ATTFLAG_KINDS.get(flag)
    if kind is None:
        log.warning("ATTFLAG=%r is not one of %s; using %s", flag, sorted(ATTFLAG_KINDS), given)
        return given
    obsid = str(event_header.get("OBS_ID", "")).strip()
    name = f"sw{obsid}{kind}.fits"
    for candidate in (given.parent / (name + ".gz"), given.parent / name):
        if candidate.is_file():
            return candidate
    if not given.name.startswith(f"sw{obsid}{kind}"):
        log.warning(
            "ATTFLAG=%s asks for the %s attitude file %s, which is missing; using %s",
            flag,
            kind,
            given.parent / (name + ".gz"),
            given,
        )
    return given


def instrument_map(
    badpix: np.ndarray | None = None,
    energy_keV: float = REFERENCE_ENERGY_KEV,
    vignetting_coefficients=None,
    apply_vignetting: bool = True,
) -> np.ndarray:
    """``(600, 600)`` detector map ``[DETY-1, DETX-1]``: bad-pixel mask, times vignetting if asked.

    ``badpix`` records need ``RAWX``, ``RAWY`` and optionally ``YEXTENT`` or ``XYEXTENT`` (length of
    a bad column segment along RAWY, as in the Swift ``BADPIX`` extension); ``DET = RAW + 1``.
    The vignetting is ``xrtexpocorr``'s (module notes).
    """
    mask = np.ones((DET_SIZE, DET_SIZE), dtype=float)
    if badpix is not None and len(badpix) > 0:
        names = [n.upper() for n in badpix.dtype.names]
        rawx = np.asarray(badpix[badpix.dtype.names[names.index("RAWX")]], int)
        rawy = np.asarray(badpix[badpix.dtype.names[names.index("RAWY")]], int)
        ext_col = next((c for c in ("YEXTENT", "XYEXTENT") if c in names), None)
        if ext_col is not None:
            ext = np.maximum(np.asarray(badpix[badpix.dtype.names[names.index(ext_col)]], int), 1)
        else:
            ext = np.ones_like(rawx)
        # expand each segment to its pixels without a Python loop
        seg = np.repeat(np.arange(len(rawx)), ext)
        offset = np.arange(len(seg)) - np.repeat(np.cumsum(ext) - ext, ext)
        xs, ys = rawx[seg], rawy[seg] + offset
        ok = (xs >= 0) & (xs < DET_SIZE) & (ys >= 0) & (ys < DET_SIZE)
        mask[ys[ok], xs[ok]] = 0.0
    if apply_vignetting:
        j, i = np.mgrid[0:DET_SIZE, 0:DET_SIZE]
        dx, dy = i - VIGNETTING_CENTER_RAW[0], j - VIGNETTING_CENTER_RAW[1]
        r_arcmin = np.hypot(dx, dy) * VIGNETTING_PIXEL_ARCSEC / 60.0
        coeffs = vignetting_coefficients or SWIFT_XRT_VIGNETTING
        mask *= vignetting(energy_keV, r_arcmin, coeffs)
    return mask


def sky_to_detector(
    x: np.ndarray, y: np.ndarray, ra: float, dec: float, roll: float, wcs: WCS
) -> tuple[np.ndarray, np.ndarray]:
    """1-based sky pixels ``(x, y)`` to continuous 1-based detector coordinates for a pointing."""
    px, py = wcs.world_to_pixel_values(ra, dec)
    dx = np.asarray(x, float) - 1.0 - float(px)
    dy = np.asarray(y, float) - 1.0 - float(py)
    theta = np.deg2rad(roll + ROLL_OFFSET_DEG)
    c, s = np.cos(theta), np.sin(theta)
    detx = OPTICAL_AXIS[0] + c * dx + s * dy
    dety = OPTICAL_AXIS[1] - s * dx + c * dy
    return detx, dety


def make_exposure_map(
    events: EventList,
    positions: AttitudePositions,
    inst_map: np.ndarray,
    exposure: float | None = None,
) -> np.ndarray:
    """Sum the instrument map projected on the sky grid over the attitude bins (seconds)."""
    ny, nx = events.image_shape
    exposure = events.exposure if exposure is None else float(exposure)
    yy, xx = np.mgrid[1 : ny + 1, 1 : nx + 1]
    out = np.zeros((ny, nx), dtype=float)
    for ra, dec, roll, frac in zip(
        positions.ra, positions.dec, positions.roll, positions.fraction, strict=True
    ):
        detx, dety = sky_to_detector(xx, yy, ra, dec, roll, events.wcs)
        ix = np.floor(detx + 0.5).astype(np.int64) - 1
        iy = np.floor(dety + 0.5).astype(np.int64) - 1
        inside = (ix >= 0) & (ix < DET_SIZE) & (iy >= 0) & (iy < DET_SIZE)
        out[inside] += frac * exposure * inst_map[iy[inside], ix[inside]]
    return out


def write_exposure_map(
    path: str | Path,
    image: np.ndarray,
    events: EventList,
    npositions: int,
    energy_keV: float = REFERENCE_ENERGY_KEV,
    vignetting_applied: bool = True,
) -> Path:
    """Write the exposure map as a primary image with the event file's sky WCS."""
    header = wcs_header(events.wcs)
    events.copy_keywords(header)
    header["EXPOSURE"] = (events.exposure, "[s] exposure (livetime) of the map")
    header["BUNIT"] = "s"
    header["HDUCLASS"] = "OGIP"
    header["HDUCLAS1"] = "IMAGE"
    header["HDUCLAS2"] = "EXPOSURE"
    header["VIGNAPP"] = (bool(vignetting_applied), "Is vignetting correction applied(T/F)?")
    header["VIGNENER"] = (float(energy_keV), "[keV] energy of the vignetting correction")
    if vignetting_applied:  # xrtexpocorr's keyword
        header["XRTVIGEN"] = (float(energy_keV), "Energy value used for vignetting correction")
    header["NATTPOS"] = (int(npositions), "number of attitude bins")
    header["CREATOR"] = "xrtflow.products.expomap"
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    hdu = fits.PrimaryHDU(data=image.astype(np.float32), header=header)
    hdu.writeto(path, overwrite=True)
    return path
