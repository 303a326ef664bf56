"""The real Snakemake workflow, end to end, on a tiny simulated archive in a temporary directory.

One archive and one workflow run are shared by the tests of this module (the run is the slow
part); each test then checks one property of its outputs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import astropy.units as u
import numpy as np
import pytest
import yaml
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.table import Table

from xrtflow import naming
from xrtflow.products.events import read_events
from xrtflow.products.regions import events_in_region, read_region
from xrtflow.simulate import DemoConfig, ObservationSpec, make_demo_archive

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake"]

pytestmark = pytest.mark.slow

OBSERVATIONS = (
    ObservationSpec("00031940001", day=128.0, exposure=900.0, role="early"),
    ObservationSpec("00031940002", day=142.3, exposure=1600.0, offset_arcmin=2.0),
    ObservationSpec("00031940003", day=145.1, exposure=1500.0, offset_arcmin=3.0, offset_pa_deg=90),
    ObservationSpec("00031940004", day=146.0, exposure=300.0, role="short"),
    ObservationSpec("00031940005", day=147.7, exposure=1700.0, offset_arcmin=1.5, roll_deg=30),
)
SELECTED = ["00031940002", "00031940003", "00031940005"]


def workflow_config(base: Path, **overrides) -> dict:
    config = yaml.safe_load((REPO / "config" / "demo.yaml").read_text())
    config["results"] = str(base / "results")
    config["archive"]["path"] = str(base / "sim" / "archive")
    config["archive"]["catalog"] = str(base / "sim" / "catalog.ecsv")
    config["caldb"] = str(base / "sim" / "caldb")
    config["fit"]["n_starts"] = 2
    config.update(overrides)
    return config


def run_snakemake(workdir: Path, config: dict, *extra: str) -> subprocess.CompletedProcess:
    config_path = workdir / "config.yaml"
    config_path.write_text(yaml.safe_dump(config))
    command = [
        *SNAKEMAKE,
        "--snakefile",
        str(REPO / "workflow" / "Snakefile"),
        "--directory",
        str(workdir),
        "--configfile",
        str(config_path),
        "--cores",
        "2",
        *extra,
    ]
    env = dict(os.environ, HEADAS="")  # the native backend, even where HEASoft is installed
    env.pop("HEADAS")
    return subprocess.run(command, capture_output=True, text=True, env=env, cwd=workdir)


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("workflow")
    make_demo_archive(base / "sim", DemoConfig(observations=OBSERVATIONS, seed=7))
    config = workflow_config(base)
    result = run_snakemake(base, config)
    assert result.returncode == 0, result.stderr[-4000:]
    return base, config, result


def results_dir(base: Path) -> Path:
    return base / "results" / "tpyx"


def test_selection_and_status(demo_run):
    base, _, _ = demo_run
    out = results_dir(base)
    assert (out / "catalog" / "obsids.txt").read_text().split() == SELECTED
    selection = Table.read(out / "catalog" / "selection.ecsv")
    reasons = dict(zip(selection["obsid"], selection["reason"], strict=True))
    assert reasons["00031940001"].startswith("before day")
    assert "exposure below" in reasons["00031940004"]
    status = Table.read(out / "tables" / "status.ecsv")
    assert list(status["obsid"]) == SELECTED
    assert set(status["status"]) == {"ok"}


def test_products_exist_with_xrtproducts_names(demo_run):
    base, _, _ = demo_run
    for obsid in SELECTED:
        obs = results_dir(base) / "obs" / obsid
        for name in (
            naming.cleaned_events,
            naming.exposure_map,
            naming.sky_image,
            naming.source_spectrum,
            naming.background_spectrum,
            naming.source_arf,
            naming.source_rmf,
            naming.source_lightcurve,
            naming.background_lightcurve,
            naming.grouped_spectrum,
            naming.corrected_lightcurve,
            naming.corrected_lightcurve_table,
        ):
            assert (obs / name(obsid)).is_file(), name(obsid)
    for name in ("timeline", "parameters", "images", "spectra", "spectra_single", "lightcurve"):
        path = results_dir(base) / "figures" / f"{name}.png"
        assert path.stat().st_size > 10_000, path
        assert (results_dir(base) / "figures" / f"{name}.pdf").is_file()
    assert not (results_dir(base) / "obs" / "00031940001").exists()  # never selected


def test_spectrum_headers_follow_ogip(demo_run):
    base, _, _ = demo_run
    obsid = SELECTED[0]
    obs = results_dir(base) / "obs" / obsid
    header = fits.getheader(obs / naming.grouped_spectrum(obsid), "SPECTRUM")
    assert header["HDUCLASS"] == "OGIP"
    assert header["HDUCLAS1"] == "SPECTRUM"
    assert header["CHANTYPE"] == "PI"
    assert header["DETCHANS"] == 1024
    assert header["BACKFILE"] == naming.background_spectrum(obsid)
    assert header["RESPFILE"] == naming.source_rmf(obsid)
    assert header["ANCRFILE"] == naming.source_arf(obsid)
    gti = fits.getdata(obs / naming.cleaned_events(obsid), "GTI")
    assert header["EXPOSURE"] == pytest.approx(np.sum(gti["STOP"] - gti["START"]), rel=1e-6)
    src_backscal = header["BACKSCAL"]
    bkg_backscal = fits.getval(obs / naming.background_spectrum(obsid), "BACKSCAL", "SPECTRUM")
    # Region areas: circle 180", annulus 240"-390" (pixelised, so a few percent)
    assert bkg_backscal / src_backscal == pytest.approx((390**2 - 240**2) / 180**2, rel=0.05)


def test_counts_conserved_between_events_and_spectra(demo_run):
    """Every event in a region is in its spectrum (all PI channels, as xrtproducts' spectra)."""
    base, _, _ = demo_run
    target = json.loads((results_dir(base) / "catalog" / "target.json").read_text())
    for obsid in SELECTED:
        obs = results_dir(base) / "obs" / obsid
        events = read_events(obs / naming.cleaned_events(obsid))
        # Independent check of the source circle: angular distance of each event from the target.
        world = events.wcs.pixel_to_world(events.x - 1.0, events.y - 1.0)
        separation = world.separation(SkyCoord(target["ra"] * u.deg, target["dec"] * u.deg)).arcsec
        for region, spectrum in (
            ("src.reg", naming.source_spectrum(obsid)),
            ("bkg.reg", naming.background_spectrum(obsid)),
        ):
            shape = read_region(results_dir(base) / "regions" / region)
            inside = events_in_region(shape, events.wcs, events.x, events.y)
            counts = fits.getdata(obs / spectrum, "SPECTRUM")["COUNTS"]
            assert counts.sum() == np.count_nonzero(inside), (obsid, region)
        source = fits.getdata(obs / naming.source_spectrum(obsid), "SPECTRUM")["COUNTS"].sum()
        # pixel centres vs. an exact circle differ only for pixels cut by the boundary
        assert abs(source - np.count_nonzero(separation <= 180.0)) <= 3
        grouped = fits.getdata(obs / naming.grouped_spectrum(obsid), "SPECTRUM")
        assert grouped["COUNTS"].sum() == source


def test_joint_fit_recovers_injected_parameters(demo_run):
    base, _, _ = demo_run
    truth = Table.read(base / "sim" / "truth.ecsv")
    fit = json.loads((results_dir(base) / "fit" / "joint.json").read_text())
    params = {(p["obsid"], p["component"], p["parameter"]): p for p in fit["parameters"]}
    nh = params[(SELECTED[0], "TBabs", "nH")]
    assert nh["err_lo"] <= truth["nH"][0] * 1.0 <= nh["err_hi"] or abs(
        nh["value"] - truth["nH"][0]
    ) < 2 * (nh["err_hi"] - nh["err_lo"])
    for obsid in SELECTED:
        row = truth[list(truth["obsid"]).index(obsid)]
        for (component, name), column in {
            ("bbody", "kT"): "bb_kT",
            ("bremss", "kT"): "brems_kT",
        }.items():
            p = params[(obsid, component, name)]
            width = p["err_hi"] - p["err_lo"]
            assert np.isfinite(width) and width > 0
            # within the 90% interval, allowing the interval's own width again (5 spectra x 2)
            assert p["err_lo"] - width <= row[column] <= p["err_hi"] + width, (obsid, name, p)


def test_second_run_runs_no_job(demo_run):
    base, config, _ = demo_run
    result = run_snakemake(base, config, "--dry-run")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Nothing to be done" in result.stdout + result.stderr


def test_results_table_has_joint_and_single_fits(demo_run):
    base, _, _ = demo_run
    table = Table.read(results_dir(base) / "tables" / "results.ecsv")
    assert set(table["fit"]) == {"joint", "single"}
    joint = table[table["fit"] == "joint"]
    assert set(joint["obsid"]) == set(SELECTED)
    assert np.allclose(joint["nH"], joint["nH"][0])  # tied across ObsIDs
    csv = Table.read(results_dir(base) / "tables" / "results.csv", format="ascii.csv")
    assert len(csv) == len(table)


def test_bad_obsid_is_recorded_and_the_others_go_on(tmp_path):
    """A truncated event file fails its ObsID at staging; the joint stages use the rest."""
    observations = OBSERVATIONS[1:3] + OBSERVATIONS[4:]
    make_demo_archive(
        tmp_path / "sim", DemoConfig(observations=observations, seed=3), progress=False
    )
    bad = "00031940003"
    event = tmp_path / "sim" / "archive" / bad / naming.archive_event(bad)
    event.write_bytes(event.read_bytes()[: event.stat().st_size // 2])
    config = workflow_config(tmp_path)
    config["fit"]["errors"] = False
    result = run_snakemake(tmp_path, config)
    assert result.returncode == 0, result.stderr[-4000:]
    status = Table.read(results_dir(tmp_path) / "tables" / "status.ecsv")
    rows = {row["obsid"]: row for row in status}
    assert rows[bad]["status"] == "failed"
    assert rows[bad]["failed_at"] == "stage"
    assert (
        bad in rows[bad]["message"]
        and naming.archive_event(bad).split("/")[-1] in rows[bad]["message"]
    )
    assert {o for o in rows if o != bad} == {"00031940002", "00031940005"}
    assert all(rows[o]["status"] == "ok" for o in rows if o != bad)
    joint = Table.read(results_dir(tmp_path) / "fit" / "joint.ecsv")
    assert set(joint["obsid"]) == {"00031940002", "00031940005"}
    # a failed ObsID's declared products are empty placeholders (tracked by Snakemake), not data
    assert (results_dir(tmp_path) / "obs" / bad / naming.cleaned_events(bad)).stat().st_size == 0


def test_outputs_are_deterministic(demo_run):
    """Everything again from scratch: byte-identical products, tables and figures."""
    import hashlib

    base, config, _ = demo_run

    def digests():
        out = {}
        for path in sorted(results_dir(base).rglob("*")):
            if path.is_file() and "logs" not in path.parts and "benchmarks" not in path.parts:
                out[path.relative_to(base).as_posix()] = hashlib.sha256(
                    path.read_bytes()
                ).hexdigest()
        return out

    before = digests()
    result = run_snakemake(base, config, "--forceall")
    assert result.returncode == 0, result.stderr[-3000:]
    after = digests()
    assert after.keys() == before.keys()
    changed = [name for name in before if before[name] != after[name]]
    assert not changed, changed


def test_heasoft_backend_without_heasoft_stops_before_any_job(tmp_path):
    config = workflow_config(tmp_path, backend="heasoft")
    env_result = run_snakemake(tmp_path, config, "--dry-run")
    assert env_result.returncode != 0
    message = env_result.stdout + env_result.stderr
    assert "backend 'heasoft' was requested but HEASoft is not usable" in message
    assert "HEADAS" in message
    assert not (tmp_path / "results").exists()


def test_network_config_without_network_stops_before_any_job(tmp_path):
    config = workflow_config(tmp_path)
    # what the real config needs, pointed at a port where nothing listens
    config["archive"] = {
        "source": "heasarc",
        "path": str(tmp_path / "data"),
        "url": "http://127.0.0.1:9/FTP",
        "heasarc_url": "http://127.0.0.1:9",
        "catalog": None,
    }
    result = run_snakemake(tmp_path, config, "--dry-run")
    assert result.returncode != 0
    message = result.stdout + result.stderr
    assert "this configuration needs the network" in message
    assert "127.0.0.1:9" in message
    assert not (tmp_path / "results").exists()


def test_several_targets_get_their_own_results(tmp_path):
    """Two targets in one config: each is queried and selected into its own results directory."""
    make_demo_archive(
        tmp_path / "sim", DemoConfig(observations=OBSERVATIONS, seed=5), progress=False
    )
    config = workflow_config(tmp_path)
    config["targets"]["tpyx_late"] = dict(config["targets"]["tpyx"], days_after_epoch=[146, 151])
    result = run_snakemake(tmp_path, config, "--until", "select_observations")
    assert result.returncode == 0, result.stderr[-3000:]
    early = (tmp_path / "results" / "tpyx" / "catalog" / "obsids.txt").read_text().split()
    late = (tmp_path / "results" / "tpyx_late" / "catalog" / "obsids.txt").read_text().split()
    assert early == SELECTED
    assert late == ["00031940005"]
