"""The demo workflow through a real SLURM cluster gives the same files as a local run.

Needs a running cluster: ``tests/slurm/install.sh && tests/slurm/start_cluster.sh`` (as root; a
one-node cluster on 127.0.0.1, see tests/slurm/README.md) and the executor plugin
(``pip install -e '.[slurm]'``); ``make slurm-test`` does all of it. Skipped unless ``sinfo``
answers or ``XRTFLOW_SLURM=1`` is set (then a missing cluster is a failure, not a skip).

The same simulated archive is processed twice, each run in its own working directory with the
same relative results directory: once locally (``--cores 2``) and once with
``--workflow-profile workflow/profiles/slurm`` (every job an ``sbatch`` job, per-ObsID rules in
group jobs). Every result file -- catalog, per-ObsID products, fits, tables -- must be identical
byte for byte; only logs, benchmarks and figures (PNG metadata) are left out.
"""

from __future__ import annotations

import filecmp
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from xrtflow.simulate import DemoConfig, ObservationSpec, make_demo_archive

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "workflow" / "Snakefile")]

pytestmark = pytest.mark.slow

#: Three selected ObsIDs and one the selection drops: enough for the group jobs and the joint fit.
OBSERVATIONS = (
    ObservationSpec("00031940001", day=142.3, exposure=1600.0, offset_arcmin=2.0),
    ObservationSpec("00031940002", day=145.1, exposure=1500.0, offset_arcmin=3.0, offset_pa_deg=90),
    ObservationSpec("00031940003", day=146.0, exposure=300.0, role="short"),
    ObservationSpec("00031940004", day=147.7, exposure=1700.0, offset_arcmin=1.5, roll_deg=30),
)
#: Directories of the results that are not results: timings, logs, and PNGs (their metadata).
NOT_COMPARED = ("logs", "benchmarks", "figures")


def cluster_up() -> bool:
    if shutil.which("sinfo") is None:
        return False
    result = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True)
    return result.returncode == 0 and any(
        state.startswith(("idle", "mixed", "allocated")) for state in result.stdout.split()
    )


def plugin_installed() -> bool:
    try:
        import snakemake_executor_plugin_slurm  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.fixture(scope="module")
def slurm_ready() -> None:
    required = os.environ.get("XRTFLOW_SLURM") == "1"
    problems = []
    if not cluster_up():
        problems.append("no SLURM cluster answers sinfo (tests/slurm/start_cluster.sh)")
    if not plugin_installed():
        problems.append("snakemake-executor-plugin-slurm missing (pip install -e '.[slurm]')")
    if problems:
        if required:
            pytest.fail("XRTFLOW_SLURM=1 but " + "; ".join(problems))
        pytest.skip("; ".join(problems))


def write_config(workdir: Path, sim: Path) -> Path:
    config = yaml.safe_load((REPO / "config" / "demo.yaml").read_text())
    config["results"] = "results"  # relative: both runs write the same paths into their JSON
    config["archive"].update(path=str(sim / "archive"), catalog=str(sim / "catalog.ecsv"))
    config["caldb"] = str(sim / "caldb")
    config["fit"]["n_starts"] = 2
    workdir.mkdir(parents=True)
    path = workdir / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def run(workdir: Path, *args: str) -> tuple[subprocess.CompletedProcess, float]:
    env = dict(os.environ)
    env.pop("HEADAS", None)  # the native backend, even where HEASoft is installed
    command = [*SNAKEMAKE, "--directory", str(workdir), "--configfile", "config.yaml", *args]
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=workdir)
    return result, time.perf_counter() - start


def result_files(root: Path) -> list[Path]:
    files = []
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        # logs, benchmarks and figures anywhere in the tree (results/logs/ holds the joint rules')
        if path.is_file() and not set(relative.parts[:-1]) & set(NOT_COMPARED):
            files.append(relative)
    return files


@pytest.fixture(scope="module")
def two_runs(slurm_ready, tmp_path_factory):
    base = tmp_path_factory.mktemp("slurm")
    sim = base / "sim"
    make_demo_archive(sim, DemoConfig(observations=OBSERVATIONS, seed=11), progress=False)
    local_dir, slurm_dir = base / "local", base / "slurm"
    write_config(local_dir, sim)
    write_config(slurm_dir, sim)
    local, local_s = run(local_dir, "--cores", "2")
    assert local.returncode == 0, local.stderr[-3000:]
    slurm, slurm_s = run(
        slurm_dir,
        "--workflow-profile",
        str(REPO / "workflow" / "profiles" / "slurm"),
        # the test cluster: no accounts, no accounting database (squeue, see tests/slurm/README.md)
        "--slurm-no-account",
        "--slurm-status-command",
        "squeue",
        "--slurm-init-seconds-before-status-checks",
        "2",
        "--latency-wait",
        "5",
    )
    assert slurm.returncode == 0, slurm.stderr[-5000:]
    print(f"local run {local_s:.0f} s, SLURM run {slurm_s:.0f} s")
    return local_dir / "results", slurm_dir / "results", slurm


def test_jobs_went_through_slurm(two_runs):
    _, slurm_results, slurm = two_runs
    log = slurm.stdout + slurm.stderr
    assert "submitted with SLURM jobid" in log
    # each ObsID's whole chain ran as one group job per selected ObsID (the
    # plugin deletes the logs of successful jobs, so the submission lines are the evidence)
    n_selected = len((slurm_results / "tpyx" / "catalog" / "obsids.txt").read_text().split())
    assert n_selected == 3
    # the plugin shortens long group names ("group_obs_expomap_..._pipeline_..."), so count the
    # group jobs and check that no per-ObsID rule was submitted as a job of its own
    jobs = set(re.findall(r"slurm_logs/group_obs_[^/]*/(\d+)\.log", log))
    assert len(jobs) == n_selected, jobs
    chain = ("stage_observation", "pipeline", "expomap", "products", "group_spectrum",
             "fit_observation", "observation_summary")  # fmt: skip
    alone = re.findall(rf"slurm_logs/rule_({'|'.join(chain)})/", log)
    assert not alone, alone


def test_slurm_results_equal_local_results_byte_for_byte(two_runs):
    local_results, slurm_results, _ = two_runs
    local_files, slurm_files = result_files(local_results), result_files(slurm_results)
    assert local_files == slurm_files
    names = {path.name for path in local_files}
    # the comparison covers what the workflow is for: products, fits and tables
    for expected in ("results.ecsv", "status.ecsv", "joint.json", "fit.json", "summary.json"):
        assert expected in names, expected
    assert any(name.endswith("sr_grp.pha") for name in names)
    assert any(name.endswith("xpcw3posr.arf") for name in names)
    assert len(local_files) > 40
    differ = [
        str(path)
        for path in local_files
        if not filecmp.cmp(local_results / path, slurm_results / path, shallow=False)
    ]
    assert not differ, differ
