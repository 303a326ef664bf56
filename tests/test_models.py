"""Tests for xrtflow.spectral.models (XSPEC-compatible model evaluation)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from xrtflow.spectral.models import parse_model

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
REFERENCE = SHARED / "reference" / "xspec_models.csv"
EDGES = np.geomspace(0.1, 12.0, 601)


def test_verner_cross_sections():
    from xrtflow.spectral.absorption import verner_sigma

    # phfit2 gives 6.3463 Mb for H at 13.6 eV; the O K edge of Verner & Yakovlev is at 538 eV
    assert verner_sigma(1, np.array([13.6]))[0] == pytest.approx(6.3463e-18, rel=1e-4)
    o = verner_sigma(8, np.array([537.9, 538.1]))
    assert o[1] > 4 * o[0]
    with pytest.raises(ValueError):
        verner_sigma(9, np.array([1000.0]))


def test_phabs_vern_close_to_bcmc():
    from xrtflow.spectral.absorption import phabs_sigma

    lo = EDGES[:-1]
    vern = phabs_sigma(EDGES, "angr", "vern")
    bcmc = phabs_sigma(EDGES, "angr", "bcmc")
    # away from edges the two cross-section sets agree to a few per cent
    away = np.ones(lo.size, bool)
    for edge in (0.284, 0.41, 0.538, 0.71, 0.87, 1.07, 1.3, 1.56, 1.84, 2.47, 3.2, 4.04, 7.11):
        away &= np.abs(lo / edge - 1) > 0.05
    assert np.abs(vern[away] / bcmc[away] - 1).max() < 0.07
    with pytest.raises(ValueError):
        phabs_sigma(EDGES, "angr", "nope")


def test_wabs_bin_average_across_edge():
    from xrtflow.spectral.absorption import wabs_transmission

    # a bin straddling the 0.532 keV edge is the average of the transmission on both sides
    fine = np.linspace(0.52, 0.54, 20001)
    t_fine = wabs_transmission(fine, 0.1)
    coarse = wabs_transmission(np.array([0.52, 0.54]), 0.1)[0]
    assert coarse == pytest.approx(t_fine.mean(), rel=1e-3)


def test_parser_precedence_and_abbreviations():
    m = parse_model("TBABS*(bb+brems)")
    assert m.component_names == ["TBabs", "bbody", "bremss"]
    assert [p.index for p in m.parameters] == [1, 2, 3, 4, 5]
    assert parse_model("phabs(po+gauss)").component_names == ["phabs", "powerlaw", "gaussian"]
    assert parse_model("const*wabs*pow").component_names == ["constant", "wabs", "powerlaw"]


def test_parser_errors():
    with pytest.raises(ValueError, match="foo"):
        parse_model("tbabs*foo")
    with pytest.raises(ValueError):
        parse_model("tbabs*(bb+po")
    with pytest.raises(ValueError):
        parse_model("bb+")


def test_parameter_metadata():
    m = parse_model("tbabs*(bb+brems)")
    assert m.parameter("bbody.kT").index == 2
    assert m.parameter(5).name == "norm" and m.parameter(5).component_index == 3
    assert m.parameter("nH").unit.startswith("10^22")
    z = parse_model("ztbabs*zgauss")
    assert z.parameter("zTBabs.Redshift").frozen
    assert not z.parameter("zgauss.LineE").frozen


def test_powerlaw_closed_form():
    v = parse_model("po").evaluate(EDGES, [2.0, 3.0])
    np.testing.assert_allclose(v, 3.0 * (1 / EDGES[:-1] - 1 / EDGES[1:]), rtol=1e-12)


def test_gaussian_normalisation_and_zgauss():
    e = np.linspace(0.1, 20, 4000)
    assert parse_model("gauss").evaluate(e, [6.4, 0.1, 2.5]).sum() == pytest.approx(2.5)
    g = parse_model("gauss").evaluate(EDGES, [6.4, 0.1, 1])
    zg = parse_model("zgauss").evaluate(EDGES, [6.4, 0.1, 0.0, 1])
    np.testing.assert_allclose(zg, g)


def test_bbody_total_flux():
    e = np.geomspace(1e-4, 20, 20001)
    v = parse_model("bb").evaluate(e, [1.0, 1.0])
    # energy flux of norm=1 is 1e39 erg/s / (10 kpc)^2 / 4pi
    flux = np.sum(v * 0.5 * (e[1:] + e[:-1])) * 1.602176634e-9
    assert flux == pytest.approx(
        1e39 / (4 * np.pi * (3.0857e22) ** 2), rel=2e-2
    )  # 8.0525 uses XSPEC rounded constants


def test_constant_and_cflux():
    po = parse_model("po").evaluate(EDGES, [2, 1])
    np.testing.assert_allclose(parse_model("const*po").evaluate(EDGES, [3, 2, 1]), 3 * po)
    m = parse_model("cflux*po")
    v = m.evaluate(EDGES, [0.5, 10.0, -11.0, 2.0, 1.0])
    lo, hi = EDGES[:-1], EDGES[1:]
    sel = (lo >= 0.5) & (hi <= 10.0)
    flux = np.sum(v[sel] * 0.5 * (lo + hi)[sel]) * 1.602176634e-9
    assert flux == pytest.approx(1e-11, rel=2e-2)


def test_ztbabs_rest_frame_and_no_grains():
    # XSPEC's ztbabs evaluates on the rest-frame edges E (1+z) ...
    a = parse_model("ztbabs*po").evaluate(EDGES, [0.5, 1.0, 0, 1]) / np.diff(EDGES)
    b = parse_model("ztbabs*po").evaluate(2 * EDGES, [0.5, 0.0, 0, 1]) / np.diff(2 * EDGES)
    np.testing.assert_allclose(a, b, rtol=1e-12)
    # ... and with no grains: the depleted atoms are unshielded gas, so it absorbs a little more
    # than TBabs (the grains' self-shielding matters most at the O K and Fe L edges)
    tb = parse_model("tbabs*po").evaluate(EDGES, [0.5, 0, 1]) / np.diff(EDGES)
    zt = parse_model("ztbabs*po").evaluate(EDGES, [0.5, 0.0, 0, 1]) / np.diff(EDGES)
    assert np.all(zt <= tb * (1 + 1e-12))
    assert np.abs(zt / tb - 1).max() > 0.01


def test_absorbers_transparent_at_high_energy():
    for expr in ("tbabs*po", "phabs*po", "wabs*po"):
        t = parse_model(expr).evaluate(EDGES, [0.01, 0, 1]) / np.diff(EDGES)
        assert 0.99 < t[-1] <= 1.0


# XSPEC 12.9.1 model.dat: name -> [(par, value, hard_min, soft_min, soft_max, hard_max, delta)]
_MODEL_DAT = {
    "zpowerlw": [("PhoIndex", 1, -3, -2, 9, 10, 0.01), ("Redshift", 0, -0.999, -0.999, 10, 10, -0.01)],
    "bknpower": [("PhoIndx1", 1, -3, -2, 9, 10, 0.01), ("BreakE", 5, 0, 0.01, 1e6, 1e6, 0.01),
                 ("PhoIndx2", 2, -3, -2, 9, 10, 0.01)],
    "logpar": [("alpha", 1.5, 0, 0, 4, 4, 0.01), ("beta", 0.2, -4, -4, 4, 4, 0.01)],
    "zbbody": [("kT", 3, 1e-4, 1e-2, 100, 200, 0.01), ("Redshift", 0, -0.999, -0.999, 10, 10, -0.01)],
    "zphabs": [("nH", 1, 0, 0, 1e5, 1e6, 1e-3), ("Redshift", 0, -0.999, -0.999, 10, 10, -0.01)],
    "zwabs": [("nH", 1, 0, 0, 1e5, 1e6, 1e-3), ("Redshift", 0, -0.999, -0.999, 10, 10, -0.01)],
    "pcfabs": [("nH", 1, 0, 0, 1e5, 1e6, 1e-3), ("CvrFract", 0.5, 0, 0.05, 0.95, 1, 0.01)],
    "zpcfabs": [("nH", 1, 0, 0, 1e5, 1e6, 1e-3), ("CvrFract", 0.5, 0, 0.05, 0.95, 1, 0.01),
                ("Redshift", 0, -0.999, -0.999, 10, 10, -0.01)],
    "cpflux": [("Emin", 0.5, 0, 0, 1e6, 1e6, -0.1), ("Emax", 10, 0, 0, 1e6, 1e6, -0.1),
               ("Flux", 1, 0, 0, 1e10, 1e10, 0.01)],
    "cflux": [("Emin", 0.5, 0, 0, 1e6, 1e6, -0.1), ("Emax", 10, 0, 0, 1e6, 1e6, -0.1),
              ("lg10Flux", -12, -100, -100, 100, 100, 0.01)],
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(_MODEL_DAT))
def test_new_models_have_xspec_parameters(name):
    from xrtflow.spectral.components import resolve_component

    spec = resolve_component(name)
    got = [(p.name, p.value, p.hard_min, p.soft_min, p.soft_max, p.hard_max, p.delta)
           for p in spec.pars]  # fmt: skip
    expected = _MODEL_DAT[name] + (
        [("norm", 1, 0, 0, 1e24, 1e24, 0.01)] if spec.kind == "add" else []
    )
    if name == "logpar":  # the frozen scale parameter pivotE (1 keV) before the norm
        assert got[2][0] == "pivotE" and got[2][1] == 1.0 and got[2][6] < 0
        got = got[:2] + got[3:]
    assert got == [
        tuple(float(x) if not isinstance(x, str) else x for x in row) for row in expected
    ]


def test_absorbers_transparent_outside_their_range():
    # phabs: transmission 1 where a bin starts below the Lyman limit or above 100 keV; TBabs:
    # every cross-section 0 from 100 keV (and no Lyman cut: the metals' valence shells absorb)
    e = np.array([0.005, 0.01, 0.0135, 101.0, 150.0, 200.0])
    t = parse_model("phabs*po").evaluate(e, [10.0, 0, 1], abund="angr", xsect="bcmc")
    assert t[0] / 0.005 == pytest.approx(1.0) and t[3] / 49.0 == pytest.approx(1.0)
    t = parse_model("tbabs*po").evaluate(e, [10.0, 0, 1], abund="wilm") / np.diff(e)
    assert t[3] == pytest.approx(1.0) and t[0] < 0.5
