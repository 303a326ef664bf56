"""OGIP table models (atable/mtable/etable) against the same models computed directly.

The table files are written here with astropy in the OGIP memo 92-009 layout, so the reader is
tested against an independent writer, and the interpolated/re-binned values against the model
computed directly (bbody from the native library, checked against XSPEC in
test_models_xspec.py) and against hand-computed interpolation.
"""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits

from xrtflow.spectral.expression import validate_expression
from xrtflow.spectral.models import parse_model

E_TAB = np.geomspace(0.05, 20.0, 401)  # table energy bin edges (keV)
KT_GRID = np.array([0.05, 0.08, 0.12, 0.2, 0.3, 0.5])


def _bb(kt: float, edges: np.ndarray = E_TAB) -> np.ndarray:
    return parse_model("bb").evaluate(edges, [kt, 1.0])


def write_table(path, name, grids, spectra, *, additive=True, redshift=False, method=None,
                add_spectra=(), add_names=(), low=None, high=None, energies=None):  # fmt: skip
    """Write an OGIP 92-009 table model file (spectra: rows in C order of the grids)."""
    energies = E_TAB if energies is None else energies
    n_int = len(grids)
    names = [g[0] for g in grids] + list(add_names)
    values = [np.asarray(g[1], float) for g in grids] + [np.zeros(1)] * len(add_names)
    nmax = max(v.size for v in values)
    vals = np.zeros((len(names), nmax))
    for i, v in enumerate(values):
        vals[i, : v.size] = v
    method = method or [0] * n_int
    cols = [
        fits.Column("NAME", "12A", array=names),
        fits.Column("METHOD", "J", array=method + [0] * len(add_names)),
        fits.Column("INITIAL", "E", array=[v[0] for v in values]),
        fits.Column("DELTA", "E", array=[0.01] * len(names)),
        fits.Column("MINIMUM", "E", array=[v[0] for v in values]),
        fits.Column("BOTTOM", "E", array=[v[0] for v in values]),
        fits.Column("TOP", "E", array=[v[-1] if v.size > 1 else 10.0 for v in values]),
        fits.Column("MAXIMUM", "E", array=[v[-1] if v.size > 1 else 10.0 for v in values]),
        fits.Column(
            "NUMBVALS", "J", array=[v.size if i < n_int else 0 for i, v in enumerate(values)]
        ),  # fmt: skip
        fits.Column("VALUE", f"{nmax}D", array=vals),
    ]
    par = fits.BinTableHDU.from_columns(cols, name="PARAMETERS")
    par.header["NINTPARM"] = n_int
    par.header["NADDPARM"] = len(add_names)
    par.header["HDUCLASS"] = "OGIP"
    par.header["HDUCLAS1"] = "XSPEC TABLE MODEL"
    par.header["HDUCLAS2"] = "PARAMETERS"
    ene = fits.BinTableHDU.from_columns(
        [fits.Column("ENERG_LO", "D", array=energies[:-1]),
         fits.Column("ENERG_HI", "D", array=energies[1:])], name="ENERGIES")  # fmt: skip
    mesh = np.array(np.meshgrid(*[g[1] for g in grids], indexing="ij")).reshape(n_int, -1).T
    nE = energies.size - 1
    scols = [fits.Column("PARAMVAL", f"{n_int}E", array=mesh),
             fits.Column("INTPSPEC", f"{nE}E", array=np.asarray(spectra))]  # fmt: skip
    for k, a in enumerate(add_spectra):
        scols.append(fits.Column(f"ADDSP{k + 1:03d}", f"{nE}E", array=np.asarray(a)))
    spe = fits.BinTableHDU.from_columns(scols, name="SPECTRA")
    hdr = fits.Header()
    hdr["HDUCLASS"] = "OGIP"
    hdr["HDUCLAS1"] = "XSPEC TABLE MODEL"
    hdr["HDUVERS"] = "1.0.0"
    hdr["MODLNAME"] = name
    hdr["MODLUNIT"] = "photons/cm^2/s"
    hdr["ADDMODEL"] = additive
    hdr["REDSHIFT"] = redshift
    if low is not None:
        hdr["LOELIMIT"] = low
    if high is not None:
        hdr["HIELIMIT"] = high
    fits.HDUList([fits.PrimaryHDU(header=hdr), par, ene, spe]).writeto(path)
    return path


@pytest.fixture
def bb_table(tmp_path):
    spectra = np.array([_bb(kt) for kt in KT_GRID])
    return write_table(tmp_path / "bbgrid.fits", "bbgrid", [("kT", KT_GRID)], spectra)


def _close(got: np.ndarray, want: np.ndarray, rtol: float = 3e-6) -> None:
    """Equal to float32 precision where ``want`` is representable (> 1e-30 of its peak)."""
    keep = np.abs(want) > 1e-30 * np.abs(want).max()
    np.testing.assert_allclose(got[keep], want[keep], rtol=rtol)
    assert np.all(np.abs(got[~keep]) <= 1e-29 * np.abs(want).max())


def _pairs(x: np.ndarray) -> np.ndarray:
    """Sum neighbouring table bins: the values on the grid E_TAB[::2]."""
    return x[0::2] + x[1::2]


def test_atable_at_a_grid_point_is_the_model(bb_table):
    m = parse_model(f"atable{{{bb_table}}}")
    assert m.component_names == ["bbgrid"]
    assert [p.name for p in m.parameters] == ["kT", "norm"]
    coarse = E_TAB[::2]
    got = m.evaluate(coarse, [0.2, 3.0])
    _close(got, 3.0 * _pairs(_bb(0.2)))  # float32 storage


def test_atable_linear_interpolation_in_kt(bb_table):
    m = parse_model(f"atable{{{bb_table}}}")
    kt = 0.15
    f = (kt - 0.12) / (0.2 - 0.12)
    expected = (1 - f) * _bb(0.12) + f * _bb(0.2)
    _close(m.evaluate(E_TAB, [kt, 1.0]), expected)
    # a sensible approximation of the model itself where it carries flux
    direct = _bb(kt)
    keep = (E_TAB[:-1] > 0.1) & (E_TAB[1:] < 1.0)
    assert np.abs(m.evaluate(E_TAB, [kt, 1.0])[keep] / direct[keep] - 1).max() < 0.5


def test_atable_log_interpolation(tmp_path):
    spectra = np.array([_bb(kt) for kt in KT_GRID])
    path = write_table(tmp_path / "bblog.fits", "bblog", [("kT", KT_GRID)], spectra, method=[1])
    kt = 0.15
    f = np.log(kt / 0.12) / np.log(0.2 / 0.12)
    expected = (1 - f) * _bb(0.12) + f * _bb(0.2)
    got = parse_model(f"atable{{{path}}}").evaluate(E_TAB, [kt, 1.0])
    _close(got, expected)


def test_atable_rebinning_conserves_photons(bb_table):
    m = parse_model(f"atable{{{bb_table}}}")
    # a model grid that does not line up with the table: every table bin's photons are shared
    # in proportion to overlap, so a band that starts and ends on table edges keeps them all
    grid = np.concatenate([[E_TAB[40]], np.geomspace(E_TAB[40] * 1.001, E_TAB[300] * 0.999, 777),
                           [E_TAB[300]]])  # fmt: skip
    got = m.evaluate(grid, [0.3, 1.0])
    assert got.sum() == pytest.approx(_bb(0.3)[40:300].sum(), rel=1e-6)
    # a bin inside one table bin gets its width's share
    j = 100
    inner = np.array(
        [E_TAB[j] + 0.25 * (E_TAB[j + 1] - E_TAB[j]), E_TAB[j] + 0.75 * (E_TAB[j + 1] - E_TAB[j])]
    )  # noqa: E501
    assert m.evaluate(inner, [0.3, 1.0])[0] == pytest.approx(0.5 * _bb(0.3)[j], rel=1e-6)
    # bins beyond the table (and one starting below it) are empty
    out = m.evaluate(np.array([0.01, 0.02, 0.06, 0.07, 25.0, 30.0]), [0.3, 1.0])
    assert out[0] == 0 and out[1] == 0 and out[-1] == 0 and out[2] > 0


def test_atable_redshift_and_additional_parameter(tmp_path):
    spectra = np.array([_bb(kt) for kt in KT_GRID])
    extra = np.array([parse_model("po").evaluate(E_TAB, [2.0, 1e-3])] * KT_GRID.size)
    path = write_table(tmp_path / "bbz.fits", "bbz", [("kT", KT_GRID)], spectra, redshift=True,
                       add_spectra=[extra], add_names=["plnorm"])  # fmt: skip
    m = parse_model(f"atable{{{path}}}")
    assert [p.name for p in m.parameters] == ["kT", "plnorm", "z", "norm"]
    assert m.parameter("z").frozen
    z = 0.5
    obs = E_TAB / (1 + z)  # the table's bins in the observed frame
    got = m.evaluate(obs[::2], [0.2, 2.0, z, 1.0])
    expected = _pairs(_bb(0.2) + 2.0 * extra[0]) / (1 + z)
    _close(got, expected)


def test_mtable_and_etable(tmp_path):
    nh_grid = np.array([0.0, 0.5, 1.0, 2.0])
    tau1 = -np.log(parse_model("tbabs*po").evaluate(E_TAB, [0.01, 0, 1]) / np.diff(E_TAB)) / 0.01
    trans = np.array([np.exp(-nh * tau1) for nh in nh_grid])
    mpath = write_table(tmp_path / "abs.fits", "myabs", [("nH", nh_grid)], trans,
                        additive=False, low=0.5)  # fmt: skip
    epath = write_table(tmp_path / "tau.fits", "mytau", [("nH", nh_grid)],
                        np.array([nh * tau1 for nh in nh_grid]), additive=False)  # fmt: skip
    m = parse_model(f"mtable{{{mpath}}}*po")
    assert m.component_names == ["myabs", "powerlaw"]
    coarse = E_TAB[::2]
    width = np.diff(coarse)
    got = m.evaluate(coarse, [1.0, 0.0, 1.0]) / width
    _close(got, 0.5 * _pairs(trans[2]))
    # interpolation at nH = 1.5 between the 1.0 and 2.0 transmissions
    got = m.evaluate(E_TAB, [1.5, 0.0, 1.0]) / np.diff(E_TAB)
    _close(got, 0.5 * (trans[2] + trans[3]))
    # etable: exp(-mean of the tabulated optical depths)
    e = parse_model(f"etable{{{epath}}}*po")
    got = e.evaluate(coarse, [1.0, 0.0, 1.0]) / width
    _close(got, np.exp(-0.5 * _pairs(tau1)))
    # outside the table: LOELIMIT below, HIELIMIT (default 1) above
    out = m.evaluate(np.array([0.01, 0.02, 30.0, 40.0]), [1.0, 0.0, 1.0]) / np.array([0.01, 1, 10])
    assert out[0] == pytest.approx(0.5) and out[2] == pytest.approx(1.0)


def test_table_errors(bb_table, tmp_path):
    with pytest.raises(ValueError, match="additive table model; use atable"):
        validate_expression(f"mtable{{{bb_table}}}*po")
    with pytest.raises(ValueError, match="not found"):
        validate_expression(f"atable{{{tmp_path / 'none.fits'}}}")
    bad = tmp_path / "notfits.fits"
    bad.write_text("hello")
    with pytest.raises(ValueError, match="not a FITS file|no PARAMETERS"):
        validate_expression(f"atable{{{bad}}}")
    fits.HDUList([fits.PrimaryHDU()]).writeto(tmp_path / "empty.fits")
    with pytest.raises(ValueError, match="PARAMETERS extension"):
        validate_expression(f"atable{{{tmp_path / 'empty.fits'}}}")
    validate_expression(f"tbabs*atable{{{bb_table}}}")


def test_table_parameters_by_name(bb_table):
    m = parse_model(f"tbabs*(atable{{{bb_table}}} + po)")
    assert m.parameter("bbgrid.kT").index == 2
    assert m.parameter("bbgrid.norm").index == 3
    assert m.parameter("po.norm").index == 5
    assert m.parameter("kT").hard_min == pytest.approx(0.05)


def test_fit_with_a_table_equals_the_direct_fit(tmp_path):
    """A real Swift-XRT PC spectrum fitted with tbabs*atable{power-law grid} gives the fit of
    tbabs*powerlaw (the grid is fine enough for linear interpolation in the index)."""
    import warnings
    from pathlib import Path

    from xrtflow.spectral.fit import FitSetup, fit
    from xrtflow.spectral.ogip import read_spectrum

    base = Path(__file__).resolve().parents[1].parent / "shared/data/swift-xrt/pc_00092220001"
    if not base.is_dir():
        pytest.skip("../shared Swift-XRT data not available")
    spec = read_spectrum(base / "target_sr.pha", rmf=base / "swxpc0to12s6_20130101v014.rmf.gz",
                         arf=base / "target_sr.arf", use_header=False)  # fmt: skip
    energies = np.geomspace(0.05, 12.0, 1201)
    grid = np.linspace(1.0, 5.0, 81)
    spectra = np.array([parse_model("po").evaluate(energies, [g, 1.0]) for g in grid])
    path = write_table(tmp_path / "pl.fits", "pltab", [("PhoIndex", grid)], spectra,
                       energies=energies)  # fmt: skip
    results = []
    for model in (f"tbabs*atable{{{path}}}", "tbabs*po"):
        setup = FitSetup([spec], model, start={1: 0.1, 2: 2.0, 3: 1e-3}, statistic="cstat",
                         ignore="**-0.3 7.0-**", abund="wilm", xsect="vern", flux_samples=0)  # fmt: skip
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            results.append(fit(setup))
    table, direct = results
    assert table.stat == pytest.approx(direct.stat, abs=0.05)
    for i, tol in ((1, 0.02), (2, 0.02), (3, 0.02)):
        assert table.value(i) == pytest.approx(direct.value(i), rel=tol)
