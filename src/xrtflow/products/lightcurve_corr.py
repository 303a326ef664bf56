"""Background-subtracted light curves corrected like ``xrtlccorr``, in bands, with hardness ratios.

For every bin (fixed time bins, one per snapshot, or one per ObsID; ObsIDs are concatenated with
:func:`combine_light_curves`) and every band (default 0.3-10, 0.3-1.5 and 1.5-10 keV):

* counts ``N_s`` in the source region and ``N_b`` in the background region, the region area ratio
  ``r = BACKSCAL_src / BACKSCAL_bkg``, the exposure of the bin ``T = TIMEDEL x FRACEXP`` (the part
  of the bin inside the GTIs, as ``extractor``);
* the net rate ``(N_s - r N_b) / T`` times the correction ``C = 1 / f``, where ``f`` is the
  fraction of the point source's photons that fall on exposed pixels of the source region during
  the bin: the PSF (King profile of the CALDB, integrated over each sky pixel) summed over the
  region's pixels whose detector pixel is good at the bin's attitude -- the PSF losses outside the
  region (or inside an excised core) and the bad columns crossing the source, averaged over the
  attitude samples of the bin. ``xrtlccorr`` computes the same factor from the instrument map
  and the attitude file frame by frame; vignetting is part of this factor only when the
  instrument map holds it (``VIGNAPP``; by default it stays in the rates, as in the ARF);
* errors for few counts: the 1-sigma limits of Gehrels (1986, ApJ 303, 336) eq. 7 (upper,
  ``N + sqrt(N + 3/4) + 1``) and eq. 11 (lower, ``N (1 - 1/(9N) - 1/(3 sqrt N))^3``) for ``N_s``
  and ``N_b``, combined in quadrature (upper net error: source upper and background lower);
* the hardness ratio ``HR = rate(1.5-10) / rate(0.3-1.5)`` with errors propagated from the two
  rates (first order; NaN where the soft rate is not positive).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from astropy.table import Table, vstack

from .pileup import _pixel_psf

__all__ = [
    "DEFAULT_BANDS",
    "aggregate_light_curve",
    "band_channels",
    "combine_light_curves",
    "corrected_light_curve",
    "exposed_psf_fraction",
    "gehrels_limits",
    "light_curve_bins",
    "psf_fraction_per_bin",
    "snapshots",
]

#: (name, keV low, keV high)
DEFAULT_BANDS = (("0.3-10", 0.3, 10.0), ("0.3-1.5", 0.3, 1.5), ("1.5-10", 1.5, 10.0))
#: PI channel width (keV) of Swift-XRT
PI_KEV = 0.01


def band_channels(lo_keV: float, hi_keV: float) -> tuple[int, int]:
    """First and last PI channel of an energy band (channel ``c`` covers ``[c, c+1) x 10 eV``)."""
    return int(round(lo_keV / PI_KEV)), int(round(hi_keV / PI_KEV)) - 1


def gehrels_limits(n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """1-sigma (CL 0.8413) Poisson limits of Gehrels (1986) eqs. 7 and 11 for ``n`` counts.

    Returns the lower and upper limits of the Poisson mean (the lower limit is 0 for ``n = 0``).
    """
    n = np.asarray(n, dtype=float)
    upper = n + np.sqrt(n + 0.75) + 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        lower = np.where(n > 0, n * (1.0 - 1.0 / (9.0 * n) - 1.0 / (3.0 * np.sqrt(n))) ** 3, 0.0)
    return lower, upper


def snapshots(gti: np.ndarray, max_gap: float = 600.0) -> np.ndarray:
    """Merge GTIs separated by less than ``max_gap`` seconds into snapshots (start, stop)."""
    gti = np.asarray(gti, float).reshape(-1, 2)
    gti = gti[np.argsort(gti[:, 0])]
    new = np.concatenate([[True], gti[1:, 0] - gti[:-1, 1] > max_gap])
    idx = np.cumsum(new) - 1
    start = gti[new, 0]
    stop = np.array([gti[idx == k, 1].max() for k in range(start.size)])
    return np.column_stack([start, stop])


def light_curve_bins(gti: np.ndarray, mode: str = "time", binsize: float = 10.0) -> np.ndarray:
    """Bin intervals (start, stop) for ``mode`` = ``time`` (``binsize`` s, aligned on the first
    GTI as ``extractor``), ``snapshot`` or ``obsid``; only bins overlapping the GTIs."""
    gti = np.asarray(gti, float).reshape(-1, 2)
    gti = gti[np.argsort(gti[:, 0])]
    if mode == "snapshot":
        return snapshots(gti)
    if mode == "obsid":
        return np.array([[gti[0, 0], gti[:, 1].max()]])
    if mode != "time":
        raise ValueError(f"light-curve binning {mode!r}: use 'time', 'snapshot' or 'obsid'")
    if binsize <= 0:
        raise ValueError("light-curve bin size must be positive")
    t0 = gti[0, 0]
    n = max(int(np.ceil((gti[:, 1].max() - t0) / binsize)), 1)
    edges = t0 + binsize * np.arange(n + 1)
    bins = np.column_stack([edges[:-1], edges[1:]])
    return bins[_overlap(bins, gti) > 0]


def _overlap(bins: np.ndarray, gti: np.ndarray) -> np.ndarray:
    lo = np.maximum(bins[:, :1], gti[None, :, 0])
    hi = np.minimum(bins[:, 1:], gti[None, :, 1])
    return np.clip(hi - lo, 0.0, None).sum(axis=1)


def exposed_psf_fraction(
    center: tuple[float, float],
    r_in: float,
    r_out: float,
    det_of_sky,
    good_pixel,
    energy_keV: float = 1.5,
    offaxis_arcmin: float = 0.0,
    psf_coefficients=None,
) -> float:
    """Fraction of a point source's photons on good pixels of the region ``r_in <= r < r_out``.

    Parameters
    ----------
    center : (float, float)
        Source position in sky pixels (the events' ``X``/``Y`` convention).
    r_in, r_out : float
        Region radii (pixels; a pixel belongs to the region by the distance of its centre).
    det_of_sky : callable
        ``(x, y) -> (detx, dety)`` continuous detector coordinates of sky pixels (one attitude).
    good_pixel : callable
        ``(ix, iy) -> bool array`` for integer detector pixels (bad columns/pixels -> False).
    """
    gx, gy, r, mass = _pixel_psf(center, r_out, energy_keV, offaxis_arcmin, 6, psf_coefficients)
    sel = r >= r_in
    dx, dy = det_of_sky(gx[sel], gy[sel])
    ix = np.floor(np.asarray(dx) + 0.5).astype(np.int64)
    iy = np.floor(np.asarray(dy) + 0.5).astype(np.int64)
    return float(np.sum(mass[sel] * np.asarray(good_pixel(ix, iy), float)))


def _gehrels_sigmas(n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lo, hi = gehrels_limits(n)
    return n - lo, hi - n


def corrected_light_curve(
    time: np.ndarray,
    pi: np.ndarray,
    in_source: np.ndarray,
    in_background: np.ndarray,
    gti: np.ndarray,
    area_ratio: float,
    bins: np.ndarray,
    psf_fraction: np.ndarray | float,
    bands: Sequence[tuple[str, float, float]] = DEFAULT_BANDS,
    obsid: str = "",
    hardness: tuple[str, str] | None = ("0.3-1.5", "1.5-10"),
) -> Table:
    """Corrected, background-subtracted rates per bin and band, and the hardness ratio.

    Parameters
    ----------
    time, pi : numpy.ndarray
        Event times (MET) and PI channels.
    in_source, in_background : numpy.ndarray of bool
        Events in the source and background regions.
    gti : numpy.ndarray
        (n, 2) good time intervals.
    area_ratio : float
        Source over background region area (``BACKSCAL`` ratio).
    bins : numpy.ndarray
        (m, 2) bin intervals (:func:`light_curve_bins`).
    psf_fraction : numpy.ndarray or float
        Per bin, the exposed PSF fraction ``f`` of the source region (:func:`exposed_psf_fraction`
        averaged over the bin's attitude); the correction is ``1 / f``.
    bands : sequence of (name, keV low, keV high)
    obsid : str
        Written to the ``OBSID`` column.
    hardness : (str, str) or None
        Names of the soft and hard bands of the hardness ratio ``HR = hard / soft``.

    Returns
    -------
    astropy.table.Table
        ``TIME`` (bin centre), ``TSTART``, ``TSTOP``, ``EXPOSURE``, ``FRACEXP``, ``CORR``; per band
        ``COUNTS_<b>``, ``BKG_COUNTS_<b>``, ``RATE_<b>``, ``ERR_LO_<b>``, ``ERR_HI_<b>`` (count/s);
        ``HR``, ``HR_ERR_LO``, ``HR_ERR_HI`` (``hardness``: ``1.5-10`` over ``0.3-1.5``, when
        both bands are present).
    """
    bins = np.asarray(bins, float).reshape(-1, 2)
    gti = np.asarray(gti, float).reshape(-1, 2)
    expo = _overlap(bins, gti)
    f = np.broadcast_to(np.asarray(psf_fraction, float), (bins.shape[0],))
    corr = np.where(f > 0, 1.0 / np.where(f > 0, f, 1.0), np.nan)
    time = np.asarray(time, float)
    pi = np.asarray(pi)
    # an event belongs to the bin containing it (bins do not overlap; events outside the GTIs
    # are not counted, as extractor does with a GTI-filtered event list)
    order = np.argsort(bins[:, 0])
    b = order[np.clip(np.searchsorted(bins[order, 0], time, side="right") - 1, 0, None)]
    inbin = (time >= bins[b, 0]) & (time < bins[b, 1])
    ingti = np.zeros(time.size, bool)
    for g0, g1 in gti:
        ingti |= (time >= g0) & (time < g1)
    use = inbin & ingti
    t = Table()
    t["OBSID"] = np.full(bins.shape[0], obsid, dtype="U11")
    t["TIME"] = 0.5 * (bins[:, 0] + bins[:, 1])
    t["TSTART"], t["TSTOP"] = bins[:, 0], bins[:, 1]
    t["EXPOSURE"] = expo
    t["FRACEXP"] = expo / (bins[:, 1] - bins[:, 0])
    t["CORR"] = corr
    rates = {}
    with np.errstate(divide="ignore", invalid="ignore"):
        for name, lo_keV, hi_keV in bands:
            c0, c1 = band_channels(lo_keV, hi_keV)
            inband = use & (pi >= c0) & (pi <= c1)
            ns = np.bincount(b[inband & in_source], minlength=bins.shape[0]).astype(float)
            nb = np.bincount(b[inband & in_background], minlength=bins.shape[0]).astype(float)
            s_lo, s_hi = _gehrels_sigmas(ns)
            b_lo, b_hi = _gehrels_sigmas(nb)
            scale = corr / expo
            rate = (ns - area_ratio * nb) * scale
            err_hi = np.sqrt(s_hi**2 + (area_ratio * b_lo) ** 2) * scale
            err_lo = np.sqrt(s_lo**2 + (area_ratio * b_hi) ** 2) * scale
            t[f"COUNTS_{name}"] = ns
            t[f"BKG_COUNTS_{name}"] = nb
            t[f"RATE_{name}"], t[f"ERR_LO_{name}"], t[f"ERR_HI_{name}"] = rate, err_lo, err_hi
            rates[name] = (rate, err_lo, err_hi)
        if hardness and hardness[0] in rates and hardness[1] in rates:
            _hardness_columns(t, rates[hardness[0]], rates[hardness[1]])
    t.meta.update({"AREARAT": float(area_ratio), "OBS_ID": obsid})
    if hardness:
        t.meta.update({"HR_SOFT": hardness[0], "HR_HARD": hardness[1]})
    return t


def _hardness_columns(t: Table, soft, hard) -> None:  # noqa: ANN001 (rate, err_lo, err_hi)
    """``HR = hard / soft`` with first-order errors (NaN where the soft rate is not positive)."""
    (s, s_lo, s_hi), (h, h_lo, h_hi) = soft, hard
    with np.errstate(divide="ignore", invalid="ignore"):
        hr = np.where(s > 0, h / s, np.nan)
        # |HR| sqrt((dH/H)^2 + (dS/S)^2) = sqrt(dH^2 + HR^2 dS^2) / S (finite for H = 0)
        t["HR"] = hr
        t["HR_ERR_LO"] = np.sqrt(h_lo**2 + (hr * s_hi) ** 2) / s
        t["HR_ERR_HI"] = np.sqrt(h_hi**2 + (hr * s_lo) ** 2) / s


def aggregate_light_curve(
    table: Table,
    bands: Sequence[tuple[str, float, float]] = DEFAULT_BANDS,
    hardness: tuple[str, str] | None = ("0.3-1.5", "1.5-10"),
) -> Table:
    """One row for the whole of a one-ObsID light curve of :func:`corrected_light_curve`.

    The expected counts of bin ``i`` are ``R T_i f_i`` (``f_i = 1 / CORR_i``), so the rate of
    the sum is ``(sum N_s - r sum N_b) / sum(T_i / CORR_i)``, with the Gehrels limits of the
    summed counts: the same answer as binning the ObsID as one bin from the start.
    """
    ratio = float(table.meta["AREARAT"])
    expo = np.asarray(table["EXPOSURE"], float)
    corr = np.asarray(table["CORR"], float)
    good = np.isfinite(corr) & (expo > 0)
    eff = float(np.sum(expo[good] / corr[good]))
    out = Table()
    out["OBSID"] = [str(table["OBSID"][0]) if len(table) else str(table.meta.get("OBS_ID", ""))]
    out["TSTART"], out["TSTOP"] = [float(np.min(table["TSTART"]))], [float(np.max(table["TSTOP"]))]
    out["TIME"] = 0.5 * (out["TSTART"] + out["TSTOP"])
    out["EXPOSURE"] = [float(expo.sum())]
    out["FRACEXP"] = out["EXPOSURE"] / (out["TSTOP"] - out["TSTART"])
    out["CORR"] = [float(expo[good].sum()) / eff if eff > 0 else np.nan]
    rates = {}
    for name, _, _ in bands:
        ns = float(np.sum(np.asarray(table[f"COUNTS_{name}"])[good]))
        nb = float(np.sum(np.asarray(table[f"BKG_COUNTS_{name}"])[good]))
        s_lo, s_hi = _gehrels_sigmas(np.array([ns]))
        b_lo, b_hi = _gehrels_sigmas(np.array([nb]))
        scale = 1.0 / eff if eff > 0 else np.nan
        rate = np.array([(ns - ratio * nb) * scale])
        err_lo = np.sqrt(s_lo**2 + (ratio * b_hi) ** 2) * scale
        err_hi = np.sqrt(s_hi**2 + (ratio * b_lo) ** 2) * scale
        out[f"COUNTS_{name}"], out[f"BKG_COUNTS_{name}"] = [ns], [nb]
        out[f"RATE_{name}"], out[f"ERR_LO_{name}"], out[f"ERR_HI_{name}"] = rate, err_lo, err_hi
        rates[name] = (rate, err_lo, err_hi)
    if hardness and hardness[0] in rates and hardness[1] in rates:
        _hardness_columns(out, rates[hardness[0]], rates[hardness[1]])
    out.meta.update(table.meta)
    return out


def combine_light_curves(tables: Sequence[Table]) -> Table:
    """Concatenate per-ObsID light curves in time order (the multi-ObsID light curve)."""
    if not tables:
        raise ValueError("no light curves to combine")
    out = vstack(list(tables), metadata_conflicts="silent")
    out.sort("TIME")
    return out


def psf_fraction_per_bin(
    bins: np.ndarray,
    gti: np.ndarray,
    att_time: np.ndarray,
    att_ra: np.ndarray,
    att_dec: np.ndarray,
    att_roll: np.ndarray,
    wcs,
    center: tuple[float, float],
    inst_map: np.ndarray,
    r_in: float,
    r_out: float,
    energy_keV: float = 1.5,
    offaxis_arcmin: float = 0.0,
    tolerance_pix: float = 0.25,
) -> np.ndarray:
    """Exposed PSF fraction of the source region for every bin, from the attitude.

    Each attitude sample holds until the next; its weight in a bin is its time inside the bin and
    the GTIs. Samples whose pointing agrees within ``tolerance_pix`` sky pixels (and 0.05 deg of
    roll) share one evaluation. ``inst_map`` is the ``(600, 600)`` detector map of
    :func:`xrtflow.products.expomap.instrument_map` (``[DETY-1, DETX-1]``; 0 = bad pixel); its
    values weight the PSF, so a map with vignetting gives the vignetted fraction (``xrtlccorr``
    with a vignetting-corrected instrument map).
    """
    from .expomap import DET_SIZE, sky_to_detector

    bins = np.asarray(bins, float).reshape(-1, 2)
    gti = np.asarray(gti, float).reshape(-1, 2)
    att_time = np.asarray(att_time, float)
    step = float(np.median(np.diff(att_time))) if att_time.size > 1 else 1.0
    stop = np.append(att_time[1:], att_time[-1] + step)
    px, py = wcs.world_to_pixel_values(att_ra, att_dec)
    keys = np.column_stack(
        [
            np.round(np.asarray(px) / tolerance_pix),
            np.round(np.asarray(py) / tolerance_pix),
            np.round(np.asarray(att_roll) / 0.05),
        ]
    ).astype(np.int64)
    _, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    inverse = inverse.ravel()
    weight = np.asarray(inst_map, float)

    def good_pixel(ix, iy):
        ok = (ix >= 1) & (ix <= DET_SIZE) & (iy >= 1) & (iy <= DET_SIZE)
        out = np.zeros(ix.shape, float)
        out[ok] = weight[iy[ok] - 1, ix[ok] - 1]
        return out

    # the PSF on the sky pixels of the region does not depend on the attitude: compute it once
    gx, gy, r, mass = _pixel_psf(center, r_out, energy_keV, offaxis_arcmin, 6)
    sel = r >= r_in
    gx, gy, mass = gx[sel], gy[sel], mass[sel]
    frac_key = np.empty(first.size)
    for n, k in enumerate(first):
        dx, dy = sky_to_detector(gx, gy, att_ra[k], att_dec[k], att_roll[k], wcs)
        ix = np.floor(dx + 0.5).astype(np.int64)
        iy = np.floor(dy + 0.5).astype(np.int64)
        frac_key[n] = np.sum(mass * good_pixel(ix, iy))

    # time of every attitude sample inside every bin and the GTIs
    lo = np.maximum(att_time[None, :], bins[:, :1])
    hi = np.minimum(stop[None, :], bins[:, 1:])
    in_bin = np.zeros((bins.shape[0], att_time.size))
    for g0, g1 in gti:
        in_bin += np.clip(np.minimum(hi, g1) - np.maximum(lo, g0), 0.0, None)
    total = in_bin.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, in_bin @ frac_key[inverse] / total, np.nan)
