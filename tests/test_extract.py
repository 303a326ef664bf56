"""``xrtflow extract`` end to end, and the FITS/OGIP checks of every file the demo chain writes.

On a simulated archive (no ``../shared`` needed) the counts are checked against an independent
selection (spherical distance of every event from the target, through the event file's WCS), and
every file (archive, CALDB, native products) must pass :func:`xrtflow.ogip_check.check_file`. On
a reference ObsID of ``../shared`` the spectra must equal HEASoft's ``sr.pha``/``bkg.pha``.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.io import fits

from xrtflow import naming
from xrtflow.backends import native
from xrtflow.cli import main
from xrtflow.ogip_check import check_file
from xrtflow.products.events import read_events
from xrtflow.products.regions import write_regions
from xrtflow.simulate import DemoConfig, make_demo_archive

REF = Path(__file__).resolve().parents[1].parent / "shared" / "reference" / "heasoft-products"
SMALL = DemoConfig(
    n_obs=1, include_outliers=False, exposure_range=(1500.0, 1500.0), snapshot_max=800.0
)


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    root = tmp_path_factory.mktemp("extract_sim")
    catalog = make_demo_archive(root, SMALL, progress=False)
    obsid = str(catalog["obsid"][0])
    target = SkyCoord(SMALL.ra, SMALL.dec, unit="deg", frame="fk5")
    src, bkg = write_regions(target, 180, 240, 390, root / "src.reg", root / "bkg.reg")
    return root, obsid, target, src, bkg


def _separation_counts(evt: Path, target: SkyCoord, r_in: float, r_out: float, band=None):
    ev = read_events(evt)
    sky = ev.wcs.pixel_to_world(ev.x - 1.0, ev.y - 1.0)
    sep = sky.separation(target).to_value(u.arcsec)
    keep = (sep >= r_in) & (sep <= r_out)
    if band:
        keep &= (ev.pi >= band[0]) & (ev.pi <= band[1])
    return np.bincount(ev.pi[keep], minlength=1024), ev


def test_extract_simulated_events(sim, tmp_path, monkeypatch):
    root, obsid, target, src, bkg = sim
    evt = root / "archive" / obsid / naming.archive_event(obsid)
    monkeypatch.setenv("CALDB", str(root / "caldb"))  # found as the workflow finds it
    out = tmp_path / "out"
    args = [str(evt), "--region", str(src), "--background", str(bkg), "--outdir", str(out)]
    assert main(["extract", *args, "--pilow", "50", "--binsize", "20"]) == 0
    for name in (
        naming.source_spectrum,
        naming.background_spectrum,
        naming.source_lightcurve,
        naming.background_lightcurve,
        naming.sky_image,
        naming.source_arf,
        naming.source_rmf,
    ):
        assert (out / name(obsid)).is_file(), name.__name__
    truth, ev = _separation_counts(evt, target, 0.0, 180.0)
    btruth, _ = _separation_counts(evt, target, 240.0, 390.0)
    spec = fits.getdata(out / naming.source_spectrum(obsid), "SPECTRUM")["COUNTS"]
    bspec = fits.getdata(out / naming.background_spectrum(obsid), "SPECTRUM")["COUNTS"]
    assert spec.sum() > 500 and bspec.sum() > 50
    np.testing.assert_array_equal(spec, truth)
    np.testing.assert_array_equal(bspec, btruth)
    with fits.open(out / naming.source_lightcurve(obsid)) as hdul:
        h, d = hdul["RATE"].header, hdul["RATE"].data
        assert h["TIMEDEL"] == 20.0 and h["PILOW"] == 50
        counts = d["RATE"] * h["TIMEDEL"] * d["FRACEXP"]
        assert round(counts.sum()) == truth[50:1001].sum()
    assert fits.getdata(out / naming.sky_image(obsid)).sum() == len(ev.pi)
    for f in out.iterdir():
        if f.suffix in (".pha", ".lc", ".img", ".arf"):
            assert check_file(f) == [], f.name


def test_extract_without_background_and_bad_input(sim, tmp_path, capsys):
    root, obsid, _, src, _ = sim
    evt = root / "archive" / obsid / naming.archive_event(obsid)
    out = tmp_path / "nobkg"
    caldb = ["--caldb", str(root / "caldb")]
    assert main(["extract", str(evt), "--region", str(src), "--outdir", str(out), *caldb]) == 0
    assert not (out / naming.background_spectrum(obsid)).exists()
    with fits.open(out / naming.source_spectrum(obsid)) as hdul:
        assert hdul["SPECTRUM"].header["BACKFILE"] == "none"
    capsys.readouterr()
    missing = tmp_path / "nope.reg"
    assert main(["extract", str(evt), "--region", str(missing), "--outdir", str(out)]) == 2
    assert f"--region {missing} does not exist" in capsys.readouterr().err
    bad = tmp_path / "bad.reg"
    bad.write_text("fk5\nbox(1,2,3,4,0)\n")
    assert main(["extract", str(evt), "--region", str(bad), "--outdir", str(out), *caldb]) == 2
    assert "box" in capsys.readouterr().err
    nocal = ["--caldb", str(tmp_path / "no-caldb")]
    assert main(["extract", str(evt), "--region", str(src), "--outdir", str(out), *nocal]) == 2
    assert "CALDB index not found" in capsys.readouterr().err


def test_every_demo_file_passes_fits_and_ogip_checks(sim, tmp_path):
    root, obsid, _, src, bkg = sim
    archive = root / "archive" / obsid
    config = {"mode": "PC", "caldb": str(root / "caldb"), "grouping": {"type": "min", "scale": 1}}
    outdir = tmp_path / "obs"
    evt = native.pipeline(obsid, archive, outdir, None, config, tmp_path, None)
    att = archive / naming.archive_attitude(obsid)
    hk = archive / naming.archive_hk_header(obsid)
    expo = native.expomap(obsid, evt, att, hk, outdir, config, tmp_path, None)
    prods = native.products(obsid, evt, src, bkg, expo, att, hk, outdir, config, tmp_path, None)
    grp = native.group(
        obsid,
        prods["src_pha"],
        prods["bkg_pha"],
        prods["rmf"],
        outdir / naming.grouped_spectrum(obsid),
        config,
        tmp_path,
        None,
    )
    regions = ("rmf", "src_region", "bkg_region")  # the RMF is not checked; regions are text
    files = [evt, expo, grp, *(p for k, p in prods.items() if k not in regions)]
    files += sorted(archive.rglob("*.gz")) + sorted((root / "caldb").rglob("*.fits"))
    files += sorted((root / "caldb").rglob("*.arf")) + sorted((root / "caldb").rglob("*.indx"))
    assert len(files) >= 13
    problems = [p for f in files for p in check_file(f)]
    assert problems == []
    # the checker is not a rubber stamp: the event file without its grade selection fails
    with fits.open(gzip.open(archive / naming.archive_event(obsid))) as hdul:
        for key in ("DSTYP1", "DSVAL1"):
            del hdul["EVENTS"].header[key]
        hdul.writeto(tmp_path / "nogrades.evt")
    assert any("GRADE" in p for p in check_file(tmp_path / "nogrades.evt"))


@pytest.mark.skipif(not REF.is_dir(), reason="../shared/reference/heasoft-products absent")
def test_extract_reference_obsid_equals_heasoft(tmp_path):
    obsid = "00031940102"
    d = REF / obsid
    out = tmp_path / "ref"
    args = [str(d / f"sw{obsid}xpcw3po_cl.evt.gz"), "--region", str(d / "src.reg")]
    args += ["--background", str(d / "bkg.reg"), "--outdir", str(out)]
    args += ["--caldb", str(REF / "sim_caldb"), "--attitude", str(d / f"sw{obsid}pat.fits.gz")]
    assert main(["extract", *args]) == 0
    for name in ("sr.pha", "bkg.pha"):
        mine = fits.getdata(out / f"sw{obsid}xpcw3po{name}", "SPECTRUM")["COUNTS"]
        ref = fits.getdata(d / "xrtproducts" / f"sw{obsid}xpcw3po{name}", "SPECTRUM")["COUNTS"]
        assert ref.sum() > 100
        np.testing.assert_array_equal(mine, ref)
