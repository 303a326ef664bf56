"""Native equivalent of ``ftgrouppha grouptype=min groupscale=N``.

``ftgrouppha`` uses the HEASoft ``heasp`` library (``grouping::loadMin`` and
``pha::setGrouping``):

* scanning channels upwards, a group starts at a channel (``GROUPING = 1``) and continues
  (``GROUPING = -1``) until its summed counts reach the minimum; a channel that alone reaches
  the minimum is a one-channel group;
* a last group that never reaches the minimum is *not* merged into the previous one: its
  channels get ``QUALITY = 2`` (bad) and ``GROUPING = 1`` (the old ``grppha`` convention);
* every channel is counted, whatever its input ``QUALITY``; input qualities are kept except for
  that trailing bad group.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from astropy.io import fits

__all__ = ["group_min_counts", "group_spectrum"]


def group_min_counts(counts: np.ndarray, minimum: float) -> tuple[np.ndarray, np.ndarray]:
    """Grouping flags for at least ``minimum`` counts per group.

    Parameters
    ----------
    counts : numpy.ndarray
        Counts per channel (non-negative).
    minimum : float
        Minimum counts per group (``groupscale``).

    Returns
    -------
    grouping : numpy.ndarray
        ``1`` starts a group, ``-1`` continues it.
    bad : numpy.ndarray
        True for the channels of a trailing group below the minimum (``QUALITY = 2``).
    """
    counts = np.asarray(counts, dtype=float)
    n = len(counts)
    grouping = -np.ones(n, dtype=np.int16)
    bad = np.zeros(n, dtype=bool)
    if n == 0:
        return grouping, bad
    csum = np.concatenate([[0.0], np.cumsum(counts)])
    start = 0
    # one iteration per group: the group ends at the first channel where the running sum reaches
    # the minimum (cumulative sums are non-decreasing, so searchsorted finds it)
    while start < n:
        grouping[start] = 1
        end = int(np.searchsorted(csum, csum[start] + minimum, side="left"))  # csum index
        if end > n:  # minimum never reached: trailing incomplete group
            bad[start:] = True
            grouping[start:] = 1
            break
        start = max(end, start + 1)
    return grouping, bad


def group_spectrum(
    infile: str | Path,
    outfile: str | Path,
    minimum: float = 1,
    grouptype: str = "min",
    backfile: str | None = None,
    respfile: str | None = None,
) -> Path:
    """Copy a PHA file adding ``GROUPING``/``QUALITY`` for ``grouptype=min``.

    ``BACKFILE``/``RESPFILE``/``ANCRFILE`` keywords are kept (or set from ``backfile``/``respfile``
    when given, like the ``ftgrouppha`` parameters of the same names).
    """
    if grouptype.lower() != "min":
        raise ValueError(f"grouptype {grouptype!r} is not supported by the native backend (min)")
    infile, outfile = Path(infile), Path(outfile)
    with fits.open(infile, memmap=False) as hdul:
        hdul = fits.HDUList([h.copy() for h in hdul])
    spec = hdul["SPECTRUM"]
    counts = np.asarray(spec.data["COUNTS"], float)
    if "RATE" in spec.columns.names and "COUNTS" not in spec.columns.names:
        counts = np.round(spec.data["RATE"] * spec.header["EXPOSURE"])
    grouping, bad = group_min_counts(counts, minimum)
    names = [c.upper() for c in spec.columns.names]
    quality = (
        np.asarray(spec.data["QUALITY"], np.int16).copy()
        if "QUALITY" in names
        else np.zeros(len(counts), np.int16)
    )
    quality[bad] = 2
    cols = [c for c in spec.columns if c.name.upper() not in ("QUALITY", "GROUPING")]
    cols = [fits.Column(c.name, c.format, unit=c.unit, array=spec.data[c.name]) for c in cols]
    cols += [
        fits.Column("QUALITY", "I", array=quality),
        fits.Column("GROUPING", "I", array=grouping),
    ]
    new = fits.BinTableHDU.from_columns(cols, name="SPECTRUM")
    skip = {"TTYPE", "TFORM", "TUNIT", "TLMIN", "TLMAX", "TDISP", "TNULL", "TSCAL", "TZERO"}
    for card in spec.header.cards:
        key = card.keyword
        if key in new.header and key in (
            "XTENSION",
            "BITPIX",
            "NAXIS",
            "NAXIS1",
            "NAXIS2",
            "PCOUNT",
            "GCOUNT",
            "TFIELDS",
            "EXTNAME",
        ):
            continue
        if key.rstrip("0123456789") in skip or key in (
            "QUALITY",
            "GROUPING",
            "CHECKSUM",
            "DATASUM",
        ):
            continue
        if key in ("COMMENT", "HISTORY"):
            new.header.add_history(str(card.value)) if key == "HISTORY" else new.header.add_comment(
                str(card.value)
            )
            continue
        new.header[key] = (card.value, card.comment)
    new.header["TLMIN1"] = spec.header.get("TLMIN1", 0)
    new.header["TLMAX1"] = spec.header.get("TLMAX1", len(counts) - 1)
    if backfile is not None:
        new.header["BACKFILE"] = backfile
    if respfile is not None:
        new.header["RESPFILE"] = respfile
    new.header["GROUPTYP"] = ("MIN", "ftgrouppha grouptype")
    new.header["GROUPSCL"] = (float(minimum), "ftgrouppha groupscale")
    new.header.add_history(f"xrtflow.products.grouping: grouptype=min groupscale={minimum:g}")
    hdul[hdul.index_of("SPECTRUM")] = new
    outfile.parent.mkdir(parents=True, exist_ok=True)
    hdul.writeto(outfile, overwrite=True)
    return outfile
