"""Figures of a small real workflow run: written as PNG and PDF, not blank, with the panels
they should have, showing the numbers of the tables; pagination for ~300 ObsIDs; Gehrels
errors against Gehrels (1986)'s own table."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table
from figure_demo import SELECTED, demo_run

from xrtflow.plots.style import DPI, MAX_PANELS_PER_PAGE

pytestmark = pytest.mark.slow

TARGET = {"name": "T Pyx", "epoch_mjd": 55665, "days_after_epoch": [135, 151]}
SINGLE = ["timeline", "parameters", "image_last", "lightcurve"]
PAGINATED = ["spectra", "spectra_single", "images"]
#: matplotlib (Agg) cannot draw images with a side of 2**16 pixels or more.
AGG_LIMIT = 2**16


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    return demo_run(tmp_path_factory) / "results" / "tpyx"


def pdf_pages(path: Path) -> int:
    return len(re.findall(rb"/Type\s*/Page[^s]", path.read_bytes()))


def pixel_std(path: Path) -> float:
    import matplotlib.image

    return float(np.std(matplotlib.image.imread(path)[..., :3]))


@pytest.mark.parametrize("name", SINGLE + PAGINATED)
def test_figure_written_as_png_and_pdf_and_not_blank(run, name):
    figures = run / "figures"
    png, pdf = figures / f"{name}.png", figures / f"{name}.pdf"
    assert pdf.read_bytes()[:5] == b"%PDF-"
    assert pixel_std(png) > 0.02, f"{png} looks blank"
    pages = sorted((figures / f"{name}_pages").glob("page-*.png")) if name in PAGINATED else [png]
    assert pdf_pages(pdf) == len(pages) >= 1
    for page in pages:
        assert pixel_std(page) > 0.02, page


def test_pages_hold_every_obsid(run):
    # 3 ObsIDs, 4 per spectra page, 20 per image page: one page each
    assert len(list((run / "figures" / "spectra_pages").glob("*.png"))) == 1
    assert len(list((run / "figures" / "images_pages").glob("*.png"))) == 1


def test_parameter_figure_shows_the_results_table(run):
    from xrtflow.plots.parameters import free_parameters, parameters_figure

    table = Table.read(run / "tables" / "results.ecsv")
    fig = parameters_figure(run / "tables" / "results.ecsv", TARGET)
    names = free_parameters(table)
    # every free parameter of tbabs*(bb+brems), then the two fluxes
    assert names == ["nH", "bbody_kT", "bbody_norm", "bremss_kT", "bremss_norm"]
    assert len(fig.axes) == len(names) + 2
    lines = {line.get_gid(): line for ax in fig.axes for line in ax.get_lines() if line.get_gid()}
    single = table[table["fit"] == "single"]
    joint = table[table["fit"] == "joint"]
    for name in names + ["abs_flux", "unabs_flux"]:
        x, y = lines[f"single:{name}"].get_data()
        assert np.allclose(x, single["days_after_epoch"]) and np.allclose(y, single[name])
    # nH is tied in the joint fit: a band at the joint value, not points
    assert "joint:nH" not in lines
    assert np.allclose(lines["joint-band:nH"].get_ydata(), joint["nH"][0])
    x, y = lines["joint:bbody_kT"].get_data()
    assert np.allclose(y, joint["bbody_kT"])


def test_results_table_matches_the_fits(run):
    """Independent truth: the fit JSON written by the fitter, and the spectra on disk."""
    table = Table.read(run / "tables" / "results.ecsv")
    assert set(table["obsid"][table["fit"] == "single"]) == set(SELECTED)
    assert str(table["abs_flux"].unit) == "erg / (s cm2)"
    assert "0.3-10 keV" in table["abs_flux"].description
    assert str(table["bbody_kT_lo90"].unit) == "keV"
    joint_fit = json.loads((run / "fit" / "joint.json").read_text())
    for obsid in SELECTED:
        fit = json.loads((run / "obs" / obsid / "fit.json").read_text())
        row = table[(table["fit"] == "single") & (table["obsid"] == obsid)][0]
        kt = next(
            p for p in fit["parameters"] if (p["component"], p["parameter"]) == ("bremss", "kT")
        )
        assert (row["bremss_kT"], row["bremss_kT_lo90"], row["bremss_kT_hi90"]) == pytest.approx(
            (kt["value"], kt["err_lo"], kt["err_hi"])
        )
        assert row["stat_value"] == pytest.approx(fit["stat"]) and row["dof"] == fit["dof"]
        assert row["unabs_flux"] == pytest.approx(fit["fluxes"][0]["unabs_flux"])
        joint_row = table[(table["fit"] == "joint") & (table["obsid"] == obsid)][0]
        assert joint_row["dof"] == joint_fit["dof"]
        # counts in 0.3-7 keV from the grouped spectrum itself (PI = E / 10 eV)
        name = f"sw{obsid}xpcw3posr_grp.pha"
        spectrum = fits.getdata(run / "obs" / obsid / name, "SPECTRUM")
        exposure = fits.getval(run / "obs" / obsid / name, "EXPOSURE", "SPECTRUM")
        assert row["exposure"] == pytest.approx(exposure)
        noticed = (spectrum["CHANNEL"] >= 30) & (spectrum["CHANNEL"] < 700)
        assert (
            abs(row["src_counts"] - spectrum["COUNTS"][noticed].sum()) <= 0.01 * row["src_counts"]
        )


def test_spectra_figure_panels_and_residual_label(run):
    from xrtflow.plots.spectra import residual_label, spectra_figures

    pages = spectra_figures(
        [run / "fit" / "joint_plot.ecsv"], [run / "fit" / "joint.json"], TARGET, "joint"
    )
    assert len(pages) == 1
    axes = pages[0].axes
    assert len(axes) == 3 * len(SELECTED)  # counts, residuals, unfolded per ObsID
    labels = [ax.get_ylabel() for ax in axes]
    # a C-stat fit: residuals are not labelled chi
    assert labels.count(residual_label("cstat")) == len(SELECTED)
    assert not any("chi" in label for label in labels)
    assert residual_label("chi") == r"$\chi$"
    unfolded = axes[2]
    assert {"model", "bbody", "bremss"} <= set(unfolded.get_legend_handles_labels()[1]) | {
        line.get_label() for line in unfolded.get_lines()
    }
    counts = axes[0]
    assert "background (scaled)" in [p.get_label() for p in counts.patches]


def test_lightcurve_figure_shows_the_lightcurve_table(run):
    from xrtflow.plots.lightcurve import lightcurve_figure

    lc = Table.read(run / "tables" / "lightcurve.ecsv")
    hr = Table.read(run / "tables" / "hardness.ecsv")
    fig = lightcurve_figure(
        run / "tables" / "lightcurve.ecsv", run / "tables" / "hardness.ecsv", TARGET
    )
    assert len(fig.axes) == 2
    lines = {line.get_gid(): line for ax in fig.axes for line in ax.get_lines() if line.get_gid()}
    assert np.allclose(lines["rate"].get_ydata(), lc["net_rate"])
    assert np.allclose(lines["hardness"].get_ydata(), hr["hardness"])
    assert "0.3-10 keV" in fig.axes[0].get_title()
    # ObsID 00031940003 has two snapshots; each ObsID's snapshot counts add up to its source
    # spectrum in PI 30-999, the 0.3-10 keV band (a product made independently from the same events)
    assert sum(lc["obsid"] == "00031940003") == 2
    for obsid in SELECTED:
        spectrum = fits.getdata(run / "obs" / obsid / f"sw{obsid}xpcw3posr.pha", "SPECTRUM")
        band = (spectrum["CHANNEL"] >= 30) & (spectrum["CHANNEL"] <= 999)
        assert lc["src_counts"][lc["obsid"] == obsid].sum() == spectrum["COUNTS"][band].sum()


def test_image_figures_have_sky_axes_scale_bar_and_colour_bar(run):
    from astropy.visualization.wcsaxes import WCSAxes

    from xrtflow.plots.images import image_figures, last_image_figure

    images = sorted(str(p) for p in (run / "obs").glob("*/sw*xpcw3po_sk.img"))
    regions = (
        run / "catalog" / "target.json",
        run / "regions" / "src.reg",
        run / "regions" / "bkg.reg",
    )
    (page,) = image_figures(images, *regions, TARGET)
    sky = [ax for ax in page.axes if isinstance(ax, WCSAxes)]
    assert len(sky) == len(SELECTED) and len(page.axes) == len(SELECTED) + 1  # + colour bar
    for ax in sky:
        assert "day 14" in ax.get_title()
        assert any(line.get_gid() == "scalebar" for line in ax.get_lines())
        assert {t.get_text() for t in ax.texts} >= {"N", "E", "2'"}
        # source circle and background annulus drawn in different colours
        assert len({tuple(p.get_edgecolor()) for p in ax.patches}) == 2
    last = last_image_figure(images[-1], *regions, TARGET)
    assert SELECTED[-1] in last.axes[0].get_title() and len(last.axes) == 2


def test_gehrels_limits_match_gehrels_1986_table():
    """Gehrels (1986) Tables 1 and 2, 1-sigma (CL 0.8413): the approximations are within 2%."""
    from xrtflow.steps.longterm import gehrels_lower, gehrels_upper

    n = np.array([0, 1, 2, 5, 10])
    upper = np.array([1.841, 3.300, 4.638, 8.382, 14.27])
    lower = np.array([0.0, 0.173, 0.708, 2.840, 6.891])
    assert np.allclose(gehrels_upper(n), upper, rtol=0.02)
    assert np.allclose(gehrels_lower(n[1:]), lower[1:], rtol=0.02)
    assert gehrels_lower(0) == 0


def _fake_image(path: Path, obsid: str, day: float) -> None:
    from astropy.time import Time
    from astropy.wcs import WCS

    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [136.17292, -32.37986]
    wcs.wcs.crpix = [60.5, 60.5]
    wcs.wcs.cdelt = [-4.0 / 3600, 4.0 / 3600]
    header = wcs.to_header()
    header["OBS_ID"] = obsid
    header["DATE-OBS"] = Time(55665 + day, format="mjd").isot
    data = np.random.default_rng(int(obsid)).poisson(0.5, (120, 120)).astype("int32")
    fits.PrimaryHDU(data, header).writeto(path)


def test_three_hundred_obsids_paginate_within_the_size_limit(run, tmp_path):
    from xrtflow.plots.images import image_figures
    from xrtflow.plots.spectra import SPECTRA_PER_PAGE, spectra_figures

    n = 300
    plot = Table.read(run / "fit" / "joint_plot.ecsv")
    fit = json.loads((run / "fit" / "joint.json").read_text())
    one = plot[plot["obsid"] == SELECTED[0]]
    parameters = [p for p in fit["parameters"] if p["obsid"] == SELECTED[0]]
    obsids = [f"{99000000000 + i:011d}" for i in range(n)]
    rows = [one.copy() for _ in obsids]
    for table, obsid in zip(rows, obsids, strict=True):
        table["obsid"] = obsid
    from astropy.table import vstack

    vstack(rows).write(tmp_path / "plot.ecsv", format="ascii.ecsv")
    fit["parameters"] = [dict(p, obsid=o) for o in obsids for p in parameters]
    (tmp_path / "fit.json").write_text(json.dumps(fit))
    # every page has the same layout but the last: build the first and the last
    n_pages = -(-n // SPECTRA_PER_PAGE)
    pages = spectra_figures(
        [tmp_path / "plot.ecsv"],
        [tmp_path / "fit.json"],
        TARGET,
        "joint",
        only_pages=[0, n_pages - 1],
    )
    assert f"page {n_pages}/{n_pages}" in pages[-1]._suptitle.get_text()
    images = []
    for i, obsid in enumerate(obsids):
        images.append(tmp_path / f"{obsid}.img")
        _fake_image(images[-1], obsid, 140 + 0.1 * i)
    regions = (
        run / "catalog" / "target.json",
        run / "regions" / "src.reg",
        run / "regions" / "bkg.reg",
    )
    grid = image_figures(images, *regions, TARGET, only_pages=[0, 14])
    assert "page 15/15" in grid[-1]._suptitle.get_text()
    for fig in pages + grid:
        assert len(fig.axes) <= MAX_PANELS_PER_PAGE
        assert max(fig.get_size_inches()) * DPI < AGG_LIMIT
    # the last page of each draws with Agg (a figure grown past the limit fails here)
    pages[-1].savefig(tmp_path / "spectra.png", dpi=DPI)
    grid[-1].savefig(tmp_path / "images.png", dpi=DPI)
    assert pixel_std(tmp_path / "spectra.png") > 0.02 and pixel_std(tmp_path / "images.png") > 0.02
    import matplotlib.pyplot as plt

    plt.close("all")


def test_parameter_column_names_say_what_they_hold():
    from xrtflow.spectral.models import parse_model
    from xrtflow.steps.tables import parameter_columns

    def columns(expression):
        model = parse_model(expression)
        pars = [
            {"index": p.index, "component": p.component, "parameter": p.name}
            for p in model.parameters
        ]
        return list(parameter_columns(pars).values())

    assert columns("tbabs*(bb+brems)") == [
        "nH",
        "bbody_kT",
        "bbody_norm",
        "bremss_kT",
        "bremss_norm",
    ]
    # the same component twice: XSPEC's component numbers (bbody_2.kT)
    assert columns("tbabs*(bb+bb)") == [
        "nH",
        "bbody_2_kT",
        "bbody_2_norm",
        "bbody_3_kT",
        "bbody_3_norm",
    ]
    assert columns("tbabs*powerlaw") == ["nH", "PhoIndex", "norm"]
