"""Block-structured fitting for :func:`xrtflow.spectral.fit.fit`.

A joint fit in which some parameters are tied across data groups and the others are free per
group has a block structure: for fixed tied parameters the groups are independent.  This module
exploits it:

* every data group is reduced to a dense grouped response ``A_g`` (noticed groups x the energy
  bins that reach them, ARF included), so one model evaluation costs one small mat-vec;
* additive components are folded separately and cached by the parameters they depend on, so a
  change of a normalization (or of another component's parameters) costs no model evaluation;
* each group is first fitted alone (tied parameters free in it, multi-start), which avoids the
  wrong local minima a direct joint MIGRAD can fall into;
* with one tied parameter ``t`` the joint statistic is ``S(t) = sum_g P_g(t)`` where ``P_g`` is
  the profile of group ``g`` (its own parameters re-optimized at fixed ``t``).  The joint best
  fit minimizes ``S`` (Brent), the 90% interval of ``t`` solves ``S(t) = S_min + 2.706``, and
  the interval of a parameter of group ``g`` is a MINOS interval of
  ``S_g(t, theta_g) + sum_{h != g} P_h(t)`` -- exactly the joint profile likelihood (every other
  group re-optimized through ``t``), with the ``P_h`` interpolated by a cubic spline on the
  ``t`` values evaluated exactly.

These are the same profile-likelihood intervals (Delta stat = 2.706, all other free parameters
re-optimized) that MINOS on the full problem, or XSPEC's ``error``, computes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from xrtflow.spectral.stats import GroupStatistic

DELTA_90 = 2.705543454095404
_CACHE_MAX = 512
#: start screening in the per-group fits: MIGRAD calls per start before the starts are
#: compared, and how much worse (relative) than the best a start may be to be continued
_SCREEN_CALLS = 120
_SCREEN_MARGIN = 0.05


def _is_native_model(model) -> bool:
    return hasattr(model, "_components") and hasattr(model, "_tree")


class GroupModel:
    """Predicted rates of one data group on its noticed (grouped) bins, with caching."""

    def __init__(self, obj, gi: int, model, setup):
        grp = obj.groups[gi]
        self.grp = grp
        self.statistic = obj.statistic
        self.model = model
        self.opts = {"abund": setup.abund, "xsect": setup.xsect}
        fold = obj.folds[grp.fold_key]
        a = grp.grouping @ fold
        a = np.asarray(a.toarray() if hasattr(a, "toarray") else a, dtype=float)
        if grp.arf is not None:
            a = a * grp.arf[None, :]
        native = _is_native_model(model)
        has_con = native and any(c.spec.kind == "con" for c in model._components)
        edges = grp.edges
        if native and not has_con:
            # bin-local components: evaluate only on the energies that reach a noticed bin
            nz = np.flatnonzero(np.any(a != 0, axis=0))
            lo, hi = (int(nz[0]), int(nz[-1]) + 1) if len(nz) else (0, a.shape[1])
            a = a[:, lo:hi]
            edges = edges[lo : hi + 1]
        self.A = np.ascontiguousarray(a)
        self.edges = edges
        self.full_edges = edges is grp.edges
        self.terms = []  # (position, norm index, key indices) for linear decomposition
        if native and not has_con:
            comps = model._components
            mul_idx = [
                c.first + k for c in comps if c.spec.kind == "mul" for k in range(len(c.spec.pars))
            ]
            for c in comps:
                if c.spec.kind == "add":
                    n = len(c.spec.pars)
                    own = list(range(c.first, c.first + n - 1))
                    self.terms.append((c.position, c.first + n - 1, np.array(mul_idx + own, int)))
        self.caches: list[dict] = [{} for _ in self.terms] or [{}]
        self._stat = GroupStatistic(
            obj.statistic, grp.counts, grp.ts, grp.bkg, grp.tb, grp.stat_err
        )
        self.n_eval = 0

    def _fold(self, y: np.ndarray) -> np.ndarray:
        y = np.asarray(y, dtype=float)
        if not np.all(np.isfinite(y)):
            y = np.where(np.isfinite(y), y, 0.0)
        self.n_eval += 1
        return self.A @ y

    def rates(self, v: np.ndarray) -> np.ndarray:
        """Rates for one full parameter vector ``v`` (n_par,)."""
        if not self.terms:
            cache = self.caches[0]
            key = v.tobytes()
            r = cache.get(key)
            if r is None:
                if len(cache) > _CACHE_MAX:
                    cache.clear()
                r = cache[key] = self._fold(self.model.evaluate(self.edges, v, **self.opts))
            return r
        total = None
        for (pos, inorm, kidx), cache in zip(self.terms, self.caches, strict=True):
            key = v[kidx].tobytes()
            r = cache.get(key)
            if r is None:
                if len(cache) > _CACHE_MAX:
                    cache.clear()
                vv = np.array(v, dtype=float)
                vv[inorm] = 1.0
                y = self.model.evaluate(self.edges, vv, component=pos, **self.opts)
                r = cache[key] = self._fold(y)
            term = v[inorm] * r
            total = term if total is None else total + term
        return total

    def stat(self, rates: np.ndarray) -> np.ndarray:
        """Statistic for rates (n_bins,) or (n_bins, k)."""
        return self._stat(rates)


@dataclass
class GroupProblem:
    """The free parameters of one data group as a small minimization problem."""

    gm: GroupModel
    base: np.ndarray  # full parameter vector (n_par,) with frozen values
    par_idx: np.ndarray  # model-parameter index of each local free parameter
    glob_idx: np.ndarray  # global free index of each local free parameter
    lower: np.ndarray  # hard limits per model parameter
    upper: np.ndarray
    penalty: object = None  # callable(t) added to the statistic (profile of other groups)
    tied_local: int | None = None  # local position of the tied parameter
    ncalls: int = field(default=0)

    def full(self, x: np.ndarray) -> np.ndarray:
        v = self.base.copy()
        v[self.par_idx] = x
        return np.clip(v, self.lower, self.upper)

    def __call__(self, x) -> float:
        x = np.asarray(x, float)
        self.ncalls += 1
        s = float(self.gm.stat(self.gm.rates(self.full(x))))
        if self.penalty is not None:
            s += float(self.penalty(x[self.tied_local]))
        return s

    def grad(self, x, h) -> np.ndarray:
        x = np.asarray(x, float)
        n = len(x)
        cols = []
        for k in range(n):
            for sgn in (1.0, -1.0):
                xx = x.copy()
                xx[k] += sgn * h[k]
                cols.append(self.gm.rates(self.full(xx)))
        s = self.gm.stat(np.column_stack(cols))
        g = (s[0::2] - s[1::2]) / (2 * h)
        if self.penalty is not None:
            t = self.tied_local
            g[t] += (float(self.penalty(x[t] + h[t])) - float(self.penalty(x[t] - h[t]))) / (
                2 * h[t]
            )
        self.ncalls += 2 * n
        return g


def make_minuit(prob: GroupProblem, x0, names, limits, steps, minuit_limits):
    from iminuit import Minuit

    steps = np.asarray(steps, float)

    def grad(x):
        x = np.asarray(x, float)
        return prob.grad(x, np.maximum(1e-6 * np.abs(x), 1e-4 * steps))

    m = Minuit(prob, np.asarray(x0, float), grad=grad, name=names)
    m.errordef = 1.0
    m.errors = steps
    for j, (lo, hi) in enumerate(limits):
        m.limits[j] = minuit_limits(lo, hi, x0[j], steps[j])
    m.strategy = 1
    m.tol = 0.05
    return m


def migrad_robust(m, messages: list[str] | None = None, label: str = ""):
    """MIGRAD; if the minimum is invalid re-run it from the best point, then at strategy 2."""
    m.migrad(ncall=20000)
    if not m.valid:
        m.migrad(ncall=20000)
    if not m.valid:
        old = int(m.strategy.strategy)
        m.strategy = 2
        m.migrad(ncall=20000)
        m.strategy = old
        if not m.valid and messages is not None:
            messages.append(f"{label}: minimum not valid after MIGRAD at strategy 2")
    return m


def minos_interval(m, name: str, xbest: float, messages: list[str], label: str):
    """(lo, hi) absolute 90% bounds by MINOS, NaN (with a message) where not computable."""
    lo = hi = math.nan
    try:
        m.minos(name, cl=0.9)
        me = m.merrors[name]
        if me.lower_valid or (not me.at_lower_limit and not me.lower_new_min):
            lo = xbest + me.lower
        if me.upper_valid or (not me.at_upper_limit and not me.upper_new_min):
            hi = xbest + me.upper
        if me.at_lower_limit:
            lo = xbest + me.lower
            messages.append(f"{label}: lower bound at the parameter limit")
        if me.at_upper_limit:
            hi = xbest + me.upper
            messages.append(f"{label}: upper bound at the parameter limit")
        if not me.is_valid:
            bad = [k for k in ("lower_valid", "upper_valid") if not getattr(me, k)]
            messages.append(f"{label}: MINOS interval not fully valid ({', '.join(bad)})")
            if not me.lower_valid and not me.at_lower_limit:
                lo = math.nan
            if not me.upper_valid and not me.at_upper_limit:
                hi = math.nan
    except Exception as err:  # pragma: no cover - defensive
        messages.append(f"{label}: MINOS failed ({err}); interval reported as NaN")
    for side in (-1, 1):
        if math.isnan(lo if side < 0 else hi):
            # MINOS failed on this side: find the crossing with a profile scan instead
            bound = profile_bound(m, name, side)
            if math.isfinite(bound):
                if side < 0:
                    lo = bound
                else:
                    hi = bound
                messages.append(
                    f"{label}: {'lower' if side < 0 else 'upper'} bound from a profile scan "
                    "(MINOS failed on that side)"
                )
    if math.isnan(lo) or math.isnan(hi):
        if not any(label in msg for msg in messages):
            messages.append(f"{label}: 90% bound could not be computed (NaN)")
    return lo, hi


def profile_bound(m, name: str, side: int, delta: float = DELTA_90) -> float:
    """Where the profile of ``m``'s statistic in ``name`` (all other free parameters
    re-minimized) crosses ``fmin + delta`` on ``side`` (-1 or +1); NaN if not found.

    A bracketing scan in steps growing from the parabolic error, then Brent's method; the
    fallback for a side on which MINOS fails.  ``m`` is left at its minimum.
    """
    from iminuit import Minuit
    from scipy.optimize import brentq

    k = m.parameters.index(name)
    x0 = np.array(m.values)
    f0 = float(m.fval)
    lo_lim, hi_lim = m.limits[k]
    err = float(m.errors[k]) if m.errors[k] > 0 else max(abs(x0[k]) * 0.1, 1e-3)
    fcn, grad = m.fcn._fcn, m.fcn._grad
    sub = Minuit(fcn, x0, grad=grad, name=list(m.parameters))
    sub.errordef = m.errordef
    sub.errors = m.errors
    for j in range(len(x0)):
        sub.limits[j] = m.limits[j]
        sub.fixed[j] = bool(m.fixed[j])
    sub.fixed[k] = True
    sub.strategy = 0
    sub.tol = 0.01
    last = {"x": x0.copy()}

    def prof(v: float) -> float:
        sub.values = last["x"]
        sub.values[k] = v
        sub.migrad(ncall=5000)
        last["x"] = np.array(sub.values)
        return float(sub.fval) - f0 - delta

    prev, step = x0[k], err
    for _ in range(20):
        v = x0[k] + side * step
        v = min(max(v, lo_lim), hi_lim)
        try:
            d = prof(v)
        except Exception:
            return math.nan
        if d >= 0:
            a, b = sorted((prev, v))
            try:
                return float(brentq(prof, a, b, xtol=1e-4 * err))
            except Exception:
                return math.nan
        if v in (lo_lim, hi_lim):
            return math.nan
        prev = v
        step *= 1.6
    return math.nan


@dataclass
class BlockResult:
    xbest: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    cov: np.ndarray
    valid: bool
    messages: list[str]


def _hessian_from_minuit(m) -> np.ndarray | None:
    """Second derivatives of the statistic (errordef 1): 2 * inverse covariance."""
    try:
        m.hesse()
        c = np.array(m.covariance)
        return 2.0 * np.linalg.pinv(c)
    except Exception:
        return None


def fit_blocks(
    obj,
    model,
    setup,
    pars,
    free_map,
    owner,
    tied,
    names,
    limits,
    steps,
    x0,
    start_points,
    minuit_limits,
    want,
) -> BlockResult | None:
    """Fit with the block structure; None when it does not apply (more than one tied
    free parameter)."""
    n_groups, n_par = free_map.shape
    tied_free = sorted({j for j, (_, i) in enumerate(owner) if tied[i] and n_groups > 1})
    if len(tied_free) > 1:
        return None
    jt = tied_free[0] if tied_free else None
    lower = np.asarray(obj.lower, float)
    upper = np.asarray(obj.upper, float)
    messages: list[str] = []
    probs: list[GroupProblem] = []
    for g in range(n_groups):
        par_idx = np.flatnonzero(free_map[g] >= 0)
        glob = free_map[g, par_idx]
        gm = GroupModel(obj, g, model, setup)
        tl = None if jt is None else int(np.flatnonzero(glob == jt)[0])
        probs.append(
            GroupProblem(gm, obj.base[g].copy(), par_idx, glob, lower, upper, tied_local=tl)
        )

    # 1. each group alone (tied parameter free in it), multi-start
    fits = []
    valid = True
    for g, prob in enumerate(probs):
        if len(prob.glob_idx) == 0:
            fits.append(None)
            continue
        loc_owner = [owner[j] for j in prob.glob_idx]
        lnames = [names[j] for j in prob.glob_idx]
        llim = [limits[j] for j in prob.glob_idx]
        lsteps = steps[prob.glob_idx]
        best = None
        is_norm = np.array(
            [str(pars[i].name).lower() in ("norm", "k", "normalization") for i in prob.par_idx]
        )
        screened = []
        for x in start_points(x0[prob.glob_idx], pars, loc_owner):
            m = make_minuit(prob, x, lnames, llim, lsteps, minuit_limits)
            if is_norm.any() and not is_norm.all():
                # normalizations first (cheap: no model evaluation), as one would by hand
                for k in np.flatnonzero(~is_norm):
                    m.fixed[k] = True
                m.migrad(ncall=2000)
                m.fixed = False
            # every start coarsely (strategy 0) and on a budget ...
            m.strategy = 0
            m.tol = 0.1
            m.migrad(ncall=_SCREEN_CALLS)
            screened.append(m)
        # ... then to convergence the starts that are not clearly worse than the best one so
        # far (a start far from any minimum after the budget is abandoned)
        screened.sort(key=lambda mm: mm.fval)
        for m in screened:
            if best is not None and m.fval > best.fval + _SCREEN_MARGIN * (1 + abs(best.fval)):
                continue
            migrad_robust(m)
            if best is None or m.fval < best.fval - 1e-6:
                best = m
        best.strategy = 1
        best.tol = 0.01
        migrad_robust(best, messages, f"data group {g + 1}")
        valid &= bool(best.valid)
        fits.append(best)

    nfree = len(owner)
    xbest = np.array(x0, float)
    lo = np.full(nfree, np.nan)
    hi = np.full(nfree, np.nan)
    H = np.zeros((nfree, nfree))

    if jt is None:
        for g, (prob, m) in enumerate(zip(probs, fits, strict=True)):
            if m is None:
                continue
            xl = np.array(m.values)
            xbest[prob.glob_idx] = xl
            h = _hessian_from_minuit(m)
            if h is not None:
                H[np.ix_(prob.glob_idx, prob.glob_idx)] = h
            for k, j in enumerate(prob.glob_idx):
                if want[j]:
                    lo[j], hi[j] = minos_interval(m, m.parameters[k], xl[k], messages, names[j])
            xl2 = np.array(m.values)
            if prob(xl2) < prob(xl) - 1e-6:  # MINOS found a better minimum
                xbest[prob.glob_idx] = xl2
                messages.append(f"data group {g + 1}: new minimum found while computing errors")
        return BlockResult(xbest, lo, hi, _cov(H), valid, messages)

    # 2. joint: profile over the tied parameter t
    tvals = np.array([np.array(m.values)[p.tied_local] for p, m in zip(probs, fits, strict=True)])
    terrs = np.array([m.errors[p.tied_local] for p, m in zip(probs, fits, strict=True)])
    w = np.where(np.isfinite(terrs) & (terrs > 0), 1.0 / np.maximum(terrs, 1e-300) ** 2, 0.0)
    t0 = float(np.sum(w * tvals) / np.sum(w)) if w.sum() > 0 else float(np.mean(tvals))
    sig0 = float(1.0 / math.sqrt(w.sum())) if w.sum() > 0 else abs(t0) * 0.1 + 1e-3
    tlo, thi = limits[jt]
    tlo = -np.inf if tlo is None else tlo
    thi = np.inf if thi is None else thi

    # inner minuits at fixed t, warm-started from the group's own best fit
    inner = []
    for prob, m in zip(probs, fits, strict=True):
        mi = make_minuit(
            prob,
            np.array(m.values),
            list(m.parameters),
            [limits[j] for j in prob.glob_idx],
            steps[prob.glob_idx],
            minuit_limits,
        )
        mi.fixed[prob.tied_local] = True
        mi.strategy = 0
        mi.tol = 0.01
        inner.append(mi)
    memo: dict[float, tuple[np.ndarray, list]] = {}

    def profile(t: float):
        t = float(min(max(t, tlo), thi))
        if t in memo:
            return memo[t]
        # warm start from the nearest t already evaluated
        near = min(memo, key=lambda s: abs(s - t)) if memo else None
        vals, sols = [], []
        for gi, (prob, mi) in enumerate(zip(probs, inner, strict=True)):
            if near is not None:
                mi.values = memo[near][1][gi]
            mi.values[prob.tied_local] = t
            mi.migrad(ncall=5000)
            if not mi.valid:
                mi.strategy = 1
                mi.migrad(ncall=5000)
                mi.strategy = 0
            vals.append(mi.fval)
            sols.append(np.array(mi.values))
        memo[t] = (np.array(vals), sols)
        return memo[t]

    def total(t):
        return float(profile(t)[0].sum())

    from scipy.optimize import brentq, minimize_scalar

    a = max(t0 - sig0, tlo + 1e-12 * max(1, abs(tlo)))
    b = min(t0 + sig0, thi)
    try:
        # |t - t*| ~ 1e-3 sigma moves S by ~1e-6: plenty for the best fit and the intervals
        res = minimize_scalar(total, bracket=(a, b), tol=1e-3 * sig0 / max(abs(t0), 1e-300))
        tstar = float(min(max(res.x, tlo), thi))
    except Exception:
        res = minimize_scalar(
            total,
            bounds=(max(tlo, t0 - 10 * sig0), min(thi, t0 + 10 * sig0)),
            method="bounded",
            options={"xatol": 1e-6 * max(1, abs(t0))},
        )
        tstar = float(res.x)
    smin = total(tstar)

    # 90% interval of t from the 1-D profile
    target = smin + DELTA_90
    sig = sig0
    if True:  # the interval of t is also needed to place the spline points
        for side in (-1, 1):
            step = sig
            prev = tstar
            bound = math.nan
            for _ in range(30):
                tt = tstar + side * step
                if tt <= tlo or tt >= thi:
                    tt = tlo if side < 0 else thi
                    if total(tt) < target:
                        bound = tt
                        messages.append(f"{names[jt]}: 90% bound at the parameter limit")
                        break
                if total(tt) >= target:
                    lo_b, hi_b = sorted((prev, tt))
                    bound = brentq(lambda s: total(s) - target, lo_b, hi_b, xtol=1e-4 * sig)
                    break
                prev = tt
                step *= 2.0
            if side < 0:
                lo[jt] = bound
            else:
                hi[jt] = bound
        if not np.isfinite(lo[jt]) or not np.isfinite(hi[jt]):
            messages.append(f"{names[jt]}: 90% bound could not be computed (NaN)")
    width = (
        np.nanmax([hi[jt] - tstar, tstar - lo[jt], sig0])
        if np.any(np.isfinite([lo[jt], hi[jt]]))
        else sig0
    )
    # profile points for the splines: cover +-3 widths
    for k in (-3.0, -2.0, -1.0, -0.5, 0.5, 1.0, 2.0, 3.0):
        tt = tstar + k * width
        if tlo <= tt <= thi and min(abs(s - tt) for s in memo) > 0.2 * width:
            total(tt)

    # best fit
    sols = profile(tstar)[1]
    for prob, xl in zip(probs, sols, strict=True):
        xbest[prob.glob_idx] = xl
    ts = np.array(sorted(s for s in memo if abs(s - tstar) < 8 * width))
    keep = [0]
    for i in range(1, len(ts)):
        if ts[i] - ts[keep[-1]] > 1e-4 * width:
            keep.append(i)
    ts = ts[keep]
    P = np.array([memo[s][0] for s in ts])  # (n_t, n_groups)
    from scipy.interpolate import CubicSpline

    # 3. per-group intervals: MINOS on S_g + sum of the other groups' profiles
    for gi, prob in enumerate(probs):
        others = P.sum(axis=1) - P[:, gi]
        spl = CubicSpline(ts, others) if len(ts) >= 4 else None
        if spl is None:
            coef = np.polyfit(ts, others, min(2, len(ts) - 1))
            prob.penalty = np.poly1d(coef)
        else:
            prob.penalty = spl
        xl = np.array(sols[gi])
        lnames = [names[j] for j in prob.glob_idx]
        m = make_minuit(
            prob,
            xl,
            lnames,
            [limits[j] for j in prob.glob_idx],
            steps[prob.glob_idx],
            minuit_limits,
        )
        m.tol = 0.1
        m.strategy = 0  # MINOS re-minimizes at every step; strategy 0 keeps that cheap
        migrad_robust(m, messages, f"data group {gi + 1}")
        h = _hessian_from_minuit(m)
        if h is not None:
            # the penalty's curvature belongs to the other groups: remove it from t-t
            d2 = float(spl(m.values[prob.tied_local], 2)) if spl is not None else 0.0
            h = h.copy()
            h[prob.tied_local, prob.tied_local] -= d2
            H[np.ix_(prob.glob_idx, prob.glob_idx)] += h
        for k, j in enumerate(prob.glob_idx):
            if j == jt or not want[j]:
                continue
            lo[j], hi[j] = minos_interval(m, m.parameters[k], xl[k], messages, names[j])
        xnew = np.array(m.values)
        if prob(xnew) < prob(xl) - 1e-3:
            messages.append(
                f"data group {gi + 1}: a better joint minimum was found while computing errors"
            )
        prob.penalty = None
    return BlockResult(xbest, lo, hi, _cov(H), valid, messages)


def _cov(H: np.ndarray) -> np.ndarray:
    try:
        return 2.0 * np.linalg.inv(H)
    except np.linalg.LinAlgError:
        return np.full(H.shape, np.nan)
