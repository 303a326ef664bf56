"""Native products against HEASoft 6.20's own (``../shared/reference/heasoft-products``).

The truth is ``xrtproducts``/``extractor`` run on the same event files with the region files
beside them. Here the native backend runs with region files *it writes itself* (sizes with units,
which CFITSIO reads as HEASoft did), and the counts must be equal channel by channel, bin by bin
and pixel by pixel. Skipped where ``../shared`` is absent.
"""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.io import fits

from xrtflow.backends import native
from xrtflow.ogip_check import check_file
from xrtflow.products.events import read_events
from xrtflow.products.regions import (
    RegionFileError,
    events_in_region,
    read_region,
    write_regions,
)

REF = Path(__file__).resolve().parents[1].parent / "shared" / "reference" / "heasoft-products"
OBSIDS = sorted(p.name for p in REF.glob("000*") if p.is_dir()) if REF.is_dir() else []
pytestmark = pytest.mark.skipif(not OBSIDS, reason="../shared/reference/heasoft-products absent")


def _center(reg: Path) -> SkyCoord:
    # parsed independently of xrtflow's reader: the first two numbers of the shape
    m = re.search(r"\(\s*([-\d.]+)\s*,\s*([-\d.]+)", reg.read_text())
    return SkyCoord(float(m[1]), float(m[2]), unit="deg", frame="fk5")


def _ref(obsid: str, name: str) -> Path:
    return REF / obsid / "xrtproducts" / f"sw{obsid}xpcw3po{name}"


@pytest.fixture(scope="module", params=OBSIDS)
def native_run(request, tmp_path_factory):
    obsid = request.param
    d = REF / obsid
    out = tmp_path_factory.mktemp(f"ref{obsid}")
    src, bkg = write_regions(
        _center(d / "src.reg"), 180, 240, 390, out / "src.reg", out / "bkg.reg"
    )
    expo = out / f"sw{obsid}xpcw3po_ex.img"
    expo.write_bytes(gzip.decompress((d / f"sw{obsid}xpcw3po_ex.img.gz").read_bytes()))
    config = {
        "mode": "PC",
        "caldb": str(REF / "sim_caldb"),
        "products": {"pilow": 30, "pihigh": 1000, "lc_binsize": 10},
    }
    prods = native.products(
        obsid,
        d / f"sw{obsid}xpcw3po_cl.evt.gz",
        src,
        bkg,
        expo,
        d / f"sw{obsid}pat.fits.gz",
        d / f"sw{obsid}xhd.hk.gz",
        out,
        config,
        out,
        None,
    )
    return obsid, src, bkg, prods


def test_written_regions_have_units(native_run):
    _, src, bkg, _ = native_run
    assert re.search(r'circle\([-\d.]+,[-\d.]+,180\.000"\)', src.read_text())
    assert re.search(r'annulus\([-\d.]+,[-\d.]+,240\.000",390\.000"\)', bkg.read_text())


@pytest.mark.parametrize("name", ["sr.pha", "bkg.pha"])
def test_spectra_equal_heasoft(native_run, name):
    obsid, _, _, prods = native_run
    key = "src_pha" if name == "sr.pha" else "bkg_pha"
    with fits.open(prods[key]) as mine, fits.open(_ref(obsid, name)) as ref:
        a, b = mine["SPECTRUM"], ref["SPECTRUM"]
        assert b.data["COUNTS"].sum() > 100
        np.testing.assert_array_equal(a.data["COUNTS"], b.data["COUNTS"])
        # xrtproducts 6.20 with expofile writes the geometric BACKSCAL (6 digits in the file)
        assert a.header["BACKSCAL"] == pytest.approx(b.header["BACKSCAL"], rel=2e-5)
        assert a.header["EXPOSURE"] == pytest.approx(b.header["EXPOSURE"], rel=1e-9)
        # the grade selection xrtmkarf needs travels with the spectrum
        dstyp = {a.header[k]: a.header[k.replace("TYP", "VAL")] for k in a.header["DSTYP*"]}
        assert dstyp["GRADE"] == "0:12"


def test_image_equals_heasoft(native_run):
    obsid, _, _, prods = native_run
    mine = fits.getdata(prods["image"])
    ref = fits.getdata(_ref(obsid, "_sk.img.gz"))
    assert ref.sum() > 1000
    np.testing.assert_array_equal(mine, ref)  # every PI channel, as xrtproducts


@pytest.mark.parametrize("name", ["sr.lc", "bkg.lc"])
def test_light_curves_equal_heasoft(native_run, name):
    obsid, _, _, prods = native_run
    key = "src_lc" if name == "sr.lc" else "bkg_lc"
    with fits.open(prods[key]) as mine, fits.open(_ref(obsid, name)) as ref:
        a, b = mine[1], ref[1]
        assert len(a.data) == len(b.data)
        assert a.header["TIMEZERO"] == pytest.approx(b.header["TIMEZERO"], abs=1e-6)
        np.testing.assert_allclose(a.data["TIME"], b.data["TIME"], atol=1e-6)
        np.testing.assert_allclose(a.data["FRACEXP"], b.data["FRACEXP"], rtol=1e-5)
        ca = a.data["RATE"] * a.header["TIMEDEL"] * a.data["FRACEXP"]
        cb = b.data["RATE"] * b.header["TIMEDEL"] * b.data["FRACEXP"]
        np.testing.assert_allclose(ca, cb, atol=1e-3)
        assert cb.sum() > 50


def test_native_files_pass_ogip_checks(native_run):
    _, _, _, prods = native_run
    for key in ("image", "src_lc", "bkg_lc", "src_pha", "bkg_pha", "arf"):
        assert check_file(prods[key]) == [], key


@pytest.mark.parametrize("name", ["sr.pha", "bkg.pha", "sr.lc", "bkg.lc", "_sk.img.gz", "sr.arf"])
def test_heasoft_files_pass_the_checker(name):
    # the checker must accept HEASoft's own products, or it tests nothing useful
    assert check_file(_ref(OBSIDS[0], name)) == []


def test_units_follow_cfitsio(tmp_path):
    obsid = OBSIDS[0]
    ev = read_events(REF / obsid / f"sw{obsid}xpcw3po_cl.evt.gz")
    c = _center(REF / obsid / "src.reg")
    ra, dec = c.ra.deg, c.dec.deg
    counts = {}
    for label, size in (("arcsec", '180"'), ("arcmin", "3'"), ("deg", "0.05d"), ("bare", "0.05")):
        reg = tmp_path / f"{label}.reg"
        reg.write_text(f"fk5\ncircle({ra:.8f},{dec:.8f},{size})\n")
        counts[label] = int(events_in_region(read_region(reg, ev.wcs), ev.wcs, ev.x, ev.y).sum())
    with fits.open(_ref(obsid, "sr.pha")) as hdul:
        heasoft = int(hdul["SPECTRUM"].data["COUNTS"].sum())
    assert counts["arcsec"] == counts["arcmin"] == counts["deg"] == heasoft
    # CFITSIO reads a bare size as pixels: a 0.05-pixel circle holds at most its centre pixel
    assert counts["bare"] < 5
    bad = tmp_path / "bad.reg"
    bad.write_text("galactic\ncircle(10,10,3')\n")
    with pytest.raises(RegionFileError, match="galactic"):
        read_region(bad)


@pytest.mark.parametrize("name", ["sr.pha", "bkg.pha"])
def test_weighted_map_and_region_table_equal_heasoft(native_run, name):
    # xrtmkarf reads extractor's WMAP (primary HDU) and the region table: the native spectra
    # carry the same, so HEASoft's tasks can take them as they are
    obsid, _, _, prods = native_run
    key = "src_pha" if name == "sr.pha" else "bkg_pha"
    with fits.open(prods[key]) as mine, fits.open(_ref(obsid, name)) as ref:
        np.testing.assert_array_equal(mine[0].data, ref[0].data)
        for k in ("X-OFFSET", "Y-OFFSET", "HDUCLAS2", "WMREBIN", "CRPIX1", "CRPIX2", "LTV1"):
            assert mine[0].header[k] == ref[0].header[k], k
        a, b = mine["REG00101"].data, ref["REG00101"].data
        assert a["SHAPE"][0] == b["SHAPE"][0]
        # CFITSIO's pixel conversion of the fk5 region, reproduced to 1e-7 pixel
        np.testing.assert_allclose([a["X"][0], a["Y"][0]], [b["X"][0], b["Y"][0]], atol=1e-7)
        np.testing.assert_allclose(np.ravel(a["R"][0]), np.ravel(b["R"][0]), atol=1e-7)
        assert mine[0].header["NPIXSOU"] == pytest.approx(ref[0].header["NPIXSOU"])
