"""The workflow against a local HEASARC stand-in: query, download, and incremental reprocessing.

A real HTTP server on 127.0.0.1 (tests/archive_server.py) serves a simulated archive in HEASARC's
layout (with UVOT/BAT/log decoys) and answers astroquery's real TAP requests with a swiftmastr
table; the workflow runs with ``archive.source: heasarc`` pointed at it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from archive_server import ArchiveServer, build_heasarc_tree
from astropy.table import Table
from test_workflow import run_snakemake, workflow_config

from xrtflow import naming
from xrtflow.simulate import DemoConfig, ObservationSpec, make_demo_archive

pytestmark = pytest.mark.slow

OBSERVATIONS = (
    ObservationSpec("00031940001", day=128.0, exposure=800.0, role="early"),
    ObservationSpec("00031940002", day=142.3, exposure=900.0),
    ObservationSpec("00031940003", day=145.1, exposure=900.0, offset_pa_deg=90),
    ObservationSpec("00031940004", day=147.7, exposure=900.0, roll_deg=30),
    ObservationSpec("00031940005", day=148.2, exposure=900.0),
    ObservationSpec("00031940006", day=148.9, exposure=900.0, offset_pa_deg=200),
)
FIRST = ["00031940001", "00031940002", "00031940003"]
NEW = "00031940004"
PER_OBS_RULES = {
    "stage_observation",
    "pipeline",
    "expomap",
    "products",
    "group_spectrum",
    "fit_observation",
    "observation_summary",
    "lightcurve",
}
JOINT_RULES = {
    "fit_joint",
    "results_table",
    "status_table",
    "plot_timeline",
    "plot_images",
    "plot_spectra",
    "plot_spectra_single",
    "plot_parameters",
    "plot_lightcurve",
    "lightcurve_table",
    "html_table",
    "report_captions",
    "selection_summary",
    "all",
}
NEEDED = re.compile(r"/(xrt/event|xrt/hk|auxil)/[^/]+$")


def jobs_run(output: str) -> set[tuple[str, str]]:
    """(rule, obsid or '') of every job Snakemake started, read from its log output."""
    jobs = set()
    current = None
    for line in output.splitlines():
        match = re.match(r"^(?:local)?(?:rule|checkpoint) (\w+):", line.strip())
        if match:
            current = match.group(1)
            jobs.add((current, ""))
            continue
        if current and line.strip().startswith("wildcards:"):
            obsid = re.search(r"obsid=(\d{11})", line)
            if obsid:
                jobs.discard((current, ""))
                jobs.add((current, obsid.group(1)))
            current = None
    return jobs


@pytest.fixture(scope="module")
def remote(tmp_path_factory):
    base = tmp_path_factory.mktemp("remote")
    catalog = make_demo_archive(
        base / "sim", DemoConfig(observations=OBSERVATIONS, seed=11), progress=False
    )
    catalog["__row"] = [str(i + 1) for i in range(len(catalog))]  # swiftmastr's row id column
    ftp = base / "ftp"
    build_heasarc_tree(ftp, catalog, demo_archive=base / "sim" / "archive")
    served = catalog[[str(o) in FIRST for o in catalog["obsid"]]]
    with ArchiveServer(ftp, served) as server:
        config = workflow_config(base)
        config["archive"] = {
            "source": "heasarc",
            "path": str(base / "data"),
            "url": server.archive_url,
            "heasarc_url": server.url,
            "catalog": None,
        }
        config["fit"]["errors"] = False
        yield base, config, server, catalog


def test_download_fetches_only_xrt_files_and_incremental_rerun(remote):
    base, config, server, catalog = remote

    first = run_snakemake(base, config)
    assert first.returncode == 0, first.stderr[-4000:]
    ran = jobs_run(first.stdout + first.stderr)
    selected_first = {"00031940002", "00031940003"}
    assert {o for r, o in ran if r == "stage_observation"} == selected_first

    # Only xrt/event, xrt/hk and auxil files were fetched: no UVOT, BAT or log file, not even listed
    fetched = server.file_gets()
    assert fetched and all(NEEDED.search(path) for path in fetched), fetched
    assert not [r.path for r in server.requests if "/uvot" in r.path or "/bat" in r.path]
    for obsid in selected_first:
        local = sorted(
            p.relative_to(base / "data" / obsid).as_posix()
            for p in (base / "data" / obsid).rglob("*.gz")
        )
        remote_needed = sorted(
            p.relative_to(Path(server.root)).as_posix().split(f"/{obsid}/", 1)[1]
            for p in Path(server.root).rglob(f"{obsid}/*/**/*.gz")
            if NEEDED.search("/" + p.relative_to(Path(server.root)).as_posix())
        )
        assert local == remote_needed

    # A new ObsID appears in the catalogue: only its jobs and the joint ones run.
    server.catalog = catalog[[str(o) in FIRST + [NEW] for o in catalog["obsid"]]]
    server.clear_log()
    second = run_snakemake(base, config, "--forcerun", "query_catalog")
    assert second.returncode == 0, second.stderr[-4000:]
    ran = jobs_run(second.stdout + second.stderr)
    per_obs = {(r, o) for r, o in ran if o}
    assert per_obs == {(rule, NEW) for rule in PER_OBS_RULES}
    assert {r for r, o in ran if not o} == {"query_catalog", "select_observations"} | JOINT_RULES
    assert all(f"/{NEW}/" in path for path in server.file_gets())

    # The same query again: the query runs (forced), finds nothing new, and nothing else runs.
    third = run_snakemake(base, config, "--forcerun", "query_catalog")
    assert third.returncode == 0, third.stderr[-4000:]
    # ("all" is the target rule: it has no action)
    ran = {r for r, _ in jobs_run(third.stdout + third.stderr)}
    assert ran <= {"query_catalog", "select_observations", "all"}, ran

    # And without forcing anything, no job at all.
    fourth = run_snakemake(base, config)
    assert "Nothing to be done" in fourth.stdout + fourth.stderr
    status = Table.read(base / "results" / "tpyx" / "tables" / "status.ecsv")
    assert sorted(status["obsid"]) == sorted(selected_first | {NEW})


def test_failed_and_corrupted_downloads(remote):
    """A corrupted transfer is fetched again; a file the server never delivers fails its ObsID
    (reported with the URL and the ObsID) while the others, and the joint stages, go on."""
    base, config, server, catalog = remote
    start = {str(r["obsid"]): float(r["start_time"]) for r in catalog}
    broken, corrupted = "00031940005", "00031940006"
    hk_path = server.ftp_path(broken, start[broken], naming.archive_hk_header(broken))
    event_path = server.ftp_path(corrupted, start[corrupted], naming.archive_event(corrupted))
    server.faults.fail(hk_path, n=100, status=500)
    server.faults.corrupt(event_path, times=1)
    server.catalog = catalog
    server.clear_log()
    result = run_snakemake(base, config, "--forcerun", "query_catalog")
    assert result.returncode == 0, result.stderr[-4000:]

    assert [r.path for r in server.requests].count(event_path) == 2  # corrupt once, then good
    assert server.requests and sum(r.path == hk_path for r in server.requests) >= 2  # retried
    status = {
        row["obsid"]: row
        for row in Table.read(base / "results" / "tpyx" / "tables" / "status.ecsv")
    }
    assert status[corrupted]["status"] == "ok"
    assert status[broken]["status"] == "failed" and status[broken]["failed_at"] == "stage"
    assert broken in status[broken]["message"] and hk_path in status[broken]["message"]
    assert "500" in status[broken]["message"]
    assert not list((base / "data" / broken).rglob("*.part"))
    # a failed ObsID's declared products are empty placeholders (tracked by Snakemake), not data
    events = base / "results" / "tpyx" / "obs" / broken / naming.cleaned_events(broken)
    assert events.stat().st_size == 0
    joint = Table.read(base / "results" / "tpyx" / "fit" / "joint.ecsv")
    assert corrupted in set(joint["obsid"]) and broken not in set(joint["obsid"])
