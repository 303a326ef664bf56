"""Native equivalent of ``ftgrouppha`` (``grouptype`` = ``min``, ``snmin``, ``opt``, ``optmin``).

``ftgrouppha`` uses the HEASoft ``heasp`` library; the facts below come from its ``grouping``
and ``rmf`` classes and the ``ftgrouppha`` help page.

``min`` (``grouping::loadMin``)
    Scanning channels upwards, a group starts at a channel (``GROUPING = 1``) and continues
    (``GROUPING = -1``) until its summed counts reach the minimum; a channel that alone reaches
    the minimum is a one-channel group. A last group that never reaches the minimum is *not*
    merged into the previous one: heasp flags it 0 (ignore), written as ``QUALITY = 2`` (bad) and
    ``GROUPING = 1`` (the ``grppha`` convention). With ``minchannel``/``maxchannel`` only that
    channel range is grouped; channels outside it stay single (``GROUPING = 1``).
``snmin``
    The same scan, closing a group when its signal-to-noise ratio reaches ``groupscale``; with a
    background spectrum the S/N is that of the background-subtracted counts,
    ``(S - r B) / sqrt(S + r^2 B)`` with ``r`` the ratio of the source and background
    ``EXPOSURE x BACKSCAL x AREASCAL``; without, ``sqrt(S)``.
``opt`` (``grouping::loadOptimal``, Kaastra & Bleeker 2016, A&A 587, A151)
    The FWHM (channels) of the response at each channel (``rmf::estimatedFWHMperChannel``: step
    out from the peak of each matrix row to the half-maximum points, then take the row of the
    energy bin containing each channel's nominal centre energy); the number of resolution elements
    ``R = 1 + sum(1 / FWHM)``; the counts per resolution element ``N_r = 1.314 x`` the counts
    within ``[i - FWHM/2, i + FWHM/2]`` (a Gaussian's FWHM holds 1/1.314 of it); then the optimal
    bin width ``FWHM x (0.08 + 7.0/x + 1.8/x^2) / (1 + 5.9/x)`` with ``x = ln[N_r (1 + 0.2 ln R)]``
    (``FWHM`` itself when ``x <= 2.119``), truncated to an integer number of channels (at least
    1). Groups start at the first channel and are as wide as the narrowest optimal width of any
    channel they contain allows. Every channel is grouped (``minchannel``/``maxchannel`` ignored).
``optmin``
    The joint requirement of ``opt`` and ``min`` ("whichever would group more"): consecutive
    ``opt`` groups are merged until the minimum count is reached; a trailing group below it is
    bad, as for ``min``.

Input ``QUALITY`` values are kept (every channel is counted, as heasp does); only the trailing
incomplete group of ``min``/``snmin``/``optmin`` is set to ``QUALITY = 2``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from astropy.io import fits

from .optimal_binning import estimated_fwhm_per_channel, group_optimal, optimal_bin_widths

__all__ = [
    "GROUPTYPES",
    "estimated_fwhm_per_channel",
    "group_min_counts",
    "group_optimal",
    "group_optimal_min",
    "group_snmin",
    "compute_grouping",
    "group_spectrum",
    "optimal_bin_widths",
]

#: grouping types the native backend implements
GROUPTYPES = ("min", "snmin", "opt", "optmin")


def _channel_range(n: int, minchannel: int | None, maxchannel: int | None) -> tuple[int, int]:
    """Zero-based first/last channel index to group (negative or None = the whole spectrum)."""
    first = 0 if minchannel is None or minchannel < 0 else int(minchannel)
    last = n - 1 if maxchannel is None or maxchannel < 0 else min(int(maxchannel), n - 1)
    return first, last


def group_min_counts(
    counts: np.ndarray,
    minimum: float,
    first: int = 0,
    last: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Grouping flags for at least ``minimum`` counts per group.

    Parameters
    ----------
    counts : numpy.ndarray
        Counts per channel (non-negative).
    minimum : float
        Minimum counts per group (``groupscale``).
    first, last : int, optional
        Zero-based channel index range to group (``minchannel``/``maxchannel``); channels
        outside it are single-channel groups.

    Returns
    -------
    grouping : numpy.ndarray
        ``1`` starts a group, ``-1`` continues it.
    bad : numpy.ndarray
        True for the channels of a trailing group below the minimum (``QUALITY = 2``).
    """
    counts = np.asarray(counts, dtype=float)
    n = len(counts)
    grouping = np.ones(n, dtype=np.int16)
    bad = np.zeros(n, dtype=bool)
    last = n - 1 if last is None else last
    if n == 0 or last < first:
        return grouping, bad
    grouping[first : last + 1] = -1
    csum = np.concatenate([[0.0], np.cumsum(counts[first : last + 1])])
    m = last + 1 - first
    start = 0
    # one iteration per group: the group ends at the first channel where the running sum reaches
    # the minimum (cumulative sums are non-decreasing, so searchsorted finds it)
    while start < m:
        grouping[first + start] = 1
        end = int(np.searchsorted(csum, csum[start] + minimum, side="left"))  # csum index
        if end > m:  # minimum never reached: trailing incomplete group
            bad[first + start : last + 1] = True
            grouping[first + start : last + 1] = 1
            break
        start = max(end, start + 1)
    return grouping, bad


def group_snmin(
    counts: np.ndarray,
    snmin: float,
    background: np.ndarray | None = None,
    ratio: float = 1.0,
    first: int = 0,
    last: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Grouping flags for a signal-to-noise ratio of at least ``snmin`` per group.

    Parameters
    ----------
    counts : numpy.ndarray
        Source (total) counts per channel.
    snmin : float
        Minimum S/N (``groupscale``).
    background : numpy.ndarray, optional
        Background counts per channel; the S/N is then that of the background-subtracted counts,
        ``(S - ratio B) / sqrt(S + ratio^2 B)``.
    ratio : float
        Source over background ``EXPOSURE x BACKSCAL x AREASCAL``.
    first, last : int, optional
        Zero-based channel index range to group.

    Returns
    -------
    grouping, bad : numpy.ndarray
        As :func:`group_min_counts`.
    """
    counts = np.asarray(counts, dtype=float)
    n = len(counts)
    bkg = np.zeros(n) if background is None else np.asarray(background, dtype=float)
    if bkg.shape != counts.shape:
        raise ValueError(
            f"background has {bkg.size} channels, the spectrum {n}: they must match for snmin"
        )
    grouping = np.ones(n, dtype=np.int16)
    bad = np.zeros(n, dtype=bool)
    last = n - 1 if last is None else last
    start, s, b = first, 0.0, 0.0
    # the S/N of a growing group is not monotonic with background, so scan channel by channel
    for i in range(first, last + 1):
        if i > start:
            grouping[i] = -1
        s += counts[i]
        b += bkg[i]
        var = s + ratio * ratio * b
        if var > 0 and (s - ratio * b) / np.sqrt(var) >= snmin:
            start, s, b = i + 1, 0.0, 0.0
    if start <= last:
        bad[start : last + 1] = True
        grouping[start : last + 1] = 1
    return grouping, bad


def group_optimal_min(
    fwhm: np.ndarray,
    counts: np.ndarray,
    minimum: float,
    first: int = 0,
    last: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``grouptype=optmin``: ``opt`` groups merged until each holds ``minimum`` counts.

    With a channel range (``first``/``last``, e.g. between bad channels) the ``opt`` groups are
    those of the whole spectrum, cut at the range's edges; channels outside stay single.
    """
    counts = np.asarray(counts, dtype=float)
    n = counts.size
    last = n - 1 if last is None else last
    opt = group_optimal(fwhm, counts)
    grouping = np.ones(n, dtype=np.int16)
    bad = np.zeros(n, dtype=bool)
    if last < first:
        return grouping, bad
    seg = opt[first : last + 1].copy()
    seg[0] = 1
    starts = np.flatnonzero(seg == 1)
    sums = np.add.reduceat(counts[first : last + 1], starts)
    # min-grouping of the opt groups, then expanded back to channels
    g_groups, g_bad = group_min_counts(sums, minimum)
    sizes = np.diff(np.append(starts, seg.size))
    seg_group = np.where(seg == 1, np.repeat(g_groups, sizes), -1).astype(np.int16)
    seg_bad = np.repeat(g_bad, sizes)
    seg_group[seg_bad] = 1
    grouping[first : last + 1] = seg_group
    bad[first : last + 1] = seg_bad
    return grouping, bad


def _spectrum_counts(hdu: fits.BinTableHDU) -> np.ndarray:
    names = [c.upper() for c in hdu.columns.names]
    if "COUNTS" in names:
        return np.asarray(hdu.data["COUNTS"], float)
    if "RATE" in names:
        return np.round(np.asarray(hdu.data["RATE"], float) * hdu.header["EXPOSURE"])
    raise ValueError(f"{hdu.name}: neither a COUNTS nor a RATE column")


def _scaling(header: fits.Header) -> float:
    """EXPOSURE x BACKSCAL x AREASCAL of a spectrum (keywords; 1 where absent)."""
    return float(
        header.get("EXPOSURE", 1.0) * header.get("BACKSCAL", 1.0) * header.get("AREASCAL", 1.0)
    )


def _read_background(path: str | Path, n: int, src_header: fits.Header) -> tuple[np.ndarray, float]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"background spectrum {path} for grouptype=snmin does not exist")
    with fits.open(path, memmap=False) as hdul:
        hdu = hdul["SPECTRUM"]
        bkg = _spectrum_counts(hdu)
        scale = _scaling(hdu.header)
    if bkg.size != n:
        raise ValueError(f"background spectrum {path} has {bkg.size} channels, the source {n}")
    return bkg, _scaling(src_header) / scale if scale > 0 else 0.0


def compute_grouping(
    counts: np.ndarray,
    grouptype: str,
    scale: float | None = None,
    *,
    fwhm: np.ndarray | None = None,
    background: np.ndarray | None = None,
    ratio: float = 1.0,
    minchannel: int | None = None,
    maxchannel: int | None = None,
    bad_channels: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """GROUPING flags and the channels set bad for one ``ftgrouppha`` grouping type.

    Parameters
    ----------
    counts : numpy.ndarray
        Counts per channel.
    grouptype : {"min", "snmin", "opt", "optmin"}
    scale : float, optional
        ``groupscale`` (minimum counts, or minimum S/N for ``snmin``); unused by ``opt``.
    fwhm : numpy.ndarray, optional
        Response FWHM per channel (:func:`estimated_fwhm_per_channel`), for ``opt``/``optmin``.
    background, ratio : optional
        Background counts and source/background scaling, for ``snmin``.
    minchannel, maxchannel : int, optional
        Zero-based channel index range for ``min``/``snmin``.
    bad_channels : numpy.ndarray of bool, optional
        Channels already bad (``grppha bad``): they stay single (``GROUPING = 1``) and no group
        crosses them; each run of good channels is grouped on its own (``opt`` ignores this).
    """
    gtype = grouptype.lower()
    counts = np.asarray(counts, dtype=float)
    if bad_channels is not None and gtype != "opt":
        return _group_good_segments(
            counts,
            gtype,
            scale,
            np.asarray(bad_channels, bool),
            fwhm=fwhm,
            background=background,
            ratio=ratio,
            minchannel=minchannel,
            maxchannel=maxchannel,
        )
    first, last = _channel_range(counts.size, minchannel, maxchannel)
    if gtype in ("min", "snmin", "optmin") and scale is None:
        raise ValueError(f"grouptype {gtype!r} needs groupscale (grouping.scale)")
    if gtype in ("opt", "optmin") and fwhm is None:
        raise ValueError(f"grouptype {gtype!r} needs the response (RMF) for the FWHM per channel")
    if gtype == "min":
        return group_min_counts(counts, float(scale), first, last)
    if gtype == "snmin":
        return group_snmin(counts, float(scale), background, ratio, first, last)
    if gtype == "opt":
        return group_optimal(fwhm, counts), np.zeros(counts.size, dtype=bool)
    if gtype == "optmin":
        return group_optimal_min(fwhm, counts, float(scale), first, last)
    raise ValueError(
        f"grouptype {grouptype!r} is not supported by the native backend (one of {GROUPTYPES})"
    )


def _group_good_segments(counts, gtype, scale, bad_mask, **kw):
    """Group every run of channels between bad ones separately (bad channels: single, kept)."""
    n = counts.size
    if bad_mask.shape != (n,):
        raise ValueError(f"bad_channels has {bad_mask.size} entries, the spectrum {n} channels")
    first, last = _channel_range(n, kw.pop("minchannel"), kw.pop("maxchannel"))
    inside = np.zeros(n, bool)
    inside[first : last + 1] = True
    good = inside & ~bad_mask
    grouping = np.ones(n, dtype=np.int16)
    trailing = np.zeros(n, dtype=bool)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], good.astype(int), [0]])))
    for a, b in zip(edges[::2], edges[1::2] - 1, strict=True):
        g, t = compute_grouping(counts, gtype, scale, minchannel=a, maxchannel=b, **kw)
        grouping[a : b + 1] = g[a : b + 1]
        trailing[a : b + 1] = t[a : b + 1]
    return grouping, trailing


def _parse_channel_ranges(text, channel: np.ndarray, infile) -> np.ndarray | None:
    """``"0-29,1000-1023"`` -> boolean mask over ``channel`` (None for no ranges)."""
    if text is None or not str(text).strip():
        return None
    mask = np.zeros(channel.size, dtype=bool)
    for part in str(text).split(","):
        lo, _, hi = part.strip().partition("-")
        try:
            a, b = int(lo), int(hi or lo)
        except ValueError:
            raise ValueError(
                f"{infile}: bad channel range {part.strip()!r}: write ranges like '0-29,1000-1023'"
            ) from None
        mask |= (channel >= a) & (channel <= b)
    return mask


_STRUCTURAL = (
    "XTENSION",
    "BITPIX",
    "NAXIS",
    "NAXIS1",
    "NAXIS2",
    "PCOUNT",
    "GCOUNT",
    "TFIELDS",
    "EXTNAME",
)
_COLUMN_KEYS = {"TTYPE", "TFORM", "TUNIT", "TLMIN", "TLMAX", "TDISP", "TNULL", "TSCAL", "TZERO"}


def group_spectrum(
    infile: str | Path,
    outfile: str | Path,
    minimum: float | None = 1,
    grouptype: str = "min",
    backfile: str | None = None,
    respfile: str | None = None,
    *,
    rmf=None,
    background: str | Path | None = None,
    minchannel: int | None = None,
    maxchannel: int | None = None,
    bad_channels: str | None = None,
) -> Path:
    """Copy a PHA file adding ``GROUPING``/``QUALITY`` like ``ftgrouppha``.

    Parameters
    ----------
    infile, outfile : path-like
        Input spectrum and grouped output.
    minimum : float or None
        ``groupscale``: minimum counts (``min``, ``optmin``) or S/N (``snmin``).
    grouptype : {"min", "snmin", "opt", "optmin"}
    backfile, respfile : str, optional
        Values written to ``BACKFILE``/``RESPFILE`` (kept from the input when None).
    rmf : path-like or Response, optional
        The response whose FWHM ``opt``/``optmin`` use (``ftgrouppha respfile``).
    background : path-like, optional
        Background spectrum for a background-subtracted ``snmin`` (``ftgrouppha backfile``).
    minchannel, maxchannel : int, optional
        Channel range grouped by ``min``/``snmin`` (channel numbers as in the CHANNEL column).
    bad_channels : str, optional
        Channel ranges to mark bad before grouping, like ``grppha bad 0-29`` (``"0-29,1000-1023"``):
        ``QUALITY = 5`` (grppha's user-defined bad), single channels, no group crosses them.
    """
    gtype = grouptype.lower()
    if gtype not in GROUPTYPES:
        raise ValueError(
            f"grouptype {grouptype!r} is not supported by the native backend (one of {GROUPTYPES})"
        )
    infile, outfile = Path(infile), Path(outfile)
    with fits.open(infile, memmap=False) as hdul:
        hdul = fits.HDUList([h.copy() for h in hdul])
    spec = hdul["SPECTRUM"]
    counts = _spectrum_counts(spec)
    names = [c.upper() for c in spec.columns.names]
    chan0 = int(spec.data["CHANNEL"][0]) if "CHANNEL" in names and len(counts) else 0
    kw: dict = {}
    if gtype in ("opt", "optmin"):
        if rmf is None:
            raise ValueError(f"{infile}: grouptype={gtype} needs the response (rmf=...)")
        kw["fwhm"] = estimated_fwhm_per_channel(rmf)
        if kw["fwhm"].size != counts.size:
            raise ValueError(
                f"{infile} has {counts.size} channels but the response {kw['fwhm'].size}"
            )
    if gtype == "snmin" and background is not None:
        kw["background"], kw["ratio"] = _read_background(background, counts.size, spec.header)
    for key, value in (("minchannel", minchannel), ("maxchannel", maxchannel)):
        if value is not None and value >= 0:
            kw[key] = int(value) - chan0
    channel = np.asarray(spec.data["CHANNEL"]) if "CHANNEL" in names else np.arange(counts.size)
    user_bad = _parse_channel_ranges(bad_channels, channel, infile)
    if user_bad is not None:
        kw["bad_channels"] = user_bad
    grouping, bad = compute_grouping(counts, gtype, minimum, **kw)
    quality = (
        np.asarray(spec.data["QUALITY"], np.int16).copy()
        if "QUALITY" in names
        else np.zeros(len(counts), np.int16)
    )
    quality[bad] = 2
    if user_bad is not None:
        quality[user_bad] = 5
    cols = [c for c in spec.columns if c.name.upper() not in ("QUALITY", "GROUPING")]
    cols = [fits.Column(c.name, c.format, unit=c.unit, array=spec.data[c.name]) for c in cols]
    cols += [
        fits.Column("QUALITY", "I", array=quality),
        fits.Column("GROUPING", "I", array=grouping),
    ]
    new = fits.BinTableHDU.from_columns(cols, name="SPECTRUM")
    for card in spec.header.cards:
        key = card.keyword
        if key in new.header and key in _STRUCTURAL:
            continue
        if key.rstrip("0123456789") in _COLUMN_KEYS or key in (
            "QUALITY",
            "GROUPING",
            "CHECKSUM",
            "DATASUM",
        ):
            continue
        if key == "HISTORY":
            new.header.add_history(str(card.value))
        elif key == "COMMENT":
            new.header.add_comment(str(card.value))
        else:
            new.header[key] = (card.value, card.comment)
    new.header["TLMIN1"] = spec.header.get("TLMIN1", 0)
    new.header["TLMAX1"] = spec.header.get("TLMAX1", len(counts) - 1)
    if backfile is not None:
        new.header["BACKFILE"] = backfile
    if respfile is not None:
        new.header["RESPFILE"] = respfile
    new.header["GROUPTYP"] = (gtype.upper(), "ftgrouppha grouptype")
    scale_txt = "" if minimum is None or gtype == "opt" else f" groupscale={minimum:g}"
    if minimum is not None and gtype != "opt":
        new.header["GROUPSCL"] = (float(minimum), "ftgrouppha groupscale")
    new.header.add_history(f"xrtflow.products.grouping: grouptype={gtype}{scale_txt}")
    hdul[hdul.index_of("SPECTRUM")] = new
    outfile.parent.mkdir(parents=True, exist_ok=True)
    hdul.writeto(outfile, overwrite=True)
    return outfile
