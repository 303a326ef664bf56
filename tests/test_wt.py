"""WT mode pieces: the simulated WT archive's layout, the strip boxes, BACKSCAL and the WT ARF.

Truth: the simulator's injected columns/rates, the King line-spread function integrated
independently (Monte Carlo of the 2-D PSF), the real WT products in ../shared (formats, the box
angle convention), and CFITSIO's box rule.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.table import Table

from xrtflow import calibration, naming
from xrtflow.caldb import open_caldb
from xrtflow.ogip_check import check_file
from xrtflow.products.events import read_events
from xrtflow.products.wt import (
    Box,
    boxes_contain,
    boxes_npix,
    read_boxes,
    snapshot_columns,
    source_column,
    strip_angle,
    strip_boxes,
    strip_geometry,
    strip_selection,
    write_boxes,
    wt_psf_fraction,
)
from xrtflow.simulate.wt_archive import (
    WINDOW_COLUMNS,
    WINDOW_FIRST_COLUMN,
    WTArchiveConfig,
    WTObservationSpec,
    make_wt_archive,
)

SPECS = (
    WTObservationSpec("00031941001", 142.2, 150.0, 0.08, roll_deg=35.0, offset_pa_deg=40.0),
    WTObservationSpec("00031941002", 143.6, 100.0, 0.12, roll_deg=118.0, n_snapshots=2),
)


@pytest.fixture(scope="module")
def wt_archive(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("wt")
    make_wt_archive(base, WTArchiveConfig(observations=SPECS))
    return base


def _events_file(base: Path, obsid: str) -> Path:
    gz = base / "archive" / obsid / naming.archive_event(obsid, "WT")
    out = base / f"{obsid}.evt"
    out.write_bytes(gzip.decompress(gz.read_bytes()))
    return out


def test_wt_event_files_have_the_level2_wt_layout(wt_archive):
    truth = Table.read(wt_archive / "truth.ecsv")
    for spec in SPECS:
        path = _events_file(wt_archive, spec.obsid)
        assert check_file(path) == []
        with fits.open(path) as hdul:
            assert [h.name for h in hdul] == ["PRIMARY", "EVENTS", "GTI", "BADPIX"]
            h, d = hdul["EVENTS"].header, hdul["EVENTS"].data
            assert all(x.header["DATAMODE"] == "WINDOWED" for x in hdul)
            for col in ("TIME", "X", "Y", "RAWX", "RAWY", "DETX", "DETY", "PHA", "PI", "GRADE"):
                assert col in d.columns.names
            assert set(np.unique(d["GRADE"])) <= {0, 1, 2}
            assert np.unique(d["RAWY"]).size == 1  # the source row for every event
            assert d["RAWX"].min() >= WINDOW_FIRST_COLUMN
            assert d["RAWX"].max() < WINDOW_FIRST_COLUMN + WINDOW_COLUMNS
            assert np.all(d["DETX"] == d["RAWX"] + 1)
            assert h["TIMEDEL"] == pytest.approx(1.766e-3)
            assert "TCTYP2" in h and h["TCTYP2"] == "RA---TAN"
            grade_keys = [k for k in h if k.startswith("DSTYP") and h[k] == "GRADE"]
            assert h[grade_keys[0].replace("TYP", "VAL")] == "0:2"
            bad = hdul["BADPIX"].data["RAWX"]
            assert not np.isin(d["RAWX"], bad).any()  # screened as xrtpipeline does
            # frames: every time is a WT frame mid-point of its snapshot
            gti = hdul["GTI"].data
            k = np.searchsorted(gti["START"], d["TIME"], side="right") - 1
            phase = (d["TIME"] - gti["START"][k]) / 1.766e-3 - 0.5
            assert np.allclose(phase, np.round(phase), atol=1e-4)
        row = truth[list(truth["obsid"]).index(spec.obsid)]
        # the events lie on a strip through the target at PA_PNT - 90 deg
        events = read_events(path, obsid=spec.obsid, mode="WT")
        geo = strip_geometry(SkyCoord(136.1729167, -32.3798611, unit="deg"), events.wcs, h)
        a = np.radians(geo.angle)
        across = -(events.x - geo.xs) * np.sin(a) + (events.y - geo.ys) * np.cos(a)
        assert np.all(np.abs(across) <= 1.0)
        along = geo.along(events.x, events.y)
        columns, index, sign = snapshot_columns(d["RAWX"], along, events.time, events.gti)
        assert len(columns) == spec.n_snapshots
        # the photon-weighted mean of the injected per-event source columns
        assert np.mean(columns[index]) == pytest.approx(row["source_column"], abs=0.5)
        if spec.n_snapshots == 1:
            assert source_column(d["RAWX"], along)[0] == pytest.approx(columns[0])


def test_wt_catalog_and_caldb(wt_archive):
    catalog = Table.read(wt_archive / "catalog.ecsv")
    assert np.all(catalog["xrt_expo_pc"] == 0)
    assert np.allclose(catalog["xrt_expo_wt"], [s.exposure for s in SPECS], rtol=1e-4)
    cal = open_caldb(str(wt_archive / "caldb"), None)
    rmf = cal.rmf(datamode="WT", grades="0:2", date="2011-09-01")
    arf = cal.arf(datamode="WT", grades="0:2", date="2011-09-01")
    assert rmf.name.startswith("swxwt0to2s6_") and arf.name.startswith("swxwt0to2s6_")
    assert cal.rmf(datamode="PC", grades="0:12", date="2011-09-01").name.startswith("swxpc")
    assert check_file(arf) == []  # (ogip_check reads every RESPONSE HDU as an ARF: not RMFs)
    for path in (rmf, arf):
        h = fits.getheader(path, 1)
        assert h["SIMULATD"] and "SIMULATED" in h["CDES0001"]
        cbd = [h[k] for k in h if k.startswith("CBD")]
        assert "DATAMODE(WINDOWED)" in cbd and "GRADE(G0:2)" in cbd


def test_wt_rmf_keywords_match_a_real_wt_rmf(wt_archive, shared_dir):
    real = shared_dir / "data" / "swift-xrt" / "wt_00458448000" / "xrt.rmf.gz"
    if not real.is_file():
        pytest.skip("../shared WT RMF not available")
    ours = open_caldb(str(wt_archive / "caldb"), None).rmf(datamode="WT", grades="0:2")
    with fits.open(real) as r, fits.open(ours) as o:
        for ext in ("MATRIX", "EBOUNDS"):
            real_cbd = {v.split("(")[0]: v for k, v in r[ext].header.items() if k.startswith("CBD")}
            our_cbd = {v.split("(")[0]: v for k, v in o[ext].header.items() if k.startswith("CBD")}
            for key in ("DATAMODE", "GRADE", "XRTVSUB"):
                assert our_cbd[key] == real_cbd[key]
            assert o[ext].header["DETCHANS"] == r[ext].header["DETCHANS"]
        assert len(o["MATRIX"].data) == len(r["MATRIX"].data)


@pytest.mark.parametrize(
    "name", ["wt_00684098000/interval0wtback.pi", "wt_00458448000/xrt_src.pha"]
)
def test_strip_direction_of_real_wt_spectra_is_pa_pnt_minus_90(shared_dir, name):
    """The pixels with counts in the weighted maps of real WT spectra (UKSSDC, xselect) lie
    along ``PA_PNT - 90`` deg: the strip direction that the boxes and the simulator use."""
    path = shared_dir / "data" / "swift-xrt" / name
    if not path.is_file():
        pytest.skip("../shared WT spectra not available")
    with fits.open(path) as hdul:
        wmap = hdul[0].data
        pa = hdul["SPECTRUM"].header["PA_PNT"]
    yy, xx = np.nonzero(wmap > 0)
    vecs = np.linalg.eigh(np.cov(np.vstack([xx, yy])))[1]
    major = np.degrees(np.arctan2(vecs[1, -1], vecs[0, -1])) % 180.0
    assert abs((major - strip_angle({"PA_PNT": pa}) % 180.0 + 90.0) % 180.0 - 90.0) < 1.5


def test_boxes_follow_cfitsio_and_round_trip_through_ds9_files(wt_archive, tmp_path):
    path = _events_file(wt_archive, SPECS[0].obsid)
    events = read_events(path)
    geo = strip_geometry(SkyCoord(136.1729167, -32.3798611, unit="deg"), events.wcs, events.header)
    boxes = strip_boxes(geo, [(-20, -4), (4, 20)])
    reg = write_boxes(tmp_path / "src.reg", boxes, events.wcs)
    text = reg.read_text()
    assert text.splitlines()[0].startswith("# Region file format: DS9")
    assert "fk5" in text.splitlines() and text.count('"') == 2 * len(boxes)
    back = read_boxes(reg, events.wcs)
    for a, b in zip(boxes, back, strict=True):
        assert (a.xc, a.yc, a.length, a.width, a.angle) == pytest.approx(
            (b.xc, b.yc, b.length, b.width, b.angle), abs=1e-3
        )
    # independent test of the selection: |along| in [4, 20] and |across| <= 10
    along = geo.along(events.x, events.y)
    inside = boxes_contain(back, events.x, events.y)
    assert np.array_equal(inside, (np.abs(along) >= 4 - 1e-6) & (np.abs(along) <= 20 + 1e-6))
    # an excluded box removes its pixels; an unrotated 4 x 2 box holds 5 x 3 pixel centres
    box = Box(10.0, 10.0, 4.0, 2.0, 0.0)
    assert boxes_npix([box], (30, 30)) == 15
    hole = Box(10.0, 10.0, 0.5, 0.5, 0.0, include=False)
    assert boxes_npix([box, hole], (30, 30)) == 14
    # BACKSCAL of equal-width boxes scales with their length, not with circle/annulus areas
    n1 = boxes_npix(strip_boxes(geo, [(-20, 20)]), events.image_shape)
    n2 = boxes_npix(strip_boxes(geo, [(-90, -50), (50, 90)]), events.image_shape)
    assert n2 / n1 == pytest.approx(80 / 40, rel=0.05)


def test_wt_psf_fraction_equals_monte_carlo_of_the_psf():
    rng = np.random.default_rng(3)
    n = 400_000
    for energy in (0.6, 4.0):
        r = calibration.sample_psf_radius(np.full(n, energy), 1.0, rng) / calibration.PIXEL_ARCMIN
        u = r * np.cos(rng.uniform(0.0, 2.0 * np.pi, n))
        for iv in ([(-20, 20)], [(-20, -5), (5, 20)]):
            mc = np.mean(np.any([(u >= lo) & (u <= hi) for lo, hi in iv], axis=0))
            model = wt_psf_fraction([energy], iv, 1.0)[0]
            assert model == pytest.approx(mc, abs=4 * np.sqrt(mc * (1 - mc) / n) + 5e-4)
        # a bad column at the source removes the central column's share
        col = np.floor(u + 0.5)
        mc = np.mean((np.abs(u) <= 20) & (col != 0))
        model = wt_psf_fraction([energy], [(-20, 20)], 1.0, bad_offsets=[0.0])[0]
        assert model == pytest.approx(mc, abs=4 * np.sqrt(mc * (1 - mc) / n) + 1e-3)
        assert model < wt_psf_fraction([energy], [(-20, 20)], 1.0)[0] - 0.05


def test_strip_selection_matches_simulated_pixelisation():
    """The sky-pixel selection probability against the simulator's own column/pixel chain."""
    rng = np.random.default_rng(5)
    geo_angle = 28.0
    from xrtflow.products.wt import StripGeometry

    geo = StripGeometry(497.88, 507.67, geo_angle)
    boxes = strip_boxes(geo, [(-20, -3), (3, 20)])
    u_grid, s = strip_selection(boxes, geo, 23.0)
    n = 300_000
    u = rng.uniform(-23, 23, n)
    c = rng.uniform(0, 1, n)  # the source's sub-column position
    col = np.floor(c + u + 0.5)
    pos = col - c + rng.uniform(-0.5, 0.5, n)
    a = np.radians(geo_angle)
    x = np.floor(geo.xs + pos * np.cos(a) + 0.5)
    y = np.floor(geo.ys + pos * np.sin(a) + 0.5)
    sel = boxes_contain(boxes, x, y)
    bins = np.linspace(-23, 23, 47)
    k = np.digitize(u, bins) - 1
    mc = np.bincount(k, weights=sel, minlength=46)[:46] / np.bincount(k, minlength=46)[:46]
    model = np.array(
        [
            s[(u_grid >= lo) & (u_grid < hi)].mean()
            for lo, hi in zip(bins[:-1], bins[1:], strict=True)
        ]
    )
    assert np.max(np.abs(mc - model)) < 0.03


def test_wt_archive_is_deterministic(wt_archive, tmp_path):
    make_wt_archive(tmp_path / "again", WTArchiveConfig(observations=SPECS))
    for spec in SPECS:
        rel = Path("archive") / spec.obsid / naming.archive_event(spec.obsid, "WT")
        assert (tmp_path / "again" / rel).read_bytes() == (wt_archive / rel).read_bytes()
    assert (tmp_path / "again" / "truth.ecsv").read_text() == (
        wt_archive / "truth.ecsv"
    ).read_text()
