"""Block-structured fitting for :func:`xrtflow.spectral.fit.fit`.

A joint fit in which some parameters are tied across data groups and the others are free per
group has a block structure: for fixed tied parameters the groups are independent.  This module
exploits it:

* every data group is reduced to a dense grouped response ``A_g`` (noticed groups x the energy
  bins that reach them, ARF included), so one model evaluation costs one small mat-vec;
* additive components are folded separately and cached by the parameters they depend on, so a
  change of a normalization (or of another component's parameters) costs no model evaluation;
* for fixed shape parameters the model is linear in the normalizations of the additive
  components and the statistic convex in them, so the normalizations are solved exactly by
  Newton's method (:func:`solve_norms`) and the minimizers only see the shape parameters
  (:class:`Profiled`);
* each group is first fitted alone (tied parameters free in it, multi-start), which avoids the
  wrong local minima a direct joint MIGRAD can fall into;
* with one tied parameter ``t`` the joint statistic is ``S(t) = sum_g P_g(t)`` where ``P_g`` is
  the profile of group ``g`` (its own parameters re-optimized at fixed ``t``).  The joint best
  fit minimizes ``S`` (successive parabolas), the 90% interval of ``t`` solves
  ``S(t) = S_min + 2.706``, and the interval of a parameter of group ``g`` is the profile
  interval of ``S_g(t, theta_g) + sum_{h != g} P_h(t)`` -- exactly the joint profile likelihood
  (every other group re-optimized through ``t``), with the ``P_h`` interpolated by a cubic
  spline on the ``t`` values evaluated exactly (:class:`Penalty`);
* interval bounds are found by the secant method on ``sqrt(Delta stat)`` (:func:`_crossing`),
  every profile point minimized from the covariance's prediction of it by a quasi-Newton
  method (:func:`quasi_newton`), MIGRAD being the fallback.

These are the same profile-likelihood intervals (Delta stat = 2.706, all other free parameters
re-optimized) that MINOS on the full problem, or XSPEC's ``error``, computes.
"""

from __future__ import annotations

import bisect
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
#: candidate starts whose norm-profiled statistic is evaluated, and how many of the best are
#: handed to MIGRAD (at most ``n_starts``)
_SCREEN_POINTS = 32
_SCREEN_KEEP = 2


def _is_native_model(model) -> bool:
    return hasattr(model, "_components") and hasattr(model, "_tree")


def additive_terms(model) -> dict | None:
    """``{position: (additive component, [multiplicative components applied to it])}`` for
    native models built from additive and multiplicative components only (e.g.
    ``tbabs*(bb+brems)``, ``phabs*tbabs*po``, ``tbabs*bb + po``); None otherwise (convolution
    components)."""
    if not _is_native_model(model):
        return None
    if any(c.spec.kind == "con" for c in model._components):
        return None
    out: dict = {}

    def walk(node, muls) -> bool:
        """Record the additive terms under ``node``; True if it has any."""
        if isinstance(node, tuple):
            kind, children = node
            if kind == "add":
                found = False
                for child in children:
                    found |= walk(child, muls)
                return found
            factors, sub = [], []
            for child in children:
                if _pure_mul(child):
                    factors.extend(_mul_comps(child))
                else:
                    sub.append(child)
            found = False
            for child in sub:
                found |= walk(child, muls + factors)
            return found
        if node.spec.kind == "add":
            out[node.position] = (node, list(muls))
            return True
        return False

    walk(model._tree, [])
    return out


def _pure_mul(node) -> bool:
    if isinstance(node, tuple):
        kind, children = node
        return kind == "mul" and all(_pure_mul(c) for c in children)
    return node.spec.kind == "mul"


def _mul_comps(node) -> list:
    if isinstance(node, tuple):
        return [c for child in node[1] for c in _mul_comps(child)]
    return [node]


def component_values(comp, edges: np.ndarray, p: np.ndarray, opts: dict) -> np.ndarray:
    """A native component on ``edges``: an additive one at unit normalization (``p`` its
    shape parameters), a multiplicative one as its factor (``p`` all its parameters)."""
    return np.asarray(comp.spec.func(edges, p, **opts), dtype=float)


def _merge_empty_bins(a, counts, ts, bkg, tb):
    """Fold all bins with no source counts into one row, exactly.

    For ``cstat`` (Cash, or the W-statistic with a background) a bin with ``S = 0`` contributes
    ``2 ts m`` (plus ``-2 B ln(tb / (ts + tb))``, a constant, with a background): linear in the
    model rate, so the sum over such bins only needs the sum of their response rows weighted
    by ``ts``.  Ungrouped Swift-XRT spectra have zero counts in most noticed channels, so the
    response folded at every model evaluation shrinks to the channels with counts plus one.
    The merged bin gets ``ts`` of the first empty bin and a background (``B`` summed, ``tb``
    chosen) that reproduces the summed constant.
    """
    counts = np.asarray(counts, dtype=float)
    empty = counts == 0
    if empty.sum() < 2:
        return a, counts, ts, bkg, tb
    n = len(counts)
    ts_b = np.broadcast_to(np.asarray(ts, dtype=float), (n,))
    t0 = float(ts_b[empty][0])
    keep = ~empty
    row = (ts_b[empty] / t0) @ a[empty]
    a_new = np.vstack([a[keep], row[None, :]])
    counts_new = np.append(counts[keep], 0.0)
    ts_new = np.append(ts_b[keep], t0)
    if bkg is None:
        return a_new, counts_new, ts_new, None, None
    b = np.asarray(bkg, dtype=float)
    tb_b = np.broadcast_to(np.asarray(tb, dtype=float), (n,))
    be, tbe = b[empty], tb_b[empty]
    b_sum = float(be.sum())
    if b_sum > 0:
        # -B' ln(tb' / (t0 + tb')) = -sum B ln(tb / (ts + tb))  ->  r = tb' / (t0 + tb')
        r = math.exp(float(be @ np.log(tbe / (ts_b[empty] + tbe))) / b_sum)
        tb_m = t0 * r / (1.0 - r) if r < 1.0 else float(tbe.mean())
    else:
        tb_m = float(tbe.mean())
    return a_new, counts_new, ts_new, np.append(b[keep], b_sum), np.append(tb_b[keep], tb_m)


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
        counts, ts, bkg, tb = grp.counts, grp.ts, grp.bkg, grp.tb
        if obj.statistic in ("cstat", "cash", "wstat"):
            a, counts, ts, bkg, tb = _merge_empty_bins(a, counts, ts, bkg, tb)
        self.A = np.ascontiguousarray(a)
        self.edges = edges
        self.full_edges = edges is grp.edges
        self.terms = []  # (position, norm index, key indices) for linear decomposition
        # each additive component times its multiplicative factors, the two cached apart
        # (``mul*(add+add)``: an nH step costs no continuum evaluation, a kT step no
        # absorption); None for other structures, which go through ``model.evaluate``
        self.factors = additive_terms(model) if native and not has_con else None
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
        if self.factors is not None and set(self.factors) != {t[0] for t in self.terms}:
            self.factors = None
        self._parts: dict = {}  # (component position, parameter bytes) -> unfolded array
        self._popts = {"abund": setup.abund, "xsect": str(setup.xsect).lower()}
        self.caches: list[dict] = [{} for _ in self.terms] or [{}]
        self.norm_par = np.array([t[1] for t in self.terms], int)
        self._stat = GroupStatistic(
            obj.statistic, counts, ts, bkg, tb, grp.stat_err, getattr(grp, "bkg_stat_err", None)
        )
        self.n_eval = 0

    def prefetch(self, vs) -> None:
        """Fold, in one matrix product, the components of the parameter vectors ``vs`` that
        are not cached yet.  A finite-difference gradient needs a handful of columns; folding
        them together streams the (large, dense) response through the cache once instead of
        once per column -- the fold is memory-bound, so this costs little more than one."""
        if not self.terms:
            return
        pending, seen = [], set()
        for v in vs:
            for (pos, inorm, kidx), cache in zip(self.terms, self.caches, strict=True):
                key = v[kidx].tobytes()
                if key in cache or (id(cache), key) in seen:
                    continue
                seen.add((id(cache), key))
                pending.append((cache, key, self._term(v, pos, inorm)))
        if len(pending) < 2:
            for cache, key, y in pending:
                cache[key] = self._fold(y)
            return
        ys = np.column_stack([np.asarray(y, dtype=float) for _, _, y in pending])
        if not np.isfinite(ys).all():
            ys = np.where(np.isfinite(ys), ys, 0.0)
        self.n_eval += len(pending)
        ay = np.abs(ys)
        big = np.flatnonzero(np.any(ay > 1e-15 * ay.max(axis=0), axis=1))
        out = np.zeros((self.A.shape[0], ys.shape[1]))
        if len(big):
            lo, hi = big[0], big[-1] + 1
            out = self.A[:, lo:hi] @ ys[lo:hi]
        for k, (cache, key, _) in enumerate(pending):
            if len(cache) > _CACHE_MAX:
                cache.clear()
            cache[key] = np.ascontiguousarray(out[:, k])

    def _fold(self, y: np.ndarray) -> np.ndarray:
        y = np.asarray(y, dtype=float)
        if not np.all(np.isfinite(y)):
            y = np.where(np.isfinite(y), y, 0.0)
        self.n_eval += 1
        # fold only the energies where the component is not negligible (a soft blackbody is
        # zero to 1e-15 over most of the band): the dense mat-vec dominates an evaluation
        ay = np.abs(y)
        big = np.flatnonzero(ay > 1e-15 * ay.max()) if y.size else []
        if len(big) == 0:
            return np.zeros(self.A.shape[0])
        lo, hi = big[0], big[-1] + 1
        if hi - lo > 0.8 * y.size:
            return self.A @ y
        return self.A[:, lo:hi] @ y[lo:hi]

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
        cols = self.columns(v)
        return cols @ v[self.norm_par]

    def columns(self, v: np.ndarray) -> np.ndarray:
        """Folded additive components at unit normalization (n_bins, n_terms), cached by the
        parameters each depends on (its own and the multiplicative ones)."""
        cols = []
        for (pos, inorm, kidx), cache in zip(self.terms, self.caches, strict=True):
            key = v[kidx].tobytes()
            r = cache.get(key)
            if r is None:
                if len(cache) > _CACHE_MAX:
                    cache.clear()
                y = self._term(v, pos, inorm)
                r = cache[key] = self._fold(y)
            cols.append(r)
        return np.column_stack(cols)

    def _part(self, comp, v: np.ndarray) -> np.ndarray:
        """One component on ``self.edges`` (an additive one at unit normalization), cached by
        its own parameters."""
        n = len(comp.spec.pars)
        p = v[comp.first : comp.first + (n - 1 if comp.spec.kind == "add" else n)]
        key = (comp.position, p.tobytes())
        y = self._parts.get(key)
        if y is None:
            if len(self._parts) > 4 * _CACHE_MAX:
                self._parts.clear()
            y = self._parts[key] = component_values(comp, self.edges, p, self._popts)
        return y

    def _term(self, v: np.ndarray, pos: int, inorm: int) -> np.ndarray:
        """Additive component ``pos`` at unit normalization times its multiplicative factors
        (unfolded)."""
        if self.factors is not None:
            add, muls = self.factors[pos]
            y = self._part(add, v)
            for mc in reversed(muls):  # in the order ``Model.evaluate`` multiplies them
                y = y * self._part(mc, v)
            return y
        vv = np.array(v, dtype=float)
        vv[inorm] = 1.0
        return self.model.evaluate(self.edges, vv, component=pos, **self.opts)

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
        vs = []
        for k in range(n):
            for sgn in (1.0, -1.0):
                xx = x.copy()
                xx[k] += sgn * h[k]
                vs.append(self.full(xx))
        self.gm.prefetch(vs)
        cols = [self.gm.rates(v) for v in vs]
        s = self.gm.stat(np.column_stack(cols))
        g = (s[0::2] - s[1::2]) / (2 * h)
        if self.penalty is not None:
            t = self.tied_local
            g[t] += (float(self.penalty(x[t] + h[t])) - float(self.penalty(x[t] - h[t]))) / (
                2 * h[t]
            )
        self.ncalls += 2 * n
        return g


def solve_norms(
    stat: GroupStatistic,
    F: np.ndarray,
    a0: np.ndarray,
    free: np.ndarray,
    lo: np.ndarray,
    tol: float = 1e-9,
    max_iter: int = 50,
) -> tuple[float, np.ndarray]:
    """Minimize ``stat(F @ a)`` over ``a[free] >= lo[free]`` by projected Newton.

    The predicted rates are linear in the normalizations of the additive components, and
    Cash/W-stat/chi^2 are convex in the rates, so this small problem (one unknown per
    component) has a single minimum that Newton's method with the analytic gradient
    ``F^T d1`` and Hessian ``F^T diag(d2) F`` finds in a few iterations.

    Parameters
    ----------
    stat : GroupStatistic
    F : numpy.ndarray
        Folded components at unit normalization (n_bins, K).
    a0 : numpy.ndarray
        Start (K,); the entries not ``free`` are held fixed.
    free : numpy.ndarray of bool
        Which normalizations to solve for.
    lo : numpy.ndarray
        Lower bounds (K,), e.g. 0 for XSPEC normalizations.

    Returns
    -------
    value : float
        The minimum of the statistic.
    a : numpy.ndarray
        The normalizations at the minimum.
    """
    a = np.where(free, np.maximum(a0, lo), a0)
    f, d1, d2 = stat.derivatives(F @ a)
    for _ in range(max_iter):
        g = F.T @ d1
        # bounds that are active (at the bound, pushed against it) stay fixed this step
        act = free & ~((a <= lo) & (g > 0))
        if not act.any():
            break
        Fa = F[:, act]
        step = -_solve_psd((Fa * d2[:, None]).T @ Fa, g[act])
        decrement = -float(g[act] @ step)  # predicted decrease x 2
        if decrement < 2 * tol:
            break
        # Newton converges quadratically: after a step this small the remaining gap is far
        # below ``tol``, so the step is the last one (saves an evaluation to confirm it)
        last = decrement < 1e-5
        full = a[act] + step
        if decrement < 1e-6 and np.all(full >= lo[act]):
            # the quadratic model is exact to third order in the step: for a predicted gain
            # this small (< 5e-7) its value is the statistic at the new point to ~1e-12, so it
            # is taken without evaluating (warm-started solves along a fit need 2 evaluations
            # instead of 3)
            a = a.copy()
            a[act] = full
            f = f - 0.5 * decrement
            break
        # backtracking line search, projected onto the bounds
        lam = 1.0
        while lam > 1e-12:
            an = a.copy()
            an[act] = np.maximum(a[act] + lam * step, lo[act])
            fn, d1n, d2n = stat.derivatives(F @ an)
            if fn <= f - 1e-4 * lam * decrement or fn <= f - tol:
                break
            lam *= 0.5
        else:
            break
        converged = last or f - fn < tol
        a, f, d1, d2 = an, fn, d1n, d2n
        if converged:
            break
    return f, a


def _solve_psd(H: np.ndarray, g: np.ndarray) -> np.ndarray:
    """``H^-1 g`` for a small positive semi-definite ``H`` (closed forms up to 2 x 2, where
    numpy's general solver costs more than the rest of a Newton step)."""
    if len(g) == 1:
        return g / max(H[0, 0], 1e-300)
    if len(g) == 2:
        det = H[0, 0] * H[1, 1] - H[0, 1] * H[1, 0]
        if det > 1e-12 * H[0, 0] * H[1, 1]:
            return (
                np.array([H[1, 1] * g[0] - H[0, 1] * g[1], H[0, 0] * g[1] - H[1, 0] * g[0]]) / det
            )
    d = np.diag(H)
    try:
        return np.linalg.solve(H + np.diag(1e-12 * d.max() + 1e-300 + 0 * d), g)
    except np.linalg.LinAlgError:  # pragma: no cover - degenerate components
        return g / np.maximum(d, 1e-300)


def _migrad(m, ncall: int) -> None:
    """MIGRAD on a call budget, once more at strategy 1 if the minimum is not valid.

    Unlike :func:`migrad_robust` this never runs away: a statistic with a tiny discontinuity
    (e.g. where a model switches between approximations) can keep MIGRAD from ever meeting
    its tolerance, and the profiled problems here are re-minimized later anyway.
    """
    m.migrad(ncall=ncall)
    if not m.valid:
        old = int(m.strategy.strategy)
        m.strategy = 1
        m.migrad(ncall=ncall)
        m.strategy = old


class Profiled:
    """The statistic of a :class:`GroupProblem` as a function of some of its local parameters.

    ``outer`` are the local parameters the caller varies, ``solve`` the free normalizations
    minimized exactly for every call (:func:`solve_norms`); all other local parameters are
    held at their values in ``x``.  The solved normalizations are kept in ``x`` as the warm
    start of the next call, so :meth:`point` gives the full local vector of the last call.
    """

    def __init__(self, prob: GroupProblem, x, outer, solve):
        self.prob = prob
        self.x = np.array(x, dtype=float)
        self.outer = np.asarray(outer, dtype=int)
        self.solve = np.asarray(solve, dtype=int)
        gm = prob.gm
        if len(self.solve):
            term_of = {int(i): k for k, i in enumerate(gm.norm_par)}
            self.terms = np.array([term_of[int(prob.par_idx[k])] for k in self.solve], int)
            self.free = np.zeros(len(gm.norm_par), bool)
            self.free[self.terms] = True
            self.lo = np.asarray(prob.lower, float)[gm.norm_par]
        self.ncalls = 0
        self._solved_at: bytes | None = None  # outer values of the last solve

    @property
    def x(self) -> np.ndarray:
        """The full local parameter vector (normalizations as last solved)."""
        return self._x

    @x.setter
    def x(self, value) -> None:
        self._x = np.array(value, dtype=float)
        self._solved_at = None  # set from outside: its normalizations are not solved

    def point(self, y) -> np.ndarray:
        """Full local parameter vector at outer values ``y`` (normalizations solved)."""
        self(y)
        return self.x.copy()

    def __call__(self, y) -> float:
        prob = self.prob
        self.ncalls += 1
        y = np.asarray(y, dtype=float)
        self.x[self.outer] = y
        self._solved_at = y.tobytes()
        if len(self.solve):
            v = prob.full(self.x)
            F = prob.gm.columns(v)
            f, a = solve_norms(prob.gm._stat, F, v[prob.gm.norm_par], self.free, self.lo)
            self.x[self.solve] = a[self.terms]
        else:
            f = float(prob.gm.stat(prob.gm.rates(prob.full(self.x))))
        if prob.penalty is not None:
            f += float(prob.penalty(self.x[prob.tied_local]))
        return float(f)

    def start_norms(self) -> None:
        """Rescale the normalizations to solve so the model has the observed net counts: a
        start for Newton's method that is not orders of magnitude off."""
        if not len(self.solve):
            return
        prob = self.prob
        st = prob.gm._stat
        v = prob.full(self.x)
        pred = float(np.sum(np.asarray(st.ts) * prob.gm.rates(v)))
        net = float(np.sum(st.counts))
        if st.bkg is not None:
            net -= float(np.sum(np.asarray(st.bkg) * np.asarray(st.ts) / np.asarray(st.tb)))
        if pred > 0 and net > 0:
            self.x[self.solve] *= net / pred

    def grad(self, y, h) -> np.ndarray:
        """Central-difference gradient in the outer parameters.

        With solved normalizations the gradient of the profiled statistic is, by the envelope
        theorem, that of the statistic at the normalizations held at their optimum (their own
        derivatives vanish there, or they sit on a bound that stays active): the perturbed
        points need no Newton solve, and their statistics are one vectorized evaluation.
        """
        y = np.asarray(y, dtype=float)
        n = len(y)
        if not len(self.solve):
            keep = self.x.copy()
            g = np.empty(n)
            for k in range(n):
                e = np.zeros(n)
                e[k] = h[k]
                g[k] = (self(y + e) - self(y - e)) / (2 * h[k])
            self.x = keep
            return g
        if self._solved_at != y.tobytes():
            self(y)  # the normalizations at ``y`` (``x`` may have been set from outside)
        prob = self.prob
        vs, ts = [], []
        for k in range(n):
            for sgn in (1.0, -1.0):
                x = self.x.copy()
                x[self.outer[k]] = y[k] + sgn * h[k]
                vs.append(prob.full(x))
                if prob.penalty is not None:
                    ts.append(x[prob.tied_local])
        gm = prob.gm
        gm.prefetch(vs)
        rates = np.column_stack([gm.rates(v) for v in vs])
        s = np.asarray(gm.stat(rates), dtype=float)
        if prob.penalty is not None:
            s = s + np.array([float(prob.penalty(t)) for t in ts])
        self.ncalls += 2 * n
        return (s[0::2] - s[1::2]) / (2 * np.asarray(h, dtype=float))


def make_minuit(prob: GroupProblem, x0, names, limits, steps, minuit_limits):
    from iminuit import Minuit

    steps = np.asarray(steps, float)

    def grad(x):
        # Central differences on a step of 1e-3 of the value: truncation errors are still
        # negligible (the profiled statistic is smooth on that scale), and the gradient is not
        # thrown off by the tiny steps some models have in their parameters (switching between
        # approximations), at which MIGRAD with 1e-6 steps could stall
        x = np.asarray(x, float)
        return prob.grad(x, np.maximum(1e-3 * np.abs(x), 1e-2 * steps))

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


def _grad_steps(y: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """Finite-difference steps, as in :func:`make_minuit`."""
    return np.maximum(1e-3 * np.abs(y), 1e-2 * steps)


def quasi_newton(pp: Profiled, y0, hinv, steps, lower, upper, edm: float = 1e-4, max_iter=8):
    """Minimize ``pp`` over its outer parameters from a close start with a known inverse
    Hessian: Newton steps updated by BFGS, as MIGRAD but without its start-up cost (a
    numerical Hessian seed on every call), which dominates when the start is already within
    a fraction of an error of the minimum -- as along a profile, or for the conditional
    minima of a profile-likelihood interval.

    Returns ``(converged, fval, y, hinv)``; not converged (e.g. a bound in the way) means the
    caller should fall back to MIGRAD.
    """
    y = np.clip(np.asarray(y0, float), lower, upper)
    hinv = np.array(hinv, float)
    f = pp(y)
    g = pp.grad(y, _grad_steps(y, steps))
    for _ in range(max_iter):
        step = -hinv @ g
        dec = -0.5 * float(g @ step)  # MIGRAD's "estimated distance to minimum"
        if not np.isfinite(dec) or dec < 0:
            return False, f, y, hinv
        if dec < edm:
            return True, f, y, hinv
        lam = 1.0
        for _ in range(6):
            yn = np.clip(y + lam * step, lower, upper)
            fn = pp(yn)
            if fn < f:
                break
            lam *= 0.3
        else:
            return False, f, y, hinv
        eps = (f - fn) / dec - 1.0
        if lam == 1.0 and abs(eps) < 0.5 and dec * eps * eps / (1.0 - eps) < 10 * edm:
            # a full step decreasing the statistic nearly as the quadratic model predicted:
            # along the step, a curvature off by a factor 1 - eps leaves dec eps^2 / (1 - eps)
            # to gain, which is negligible here -- no need for a gradient to confirm it
            return True, fn, yn, hinv
        gn = pp.grad(yn, _grad_steps(yn, steps))
        s, dg = yn - y, gn - g
        sy = float(s @ dg)
        if sy > 1e-12 * float(np.sqrt((s @ s) * (dg @ dg))):  # BFGS update of the inverse
            rho = 1.0 / sy
            v = np.eye(len(y)) - rho * np.outer(s, dg)
            hinv = v @ hinv @ v.T + rho * np.outer(s, s)
        y, f, g = yn, fn, gn
    return False, f, y, hinv


def _bounds(loc, idx) -> tuple[np.ndarray, np.ndarray]:
    """Hard limits of local parameters ``idx`` as arrays (infinite where absent)."""
    lo = np.array([-np.inf if loc.limits[k][0] is None else loc.limits[k][0] for k in idx])
    hi = np.array([np.inf if loc.limits[k][1] is None else loc.limits[k][1] for k in idx])
    return lo, hi


def _hinv_from(m) -> np.ndarray | None:
    """Inverse Hessian of the statistic from a MIGRAD covariance (errordef 1: cov / 2)."""
    try:
        c = np.array(m.covariance, float)
    except Exception:
        return None
    return 0.5 * c if np.all(np.isfinite(c)) else None


def _profiled_hinv(cov: np.ndarray, outer: np.ndarray, k: int) -> np.ndarray | None:
    """Inverse Hessian in ``outer`` with local parameter ``k`` fixed and all others (solved
    normalizations) profiled out, from the covariance ``cov`` of all local parameters."""
    keep = np.concatenate([[k], outer])
    sub = cov[np.ix_(keep, keep)]
    if not np.all(np.isfinite(sub)):
        return None
    try:
        hp = np.linalg.inv(0.5 * sub)  # profiled Hessian in (k, outer)
        return np.linalg.inv(hp[1:, 1:])
    except np.linalg.LinAlgError:
        return None


def _solvable_norms(prob: GroupProblem) -> np.ndarray:
    """Local positions of the free normalizations that :func:`solve_norms` can handle: those
    of additive components, with a lower limit >= 0, under a statistic with derivatives."""
    gm = prob.gm
    if not gm.terms or not gm._stat.has_derivatives:
        return np.zeros(0, int)
    norms = {int(i) for i in gm.norm_par}
    lower = np.asarray(prob.lower, float)
    return np.array(
        [k for k, i in enumerate(prob.par_idx) if int(i) in norms and lower[i] >= 0], int
    )


@dataclass
class _Local:
    """Names, limits and steps of one group's local parameters, for building minimizers."""

    names: list
    limits: list
    steps: np.ndarray
    minuit_limits: object

    def minuit(self, pp: Profiled, x: np.ndarray):
        """A MIGRAD minimizer over ``pp``'s outer parameters starting at local vector ``x``."""
        o = pp.outer
        return make_minuit(
            pp,
            x[o],
            [self.names[k] for k in o],
            [self.limits[k] for k in o],
            self.steps[o],
            self.minuit_limits,
        )

    def clip(self, x: np.ndarray) -> np.ndarray:
        lo = np.array([-np.inf if a is None else a for a, _ in self.limits])
        hi = np.array([np.inf if b is None else b for _, b in self.limits])
        return np.clip(x, lo, hi)


def _screen_starts(prob, solve, cands, keep: int) -> list[np.ndarray]:
    """The ``keep`` candidate starts with the lowest statistic (normalizations solved), the
    given start (the first candidate) always among them if it is at least as good."""
    n = len(prob.par_idx)
    outer = np.setdiff1d(np.arange(n), solve)
    prob.gm.prefetch([prob.full(np.asarray(x, float)) for x in cands])  # one fold for all
    scored = []
    for x in cands:
        pp = Profiled(prob, x, outer, solve)
        pp.start_norms()
        f = pp(pp.x[outer])
        if np.isfinite(f):
            scored.append((f, len(scored), pp.x.copy()))
    if not scored:
        return [np.asarray(cands[0], float)]
    scored.sort(key=lambda r: (r[0], r[1]))
    return [x for _, _, x in scored[:keep]]


def _fit_group(prob, solve, starts, loc: _Local, messages, label):
    """Best fit of one group alone (its tied parameter free): multi-start MIGRAD over the
    parameters that are not solved normalizations.

    Returns the full local vector, the statistic, the parabolic errors of the outer
    parameters (NaN for solved ones) and validity.
    """
    n = len(prob.par_idx)
    outer = np.setdiff1d(np.arange(n), solve)
    errors = np.full(n, np.nan)
    if not len(outer):
        pp = Profiled(prob, starts[0], outer, solve)
        pp.start_norms()
        return pp.point(()), pp(()), errors, True
    runs = []
    for x in starts:
        pp = Profiled(prob, x, outer, solve)
        pp.start_norms()
        m = loc.minuit(pp, pp.x)
        # every start coarsely (strategy 0) and on a budget ...
        m.strategy = 0
        m.tol = 0.1
        m.migrad(ncall=_SCREEN_CALLS)
        runs.append((m, pp))
    # ... then to convergence the starts that are not clearly worse than the best one so far
    runs.sort(key=lambda r: r[0].fval)
    best = None
    for m, pp in runs:
        if best is not None and m.fval > best[0].fval + _SCREEN_MARGIN * (1 + abs(best[0].fval)):
            continue
        if not m.valid:  # converged within the budget already: nothing to continue
            m.tol = 0.05
            _migrad(m, 1000)
        if best is None or m.fval < best[0].fval - 1e-6:
            best = (m, pp)
    m, pp = best
    if not m.valid:
        messages.append(f"{label}: minimum of the group's own fit not valid")
    errors[outer] = np.array(m.errors)
    x = pp.point(np.array(m.values))
    return x, float(m.fval), errors, bool(m.valid)


def _local_minimum(prob, solve, x, loc: _Local, messages, label):
    """Minimum of ``prob`` (with its penalty) from ``x``: (local vector, statistic)."""
    outer = np.setdiff1d(np.arange(len(x)), solve)
    pp = Profiled(prob, x, outer, solve)
    if not len(outer):
        return pp.point(()), pp(())
    m = loc.minuit(pp, pp.x)
    m.strategy = 0
    m.tol = 0.05
    _migrad(m, 2000)
    if not m.valid:
        messages.append(f"{label}: minimum not valid")
    x = pp.point(np.array(m.values))
    return x, pp(np.array(m.values))


def _local_hessian(prob, x, loc: _Local) -> np.ndarray | None:
    """Numerical Hessian (MINUIT HESSE) of ``prob`` in all its local parameters at ``x``."""
    m = make_minuit(prob, x, loc.names, loc.limits, loc.steps, loc.minuit_limits)
    return _hessian_from_minuit(m)


def _interval(prob, solve, xhat, f0, k, cov, loc: _Local, messages, label):
    """90% profile-likelihood interval of local parameter ``k``: where the minimum of the
    statistic over all other local parameters (normalizations solved exactly, the tied one
    through the penalty) rises by 2.706 above ``f0``.

    The crossing is found by the secant method on ``sqrt(Delta stat)`` (nearly linear in the
    parameter, so two or three profile points usually suffice), bracketed and bisected when
    it misbehaves; each profile point starts from the linear prediction of the conditional
    minimum given by the covariance ``cov``.
    """
    n = len(xhat)
    ckk = cov[k, k] if np.all(np.isfinite(cov[:, k])) else np.nan
    sig = math.sqrt(ckk) if np.isfinite(ckk) and ckk > 0 else float(loc.steps[k])
    slope = cov[:, k] / ckk if np.isfinite(ckk) and ckk > 0 else np.zeros(n)
    solve_k = np.array([s for s in solve if s != k], int)
    outer = np.array([j for j in range(n) if j != k and j not in solve_k], int)
    pp = Profiled(prob, xhat, outer, solve_k)
    m = None
    if len(outer):
        m = loc.minuit(pp, pp.x)
        m.strategy = 0
        m.tol = 0.05
    lim = loc.limits[k]
    state = {"hinv": _profiled_hinv(cov, outer, k)}
    lower, upper = _bounds(loc, outer)

    path: list[tuple[float, np.ndarray]] = []  # conditional minima found so far

    def start(val: float) -> np.ndarray:
        """Start for the conditional minimum at ``val``: the line through the two nearest
        minima already found on this side (the best fit counted), else the covariance's
        linear prediction -- the profile path bends, and a start on it saves iterations."""
        same = [(v, x) for v, x in path if (v - xhat[k]) * (val - xhat[k]) > 0]
        if same:
            near = sorted([*same, (float(xhat[k]), xhat)], key=lambda p: abs(p[0] - val))[:2]
            (v0, x0), (v1, x1) = near
            if v1 != v0:
                return x0 + (x1 - x0) * (val - v0) / (v1 - v0)
        return xhat + slope * (val - xhat[k])

    def delta(val: float) -> float:
        x = loc.clip(start(val))
        x[k] = val
        pp.x = x
        if m is None:
            return pp(()) - f0
        if state["hinv"] is not None:
            # the inverse Hessian, updated by BFGS, carries over to the next profile point
            # (edm 1e-3 here moved a poorly constrained bound by 10%: keep 1e-4)
            ok, f, y, hinv = quasi_newton(
                pp, x[outer], state["hinv"], loc.steps[outer], lower, upper, edm=1e-4
            )
            if ok:
                state["hinv"] = hinv
                sol = pp.x.copy()
                sol[outer] = y
                path.append((float(val), sol))
                return f - f0
        m.values = x[outer]
        _migrad(m, 2000)
        sol = pp.x.copy()
        sol[outer] = np.array(m.values)
        path.append((float(val), sol))
        return float(m.fval) - f0

    out = []
    for side in (-1, 1):
        bound, at_limit = _crossing(delta, float(xhat[k]), sig, side, lim[0 if side < 0 else 1])
        if at_limit:
            messages.append(
                f"{label}: {'lower' if side < 0 else 'upper'} bound at the parameter limit"
            )
        if not math.isfinite(bound):
            messages.append(f"{label}: 90% bound could not be computed (NaN)")
        out.append(bound)
    return out[0], out[1]


def _crossing(delta, x0: float, sig: float, side: int, limit) -> tuple[float, bool]:
    """Where ``delta`` (0 at ``x0``) reaches 2.706 on ``side``: (bound, at the limit)."""
    qt = math.sqrt(DELTA_90)
    p_prev, q_prev = x0, 0.0
    p_in, p_out = x0, None
    p = x0 + side * qt * sig
    for _ in range(25):
        at_limit = limit is not None and side * (p - limit) >= 0
        if at_limit:
            p = float(limit)
        d = delta(p)
        if not math.isfinite(d):
            return math.nan, False
        if abs(d - DELTA_90) < 5e-3:
            return p, False
        q = math.sqrt(max(d, 0.0))
        if abs(d - DELTA_90) < 0.1 and q != q_prev:
            # close: sqrt(Delta) is linear to high accuracy over so short a step, so the secant
            # estimate is as good as another profile point
            return p + (qt - q) * (p - p_prev) / (q - q_prev), False
        if d > DELTA_90:
            p_out = p
        else:
            p_in = p
            if at_limit:
                return p, True
        if p_out is not None and abs(p_out - p_in) < 1e-5 * sig:
            return 0.5 * (p_in + p_out), False
        pn = p + (qt - q) * (p - p_prev) / (q - q_prev) if q != q_prev else p + side * sig
        if p_out is not None:
            a, b = sorted((p_in, p_out))
            if not a < pn < b:  # the secant left the bracket: bisect
                pn = 0.5 * (p_in + p_out)
        elif side * (pn - p) <= 0:
            pn = p + side * sig
        else:  # no bracket yet: do not jump too far outwards
            pn = p + side * min(abs(pn - p), 4 * abs(p - x0) + sig)
        p_prev, q_prev, p = p, q, pn
    return math.nan, False


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
    locs: list[_Local] = []
    solves: list[np.ndarray] = []
    for g in range(n_groups):
        par_idx = np.flatnonzero(free_map[g] >= 0)
        glob = free_map[g, par_idx]
        gm = GroupModel(obj, g, model, setup)
        tl = None if jt is None else int(np.flatnonzero(glob == jt)[0])
        prob = GroupProblem(gm, obj.base[g].copy(), par_idx, glob, lower, upper, tied_local=tl)
        probs.append(prob)
        locs.append(
            _Local([names[j] for j in glob], [limits[j] for j in glob], steps[glob], minuit_limits)
        )
        solves.append(_solvable_norms(prob))

    # 1. each group alone (tied parameter free in it), multi-start
    sols: list = []
    terrs = []
    valid = True
    for g, prob in enumerate(probs):
        if len(prob.glob_idx) == 0:
            sols.append(None)
            continue
        loc_owner = [owner[j] for j in prob.glob_idx]
        starts = start_points(x0[prob.glob_idx], pars, loc_owner)
        if len(starts) > 1 and len(solves[g]):
            # screen many more candidate starts by the (cheap) norm-profiled statistic and
            # run the minimizer only from the best few
            cands = start_points(x0[prob.glob_idx], pars, loc_owner, _SCREEN_POINTS)
            starts = _screen_starts(prob, solves[g], cands, min(len(starts), _SCREEN_KEEP))
        x, _, errs, ok = _fit_group(
            prob, solves[g], starts, locs[g], messages, f"data group {g + 1}"
        )
        valid &= ok
        sols.append(x)
        if prob.tied_local is not None:
            terrs.append(errs[prob.tied_local])

    nfree = len(owner)
    xbest = np.array(x0, float)
    lo = np.full(nfree, np.nan)
    hi = np.full(nfree, np.nan)
    H = np.zeros((nfree, nfree))

    if jt is None:
        for g, prob in enumerate(probs):
            if sols[g] is None:
                continue
            _group_intervals(prob, solves[g], sols[g], locs[g], want, H, lo, hi, messages, g, None)
            xbest[prob.glob_idx] = sols[g]
        return BlockResult(xbest, lo, hi, _cov(H), valid, messages)

    # 2. joint: profile over the tied parameter t
    tvals = np.array([x[p.tied_local] for p, x in zip(probs, sols, strict=True)])
    terrs = np.array(terrs)
    w = np.where(np.isfinite(terrs) & (terrs > 0), 1.0 / np.maximum(terrs, 1e-300) ** 2, 0.0)
    t0 = float(np.sum(w * tvals) / np.sum(w)) if w.sum() > 0 else float(np.mean(tvals))
    sig0 = float(1.0 / math.sqrt(w.sum())) if w.sum() > 0 else abs(t0) * 0.1 + 1e-3
    tlo, thi = limits[jt]
    tlo = -np.inf if tlo is None else tlo
    thi = np.inf if thi is None else thi

    # inner minimizers at fixed t, warm-started from the group's own best fit
    inner = []
    for g, prob in enumerate(probs):
        n = len(prob.par_idx)
        outer = np.array([k for k in range(n) if k != prob.tied_local and k not in solves[g]])
        pp = Profiled(prob, sols[g], outer, solves[g])
        mi = None
        if len(outer):
            mi = locs[g].minuit(pp, pp.x)
            mi.strategy = 0
            mi.tol = 0.01
        inner.append((pp, mi))
    memo: dict[float, tuple[np.ndarray, list]] = {}
    hinvs: list = [None] * n_groups  # inverse Hessians of the inner problems, kept along t

    def profile(t: float):
        t = float(min(max(t, tlo), thi))
        if t in memo:
            return memo[t]
        # warm start from the nearest t already evaluated
        near = min(memo, key=lambda s: abs(s - t)) if memo else None
        vals, xs = [], []
        for gi, (prob, (pp, mi)) in enumerate(zip(probs, inner, strict=True)):
            if near is not None:
                pp.x = memo[near][1][gi].copy()
            pp.x[prob.tied_local] = t
            if mi is None:
                vals.append(pp(()))
                xs.append(pp.x.copy())
                continue
            y0 = pp.x[pp.outer]
            ok = False
            if hinvs[gi] is not None:
                lower, upper = _bounds(locs[gi], pp.outer)
                steps_g = locs[gi].steps[pp.outer]
                ok, f, y, hinvs[gi] = quasi_newton(
                    pp, y0, hinvs[gi], steps_g, lower, upper, edm=2e-5
                )
            if not ok:
                mi.values = y0
                _migrad(mi, 2000)
                y = np.array(mi.values)
                hinvs[gi] = _hinv_from(mi)
                f = pp(y)
            xs.append(pp.point(y))
            vals.append(f)
        memo[t] = (np.array(vals), xs)
        return memo[t]

    def total(t):
        return float(profile(t)[0].sum())

    tstar, sig = _profile_minimum(total, t0, sig0, tlo, thi)
    smin = total(tstar)

    # 90% interval of t from the 1-D profile (as for the other parameters)
    for side in (-1, 1):
        limit = tlo if side < 0 else thi
        bound, at_limit = _crossing(
            lambda t: total(t) - smin, tstar, sig, side, limit if np.isfinite(limit) else None
        )
        if at_limit:
            messages.append(f"{names[jt]}: 90% bound at the parameter limit")
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
    for k in (-3.0, -2.0, -1.0, 1.0, 2.0, 3.0):
        tt = tstar + k * width
        if tlo <= tt <= thi and min(abs(s - tt) for s in memo) > 0.2 * width:
            total(tt)

    # best fit
    best = profile(tstar)[1]
    for prob, xl in zip(probs, best, strict=True):
        xbest[prob.glob_idx] = xl
    ts = _spline_knots(np.array(sorted(s for s in memo if abs(s - tstar) < 8 * width)), width)
    P = np.array([memo[s][0] for s in ts])  # (n_t, n_groups)

    # 3. per-group intervals: profile of S_g + the other groups' profiles (a spline in t)
    for gi, prob in enumerate(probs):
        prob.penalty = Penalty(ts, P.sum(axis=1) - P[:, gi])
        _group_intervals(prob, solves[gi], best[gi], locs[gi], want, H, lo, hi, messages, gi, jt)
        prob.penalty = None
    return BlockResult(xbest, lo, hi, _cov(H), valid, messages)


def _profile_minimum(total, t0: float, sig0: float, tlo: float, thi: float):
    """Minimum of the 1-D profile ``total`` near ``t0`` (scale ``sig0``), within the limits.

    Successive parabolas through the three lowest points -- the profile is nearly quadratic,
    so this converges in two or three steps where Brent's method needs a dozen profile points
    -- with Brent's method as the fallback.  Returns ``(t_min, sigma)``, ``sigma`` the
    1-sigma scale from the curvature (``S = S_min + ((t - t_min) / sigma)^2``).
    """
    pts: dict[float, float] = {}

    def ev(t: float) -> float:
        t = float(min(max(t, tlo), thi))
        if t not in pts:
            pts[t] = total(t)
        return t

    for t in (t0 - sig0, t0, t0 + sig0):
        ev(t)
    for _ in range(10):
        best = min(pts, key=pts.get)
        near = sorted(pts, key=lambda t: abs(t - best))[:3]
        x = np.array(near) - best
        a, b, _c = np.polyfit(x, [pts[t] for t in near], 2)
        if a <= 0 or len(set(near)) < 3:
            break
        tv = best + float(np.clip(-b / (2 * a), -3 * sig0, 3 * sig0))
        sig = 1.0 / math.sqrt(a)
        if abs(tv - best) < 1e-2 * sig:
            return ev(tv), sig
        ev(tv)
    else:
        best = min(pts, key=pts.get)
        return best, sig0
    # not convex near the points: Brent's method on a wider bracket
    from scipy.optimize import minimize_scalar

    res = minimize_scalar(
        total,
        bounds=(max(tlo, t0 - 10 * sig0), min(thi, t0 + 10 * sig0)),
        method="bounded",
        options={"xatol": 1e-3 * sig0},
    )
    return float(res.x), sig0


def _spline_knots(ts: np.ndarray, width: float) -> np.ndarray:
    """Profile points to interpolate: at least 5% of the interval width apart.  Brent's method
    leaves clusters of nearly equal points, whose values differ by the inner minimizers'
    tolerance -- enough to make a spline through them oscillate."""
    keep = [ts[0]]
    for t in ts[1:]:
        if t - keep[-1] > 0.05 * width:
            keep.append(t)
    return np.array(keep)


class _NotAKnotSpline:
    """Cubic spline with not-a-knot end conditions through >= 4 points: the same curve as
    ``scipy.interpolate.CubicSpline(x, y)`` (importing scipy.interpolate costs ~0.1 s, a
    twentieth of a joint fit), evaluated for scalars."""

    def __init__(self, x, y, _m=None, nu: int = 0):
        self.x = [float(v) for v in x]
        self.y = [float(v) for v in y]
        self.nu = nu
        if _m is None:
            n = len(self.x)
            h = np.diff(np.asarray(self.x))
            yy = np.asarray(self.y)
            a = np.zeros((n, n))
            r = np.zeros(n)
            for i in range(1, n - 1):  # continuity of the first derivative
                a[i, i - 1 : i + 2] = h[i - 1], 2.0 * (h[i - 1] + h[i]), h[i]
                r[i] = 6.0 * ((yy[i + 1] - yy[i]) / h[i] - (yy[i] - yy[i - 1]) / h[i - 1])
            # not-a-knot: the third derivative continuous at the second and last-but-one knot
            a[0, :3] = h[1], -(h[0] + h[1]), h[0]
            a[-1, -3:] = h[-1], -(h[-2] + h[-1]), h[-2]
            _m = [float(v) for v in np.linalg.solve(a, r)]
        self.m = _m  # second derivatives at the knots

    def derivative(self, nu: int = 1) -> _NotAKnotSpline:
        return _NotAKnotSpline(self.x, self.y, self.m, self.nu + nu)

    def __call__(self, t) -> float:

        x, y, m = self.x, self.y, self.m
        t = float(t)
        i = min(max(bisect.bisect_right(x, t) - 1, 0), len(x) - 2)
        h = x[i + 1] - x[i]
        dx = t - x[i]
        c3 = (m[i + 1] - m[i]) / (6.0 * h)
        if self.nu == 0:
            b = (y[i + 1] - y[i]) / h - h * (2.0 * m[i] + m[i + 1]) / 6.0
            return y[i] + dx * (b + dx * (0.5 * m[i] + dx * c3))
        if self.nu == 1:
            b = (y[i + 1] - y[i]) / h - h * (2.0 * m[i] + m[i + 1]) / 6.0
            return b + dx * (m[i] + 3.0 * c3 * dx)
        if self.nu == 2:
            return m[i] + 6.0 * c3 * dx
        return 6.0 * c3 if self.nu == 3 else 0.0


class Penalty:
    """The other groups' profile ``sum_{h != g} P_h(t)``: a cubic spline through the profile
    points (a parabola with fewer than 4), continued beyond them by a parabola with at least
    the curvature at the edge, so that a minimizer that steps outside cannot run away."""

    def __init__(self, ts: np.ndarray, values: np.ndarray):
        self.lo, self.hi = float(ts[0]), float(ts[-1])
        if len(ts) >= 4:
            self.f = _NotAKnotSpline(ts, values)
            self.d1, self.d2 = self.f.derivative(1), self.f.derivative(2)
        else:
            self.f = np.poly1d(np.polyfit(ts, values, min(2, len(ts) - 1)))
            self.d1, self.d2 = self.f.deriv(1), self.f.deriv(2)
        span = max(self.hi - self.lo, 1e-300)
        self.c_min = 2.0 * max(float(np.ptp(values)), 1.0) / span**2

    def __call__(self, t: float) -> float:
        t = float(t)
        edge = min(max(t, self.lo), self.hi)
        d = t - edge
        out = float(self.f(edge))
        if d != 0.0:
            c = max(float(self.d2(edge)), self.c_min)
            out += float(self.d1(edge)) * d + 0.5 * c * d * d
        return out

    def curvature(self, t: float) -> float:
        """Second derivative at ``t`` (inside the profile points)."""
        return float(self.d2(min(max(float(t), self.lo), self.hi)))


def _group_intervals(prob, solve, x, loc, want, H, lo, hi, messages, g, jt) -> None:
    """Intervals of group ``g``'s own parameters (into ``lo``/``hi``) and its block of the
    Hessian (into ``H``; the penalty's curvature, which belongs to the other groups, removed).
    """
    label = f"data group {g + 1}"
    xhat, f0 = _local_minimum(prob, solve, x, loc, messages, label)
    if f0 < prob(x) - 1e-3:
        messages.append(f"{label}: a better minimum was found while computing errors")
    h = _local_hessian(prob, xhat, loc)
    cov = np.full((len(xhat), len(xhat)), np.nan)
    if h is not None:
        cov = 2.0 * np.linalg.pinv(h)
        h = h.copy()
        if prob.penalty is not None:
            t = prob.tied_local
            h[t, t] -= prob.penalty.curvature(xhat[t])
        H[np.ix_(prob.glob_idx, prob.glob_idx)] += h
    for k, j in enumerate(prob.glob_idx):
        if j == jt or not want[j]:
            continue
        lo[j], hi[j] = _interval(prob, solve, xhat, f0, k, cov, loc, messages, loc.names[k])


def _cov(H: np.ndarray) -> np.ndarray:
    try:
        return 2.0 * np.linalg.inv(H)
    except np.linalg.LinAlgError:
        return np.full(H.shape, np.nan)
