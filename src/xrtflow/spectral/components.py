"""XSPEC model components: parameter metadata and bin-integrated evaluation functions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from xrtflow.spectral import absorption

__all__ = ["ALIASES", "COMPONENTS", "ComponentSpec", "ParSpec", "resolve_component"]


@dataclass(frozen=True)
class ParSpec:
    """XSPEC model.dat entry: name, unit, default, hard/soft limits and delta (<0: frozen)."""

    name: str
    unit: str
    value: float
    hard_min: float
    soft_min: float
    soft_max: float
    hard_max: float
    delta: float


@dataclass(frozen=True)
class ComponentSpec:
    """One XSPEC component: kind is 'add', 'mul' or 'con'."""

    name: str
    kind: str
    pars: tuple[ParSpec, ...]
    func: Callable


_NORM = ParSpec("norm", "", 1.0, 0.0, 0.0, 1e24, 1e24, 0.01)
# XSPEC's diskbb integrates each bin with 5-point Gauss-Legendre; cutoffpl is an exact
# (incomplete gamma) integral there, which 16 points reproduce to < 1e-9 on any useful grid
_GL = {n: np.polynomial.legendre.leggauss(n) for n in (5, 16)}


def _gauss_legendre(
    edges: np.ndarray, f: Callable[[np.ndarray], np.ndarray], n: int = 5
) -> np.ndarray:
    x, w = _GL[n]
    half = 0.5 * np.diff(edges)
    mid = 0.5 * (edges[:-1] + edges[1:])
    e = mid[:, None] + half[:, None] * x[None, :]
    return (f(e) * w[None, :]).sum(axis=1) * half


def _trapezoid(edges: np.ndarray, values_at_edges: np.ndarray) -> np.ndarray:
    return 0.5 * (values_at_edges[:-1] + values_at_edges[1:]) * np.diff(edges)


def _pl_integral(edges: np.ndarray, gamma: float) -> np.ndarray:
    """Integral of E^-gamma over each bin (XSPEC's calcPowerLaw; log form within 1e-10 of 1)."""
    if abs(1.0 - gamma) < 1e-10:
        return np.diff(np.log(edges))
    return np.diff(edges ** (1.0 - gamma)) / (1.0 - gamma)


def powerlaw(edges: np.ndarray, p: np.ndarray, **_) -> np.ndarray:
    return _pl_integral(edges, p[0])


def zpowerlw(edges: np.ndarray, p: np.ndarray, **_) -> np.ndarray:
    """zpowerlw: the power law on the rest-frame edges E (1+z), divided by (1+z) (XSPEC)."""
    zf = 1.0 + p[1]
    return _pl_integral(edges * zf, p[0]) / zf


def bknpower(edges: np.ndarray, p: np.ndarray, **_) -> np.ndarray:
    """bknpower: E^-G1 below BreakE, BreakE^(G2-G1) E^-G2 above, integrated exactly (the bin
    holding the break gets both parts)."""
    g1, ebreak, g2 = float(p[0]), float(p[1]), float(p[2])
    below = _pl_integral(np.minimum(edges, ebreak), g1)
    above = _pl_integral(np.maximum(edges, ebreak), g2) * ebreak ** (g2 - g1)
    return below + above


def logpar(edges: np.ndarray, p: np.ndarray, **_) -> np.ndarray:
    """logpar: (E/pivotE)^(-alpha - beta log10(E/pivotE)), Simpson's rule per bin (XSPEC)."""
    alpha, beta, pivot = float(p[0]), float(p[1]), float(p[2])

    def shape(e: np.ndarray) -> np.ndarray:
        x = e / pivot
        return x ** (-alpha - beta * np.log10(x))

    ends = shape(edges)
    mid = shape(0.5 * (edges[:-1] + edges[1:]))
    return np.diff(edges) / 6.0 * (ends[:-1] + ends[1:] + 4.0 * mid)


def cutoffpl(edges: np.ndarray, p: np.ndarray, **_) -> np.ndarray:
    gamma, ecut = p[0], p[1]
    if ecut <= 0:  # XSPEC: no cutoff
        return _pl_integral(edges, gamma)
    return _gauss_legendre(edges, lambda e: e**-gamma * np.exp(-e / ecut), 16)


def _planck_trapezoid(edges: np.ndarray, kt: float) -> np.ndarray:
    """XSPEC's 2-point blackbody integral of E^2/(exp(E/kT)-1) over each bin (E*kT below
    E/kT = 1e-4); a bin whose upper edge is beyond E/kT = 60, and every bin above it, is 0."""
    x = edges / kt
    # edges increase: only the bins below E/kT = 60 are computed (a soft blackbody is zero over
    # most of a Swift-XRT grid, and expm1 there is most of the cost)
    m = int(np.searchsorted(x, 60.0, side="right"))
    out = np.zeros(edges.size - 1)
    if m >= 2:
        e, xs = edges[:m], x[:m]
        with np.errstate(over="ignore"):
            a = np.where(xs <= 1e-4, e * kt, e**2 / np.expm1(np.minimum(xs, 700.0)))
        out[: m - 1] = _trapezoid(e, a)
    return out


def bbody(edges: np.ndarray, p: np.ndarray, **_) -> np.ndarray:
    kt = p[0]
    return _planck_trapezoid(edges, kt) * 8.0525 / kt**4


def zbbody(edges: np.ndarray, p: np.ndarray, **_) -> np.ndarray:
    """zbbody: bbody on the rest-frame edges E (1+z), divided by (1+z) (XSPEC's xszbod)."""
    kt, zf = p[0], 1.0 + p[1]
    return _planck_trapezoid(edges * zf, kt) * 8.0525 / kt**4 / zf


def bbodyrad(edges: np.ndarray, p: np.ndarray, **_) -> np.ndarray:
    return _planck_trapezoid(edges, p[0]) * 1.0344e-3


from xrtflow.spectral.gaunt import _GAM2, _GAM3, _KBK, bremss, gaunt  # noqa: E402,F401


def gaussian(edges: np.ndarray, p: np.ndarray, **_) -> np.ndarray:
    line, sigma = p[0], p[1]
    if sigma <= 0:
        out = np.zeros(edges.size - 1)
        i = np.searchsorted(edges, line, side="right") - 1
        if 0 <= i < out.size:
            out[i] = 1.0
        return out
    from scipy.special import erf  # imported when first needed: keeps start-up light

    cdf = 0.5 * erf((edges - line) / (np.sqrt(2.0) * sigma))
    return np.diff(cdf)


def zgauss(edges: np.ndarray, p: np.ndarray, **_) -> np.ndarray:
    zf = 1.0 + p[2]
    return gaussian(edges * zf, np.array([p[0], p[1]])) / zf


# Gamma(8/3) zeta(8/3) = int_0^inf x^(5/3)/(e^x - 1) dx
_G0 = 1.932161609089239


@lru_cache(maxsize=1)
def _disk_table() -> tuple[np.ndarray, np.ndarray]:
    # upper tail T(a) = int_a^inf x^(5/3)/(e^x - 1) dx on a fine log grid, summed from the top so
    # that the small tail at large a is not a difference of two large numbers
    x = np.geomspace(1e-8, 750.0, 60001)
    with np.errstate(over="ignore"):
        f = x ** (5.0 / 3.0) / np.expm1(x)
    piece = 0.5 * (f[1:] + f[:-1]) * np.diff(x)
    tail = np.concatenate([np.cumsum(piece[::-1])[::-1], [0.0]])
    return np.log(x), tail


def _disk_photons(e: np.ndarray, tin: float) -> np.ndarray:
    a = e / tin
    logx, tail_tab = _disk_table()
    la = np.log(np.maximum(a, 1e-8))
    tail = np.where(la > logx[-1], 0.0, np.exp(np.interp(la, logx, np.log(tail_tab + 1e-300))))
    # below the grid the tail is G0 minus the x^(2/3) small-x integral
    tail = np.where(a < 1e-8, _G0 - 0.6 * a ** (5.0 / 3.0), tail)
    # XSPEC's mcdspc: photons/cm^2/s/keV = Tin^2 a^(-2/3) T(a) / 361 (its normalization factor)
    return e**2 * a ** (-8.0 / 3.0) * np.maximum(tail, 0.0) / 361.0


def diskbb(edges: np.ndarray, p: np.ndarray, **_) -> np.ndarray:
    tin = p[0]
    return _gauss_legendre(edges, lambda e: _disk_photons(e, tin))


def constant(edges: np.ndarray, p: np.ndarray, **_) -> np.ndarray:
    return np.full(edges.size - 1, p[0])


def tbabs(edges: np.ndarray, p: np.ndarray, abund: str = "wilm", **_) -> np.ndarray:
    return np.exp(-p[0] * absorption.tbabs_sigma(edges, abund))


def ztbabs(edges: np.ndarray, p: np.ndarray, abund: str = "wilm", **_) -> np.ndarray:
    """zTBabs: tbvabs with the grain density 0 (no grains, every atom in the gas), on E (1+z)."""
    return np.exp(-p[0] * absorption.tbabs_sigma(edges, abund, redshift=p[1], grains=False))


def phabs(edges: np.ndarray, p: np.ndarray, abund: str = "angr", xsect: str = "bcmc", **_):
    return np.exp(-p[0] * absorption.phabs_sigma(edges, abund, xsect))


def zphabs(edges: np.ndarray, p: np.ndarray, abund: str = "angr", xsect: str = "bcmc", **_):
    return np.exp(-p[0] * absorption.phabs_sigma(edges, abund, xsect, redshift=p[1]))


def pcfabs(edges: np.ndarray, p: np.ndarray, abund: str = "angr", xsect: str = "bcmc", **_):
    """pcfabs: a fraction CvrFract of the source seen through phabs, the rest unabsorbed."""
    t = np.exp(-p[0] * absorption.phabs_sigma(edges, abund, xsect))
    return 1.0 - p[1] + p[1] * t


def zpcfabs(edges: np.ndarray, p: np.ndarray, abund: str = "angr", xsect: str = "bcmc", **_):
    t = np.exp(-p[0] * absorption.phabs_sigma(edges, abund, xsect, redshift=p[2]))
    return 1.0 - p[1] + p[1] * t


def wabs(edges: np.ndarray, p: np.ndarray, **_) -> np.ndarray:
    return absorption.wabs_transmission(edges, p[0])


def zwabs(edges: np.ndarray, p: np.ndarray, **_) -> np.ndarray:
    return absorption.wabs_transmission(edges, p[0], redshift=p[1], lyman=0.0136)


# XSPEC's Numerics::integrationKernel converts keV to erg with 2 x 0.801096e-9
_KEVTOERG_XSPEC = 1.602192e-9


def band_flux(edges: np.ndarray, photons: np.ndarray, emin: float, emax: float) -> tuple:
    """Photon and energy (erg) flux of ``photons`` (per bin) between ``emin`` and ``emax``.

    As XSPEC's integration kernel for cflux/cpflux: the model is taken as flat within a bin,
    so a partly covered bin contributes its covered fraction (and E dE over that part).

    Returns
    -------
    tuple of float
        (photons cm^-2 s^-1, erg cm^-2 s^-1).
    """
    lo, hi = edges[:-1], edges[1:]
    a = np.clip(lo, emin, emax)
    b = np.clip(hi, emin, emax)
    width = hi - lo
    ok = width > 0
    w = np.where(ok, width, 1.0)
    phot = float(np.sum(np.where(ok, photons * (b - a) / w, 0.0)))
    ener = float(np.sum(np.where(ok, photons * (b * b - a * a) / w, 0.0))) * 0.5 * _KEVTOERG_XSPEC
    return phot, ener


def cflux(edges: np.ndarray, p: np.ndarray, inner: np.ndarray, **_) -> np.ndarray:
    """Rescale ``inner`` (photons per bin) so its Emin-Emax energy flux is 10**lg10Flux."""
    flux = band_flux(edges, inner, p[0], p[1])[1]
    if flux <= 0:
        return np.zeros_like(inner)
    return inner * (10.0 ** p[2] / flux)


def cpflux(edges: np.ndarray, p: np.ndarray, inner: np.ndarray, **_) -> np.ndarray:
    """Rescale ``inner`` (photons per bin) so its Emin-Emax photon flux is ``Flux``."""
    flux = band_flux(edges, inner, p[0], p[1])[0]
    if flux <= 0:
        return np.zeros_like(inner)
    return inner * (p[2] / flux)


def _p(*args) -> ParSpec:
    return ParSpec(*args)


# values, limits and deltas as in XSPEC 12.9.1's model.dat: (value, hard_min, soft_min,
# soft_max, hard_max, delta); a negative delta means frozen by default
_NH = _p("nH", "10^22 atoms cm^-2", 1.0, 0.0, 0.0, 1e5, 1e6, 0.001)
_Z = _p("Redshift", "", 0.0, -0.999, -0.999, 10.0, 10.0, -0.01)
_FRACT = _p("CvrFract", "", 0.5, 0.0, 0.05, 0.95, 1.0, 0.01)
_INDEX = _p("PhoIndex", "", 1.0, -3.0, -2.0, 9.0, 10.0, 0.01)
_KT_BB = _p("kT", "keV", 3.0, 1e-4, 0.01, 100.0, 200.0, 0.01)
_EMIN = _p("Emin", "keV", 0.5, 0.0, 0.0, 1e6, 1e6, -0.1)
_EMAX = _p("Emax", "keV", 10.0, 0.0, 0.0, 1e6, 1e6, -0.1)


def _c(name: str, kind: str, pars: tuple, func: Callable) -> ComponentSpec:
    return ComponentSpec(name, kind, pars + ((_NORM,) if kind == "add" else ()), func)


COMPONENTS: dict[str, ComponentSpec] = {
    spec.name.lower(): spec
    for spec in (
        _c("TBabs", "mul", (_NH,), tbabs),
        _c("zTBabs", "mul", (_NH, _Z), ztbabs),
        _c("phabs", "mul", (_NH,), phabs),
        _c("zphabs", "mul", (_NH, _Z), zphabs),
        _c("pcfabs", "mul", (_NH, _FRACT), pcfabs),
        _c("zpcfabs", "mul", (_NH, _FRACT, _Z), zpcfabs),
        _c("wabs", "mul", (_NH,), wabs),
        _c("zwabs", "mul", (_NH, _Z), zwabs),
        _c("constant", "mul", (_p("factor", "", 1.0, 0.0, 0.0, 1e10, 1e10, 0.01),), constant),
        _c("bbody", "add", (_KT_BB,), bbody),
        _c("zbbody", "add", (_KT_BB, _Z), zbbody),
        _c("bbodyrad", "add", (_p("kT", "keV", 3.0, 1e-4, 1e-3, 100.0, 200.0, 0.01),), bbodyrad),
        _c("bremss", "add", (_p("kT", "keV", 7.0, 1e-4, 1e-4, 100.0, 200.0, 0.05),), bremss),
        _c("powerlaw", "add", (_INDEX,), powerlaw),
        _c("zpowerlw", "add", (_INDEX, _Z), zpowerlw),
        _c(
            "bknpower",
            "add",
            (
                _p("PhoIndx1", "", 1.0, -3.0, -2.0, 9.0, 10.0, 0.01),
                _p("BreakE", "keV", 5.0, 0.0, 1e-2, 1e6, 1e6, 0.01),
                _p("PhoIndx2", "", 2.0, -3.0, -2.0, 9.0, 10.0, 0.01),
            ),
            bknpower,
        ),
        _c(
            "logpar",
            "add",
            (
                _p("alpha", "", 1.5, 0.0, 0.0, 4.0, 4.0, 0.01),
                _p("beta", "", 0.2, -4.0, -4.0, 4.0, 4.0, 0.01),
                # a model.dat "scale" parameter: shown, frozen, no limits of its own
                _p("pivotE", "keV", 1.0, 1e-10, 1e-10, 1e10, 1e10, -0.01),
            ),
            logpar,
        ),
        _c(
            "cutoffpl",
            "add",
            (_INDEX, _p("HighECut", "keV", 15.0, 0.01, 1.0, 500.0, 500.0, 0.01)),
            cutoffpl,
        ),
        _c("diskbb", "add", (_p("Tin", "keV", 1.0, 0.0, 0.0, 1000.0, 1000.0, 0.01),), diskbb),
        _c(
            "gaussian",
            "add",
            (
                _p("LineE", "keV", 6.5, 0.0, 0.0, 1e6, 1e6, 0.05),
                _p("Sigma", "keV", 0.1, 0.0, 0.0, 10.0, 20.0, 0.05),
            ),
            gaussian,
        ),
        _c(
            "zgauss",
            "add",
            (
                _p("LineE", "keV", 6.5, 0.0, 0.0, 1e6, 1e6, 0.05),
                _p("Sigma", "keV", 0.1, 0.0, 0.0, 10.0, 20.0, 0.05),
                _Z,
            ),
            zgauss,
        ),
        _c(
            "cflux",
            "con",
            (_EMIN, _EMAX, _p("lg10Flux", "cgs", -12.0, -100.0, -100.0, 100.0, 100.0, 0.01)),
            cflux,
        ),
        _c(
            "cpflux",
            "con",
            (_EMIN, _EMAX, _p("Flux", "", 1.0, 0.0, 0.0, 1e10, 1e10, 0.01)),
            cpflux,
        ),
    )
}

ALIASES = {"bb": "bbody", "bbrad": "bbodyrad", "brems": "bremss", "po": "powerlaw",
           "pow": "powerlaw", "pl": "powerlaw", "gauss": "gaussian", "const": "constant",
           "cons": "constant", "tb": "tbabs", "pha": "phabs", "wa": "wabs", "cutoff": "cutoffpl",
           "disk": "diskbb", "ztb": "ztbabs", "zga": "zgauss", "zpo": "zpowerlw",
           "zpow": "zpowerlw", "zbb": "zbbody", "bkn": "bknpower", "zpha": "zphabs",
           "zwa": "zwabs", "pcf": "pcfabs", "zpcf": "zpcfabs"}  # fmt: skip


def resolve_component(name: str) -> ComponentSpec:
    """Find a component by full name, alias, or unique XSPEC-style prefix (case-insensitive).

    ``atable{file}``, ``mtable{file}`` and ``etable{file}`` give OGIP table models
    (:mod:`xrtflow.spectral.table_models`).

    Raises
    ------
    ValueError
        If the name is unknown or ambiguous (the message lists candidates).
    """
    key = name.lower()
    brace = key.find("{")
    if brace > 0 and key.endswith("}"):
        from xrtflow.spectral.table_models import table_component

        return table_component(key[:brace], name[brace + 1 : -1].strip())
    if key in COMPONENTS:
        return COMPONENTS[key]
    if key in ALIASES:
        return COMPONENTS[ALIASES[key]]
    matches = [k for k in COMPONENTS if k.startswith(key)]
    if len(matches) == 1:
        return COMPONENTS[matches[0]]
    if len(matches) > 1:
        names = ", ".join(COMPONENTS[k].name for k in matches)
        raise ValueError(f"ambiguous model component {name!r}: matches {names}; write more of it")
    import difflib

    close = difflib.get_close_matches(key, [*COMPONENTS, *ALIASES], n=3, cutoff=0.6)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    known = ", ".join(spec.name for spec in COMPONENTS.values())
    raise ValueError(
        f"unknown model component {name!r}{hint}; known: {known}, and table models "
        "atable{file}, mtable{file}, etable{file}"
    )
