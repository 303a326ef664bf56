"""Fit statistics with XSPEC's definitions (XSPEC manual, appendix "Statistics in XSPEC").

All functions are vectorized over bins (and any trailing axes, e.g. several models at once) and
return *per-bin* contributions; sum them for the statistic.  Notation as in the XSPEC manual:

* ``S`` -- observed source counts per (grouped) bin, ``B`` -- observed background counts;
* ``ts`` -- source exposure (s) times AREASCAL;
* ``tb`` -- background exposure times AREASCAL times ``BACKSCAL_b / BACKSCAL_s`` (so that
  ``B / tb`` is the background *rate in the source region*);
* ``m`` -- model *rate* (counts/s) per bin predicted for the source.

``cstat`` (no background) is the Cash statistic with the Castor data term,
``C = 2 sum(ts m - S + S (ln S - ln ts m))``, so that it approaches chi^2 for many counts.
With a background spectrum XSPEC's ``cstat`` is the W-statistic :func:`wstat` (profile
likelihood over one background rate per bin) including XSPEC's special cases for ``S = 0`` or
``B = 0``.  ``chi`` (XSPEC ``statistic chi``, ``weight standard``) uses the data variance
(``S / ts^2 + B / tb^2``, STAT_ERR^2 instead of the counts for non-Poisson spectra or
backgrounds; a bin with no counts at all gets one count^2, as XSPEC's standard weighting),
``pchi`` (Pearson; XSPEC ``chi`` with ``weight model``) the model variance ``m / ts`` plus the
background's data variance ``B / tb^2``.

Grouped spectra: ``S``, ``B`` are the counts summed over each group's good channels, and the
variances (or STAT_ERR^2) likewise; ``ts``/``tb`` use the group's mean AREASCAL/BACKSCAL.  Every
function broadcasts the per-bin data against model arrays with trailing axes.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "cstat",
    "wstat",
    "wstat_background",
    "chi2_data",
    "chi2_model",
    "statistic_per_bin",
    "GroupStatistic",
    "STATISTICS",
]

#: Statistics known to :func:`statistic_per_bin`.
STATISTICS = ("cstat", "wstat", "chi", "pchi")

_TINY = 1e-300


def _xlogy(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``x * log(y)`` with 0 where ``x == 0``."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = x * np.log(np.where(x > 0, y, 1.0))
    return np.where(x > 0, out, 0.0)


def cstat(counts: np.ndarray, model_counts: np.ndarray) -> np.ndarray:
    """Per-bin Cash statistic with XSPEC's data term (``cstat`` without background).

    Parameters
    ----------
    counts : array_like
        Observed counts ``S``.
    model_counts : array_like
        Predicted counts ``ts * m`` (same shape, or broadcastable).

    Returns
    -------
    numpy.ndarray
        ``2 (M - S + S (ln S - ln M))``; bins with ``S = 0`` contribute ``2 M``.
    """
    s = np.asarray(counts, dtype=float)
    mc = np.maximum(np.asarray(model_counts, dtype=float), _TINY)
    return 2.0 * (mc - s + _xlogy(s, s) - _xlogy(s, mc))


def wstat_background(
    counts: np.ndarray, bkg_counts: np.ndarray, ts, tb, model_rate: np.ndarray
) -> np.ndarray:
    """Profile-likelihood background rate ``f`` per bin (XSPEC's W-statistic).

    Returns the background *rate* (counts/s in the source region) that maximizes the
    likelihood for the given source model rate, with XSPEC's special cases.
    """
    s = np.asarray(counts, dtype=float)
    b = np.asarray(bkg_counts, dtype=float)
    m = np.asarray(model_rate, dtype=float)
    ts = np.asarray(ts, dtype=float)
    tb = np.asarray(tb, dtype=float)
    t = ts + tb
    c = t * m - s - b
    d = np.sqrt(c * c + 4.0 * t * b * m)
    # numerically stable root of t f^2 + (t m - S - B) f - B m = 0
    with np.errstate(divide="ignore", invalid="ignore"):
        f_pos = np.where(
            c <= 0, (-c + d) / (2.0 * t), (2.0 * b * m) / np.where(c + d > 0, c + d, 1)
        )
    f = f_pos
    f = np.where(s == 0, b / t, f)
    f = np.where((b == 0) & (s > 0), np.where(m < s / t, s / t - m, 0.0), f)
    return f


def wstat(counts: np.ndarray, bkg_counts: np.ndarray, ts, tb, model_rate: np.ndarray) -> np.ndarray:
    """Per-bin W-statistic (XSPEC ``cstat`` with a background spectrum).

    Parameters
    ----------
    counts, bkg_counts : array_like
        Source ``S`` and background ``B`` counts per bin.
    ts, tb : float or array_like
        Source and background "exposures" as defined in the module docstring.
    model_rate : array_like
        Source model rate ``m`` (counts/s) per bin.

    Returns
    -------
    numpy.ndarray
        ``2 [ts m + (ts + tb) f - S ln(ts m + ts f) - B ln(tb f) - S (1 - ln S) - B (1 - ln B)]``
        with ``f`` from :func:`wstat_background`, and XSPEC's closed forms when ``S = 0``
        (``ts m - B ln(tb / (ts + tb))``) or ``B = 0`` (``-tb m - S ln(ts / (ts + tb))`` if
        ``m < S / (ts + tb)``, else ``ts m + S (ln S - ln(ts m) - 1)``).
    """
    s = np.asarray(counts, dtype=float)
    b = np.asarray(bkg_counts, dtype=float)
    m = np.maximum(np.asarray(model_rate, dtype=float), 0.0)
    ts = np.asarray(ts, dtype=float)
    tb = np.asarray(tb, dtype=float)
    t = ts + tb
    f = wstat_background(s, b, ts, tb, m)
    general = (
        ts * m
        + t * f
        - _xlogy(s, np.maximum(ts * m + ts * f, _TINY))
        - _xlogy(b, np.maximum(tb * f, _TINY))
        - s * (1.0 - np.log(np.where(s > 0, s, 1.0)))
        - b * (1.0 - np.log(np.where(b > 0, b, 1.0)))
    )
    s_zero = ts * m - b * np.log(tb / t)
    b_zero_low = -tb * m - _xlogy(s, ts / t)
    b_zero_high = ts * m + _xlogy(s, s) - _xlogy(s, np.maximum(ts * m, _TINY)) - s
    b_zero = np.where(m < s / t, b_zero_low, b_zero_high)
    w = np.where(s == 0, s_zero, np.where(b == 0, b_zero, general))
    return 2.0 * w


def _variance_floor(var: np.ndarray, ts) -> np.ndarray:
    """Bins without variance (no counts in source nor background) get one count^2, as XSPEC's
    standard weighting does for empty bins (chi-squared is not meaningful there: use cstat)."""
    return np.where(var > 0, var, 1.0 / np.asarray(ts, dtype=float) ** 2)


def chi2_data(
    counts: np.ndarray,
    model_rate: np.ndarray,
    ts,
    bkg_counts: np.ndarray | None = None,
    tb=None,
    stat_err: np.ndarray | None = None,
    bkg_stat_err: np.ndarray | None = None,
) -> np.ndarray:
    """Per-bin chi-squared with the data variance (XSPEC ``statistic chi``, ``weight standard``).

    The data rate is ``S/ts - B/tb``, its variance ``S/ts^2 + B/tb^2`` (STAT_ERR^2 instead of
    ``S`` or ``B`` for spectra with non-Poisson errors, in counts).  All arguments broadcast
    against each other (e.g. data of shape ``(n, 1)`` with ``k`` models ``(n, k)``).
    """
    s = np.asarray(counts, dtype=float)
    ts = np.asarray(ts, dtype=float)
    var = (s if stat_err is None else np.asarray(stat_err, dtype=float) ** 2) / ts**2
    rate = s / ts
    if bkg_counts is not None:
        b = np.asarray(bkg_counts, dtype=float)
        tb = np.asarray(tb, dtype=float)
        rate = rate - b / tb
        var = var + (b if bkg_stat_err is None else np.asarray(bkg_stat_err) ** 2) / tb**2
    return (rate - np.asarray(model_rate, dtype=float)) ** 2 / _variance_floor(var, ts)


def chi2_model(
    counts: np.ndarray,
    model_rate: np.ndarray,
    ts,
    bkg_counts: np.ndarray | None = None,
    tb=None,
    bkg_stat_err: np.ndarray | None = None,
) -> np.ndarray:
    """Per-bin chi-squared with the model variance (``pchi``: Pearson; XSPEC ``weight model``).

    The variance of the source counts is the predicted number ``ts m``; a background spectrum
    adds its data variance ``B`` (scaled to the source: ``B/tb^2`` in rate).  Bins where the
    variance vanishes contribute 0.
    """
    s = np.asarray(counts, dtype=float)
    ts = np.asarray(ts, dtype=float)
    m = np.asarray(model_rate, dtype=float)
    rate = s / ts
    var = np.maximum(m, 0.0) / ts
    if bkg_counts is not None:
        b = np.asarray(bkg_counts, dtype=float)
        tb = np.asarray(tb, dtype=float)
        rate = rate - b / tb
        var = var + (b if bkg_stat_err is None else np.asarray(bkg_stat_err) ** 2) / tb**2
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (rate - m) ** 2 / var
    return np.where(var > 0, out, 0.0)


def statistic_per_bin(
    name: str,
    counts: np.ndarray,
    model_rate: np.ndarray,
    ts,
    bkg_counts: np.ndarray | None = None,
    tb=None,
    stat_err: np.ndarray | None = None,
    bkg_stat_err: np.ndarray | None = None,
) -> np.ndarray:
    """Dispatch on a statistic name as XSPEC does.

    ``cstat`` becomes the W-statistic when a background is given (``wstat`` requires one).
    ``model_rate`` may have trailing axes for several models at once; the per-bin data
    (``counts``, ``ts``, ``bkg_counts``, ``tb``, errors: scalars or arrays over bins) are
    broadcast against it.
    """
    name = name.lower()
    extra = np.ndim(model_rate) - np.ndim(counts)

    def col(x):
        if x is None or extra <= 0 or np.ndim(x) == 0:
            return x
        return np.asarray(x).reshape(np.shape(x) + (1,) * extra)

    s, ts_, b, tb_ = col(counts), col(ts), col(bkg_counts), col(tb)
    if name in ("cstat", "cash", "wstat"):
        if bkg_counts is None:
            if name == "wstat":
                raise ValueError("wstat needs a background spectrum")
            return cstat(s, ts_ * np.asarray(model_rate, dtype=float))
        return wstat(s, b, ts_, tb_, model_rate)
    if name == "chi":
        return chi2_data(s, model_rate, ts_, b, tb_, col(stat_err), col(bkg_stat_err))
    if name == "pchi":
        return chi2_model(s, model_rate, ts_, b, tb_, col(bkg_stat_err))
    raise ValueError(f"unknown statistic {name!r}; choose from {STATISTICS}")


class GroupStatistic:
    """Summed statistic of one spectrum for many model-rate vectors, with everything that does
    not depend on the model precomputed (the W-statistic's special-case masks and data terms).

    Gives the same values as ``statistic_per_bin(...).sum(axis=0)`` (it is that function for
    ``chi``/``pchi``/``cstat`` without background) at a fraction of the cost; used by the inner
    loops of the fitter.
    """

    def __init__(
        self, name, counts, ts, bkg_counts=None, tb=None, stat_err=None, bkg_stat_err=None
    ):
        self.name = name.lower()
        if self.name not in STATISTICS and self.name != "cash":
            raise ValueError(f"unknown statistic {name!r}; choose from {STATISTICS}")
        if self.name == "wstat" and bkg_counts is None:
            raise ValueError("wstat needs a background spectrum")
        self.counts = np.asarray(counts, dtype=float)
        self.ts, self.bkg, self.tb, self.stat_err = ts, bkg_counts, tb, stat_err
        self.bkg_stat_err = bkg_stat_err
        self.fast = self.name in ("cstat", "cash", "wstat") and bkg_counts is not None
        if not self.fast:
            return
        n = self.counts.size
        s = self.counts
        b = np.asarray(bkg_counts, dtype=float)
        ts = np.broadcast_to(np.asarray(ts, dtype=float), (n,))
        tb = np.broadcast_to(np.asarray(tb, dtype=float), (n,))
        t = ts + tb
        s0 = s == 0
        b0 = (b == 0) & ~s0
        gen = ~(s0 | b0)
        # general bins
        ig = np.flatnonzero(gen)
        self.ig = ig
        self.g_s, self.g_b, self.g_ts, self.g_tb, self.g_t = s[ig], b[ig], ts[ig], tb[ig], t[ig]
        self.g_const = float(np.sum(-s[ig] * (1.0 - np.log(s[ig])) - b[ig] * (1.0 - np.log(b[ig]))))
        # S = 0: ts m - B ln(tb / t)
        i0 = np.flatnonzero(s0)
        self.i0, self.z_ts = i0, ts[i0]
        self.z_const = float(np.sum(-b[i0] * np.log(tb[i0] / t[i0])))
        # B = 0 (S > 0)
        ib = np.flatnonzero(b0)
        self.ib = ib
        self.b_s, self.b_ts, self.b_tb, self.b_t = s[ib], ts[ib], tb[ib], t[ib]
        self.b_thr = s[ib] / t[ib]
        self.b_low_c = -s[ib] * np.log(ts[ib] / t[ib])
        self.b_high_c = s[ib] * np.log(s[ib]) - s[ib]
        # for :meth:`derivatives`: constant parts and the derivative templates
        self._tt = 2.0 * self.g_t
        self._4tb = 4.0 * self.g_t * self.g_b
        self._2b = 2.0 * self.g_b
        self._sb = self.g_s + self.g_b
        self._glog = float(self.g_s @ np.log(self.g_ts) + self.g_b @ np.log(self.g_tb))
        self._d1_0 = np.zeros(n)
        self._d1_0[i0] = self.z_ts
        self._b_const = float(np.sum(self.b_low_c))
        self._b_high_minus_low = self.b_high_c - self.b_low_c
        self._b_slope = self.b_ts + self.b_tb

    def __call__(self, model_rate: np.ndarray) -> np.ndarray:
        """Summed statistic: a float array of shape ``model_rate.shape[1:]``."""
        if not self.fast:
            return statistic_per_bin(
                self.name,
                self.counts,
                model_rate,
                self.ts,
                self.bkg,
                self.tb,
                self.stat_err,
                self.bkg_stat_err,
            ).sum(axis=0)
        m = np.maximum(np.asarray(model_rate, dtype=float), 0.0)
        col = (slice(None),) + (None,) * (m.ndim - 1)
        out = np.zeros(m.shape[1:])
        if self.ig.size:
            mg = m[self.ig]
            s, b, ts, tb, t = (x[col] for x in (self.g_s, self.g_b, self.g_ts, self.g_tb, self.g_t))
            c = t * mg - s - b
            d = np.sqrt(c * c + 4.0 * t * b * mg)
            with np.errstate(divide="ignore", invalid="ignore"):
                f = np.where(
                    c <= 0, (-c + d) / (2.0 * t), (2.0 * b * mg) / np.where(c + d > 0, c + d, 1)
                )
            w = (
                ts * mg
                + t * f
                - s * np.log(np.maximum(ts * mg + ts * f, _TINY))
                - b * np.log(np.maximum(tb * f, _TINY))
            )
            out = out + w.sum(axis=0) + self.g_const
        if self.i0.size:
            out = out + (self.z_ts[col] * m[self.i0]).sum(axis=0) + self.z_const
        if self.ib.size:
            mb = m[self.ib]
            low = -self.b_tb[col] * mb + self.b_low_c[col]
            with np.errstate(divide="ignore"):
                high = (
                    self.b_ts[col] * mb
                    + self.b_high_c[col]
                    - self.b_s[col] * np.log(np.maximum(self.b_ts[col] * mb, _TINY))
                )
            out = out + np.where(mb < self.b_thr[col], low, high).sum(axis=0)
        return 2.0 * out

    @property
    def has_derivatives(self) -> bool:
        """Whether :meth:`derivatives` is available (all but ``pchi``)."""
        return self.fast or self.name in ("cstat", "cash", "chi")

    def derivatives(self, model_rate: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        """Summed statistic and its first and second derivatives w.r.t. each bin's rate.

        Parameters
        ----------
        model_rate : numpy.ndarray
            Model rates ``m`` (n_bins,), ``m >= 0``.

        Returns
        -------
        value : float
            The statistic (as :meth:`__call__`).
        d1, d2 : numpy.ndarray
            ``d stat / d m_i`` and ``d^2 stat / d m_i^2`` per bin (the Hessian is diagonal).

        Notes
        -----
        For the W-statistic the background rate ``f`` is profiled out, so by the envelope
        theorem ``dW/dm = ts - S / (m + f)`` (``f`` held fixed) and
        ``d^2W/dm^2 = S (1 + f') / (m + f)^2`` with ``f' = (B - t f) / d`` from differentiating
        the quadratic for ``f`` (``d`` its discriminant root).  The special cases are linear in
        ``m`` (``S = 0``; ``B = 0`` below ``S / t``) or Cash-like (``B = 0`` above ``S / t``).
        W is convex in ``m`` (a partial minimum of a jointly convex function), so ``d2 >= 0``.
        """
        m = np.maximum(np.asarray(model_rate, dtype=float), 0.0)
        if not self.fast:
            return float(self(m)), *self._derivatives_simple(m)
        # the value as in __call__, sharing the background profile f with the derivatives; no
        # special cases are needed in the general bins (S > 0, B > 0): q = d + |c| > 0 there,
        # so f, m + f and d are all > 0 -- written without np.where/errstate, which cost more
        # than the arithmetic on a few hundred bins
        value = self.g_const + self.z_const
        d1 = self._d1_0.copy()
        d2 = np.zeros_like(m)
        if self.ig.size:
            mg = m[self.ig]
            s, b, t = self.g_s, self.g_b, self.g_t
            c = t * mg - self._sb
            d = np.sqrt(c * c + self._4tb * mg)
            q = d + np.abs(c)
            f = np.where(c <= 0, q / self._tt, self._2b * mg / q)
            mf = np.maximum(mg + f, _TINY)
            fp = (b - t * f) / d
            value += float(
                self.g_ts @ mg
                + t @ f
                - s @ np.log(mf)
                - b @ np.log(np.maximum(f, _TINY))
                - self._glog
            )
            r = s / mf
            d1[self.ig] = self.g_ts - r
            d2[self.ig] = r * (1.0 + fp) / mf
        if self.i0.size:
            value += float(self.z_ts @ m[self.i0])
        if self.ib.size:
            m0 = m[self.ib]
            low = m0 < self.b_thr
            mb = np.where(low, self.b_thr, m0)  # > 0; only used where not ``low``
            high = ~low
            # low: -tb m + low_c; high: ts m + high_c - S ln(ts m)
            value += self._b_const + float(
                np.sum(
                    np.where(
                        low,
                        -self.b_tb * m0,
                        self.b_ts * m0 + self._b_high_minus_low - self.b_s * np.log(self.b_ts * mb),
                    )
                )
            )
            r = self.b_s / mb
            d1[self.ib] = np.where(low, -self.b_tb, self.b_ts - r)
            d2[self.ib] = high * (r / mb)
        return 2.0 * value, 2.0 * d1, 2.0 * d2

    def _derivatives_simple(self, m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-bin derivatives for Cash (no background) and data-variance chi-squared."""
        s = self.counts
        ts = np.broadcast_to(np.asarray(self.ts, dtype=float), s.shape)
        if self.name == "chi":
            rate = s / ts
            var_s = (self.stat_err**2 if self.stat_err is not None else s) / ts**2
            if self.bkg is not None:
                b = np.asarray(self.bkg, dtype=float)
                tb = np.asarray(self.tb, dtype=float)
                rate = rate - b / tb
                eb = b if self.bkg_stat_err is None else np.asarray(self.bkg_stat_err) ** 2
                var_s = var_s + eb / tb**2
            var = _variance_floor(var_s, ts)
            return 2.0 * (m - rate) / var, 2.0 / var
        if self.name in ("cstat", "cash"):
            mm = np.maximum(m, _TINY)
            return 2.0 * (ts - s / mm), 2.0 * s / mm**2
        raise ValueError(f"no derivatives for {self.name!r}")
