"""The corrected light curve of one ObsID as an OGIP file, in the style of ``xrtlccorr``.

``xrtlccorr`` (HEASoft, swift/xrt/tasks/xrtlccorr) copies the ``RATE`` extension of the
extractor light curve and multiplies ``RATE`` and ``ERROR`` by the correction factor, adding
``XRTPSFCO`` (PSF correction applied), ``XRTPSFEN`` (its energy) and ``VIGNAPP``. The file
written here has the same layout (OGIP/93-003: ``TIME`` relative to ``TIMEZERO``, ``RATE``,
``ERROR``, ``FRACEXP``; ``TIMEDEL``, ``TIMEPIXR``, ``MJDREFI``/``MJDREFF``) with one ``RATE``
extension per band (``EXTVER`` 1, 2, ...; the first band first, so tools that read the first
light curve get the full band), and a ``GTI`` extension. The rates are background subtracted
(``BACKAPP = T``, ``HDUCLAS2 = 'NET'``), which ``xrtlccorr`` leaves to the user.

Bins of unequal width (``snapshot`` and ``obsid`` binning) carry a ``TIMEDEL`` column, as
OGIP/93-003 allows; ``ERROR`` is the mean of the Gehrels (1986) lower and upper errors, which
are in ``ERR_LO``/``ERR_HI``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.table import Table

__all__ = ["write_corrected_lc_fits"]


def _band_hdu(
    table: Table, name: str, lo: float, hi: float, k: int, t0: float, events, binning: str
):  # noqa: ANN001, ANN202, E501
    width = np.asarray(table["TSTOP"] - table["TSTART"], float)
    rate = np.asarray(table[f"RATE_{name}"], float)
    lo_err = np.asarray(table[f"ERR_LO_{name}"], float)
    hi_err = np.asarray(table[f"ERR_HI_{name}"], float)
    cols = [
        fits.Column("TIME", "D", unit="s", array=np.asarray(table["TIME"], float) - t0),
        fits.Column("RATE", "E", unit="count/s", array=rate),
        fits.Column("ERROR", "E", unit="count/s", array=0.5 * (lo_err + hi_err)),
        fits.Column("ERR_LO", "E", unit="count/s", array=lo_err),
        fits.Column("ERR_HI", "E", unit="count/s", array=hi_err),
        fits.Column("FRACEXP", "E", array=np.asarray(table["FRACEXP"], float)),
        fits.Column("CORRFACT", "E", array=np.asarray(table["CORR"], float)),
        fits.Column("COUNTS", "J", unit="count", array=np.asarray(table[f"COUNTS_{name}"])),
        fits.Column("BKG_COUNTS", "J", unit="count", array=np.asarray(table[f"BKG_COUNTS_{name}"])),
    ]
    if binning != "time":
        cols.insert(1, fits.Column("TIMEDEL", "D", unit="s", array=width))
    hdu = fits.BinTableHDU.from_columns(cols, name="RATE")
    h = hdu.header
    h["EXTVER"] = (k, f"band {k}: {lo:g}-{hi:g} keV")
    events.copy_keywords(h)
    h["HDUCLASS"] = ("OGIP", "format conforms to OGIP standard")
    h["HDUCLAS1"] = ("LIGHTCURVE", "light curve dataset (OGIP/93-003)")
    h["HDUCLAS2"] = ("NET", "background subtracted, PSF/bad-column corrected")
    h["HDUCLAS3"] = ("RATE", "stored as count/s")
    h["HDUVERS"] = "1.1.0"
    h["TIMEDEL"] = (float(width[0]) if width.size else 0.0, "[s] bin size (first bin)")
    if binning != "time":
        h["COMMENT"] = "bins of unequal width: the TIMEDEL column gives each bin's width"
    h["TIMEZERO"] = (t0, "[s] zero of TIME (the first bin's centre)")
    h["TIMEPIXR"] = (0.5, "TIME is the bin centre")
    h["TIMEUNIT"] = "s"
    for key, default in (("TIMESYS", "TT"), ("TIMEREF", "LOCAL")):
        h[key] = events.header.get(key, default)
    h["MJDREFI"] = (int(table.meta.get("MJDREFI", 51910)), "MJD reference, integer part")
    h["MJDREFF"] = (float(table.meta.get("MJDREFF", 7.4287037e-4)), "fractional part")
    h["TSTART"] = (float(np.min(table["TSTART"])), "[s] start of the first bin")
    h["TSTOP"] = (float(np.max(table["TSTOP"])), "[s] end of the last bin")
    h["EXPOSURE"] = (float(np.sum(table["EXPOSURE"])), "[s] time in the GTIs")
    h["E_MIN"] = (float(lo), "[keV] lower energy of the band")
    h["E_MAX"] = (float(hi), "[keV] upper energy of the band")
    h["CHANMIN"] = (int(round(lo / 0.01)), "first PI channel")
    h["CHANMAX"] = (int(round(hi / 0.01)) - 1, "last PI channel")
    h["BACKAPP"] = (True, "background subtracted")
    h["AREARAT"] = (float(table.meta["AREARAT"]), "source / background region area")
    h["XRTPSFCO"] = (True, "PSF (and bad-column) correction applied")
    h["XRTPSFEN"] = (1.5, "[keV] energy of the PSF of the correction")
    vign = bool(table.meta.get("VIGNAPP", False))
    h["VIGNAPP"] = (vign, "vignetting corrected" if vign else "vignetting not corrected (in ARF)")
    h["BINMODE"] = (binning, "bins: time, snapshot or obsid")
    h["CREATOR"] = "xrtflow.products.lightcurve_ogip"
    return hdu


def write_corrected_lc_fits(
    table: Table,
    path: str | Path,
    events,  # noqa: ANN001 (xrtflow.products.events.EventList)
    bands: Sequence[tuple[str, float, float]],
    binning: str,
) -> Path:
    """Write ``table`` (:func:`~xrtflow.products.lightcurve_corr.corrected_light_curve`) as an
    ``xrtlccorr``-style OGIP light curve: one ``RATE`` extension per band, then ``GTI``."""
    from .image import gti_hdu

    t0 = float(table["TIME"][0]) if len(table) else float(events.gti[0, 0])
    primary = fits.PrimaryHDU(header=events.copy_keywords(fits.Header()))
    hdus = [
        _band_hdu(table, name, lo, hi, k, t0, events, binning)
        for k, (name, lo, hi) in enumerate(bands, start=1)
    ]
    path = Path(path)
    # no CHECKSUM: astropy stamps its comment with the wall clock (outputs must be deterministic)
    fits.HDUList([primary, *hdus, gti_hdu(events)]).writeto(path, overwrite=True)
    return path
