"""Tests for xrtflow.spectral.models (XSPEC-compatible model evaluation)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from xrtflow.spectral.models import parse_model

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
REFERENCE = SHARED / "reference" / "xspec_models.csv"
EDGES = np.geomspace(0.1, 12.0, 601)
# TBabs columns: TBabs 2.3 uses high-resolution tables near the O K, Fe L and Ne K edges, which we
# only have sampled at 0.26-0.46 eV (data/xspec/tbabs_edges.csv, README.md); outside these windows
# TBabs must match to 0.5%, inside them see test_tbabs_edge_windows*.
TBABS_COLUMNS = {"tbabs_nh0.136_wilm", "tbabs_nh1_wilm", "tpyx_joint"}
TBABS_EDGE_WINDOWS_KEV = ((0.48, 0.60), (0.69, 0.80), (0.85, 0.90))


def _reference():
    if not REFERENCE.exists():
        pytest.skip("shared reference data not available")
    lines = REFERENCE.read_text().splitlines()
    cases = json.loads(lines[1].split("cases:", 1)[1])
    data = np.genfromtxt(lines[2:], delimiter=",", names=True)
    edges = np.append(data["e_lo_keV"], data["e_hi_keV"][-1])
    columns = lines[2].split(",")[2:]
    return cases, data, edges, columns


def _cases():
    if not REFERENCE.exists():
        return []
    lines = REFERENCE.read_text().splitlines()
    return [c["name"] for c in json.loads(lines[1].split("cases:", 1)[1])]


@pytest.mark.parametrize("name", _cases())
def test_against_xspec(name):
    cases, data, edges, columns = _reference()
    i = [c["name"] for c in cases].index(name)
    case = cases[i]
    col = data[data.dtype.names[i + 2]]
    model = parse_model(case["model"])
    value = model.evaluate(
        edges, case["pars"], abund=case.get("abund", "angr"), xsect=case.get("xsect", "bcmc")
    )
    mask = col > 1e-6 * col.max()
    if name in TBABS_COLUMNS:
        lo, hi = edges[:-1], edges[1:]
        for w_lo, w_hi in TBABS_EDGE_WINDOWS_KEV:
            mask &= ~((lo < w_hi) & (hi > w_lo))
    rel = np.abs(value[mask] / col[mask] - 1.0)
    assert rel.max() < 5e-3


def _unresolved_edges_ev():
    """Energies (eV) where the sampled edge tables do not resolve TBabs's structure.

    Wherever two neighbouring samples of tbabs_edges.csv differ by more than 30% (O 1s-np
    resonances, the 538.4 eV step, Fe L3, Ne 1s-np resonances) the true cross-section between
    the samples is unknown; a bin with an edge in such an interval cannot be checked to 0.5%.
    """
    from xrtflow.spectral.absorption import _tb_edge_tables

    spans = []
    for e, s in _tb_edge_tables().values():
        jump = np.flatnonzero(np.abs(np.diff(np.log(s))) > np.log(1.3))
        spans += [(e[j], e[j + 1]) for j in jump]
    return spans


def _edge_window_case(name):
    cases, data, edges, columns = _reference()
    i = [c["name"] for c in cases].index(name)
    case = cases[i]
    col = data[data.dtype.names[i + 2]]
    value = parse_model(case["model"]).evaluate(edges, case["pars"], abund=case.get("abund"))
    lo, hi = edges[:-1], edges[1:]
    inside = np.zeros(lo.size, bool)
    for w_lo, w_hi in TBABS_EDGE_WINDOWS_KEV:
        inside |= (lo < w_hi) & (hi > w_lo)
    unresolved = np.zeros(lo.size, bool)
    for a, b in _unresolved_edges_ev():
        for e in (lo * 1000.0, hi * 1000.0):
            unresolved |= (e >= a) & (e <= b)
    rel = np.abs(value / col - 1.0)
    return rel, inside & (col > 1e-6 * col.max()), unresolved


@pytest.mark.parametrize("name", ["tbabs_nh0.136_wilm", "tpyx_joint"])
def test_tbabs_edge_windows_resolved(name):
    # inside the edge windows, away from unresolved structure, TBabs matches XSPEC to 0.5%
    rel, inside, unresolved = _edge_window_case(name)
    # 5 reference-grid edges (10 of the ~50 window bins) sit in unresolved structure
    assert (inside & unresolved).sum() <= 10
    assert rel[inside & ~unresolved].max() < 5e-3


@pytest.mark.xfail(
    reason="edge tables known only at 0.26-0.46 eV samples (from astromodels' TBabs table): "
    "reference-grid edges at 525.75, 542.81, 547.15 eV (O 1s-np resonances), 538.49 (O step), "
    "569.42, 706.32 (Fe L3) and 869.15 eV (Ne resonances) fall between samples; sigma there "
    "is off by up to 1.5% of the total, i.e. 1.2% in T at nH=0.136 and 8.7% at nH=1",
    strict=True,
)
@pytest.mark.parametrize("name", sorted(TBABS_COLUMNS))
def test_tbabs_edge_windows(name):
    rel, inside, unresolved = _edge_window_case(name)
    assert rel[inside].max() < 5e-3


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


def test_ztbabs_at_zero_equals_tbabs():
    a = parse_model("tbabs*po").evaluate(EDGES, [0.5, 2, 1])
    b = parse_model("ztbabs*po").evaluate(EDGES, [0.5, 0.0, 2, 1])
    np.testing.assert_allclose(a, b)


def test_absorbers_transparent_at_high_energy():
    for expr in ("tbabs*po", "phabs*po", "wabs*po"):
        t = parse_model(expr).evaluate(EDGES, [0.01, 0, 1]) / np.diff(EDGES)
        assert 0.99 < t[-1] <= 1.0
