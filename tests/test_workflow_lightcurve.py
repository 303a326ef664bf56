"""Corrected light curves through the real Snakemake workflow, against the simulator's truth.

A small archive of two ObsIDs: one of two snapshots with a bad CCD column through the source
(``ObservationSpec.bad_column_through_source``), one clean and rolled by 30 deg. The truth is the
simulator's injected count rate in PI 30-699 for the whole PSF (``expected_rate_03_7``, with
vignetting: the light-curve correction, like ``xrtlccorr`` without vignetting, recovers it).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table
from test_workflow import results_dir, run_snakemake, workflow_config

from xrtflow import naming
from xrtflow.ogip_check import check_file
from xrtflow.simulate import DemoConfig, ObservationSpec, make_demo_archive

pytestmark = pytest.mark.slow

BAD, CLEAN = "00031940002", "00031940005"
OBSERVATIONS = (
    ObservationSpec(
        BAD, day=142.3, exposure=1800.0, offset_arcmin=2.0, n_snapshots=2,
        bad_column_through_source=True,
    ),
    ObservationSpec(CLEAN, day=147.7, exposure=1500.0, offset_arcmin=1.5, roll_deg=30),
)  # fmt: skip
#: the truth table's band first (PI 30-699), then the soft and hard bands of the hardness ratio
BANDS = [[0.3, 7.0], [0.3, 1.5], [1.5, 10.0]]


@pytest.fixture(scope="module")
def lc_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("lcflow")
    make_demo_archive(base / "sim", DemoConfig(observations=OBSERVATIONS, seed=11), progress=False)
    config = workflow_config(base)
    config["fit"].update(errors=False, n_starts=1)
    config["lightcurve"] = {"binning": "snapshot", "bands": BANDS}
    result = run_snakemake(base, config)
    assert result.returncode == 0, result.stderr[-4000:]
    return base, config


def _z(rate, lo, hi, truth):
    return np.where(rate > truth, (rate - truth) / lo, (rate - truth) / hi)


def test_per_obsid_files_are_ogip_light_curves(lc_run):
    base, _ = lc_run
    for obsid in (BAD, CLEAN):
        obs = results_dir(base) / "obs" / obsid
        lc = obs / naming.corrected_lightcurve(obsid)
        assert check_file(lc) == []
        with fits.open(lc) as hdul:
            rates = [h for h in hdul if h.name == "RATE"]
            assert [h.header["EXTVER"] for h in rates] == [1, 2, 3]
            assert [(h.header["E_MIN"], h.header["E_MAX"]) for h in rates] == [
                tuple(b) for b in BANDS
            ]
            h = rates[0].header
            assert h["HDUCLAS2"] == "NET" and h["XRTPSFCO"] and h["MJDREFI"] == 51910
            table = Table.read(obs / naming.corrected_lightcurve_table(obsid))
            # TIME is relative to TIMEZERO (OGIP), the ECSV holds MET
            np.testing.assert_allclose(rates[0].data["TIME"] + h["TIMEZERO"], table["TIME"])
            np.testing.assert_allclose(rates[1].data["RATE"], table["RATE_0.3-1.5"], rtol=1e-6)
            assert {"HR", "HR_ERR_LO", "HR_ERR_HI"} <= set(table.colnames)
        record = json.loads((obs / "lightcurve.json").read_text())
        assert record["status"] == "ok"
    status = Table.read(results_dir(base) / "tables" / "status.ecsv")
    assert list(status["lightcurve"]) == ["ok", "ok"]


def test_corrected_rates_match_the_injected_rates(lc_run):
    base, _ = lc_run
    truth = Table.read(base / "sim" / "truth.ecsv")
    injected = dict(zip(truth["obsid"], truth["expected_rate_03_7"], strict=True))
    lc = Table.read(results_dir(base) / "tables" / "lightcurve.ecsv")
    assert list(lc["obsid"]) == [BAD, BAD, CLEAN]  # two snapshots, then one
    assert lc.meta["band"] == "0.3-7 keV" and lc["net_rate"].unit == "ct / s"
    report = []
    for row in lc:
        rate, lo, hi = row["net_rate"], row["net_rate_errlo"], row["net_rate_errhi"]
        z = float(_z(rate, lo, hi, injected[row["obsid"]]))
        report.append((row["obsid"], row["bin"], injected[row["obsid"]], rate, lo, hi, z))
        assert abs(z) < 3, report[-1]
    print("obsid bin injected recovered -err +err z:", report)
    # the bad column through the source (how far through depends on each snapshot's pointing):
    # a larger correction than the 2.5% of the PSF outside 180" alone
    bad, clean = lc[lc["obsid"] == BAD], lc[lc["obsid"] == CLEAN]
    assert np.all((clean["corr"] > 1.02) & (clean["corr"] < 1.03))
    assert np.all(bad["corr"] > clean["corr"][0] + 0.02) and bad["corr"].max() > 1.1
    # without it, that snapshot's rate is biased low by the lost fraction 1 - 1/corr
    row = bad[int(np.argmax(bad["corr"]))]
    raw = row["net_rate"] / row["corr"]
    assert (injected[BAD] - raw) / (row["net_rate_errhi"] / row["corr"]) > 3
    # the hardness table (whole ObsIDs) and the bins agree with each other
    hard = Table.read(results_dir(base) / "tables" / "hardness.ecsv")
    assert list(hard["obsid"]) == [BAD, CLEAN] and hard.meta["definition"] == "H / S"
    assert np.all(np.isfinite(hard["hardness"])) and np.all(hard["hardness"] > 0)


def test_changing_the_binning_reruns_only_the_light_curves(lc_run):
    base, config = lc_run
    config = dict(config, lightcurve={"binning": "time", "binsize": 200.0, "bands": BANDS})
    result = run_snakemake(base, config, "--dry-run", "--quiet", "rules")
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout + result.stderr
    assert "lightcurve" in out and "lightcurve_table" in out
    for rule in ("products", "fit_observation", "fit_joint", "pipeline"):
        assert f"\n{rule} " not in out and f" {rule}\n" not in out, out
    result = run_snakemake(base, config)
    assert result.returncode == 0, result.stderr[-3000:]
    lc = Table.read(results_dir(base) / "tables" / "lightcurve.ecsv")
    assert lc.meta["binning"] == "time"
    assert np.allclose(lc["tstop"] - lc["tstart"], 200.0)
    # the same events: every source count of the snapshot bins is in one 200-s bin
    snap = Table.read(results_dir(base) / "obs" / CLEAN / naming.corrected_lightcurve_table(CLEAN))
    assert snap.meta["BINMODE"] == "time"
    counts = fits.getdata(
        results_dir(base) / "obs" / CLEAN / naming.source_spectrum(CLEAN), "SPECTRUM"
    )
    in_band = (counts["CHANNEL"] >= 30) & (counts["CHANNEL"] <= 699)
    assert snap["COUNTS_0.3-7"].sum() == counts["COUNTS"][in_band].sum()
