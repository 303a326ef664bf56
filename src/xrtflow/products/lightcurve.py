"""Native equivalent of the ``xrtproducts``/``extractor`` light curves (``sr.lc``, ``bkg.lc``).

OGIP ``RATE`` tables (OGIP/93-003): one row per time bin of width ``binsize`` that overlaps the
GTIs; bins are aligned on the start of the first GTI. As ``extractor`` writes them (``lctzero=yes``)
``TIMEZERO`` is the centre of the first bin and ``TIME`` the bin centre relative to it
(``TIMEPIXR = 0.5``; absolute mission time of a bin centre = ``TIMEZERO + TIME``). ``FRACEXP`` is the
fraction of the bin inside the GTIs, and, as ``extractor`` does, ``RATE = COUNTS / (TIMEDEL *
FRACEXP)`` and ``ERROR = sqrt(COUNTS) / (TIMEDEL * FRACEXP)``, so the counts in a bin are
``RATE * TIMEDEL * FRACEXP``.

Both light curves are *raw*: the background light curve holds the counts of the background region
and is **not** scaled to the source area (``extractor`` does not scale either). The ``BACKSCAL``
keyword of each file carries the region area so that the background rate to subtract from the
source light curve is ``RATE_bkg * BACKSCAL_src / BACKSCAL_bkg``. Like ``xrtproducts`` with
``correctlc=yes`` the source curve is not corrected for PSF/vignetting losses here (that
correction, ``xrtlccorr``, is a separate ``*_corr.lc`` file that xrtflow does not make).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from astropy.io import fits

from .events import EventList
from .image import gti_hdu

__all__ = ["bin_light_curve", "write_light_curve"]


def bin_light_curve(
    time: np.ndarray, gti: np.ndarray, binsize: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Bin event times into GTI-aware bins.

    Returns
    -------
    bin_start : numpy.ndarray
        Absolute start time of every kept bin.
    counts : numpy.ndarray
        Events per kept bin (events outside every bin are not counted).
    fracexp : numpy.ndarray
        Fraction of each kept bin inside the GTIs (> 0).
    t0 : float
        Start of the first bin (start of the first GTI).
    """
    if binsize <= 0:
        raise ValueError("light-curve bin size must be positive")
    gti = np.asarray(gti, float).reshape(-1, 2)
    gti = gti[np.argsort(gti[:, 0])]
    t0 = float(gti[0, 0])
    nbins = max(int(np.ceil((gti[:, 1].max() - t0) / binsize)), 1)
    edges = t0 + binsize * np.arange(nbins + 1)
    lo = np.maximum(edges[:-1, None], gti[None, :, 0])
    hi = np.minimum(edges[1:, None], gti[None, :, 1])
    fracexp = np.clip(hi - lo, 0.0, None).sum(axis=1) / binsize
    idx = np.floor((np.asarray(time, float) - t0) / binsize).astype(np.int64)
    ok = (idx >= 0) & (idx < nbins)
    counts = np.bincount(idx[ok], minlength=nbins)
    keep = fracexp > 0
    return edges[:-1][keep], counts[keep], np.minimum(fracexp[keep], 1.0), t0


def write_light_curve(
    path: str | Path,
    events: EventList,
    mask: np.ndarray,
    binsize: float,
    pilow: int,
    pihigh: int,
    backscal: float,
    kind: str = "source",
) -> Path:
    """Write the light curve of the events in ``mask`` with ``pilow <= PI <= pihigh``."""
    # band cut on the region's events only (a fraction of the file), not on every event
    idx = np.flatnonzero(mask)
    pi = events.pi[idx]
    idx = idx[(pi >= pilow) & (pi <= pihigh)]
    start, counts, fracexp, t0 = bin_light_curve(events.time[idx], events.gti, binsize)
    eff = binsize * fracexp
    rate = counts / eff
    error = np.sqrt(counts) / eff
    cols = [
        fits.Column("TIME", "D", unit="s", array=start - t0),
        fits.Column("RATE", "E", unit="count/s", array=rate),
        fits.Column("ERROR", "E", unit="count/s", array=error),
        fits.Column("FRACEXP", "E", array=fracexp),
    ]
    hdu = fits.BinTableHDU.from_columns(cols, name="RATE")
    h = hdu.header
    events.copy_keywords(h)
    h["HDUCLASS"] = ("OGIP", "format conforms to OGIP standard")
    h["HDUCLAS1"] = ("LIGHTCURVE", "light curve dataset (OGIP/93-003)")
    h["HDUCLAS2"] = ("TOTAL" if kind == "source" else "BKG", "gross or background rate")
    h["HDUCLAS3"] = ("RATE", "stored as count/s")
    h["HDUVERS"] = "1.1.0"
    h["TIMEDEL"] = (float(binsize), "[s] bin size")
    h["TIMEZERO"] = (t0 + 0.5 * binsize, "[s] time of the first bin centre (TIME = 0)")
    h["TIMEPIXR"] = (0.5, "TIME is the bin centre")
    h["TIMEUNIT"] = "s"
    for key, default in (("TIMESYS", "TT"), ("TIMEREF", "LOCAL"), ("MJDREFI", 51910)):
        h.setdefault(key, default)
    h.setdefault("MJDREFF", 7.4287037e-4)
    h["TSTART"] = (float(events.gti[:, 0].min()), "[s] start of the GTIs")
    h["TSTOP"] = (float(events.gti[:, 1].max()), "[s] end of the GTIs")
    h["TELAPSE"] = (h["TSTOP"] - h["TSTART"], "[s] TSTOP - TSTART")
    h["ONTIME"] = (float(np.sum(events.gti[:, 1] - events.gti[:, 0])), "[s] sum of the GTIs")
    h["EXPOSURE"] = (events.exposure, "[s] exposure time")
    h["BACKSCAL"] = (float(backscal), "region area (extractor BACKSCAL convention)")
    h["PILOW"] = (int(pilow), "lowest PI channel")
    h["PIHIGH"] = (int(pihigh), "highest PI channel")
    h["TOTCTS"] = (int(counts.sum()), "total counts in the light curve")
    h["CREATOR"] = "xrtflow.products.lightcurve"
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fits.HDUList([fits.PrimaryHDU(header=_primary(events)), hdu, gti_hdu(events)]).writeto(
        path, overwrite=True
    )
    return path


def _primary(events: EventList) -> fits.Header:
    return events.copy_keywords(fits.Header())
