"""Optimal binning of Kaastra & Bleeker (2016, A&A 587, A151) as heasp implements it.

Used by :mod:`xrtflow.products.grouping` for ``ftgrouppha grouptype=opt`` and ``optmin``; see
that module's docstring for the algorithm (heasp ``rmf::estimatedFWHMperChannel`` and
``grouping::loadOptimal``).
"""

from __future__ import annotations

import numpy as np

__all__ = ["estimated_fwhm_per_channel", "group_optimal", "optimal_bin_widths"]

#: counts per resolution element / counts within the FWHM for a Gaussian response (heasp)
_GAUSS_FWHM_TO_ELEMENT = 1.314


def _row_fwhm(dense: np.ndarray) -> np.ndarray:
    """heasp ``rmf::estimatedFWHM``: per matrix row, channels between the half-maximum points.

    From the peak, step up to the first channel at or below half the maximum and down to the
    first one at or below it; a side that runs into the edge of the channel range (the edge
    channel itself above half maximum) is not measured and the other side is doubled; ``-1``
    when neither side is measured or the row is empty.
    """
    n_e, n_ch = dense.shape
    imax = np.argmax(dense, axis=1)
    peak = dense[np.arange(n_e), imax]
    half = peak / 2.0
    idx = np.arange(n_ch)[None, :]
    low_mask = dense <= half[:, None]
    # first channel > imax at or below half maximum (heasp stops at the last channel)
    above = low_mask & (idx > imax[:, None])
    ihigh = np.where(above.any(axis=1), np.argmax(above, axis=1), n_ch - 1)
    # heasp starts the downward walk at imax + 1, so the first channel <= imax + 1 at or below
    # half maximum, counting down (stops at channel 0)
    below = low_mask & (idx <= np.minimum(imax + 1, n_ch - 1)[:, None])
    rev = below[:, ::-1]
    ilow = np.where(below.any(axis=1), n_ch - 1 - np.argmax(rev, axis=1), 0)
    good_high = dense[:, -1] <= half
    good_low = dense[:, 0] <= half
    # (heasp's unsigned arithmetic would wrap for a response narrower than ~2 channels: clipped)
    fwhm = np.where(good_high, ihigh - imax, 0) + np.where(good_low, np.maximum(imax - ilow, 0), 0)
    fwhm = np.where(good_high ^ good_low, 2 * fwhm, fwhm).astype(float)
    fwhm[~(good_high | good_low) | (peak <= 0)] = -1.0
    return fwhm


def estimated_fwhm_per_channel(response) -> np.ndarray:
    """FWHM of the response (in channels) at each channel, as heasp's ``estimatedFWHMperChannel``.

    Parameters
    ----------
    response : xrtflow.spectral.ogip.Response or path-like
        The RMF (an ARF, if applied, does not change the result: only the row shapes matter).

    Returns
    -------
    numpy.ndarray
        One FWHM per channel: that of the energy bin containing the channel's centre energy.
    """
    if not hasattr(response, "matrix"):
        from xrtflow.spectral.ogip import read_rmf

        response = read_rmf(response)
    matrix = response.rmf_matrix if response.rmf_matrix is not None else response.matrix
    row_fwhm = _row_fwhm(np.asarray(matrix.toarray(), dtype=float))
    centre = 0.5 * (np.asarray(response.e_min) + np.asarray(response.e_max))
    hi = response.energy_hi
    # heasp binarySearch: the bin with lo < E <= hi; below/above the grid -> first/last bin
    index = np.clip(np.searchsorted(hi, centre, side="left"), 0, len(hi) - 1)
    return row_fwhm[index]


def _c_round(x: np.ndarray) -> np.ndarray:
    """C ``round``: halves away from zero (numpy rounds halves to even)."""
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def optimal_bin_widths(fwhm: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Optimal bin width (integer channels, >= 1) at each channel (Kaastra & Bleeker 2016).

    Parameters
    ----------
    fwhm : numpy.ndarray
        Response FWHM in channels at each channel.
    counts : numpy.ndarray
        Counts per channel.
    """
    fwhm = np.asarray(fwhm, dtype=float)
    counts = np.asarray(counts, dtype=float)
    n = fwhm.size
    if counts.size != n:
        raise ValueError(f"FWHM has {n} channels, the spectrum {counts.size}")
    with np.errstate(divide="ignore"):
        log_r = np.log(1.0 + np.sum(1.0 / fwhm))
    i = np.arange(n)
    start = np.clip(_c_round(i - fwhm / 2.0), 0, None).astype(int)
    stop = _c_round(i + fwhm / 2.0)
    stop = np.where(stop < n, stop, n - 1).astype(int)
    csum = np.concatenate([[0.0], np.cumsum(counts)])
    n_r = np.where(stop >= start, csum[stop + 1] - csum[start], 0.0) * _GAUSS_FWHM_TO_ELEMENT
    with np.errstate(divide="ignore", invalid="ignore"):
        x = np.log(n_r * (1.0 + 0.2 * log_r))
        factor = (0.08 * x + 7.0 + 1.8 / x) / (x + 5.9)
    width = np.where(x > 2.119, fwhm * factor, fwhm)
    return np.maximum(np.trunc(width), 1).astype(int)


def group_optimal(fwhm: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Grouping flags of ``ftgrouppha grouptype=opt`` (every channel is grouped)."""
    width = optimal_bin_widths(fwhm, counts)
    n = width.size
    reach = np.arange(n) + width - 1  # last channel each channel's optimal width allows
    grouping = -np.ones(n, dtype=np.int16)
    i = 0
    while i < n:
        grouping[i] = 1
        end = min(n - 1, int(reach[i]))
        if end > i:
            end = min(end, int(reach[i + 1 : end + 1].min()))
        i = end + 1
    return grouping
