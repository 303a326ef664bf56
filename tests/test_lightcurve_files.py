"""Corrected light curves from the files of simulated ObsIDs (the demo archive's injected rates)."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.table import Table

from xrtflow.products.lightcurve_corr import combine_light_curves
from xrtflow.products.lightcurve_files import (
    corrected_light_curve_files,
    write_corrected_light_curve,
)
from xrtflow.products.regions import write_regions
from xrtflow.simulate import DemoConfig
from xrtflow.simulate.archive import make_demo_archive


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    root = tmp_path_factory.mktemp("lcarchive")
    cfg = DemoConfig(n_obs=2, include_outliers=False)
    make_demo_archive(root, cfg, progress=False)
    src, bkg = write_regions(
        SkyCoord(cfg.ra * u.deg, cfg.dec * u.deg), 180, 240, 390, root / "src.reg", root / "bkg.reg"
    )
    return root, Table.read(root / "truth.ecsv"), src, bkg


def _files(root, obsid):
    return (
        root / "archive" / obsid / "xrt" / "event" / f"sw{obsid}xpcw3po_cl.evt.gz",
        root / "archive" / obsid / "auxil" / f"sw{obsid}pat.fits.gz",
    )


def test_obsid_rates_match_injected(archive, tmp_path):
    root, truth, src, bkg = archive
    tables = []
    for row in truth:
        ev, att = _files(root, row["obsid"])
        band = (("0.3-7", 0.3, 7.0),)  # the truth table's band (PI 30-699)
        lc = corrected_light_curve_files(ev, src, bkg, att, "obsid", bands=band)
        rate, lo, hi = lc["RATE_0.3-7"][0], lc["ERR_LO_0.3-7"][0], lc["ERR_HI_0.3-7"][0]
        expected = row["expected_rate_03_7"]  # full PSF, with vignetting (as our rates)
        assert abs(rate - expected) < 3 * (lo if rate > expected else hi), (rate, expected)
        # the 180" circle holds ~97.5% of the PSF: the correction is 1/0.975
        assert 1.02 < lc["CORR"][0] < 1.03
        snap = corrected_light_curve_files(ev, src, bkg, att, "snapshot")
        assert len(snap) == row["n_snapshots"]
        tables.append(snap)
        timed = corrected_light_curve_files(ev, src, bkg, att, "time", 100.0)
        # every source-region event of the band is in exactly one time bin
        assert timed["COUNTS_0.3-10"].sum() == snap["COUNTS_0.3-10"].sum()
        assert np.all(timed["TSTOP"] - timed["TSTART"] == 100.0)
        assert np.all(np.isfinite(snap["HR"])) and np.all(snap["HR"] > 0)
    both = combine_light_curves(tables[::-1])
    assert list(both["OBSID"]) == sorted(both["OBSID"]) and np.all(np.diff(both["TIME"]) > 0)
    out = write_corrected_light_curve(both, tmp_path / "lc_corr.fits")
    with fits.open(out) as hdul:
        assert hdul["RATE"].header["HDUCLAS2"] == "NET"
        np.testing.assert_allclose(hdul["RATE"].data["RATE_0.3-10"], both["RATE_0.3-10"])


def test_region_outside_the_image_is_a_clear_error(archive, tmp_path):
    root, truth, _, bkg = archive
    far, _ = write_regions(
        SkyCoord(10 * u.deg, 10 * u.deg), 180, 240, 390, tmp_path / "far.reg", tmp_path / "x.reg"
    )
    ev, att = _files(root, truth["obsid"][0])
    with pytest.raises(ValueError, match="source.*region.*covers no sky pixel"):
        corrected_light_curve_files(ev, far, bkg, att, "obsid")
