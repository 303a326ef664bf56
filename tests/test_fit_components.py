"""Component-wise caching, batched fluxes and the spline used by the block fitter."""

from __future__ import annotations

import numpy as np
import pytest

from xrtflow.spectral.fit import _TermFlux, _unabsorbed, energy_flux
from xrtflow.spectral.models import parse_model
from xrtflow.spectral.profile import _NotAKnotSpline, additive_terms, component_values

OPTS = {"abund": "wilm", "xsect": "vern"}


@pytest.mark.parametrize(
    "expr, expected",
    [
        ("tbabs*(bb+brems)", {2: ("bbody", ["TBabs"]), 3: ("bremss", ["TBabs"])}),
        ("phabs*tbabs*po", {3: ("powerlaw", ["phabs", "TBabs"])}),
        ("tbabs*bb+po", {2: ("bbody", ["TBabs"]), 3: ("powerlaw", [])}),
        ("tbabs*(bb+phabs*po)", {2: ("bbody", ["TBabs"]), 4: ("powerlaw", ["TBabs", "phabs"])}),
        ("po", {1: ("powerlaw", [])}),
    ],
)
def test_additive_terms_products_equal_model_components(expr, expected):
    model = parse_model(expr)
    terms = additive_terms(model)
    got = {k: (a.spec.name, [m.spec.name for m in muls]) for k, (a, muls) in terms.items()}
    assert got == expected
    edges = np.geomspace(0.2, 10.0, 151)
    v = np.array([p.value for p in model.parameters])
    v[0] = 0.4
    for pos, (add, muls) in terms.items():
        n = len(add.spec.pars)
        vv = v.copy()
        vv[add.first + n - 1] = 1.0
        ref = model.evaluate(edges, vv, component=pos)
        y = component_values(add, edges, v[add.first : add.first + n - 1], OPTS)
        for mc in reversed(muls):
            y = y * component_values(mc, edges, v[mc.first : mc.first + len(mc.spec.pars)], OPTS)
        np.testing.assert_allclose(y, ref, rtol=1e-14, atol=0)


def test_additive_terms_none_for_convolution():
    assert additive_terms(parse_model("tbabs*cflux*po")) is None


def test_term_flux_matches_energy_flux():
    model = parse_model("tbabs*(bb+brems)")
    pars = model.parameters
    tf = _TermFlux(model, pars, (0.3, 10.0), 200, "wilm", "vern")
    rng = np.random.default_rng(3)
    for _ in range(5):
        v = np.array([0.15, 0.045, 8e-3, 1.4, 3e-3]) * rng.uniform(0.7, 1.3, 5)
        absorbed, unabsorbed = tf(v)
        ref_a = energy_flux(model, v, (0.3, 10.0), n_bins=200)
        ref_u = energy_flux(model, _unabsorbed(v, pars), (0.3, 10.0), n_bins=200)
        assert absorbed == pytest.approx(ref_a, rel=1e-13)
        assert unabsorbed == pytest.approx(ref_u, rel=1e-13)


@pytest.mark.parametrize("n", [4, 5, 9])
def test_not_a_knot_spline_matches_scipy(n):
    from scipy.interpolate import CubicSpline

    rng = np.random.default_rng(n)
    x = np.sort(rng.uniform(0.1, 0.2, n))
    y = 1600 + 1e4 * (x - 0.15) ** 2 + rng.normal(0, 0.1, n)
    ref = CubicSpline(x, y)
    ours = _NotAKnotSpline(x, y)
    for t in np.linspace(x[0], x[-1], 31):
        assert ours(t) == pytest.approx(float(ref(t)), abs=1e-9)
        assert ours.derivative(1)(t) == pytest.approx(float(ref.derivative(1)(t)), abs=1e-6)
        assert ours.derivative(2)(t) == pytest.approx(float(ref.derivative(2)(t)), rel=1e-6)
