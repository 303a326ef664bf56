"""Models on grids other than the XSPEC reference grid: a 10 eV fine grid and a coarse grid.

Truths: closed-form or quadrature integrals of the published model formulas (continua), XSPEC's
own reference transmissions interpolated to the fine grid away from edges (absorbers), and the
per-bin convention each XSPEC absorber uses (data/xspec/README.md) for the coarse grid.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.special import erf
from test_models_xspec import load_reference

from xrtflow.spectral.models import parse_model

FINE = np.arange(0.1, 12.0 + 1e-9, 0.01)
COARSE = np.geomspace(0.3, 10.0, 26)
GRIDS = {"fine": FINE, "coarse": COARSE}
TOL = 5e-3


def _quad_bins(edges, f):
    return np.array([quad(f, a, b, epsabs=0, epsrel=1e-10, limit=200)[0]
                     for a, b in zip(edges[:-1], edges[1:], strict=True)])  # fmt: skip


def _assert_close(native, truth, tol=TOL):
    keep = truth > 1e-8 * truth.max()
    rel = np.abs(native[keep] / truth[keep] - 1)
    assert rel.max() <= tol, f"worst {rel.max():.2e}"


@pytest.mark.parametrize("grid", GRIDS)
def test_continua_against_their_formulas(grid):
    e = GRIDS[grid]
    # zpowerlw: K ((1+z) E)^-G / (1+z) per keV of observed energy (time dilation included)
    z, g = 1.0, 2.0
    truth = _quad_bins(e, lambda x: (x * (1 + z)) ** -g)
    _assert_close(parse_model("zpowerlw").evaluate(e, [g, z, 1.0]), truth, 1e-9)
    # bknpower with the break inside a bin
    eb = 2.0 * 1.0003
    truth = _quad_bins(e, lambda x: x**-1.5 if x < eb else eb ** (2.5 - 1.5) * x**-2.5)
    _assert_close(parse_model("bknpower").evaluate(e, [1.5, eb, 2.5, 1.0]), truth, 1e-8)
    # logpar: (E/E0)^(-a - b log10(E/E0)); XSPEC uses Simpson's rule, exact to <1e-5 here
    truth = _quad_bins(e, lambda x: x ** (-2.0 - 0.3 * np.log10(x)))
    _assert_close(parse_model("logpar").evaluate(e, [2.0, 0.3, 1.0, 1.0]), truth, 1e-4)
    # cutoffpl, gaussian
    truth = _quad_bins(e, lambda x: x**-1.0 * np.exp(-x / 5.0))
    _assert_close(parse_model("cutoffpl").evaluate(e, [1.0, 5.0, 1.0]), truth, 1e-8)
    truth = 0.5 * np.diff(erf((e - 6.4) / (np.sqrt(2) * 0.1)))
    _assert_close(parse_model("gauss").evaluate(e, [6.4, 0.1, 1.0]), truth, 1e-9)
    # diskbb: Tin^2 a^(-2/3) int_a^inf x^(5/3)/(e^x-1) dx / 361, a = E/Tin (XSPEC's
    # normalisation); integrated over the bin
    tin = 1.0

    def disk(x):
        tail = quad(lambda u: u ** (5 / 3) / np.expm1(u), x / tin, np.inf, epsrel=1e-10)[0]
        return tin**2 * (x / tin) ** (-2 / 3) * tail / 361.0

    if grid == "coarse":
        _assert_close(parse_model("diskbb").evaluate(e, [tin, 1.0]), _quad_bins(e, disk), 1e-3)


@pytest.mark.parametrize("grid", GRIDS)
def test_blackbodies_two_point_rule(grid):
    # XSPEC's bbody/zbbody: K 8.0525 E^2 / (kT^4 (exp(E/kT) - 1)), integrated with the 2-point
    # rule between the (rest-frame) bin edges, divided by (1+z)
    e = GRIDS[grid]
    kt, z = 0.2, 0.5
    er = e * (1 + z)
    with np.errstate(over="ignore"):
        f = 8.0525 * er**2 / (kt**4 * np.expm1(er / kt))
    truth = 0.5 * (f[:-1] + f[1:]) * np.diff(er) / (1 + z)
    truth[er[1:] / kt > 60] = 0.0
    _assert_close(parse_model("zbbody").evaluate(e, [kt, z, 1.0]), truth, 1e-10)


def _reference_transmissions():
    out = []
    for f in ("xspec_models.csv", "xspec_models_2.csv"):
        ref = load_reference(f)
        if ref is None:
            pytest.skip("../shared reference data not available")
        cases, columns, edges = ref
        for case in cases:
            if case["model"].endswith("*powerlaw") and not case["model"].startswith("c"):
                out.append((case, columns[case["name"]] / np.diff(edges), edges))
    return out


# K and L edges (keV) of the absorbers' elements, for keeping clear of them
_EDGES_KEV = (0.0136, 0.0246, 0.106, 0.17, 0.2075, 0.2486, 0.284, 0.35, 0.41, 0.53, 0.545,
              0.58, 0.707, 0.72, 0.79, 0.85, 0.87, 1.07, 1.30, 1.56, 1.84, 2.47, 2.82, 3.20,
              4.04, 5.99, 7.11, 7.71, 8.33)  # fmt: skip


def _convention(case: dict) -> str:
    name = case["model"].split("*")[0].lower()
    if name in ("tbabs", "ztbabs") or (name == "phabs" and case.get("xsect") == "vern"):
        return "edges"
    return "trapezoid" if name in ("wabs", "zwabs") else "midpoint"


def test_absorbers_on_the_fine_grid_match_xspec_away_from_edges():
    """XSPEC's point cross-sections (from its reference bins, 0.8% wide) put through each
    absorber's own bin convention on the 10 eV grid, against the native fine-grid values."""
    from xrtflow.spectral.tbabs import table_source

    if table_source() == "builtin":
        pytest.skip("TBabs high-resolution edge tables not available")
    lo, hi = FINE[:-1], FINE[1:]
    checked = 0
    for case, t_ref, edges in _reference_transmissions():
        name = case["model"].split("*")[0].lower()
        nh = case["pars"][0]
        frac = case["pars"][1] if "pcf" in name else 1.0
        z = case["pars"][-3] if name.startswith("z") else 0.0
        t_abs = (t_ref - (1 - frac)) / frac
        sig_ref = -np.log(np.maximum(t_abs, 1e-300)) / nh
        mid_r = np.sqrt(edges[:-1] * edges[1:])

        def sig(e, mid_r=mid_r, sig_ref=sig_ref):
            return np.exp(np.interp(np.log(e), np.log(mid_r), np.log(np.maximum(sig_ref, 1e-300))))

        conv = _convention(case)
        if conv == "edges":
            t_abs_exp = np.exp(-nh * 0.5 * (sig(lo) + sig(hi)))
        elif conv == "midpoint":
            t_abs_exp = np.exp(-nh * sig(0.5 * (lo + hi)))
        else:
            t_abs_exp = 0.5 * (np.exp(-nh * sig(lo)) + np.exp(-nh * sig(hi)))
        expected = 1 - frac + frac * t_abs_exp
        native = parse_model(case["model"]).evaluate(
            FINE, case["pars"], abund=case.get("abund", "angr"), xsect=case.get("xsect", "bcmc")
        ) / np.diff(FINE)
        away = (lo > mid_r[1]) & (hi < mid_r[-2]) & (expected > 1e-3)
        for edge in _EDGES_KEV:
            away &= (hi * (1 + z) < edge * 0.97) | (lo * (1 + z) > edge * 1.03)
        # and TBabs's tabulated edge windows, whose resonances the 0.8% reference bins blur
        for a, b in ((0.48, 0.60), (0.69, 0.80), (0.85, 0.90)):
            away &= (hi * (1 + z) < a) | (lo * (1 + z) > b)
        rel = np.abs(native[away] / expected[away] - 1)
        worst = lo[away][np.argmax(rel)]
        assert rel.max() <= TOL, f"{case['name']}: {rel.max():.2e} at {worst:.3f} keV"
        checked += 1
    assert checked >= 15


def _point_sigma(expr, pars, energies, **opts):
    """-ln T / nH of a 1e-7-wide bin at each energy: the model's cross-section at a point."""
    out = []
    for e in energies:
        t = parse_model(expr).evaluate(np.array([e, e * (1 + 1e-7)]), pars, **opts)
        out.append(-np.log(t[0] / (e * 1e-7)) / pars[0])
    return np.array(out)


@pytest.mark.parametrize(
    ("expr", "pars", "opts"),
    [
        # (tbabs itself averages each species first and then applies the non-linear grain
        # shielding, so its bin value is not a function of the total point cross-sections)
        ("ztbabs*po", [0.5, 1.0, 0, 1], {"abund": "wilm"}),
        ("phabs*po", [0.5, 0, 1], {"abund": "angr", "xsect": "vern"}),
    ],
)
def test_edge_averaging_absorbers_on_the_coarse_grid(expr, pars, opts):
    # tbabs, ztbabs, phabs (vern): T = exp(-nH (sigma(E_lo) + sigma(E_hi)) / 2), no integration
    t = parse_model(expr).evaluate(COARSE, pars, **opts) / np.diff(COARSE)
    sig = _point_sigma(expr, pars, COARSE, **opts)
    np.testing.assert_allclose(t, np.exp(-pars[0] * 0.5 * (sig[:-1] + sig[1:])), rtol=1e-5)


def test_midpoint_and_integrating_absorbers_on_the_coarse_grid():
    # phabs (bcmc): the cross-section at the bin midpoint (bins without an edge)
    from xrtflow.spectral.absorption import _bcmc_table

    opts = {"abund": "angr", "xsect": "bcmc"}
    t = parse_model("phabs*po").evaluate(COARSE, [0.5, 0, 1], **opts) / np.diff(COARSE)
    mid = 0.5 * (COARSE[:-1] + COARSE[1:])
    sig = _point_sigma("phabs*po", [0.5, 0, 1], mid, **opts)
    clear = np.ones(mid.size, bool)
    for edge in {r[0] / 1000 for rows in _bcmc_table().values() for r in rows}:
        clear &= ~((COARSE[:-1] < edge) & (COARSE[1:] > edge))
    assert clear.sum() >= 8
    np.testing.assert_allclose(t[clear], np.exp(-0.5 * sig[clear]), rtol=1e-5)
    # wabs, zwabs: the transmission averaged over the bin with the 2-point (trapezoid) rule
    # between its edges (bins without a Morrison & McCammon range boundary inside)
    from xrtflow.spectral.absorption import _mm83

    bounds = _mm83()[0][1:]
    for expr, pars, zf in (("wabs*po", [1.0, 0, 1], 1.0), ("zwabs*po", [1.0, 0.3, 0, 1], 1.3)):
        t = parse_model(expr).evaluate(COARSE, pars) / np.diff(COARSE)
        point = np.array([parse_model(expr).evaluate(np.array([e, e * (1 + 1e-7)]), pars)[0]
                          / (e * 1e-7) for e in COARSE])  # fmt: skip
        clear = np.ones(t.size, bool)
        for b in bounds:
            clear &= ~((COARSE[:-1] * zf < b) & (COARSE[1:] * zf > b))
        assert clear.sum() >= 8
        np.testing.assert_allclose(t[clear], 0.5 * (point[:-1] + point[1:])[clear], rtol=1e-5)
