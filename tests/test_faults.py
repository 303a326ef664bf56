"""Fault injection on real Snakemake runs over small simulated archives.

* SIGKILL of the whole run (Snakemake and its jobs) at several points, ``--unlock``, resume with
  ``--rerun-incomplete``: every output equals, byte for byte, that of an uninterrupted run, and
  at the moment of the kill no file with a final name is partial.
* Deleted intermediates are regenerated, with everything that depends on them.
* Bad ObsIDs (empty source region, too few counts, corrupt/truncated/missing files, no PC data)
  are recorded in ``tables/status.ecsv`` with stage, reason and log; the others complete.
* Nothing selected: one clear message, selection and status tables written.

The counts (faults injected, ObsIDs completed, files lost) are printed at the end of the module.
Config and path-safety faults are in ``test_faults_config.py``.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from astropy.io import fits
from astropy.table import Table

from xrtflow import naming
from xrtflow.simulate import DemoConfig, ObservationSpec, make_demo_archive

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake"]

pytestmark = pytest.mark.slow

GOOD = ("00031940002", "00031940003", "00031940005")
OBSERVATIONS = (
    ObservationSpec("00031940001", day=128.0, exposure=700.0, role="early"),
    ObservationSpec(GOOD[0], day=142.3, exposure=900.0, offset_arcmin=2.0),
    ObservationSpec(GOOD[1], day=145.1, exposure=900.0, offset_arcmin=3.0, offset_pa_deg=90),
    ObservationSpec(GOOD[2], day=147.7, exposure=900.0, offset_arcmin=1.5, roll_deg=30),
)
#: Bad ObsIDs of the bad-ObsID run: fault -> ObsID.
BAD = {
    "empty source region": "00031940011",
    "too few counts": "00031940012",
    "corrupt event file": "00031940013",
    "truncated hk file": "00031940014",
    "missing hk file": "00031940015",
    "no PC data": "00031940016",
}

#: Counts reported at the end (and in the closing note of issue 10).
COUNTS = {"faults injected": 0, "ObsIDs completed": 0, "files lost": 0, "kills": 0}


# --- helpers ---------------------------------------------------------------------------------------
def workflow_config(**fit) -> dict:
    """The demo config with paths relative to the run directory (runs in different
    directories must give byte-identical files)."""
    config = yaml.safe_load((REPO / "config" / "demo.yaml").read_text())
    config["results"] = "results"
    config["archive"]["path"] = "sim/archive"
    config["archive"]["catalog"] = "sim/catalog.ecsv"
    config["caldb"] = "sim/caldb"
    config["fit"].update({"n_starts": 2, "errors": False, **fit})
    return config


def command(workdir: Path, *extra: str) -> list[str]:
    return [
        *SNAKEMAKE,
        "--snakefile",
        str(REPO / "workflow" / "Snakefile"),
        "--directory",
        str(workdir),
        "--configfile",
        str(workdir / "config.yaml"),
        "--cores",
        "2",
        *extra,
    ]


def environment() -> dict:
    env = dict(os.environ)
    env.pop("HEADAS", None)  # the native backend, even where HEASoft is installed
    return env


def run(workdir: Path, *extra: str, timeout: float = 400) -> subprocess.CompletedProcess:
    return subprocess.run(
        command(workdir, *extra),
        capture_output=True,
        text=True,
        env=environment(),
        cwd=workdir,
        timeout=timeout,
    )


def make_run_dir(path: Path, archive: Path, config: dict) -> Path:
    path.mkdir(parents=True)
    shutil.copytree(archive, path / "sim", symlinks=True)
    (path / "config.yaml").write_text(yaml.safe_dump(config))
    return path


def outputs(workdir: Path) -> dict[str, str]:
    """SHA-256 of every result file (logs and benchmarks hold run times: left out)."""
    found = {}
    for path in sorted((workdir / "results").rglob("*")):
        if path.is_file() and not {"logs", "benchmarks"} & set(path.parts):
            found[path.relative_to(workdir).as_posix()] = hashlib.sha256(
                path.read_bytes()
            ).hexdigest()
    return found


def jobs_run(output: str) -> set[tuple[str, str]]:
    """(rule, obsid or '') of every job Snakemake started."""
    jobs, current = set(), None
    for line in output.splitlines():
        match = re.match(r"^(?:local)?(?:rule|checkpoint) (\w+):", line.strip())
        if match:
            current = match.group(1)
            jobs.add((current, ""))
        elif current and line.strip().startswith("wildcards:"):
            obsid = re.search(r"obsid=(\d{11})", line)
            if obsid:
                jobs.discard((current, ""))
                jobs.add((current, obsid.group(1)))
            current = None
    return jobs


FITS_SUFFIXES = (".evt", ".img", ".pha", ".arf", ".rmf", ".lc")


def partial_files(workdir: Path) -> list[str]:
    """Files with a final name that are not complete (what a killed writer would leave)."""
    from xrtflow.download import CorruptFileError, verify_file

    bad = []
    for path in (workdir / "results").rglob("*"):
        if not path.is_file() or {"logs", "benchmarks"} & set(path.parts):
            continue
        if any(part.startswith(".") for part in path.relative_to(workdir).parts):
            continue  # a temporary name (of the file or of its directory): allowed to be partial
        try:
            if path.suffix in FITS_SUFFIXES:
                verify_file(path)
                with fits.open(path, memmap=False) as hdul:
                    assert len(hdul) >= 1
            elif path.suffix == ".json":
                json.loads(path.read_text())
            elif path.suffix in (".ecsv", ".csv"):
                Table.read(path, format="ascii.ecsv" if path.suffix == ".ecsv" else "ascii.csv")
            elif path.suffix == ".png":
                data = path.read_bytes()
                assert data.startswith(b"\x89PNG") and data.endswith(b"IEND\xaeB`\x82")
        except (CorruptFileError, AssertionError, ValueError, OSError) as err:
            bad.append(f"{path.relative_to(workdir)}: {err}")
    return bad


def kill_after(workdir: Path, finished_jobs: int, *extra: str) -> int:
    """Start the workflow and SIGKILL its whole process group after ``finished_jobs`` jobs."""
    log_path = workdir / f"killed-run-{COUNTS['kills']}.log"
    with open(log_path, "w") as stream:
        process = subprocess.Popen(
            command(workdir, *extra),
            stdout=stream,
            stderr=subprocess.STDOUT,
            env=environment(),
            cwd=workdir,
            start_new_session=True,  # its own process group: the kill reaches every job
        )
        deadline = time.monotonic() + 300
        done = 0
        while time.monotonic() < deadline and process.poll() is None:
            done = log_path.read_text().count("Finished jobid")
            if done >= finished_jobs:
                break
            time.sleep(0.05)
        assert process.poll() is None, f"the run ended before {finished_jobs} jobs"
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    COUNTS["kills"] += 1
    COUNTS["faults injected"] += 1
    return done


# --- fixtures --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("faults-archive")
    make_demo_archive(base / "sim", DemoConfig(observations=OBSERVATIONS, seed=21), progress=False)
    return base / "sim"


@pytest.fixture(scope="module")
def reference(archive, tmp_path_factory):
    """An uninterrupted run: the truth every resumed run must reproduce byte for byte."""
    workdir = make_run_dir(tmp_path_factory.mktemp("faults") / "clean", archive, workflow_config())
    result = run(workdir)
    assert result.returncode == 0, result.stderr[-4000:]
    total = len(jobs_run(result.stdout + result.stderr))
    status = Table.read(workdir / "results" / "tpyx" / "tables" / "status.ecsv")
    assert list(status["obsid"]) == list(GOOD) and set(status["status"]) == {"ok"}
    return workdir, outputs(workdir), total


# --- resume after SIGKILL --------------------------------------------------------------------------
def test_sigkill_at_several_points_then_resume_gives_identical_outputs(
    reference, archive, tmp_path
):
    """Killed at about 15%, 45% and 80% of its jobs (each resume killed again), then finished:
    every file equals the uninterrupted run's."""
    _, truth, total = reference
    workdir = make_run_dir(tmp_path / "run", archive, workflow_config())
    done = 0
    for fraction in (0.15, 0.45, 0.8):
        extra = ("--rerun-incomplete",) if done else ()
        done += kill_after(workdir, max(1, int(fraction * total) - done), *extra)
        partial = partial_files(workdir)
        assert not partial, partial  # no final name ever holds a partial file
        unlock = run(workdir, "--unlock")
        assert unlock.returncode == 0, unlock.stderr[-2000:]

    resumed = run(workdir, "--rerun-incomplete")
    assert resumed.returncode == 0, resumed.stderr[-4000:]
    got = outputs(workdir)
    lost = sorted(set(truth) - set(got))
    extra_files = sorted(set(got) - set(truth))
    changed = sorted(name for name in truth if name in got and got[name] != truth[name])
    COUNTS["files lost"] += len(lost) + len(changed)
    status = Table.read(workdir / "results" / "tpyx" / "tables" / "status.ecsv")
    COUNTS["ObsIDs completed"] += int(np.sum(status["status"] == "ok"))
    assert not lost and not changed and not extra_files, (done, lost, changed, extra_files)
    # nothing temporary left behind, and a further run has nothing to do
    # (Snakemake's own marker in directory outputs is not ours)
    leftover = [p for p in (workdir / "results").rglob(".*") if p.name != ".snakemake_timestamp"]
    assert not leftover, f"temporary files left: {leftover}"
    again = run(workdir, "--dry-run")
    assert "Nothing to be done" in again.stdout + again.stderr


def test_sigkill_during_the_joint_stages(reference, archive, tmp_path):
    """Killed once, late (joint fit, tables and figures running), then resumed."""
    _, truth, total = reference
    workdir = make_run_dir(tmp_path / "run", archive, workflow_config())
    kill_after(workdir, total - 4)
    assert not partial_files(workdir)
    assert run(workdir, "--unlock").returncode == 0
    resumed = run(workdir, "--rerun-incomplete")
    assert resumed.returncode == 0, resumed.stderr[-4000:]
    got = outputs(workdir)
    lost = [n for n in truth if got.get(n) != truth[n]]
    COUNTS["files lost"] += len(lost)
    COUNTS["ObsIDs completed"] += len(GOOD)
    assert not lost and set(got) == set(truth), lost


# --- deleted intermediates -------------------------------------------------------------------------
def test_deleted_intermediates_are_regenerated(reference, archive, tmp_path):
    source, truth, _ = reference
    workdir = tmp_path / "run"
    shutil.copytree(source, workdir, symlinks=True)  # .snakemake metadata included
    first, second = GOOD[0], GOOD[1]
    obs = workdir / "results" / "tpyx" / "obs"
    deleted = [
        obs / first / naming.grouped_spectrum(first),
        obs / first / "fit.json",
        obs / first / "fit.ecsv",
        obs / second / naming.cleaned_events(second),
    ]
    for path in deleted:
        path.unlink()
    COUNTS["faults injected"] += len(deleted)
    result = run(workdir)
    assert result.returncode == 0, result.stderr[-4000:]
    ran = jobs_run(result.stdout + result.stderr)
    assert {("group_spectrum", first), ("fit_observation", first)} <= ran
    chain = {"pipeline", "expomap", "products", "group_spectrum", "fit_observation"}
    assert {(rule, second) for rule in chain} <= ran
    assert not any(o == GOOD[2] for _, o in ran)  # the untouched ObsID is not rerun
    assert {"fit_joint", "results_table", "status_table"} <= {r for r, _ in ran}
    got = outputs(workdir)
    lost = [n for n in truth if got.get(n) != truth[n]]
    COUNTS["files lost"] += len(lost)
    assert not lost and set(got) == set(truth), lost


# --- bad ObsIDs ------------------------------------------------------------------------------------
def _rewrite_events(path: Path, keep) -> None:  # noqa: ANN001 (a function of the EVENTS table)
    """Rewrite a gzipped event file keeping only the events ``keep`` selects (checksums redone)."""
    with fits.open(gzip.open(path), memmap=False) as hdul:
        hdul = fits.HDUList([hdu.copy() for hdu in hdul])
    events = hdul["EVENTS"]
    events.data = events.data[keep(events)]
    events.header["NAXIS2"] = len(events.data)
    raw = path.with_suffix("")
    hdul.writeto(raw, checksum=True, overwrite=True)
    path.write_bytes(gzip.compress(raw.read_bytes(), mtime=0))
    raw.unlink()


def _distance_from_target(events) -> np.ndarray:  # noqa: ANN001
    """Angular distance (arcsec) of each event from the source, from the sky WCS columns."""
    header = events.header
    columns = {header[f"TTYPE{i}"]: i for i in range(1, header["TFIELDS"] + 1)}
    ix, iy = columns["X"], columns["Y"]
    # the simulated source sits at RA_OBJ/DEC_OBJ; X/Y are TAN sky pixels of 2.357"
    from astropy.wcs import WCS

    wcs = WCS(naxis=2)
    wcs.wcs.ctype = [header[f"TCTYP{ix}"], header[f"TCTYP{iy}"]]
    wcs.wcs.crval = [header[f"TCRVL{ix}"], header[f"TCRVL{iy}"]]
    wcs.wcs.crpix = [header[f"TCRPX{ix}"], header[f"TCRPX{iy}"]]
    wcs.wcs.cdelt = [header[f"TCDLT{ix}"], header[f"TCDLT{iy}"]]
    from astropy.coordinates import SkyCoord

    world = wcs.pixel_to_world(events.data["X"] - 1.0, events.data["Y"] - 1.0)
    target = SkyCoord(header["RA_OBJ"], header["DEC_OBJ"], unit="deg")
    return world.separation(target).arcsec


def test_bad_obsids_are_recorded_and_the_others_complete(tmp_path):
    observations = [
        ObservationSpec(GOOD[0], day=142.3, exposure=900.0),
        ObservationSpec(GOOD[2], day=147.7, exposure=900.0, roll_deg=30),
    ] + [
        ObservationSpec(obsid, day=143.0 + i * 0.5, exposure=600.0)
        for i, obsid in enumerate(BAD.values())
    ]
    make_demo_archive(
        tmp_path / "sim", DemoConfig(observations=observations, seed=5), progress=False
    )
    root = tmp_path / "sim" / "archive"

    def event_file(obsid: str) -> Path:
        return root / obsid / naming.archive_event(obsid)

    _rewrite_events(
        event_file(BAD["empty source region"]), lambda e: _distance_from_target(e) > 400
    )
    inside = {}

    def few(events):  # noqa: ANN001, ANN202
        d = _distance_from_target(events)
        keep = d > 400
        keep[np.flatnonzero(d < 60)[:3]] = True  # three source counts: fewer than 5 parameters
        inside["n"] = int(np.sum(d[keep] < 180))
        return keep

    _rewrite_events(event_file(BAD["too few counts"]), few)
    corrupt = event_file(BAD["corrupt event file"])
    data = bytearray(corrupt.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 64] = bytes(64)  # zeroed block: gzip CRC fails
    corrupt.write_bytes(bytes(data))
    hk = root / BAD["truncated hk file"] / naming.archive_hk_header(BAD["truncated hk file"])
    hk.write_bytes(hk.read_bytes()[: hk.stat().st_size // 2])
    (root / BAD["missing hk file"] / naming.archive_hk_header(BAD["missing hk file"])).unlink()
    no_pc = event_file(BAD["no PC data"])
    no_pc.rename(no_pc.with_name(naming.archive_event(BAD["no PC data"], "WT").split("/")[-1]))
    COUNTS["faults injected"] += len(BAD)

    (tmp_path / "config.yaml").write_text(yaml.safe_dump(workflow_config()))
    result = run(tmp_path)
    assert result.returncode == 0, result.stderr[-4000:]
    status = {row["obsid"]: row for row in Table.read(tmp_path / "results/tpyx/tables/status.ecsv")}
    assert set(status) == {GOOD[0], GOOD[2], *BAD.values()}
    expected = {
        "empty source region": ("products", "no events in the source region"),
        "too few counts": ("fit", "too few counts"),
        "corrupt event file": ("stage", "damaged"),
        "truncated hk file": ("stage", "damaged"),
        "missing hk file": ("stage", "missing"),
        "no PC data": ("stage", "no PC-mode data"),
    }
    for fault, (stage, reason) in expected.items():
        row = status[BAD[fault]]
        assert row["status"] == "failed", (fault, row)
        assert row["failed_at"] == stage, (fault, row["failed_at"], row["message"])
        assert reason in row["message"] and BAD[fault] in row["message"], (fault, row["message"])
        log = tmp_path / row["log"]
        assert log.is_file() and log.stat().st_size > 0, (fault, row["log"])
    completed = [o for o, row in status.items() if row["status"] == "ok"]
    assert sorted(completed) == [GOOD[0], GOOD[2]]
    COUNTS["ObsIDs completed"] += len(completed)
    joint = Table.read(tmp_path / "results/tpyx/fit/joint.ecsv")
    assert set(joint["obsid"]) == {GOOD[0], GOOD[2]}
    results = Table.read(tmp_path / "results/tpyx/tables/results.ecsv")
    assert set(results["obsid"]) == {GOOD[0], GOOD[2]}
    # the end-of-run summary names every failed ObsID with its reason
    text = result.stdout + result.stderr
    assert "2 of 8 selected ObsIDs processed and fitted" in text
    for fault, obsid in BAD.items():
        assert re.search(rf"ObsID {obsid} failed at {expected[fault][0]}: ", text), fault
    # a failed ObsID's declared products are empty placeholders, never data
    bad = BAD["corrupt event file"]
    assert (tmp_path / "results/tpyx/obs" / bad / naming.cleaned_events(bad)).stat().st_size == 0
    assert "Nothing to be done" in run(tmp_path, "--dry-run").stdout


# --- nothing to fit --------------------------------------------------------------------------------
def test_nothing_selected_says_so_and_writes_the_tables(archive, tmp_path):
    config = workflow_config()
    config["targets"]["tpyx"]["min_exposure"] = 1e9
    workdir = make_run_dir(tmp_path / "run", archive, config)
    COUNTS["faults injected"] += 1
    result = run(workdir)
    assert result.returncode == 0, result.stderr[-4000:]
    text = result.stdout + result.stderr
    assert "Traceback" not in text
    assert text.count("nothing to fit: no ObsID passed the selection") == 1
    out = workdir / "results" / "tpyx"
    selection = Table.read(out / "catalog" / "selection.ecsv")
    assert len(selection) == len(OBSERVATIONS) and not any(selection["selected"])
    assert all("exposure below" in r or "before day" in r for r in selection["reason"])
    assert len(Table.read(out / "tables" / "status.ecsv")) == 0
    assert not (out / "obs").exists()
    assert not {o for _, o in jobs_run(text) if o}  # no per-ObsID job at all


def test_zz_report_counts(capsys):
    """Print the counts of this module (they go into the closing note of issue 10)."""
    with capsys.disabled():
        print("\nfault-injection counts:", json.dumps(COUNTS))
    assert COUNTS["files lost"] == 0
