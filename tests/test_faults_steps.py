"""Per-ObsID stage failures at the step level: a failing HEASoft task, propagation, atomicity.

The HEASoft task is a fake executable on PATH (with a fake ``HEADAS``) that fails the way
``xrtpipeline`` does; no HEASoft is needed.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from xrtflow import naming
from xrtflow.steps.files import atomic_path, read_record, run_guarded
from xrtflow.steps.processing import run_expomap, run_pipeline

OBSID = "00031940001"

FAILING_PIPELINE = """#!/bin/sh
echo "xrtpipeline_0.13.4: Error: Unable to find attitude file in the input directory" >&2
echo "xrtpipeline_0.13.4: Exit with Error."
exit 1
"""


@pytest.fixture
def fake_failing_heasoft(tmp_path, monkeypatch):
    headas = tmp_path / "headas"
    (headas / "syspfiles").mkdir(parents=True)
    bindir = tmp_path / "bin"
    bindir.mkdir()
    task = bindir / "xrtpipeline"
    task.write_text(FAILING_PIPELINE)
    task.chmod(task.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("HEADAS", str(headas))
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv("PFILES", raising=False)


def _stage_record(tmp_path: Path) -> tuple[Path, Path]:
    obs = tmp_path / "results" / "obs" / OBSID
    obs.mkdir(parents=True)
    stage = obs / "stage.json"
    archive = tmp_path / "archive" / OBSID
    archive.mkdir(parents=True)
    stage.write_text(json.dumps({"obsid": OBSID, "status": "ok", "obs_dir": str(archive)}))
    target = tmp_path / "target.json"
    target.write_text(json.dumps({"name": "T Pyx", "ra": 136.17292, "dec": -32.37986}))
    return stage, target


def test_failing_heasoft_task_is_recorded_with_stage_reason_and_log(fake_failing_heasoft, tmp_path):
    stage, target = _stage_record(tmp_path)
    obs = stage.parent
    events = obs / naming.cleaned_events(OBSID)
    log = tmp_path / "logs" / "pipeline.log"
    config = {"mode": "PC", "heasoft": {"chatter": 3, "exitstage": 2}}
    record = run_pipeline(
        "heasoft", OBSID, stage, target, config, events, obs / "pipeline.json", log
    )
    assert record["status"] == "failed" and record["failed_at"] == "pipeline"
    assert "xrtpipeline" in record["message"] and OBSID in record["message"]
    assert "Unable to find attitude file" in record["message"]
    assert record["log"] == str(log) and "Unable to find attitude file" in log.read_text()
    assert events.stat().st_size == 0  # a placeholder, never data
    assert not [p for p in obs.iterdir() if p.name.startswith(".")]  # scratch removed

    # the next stage passes the failure on, unchanged, without running anything
    expomap = obs / naming.exposure_map(OBSID)
    passed = run_expomap(
        "heasoft",
        OBSID,
        events,
        stage,
        obs / "pipeline.json",
        config,
        expomap,
        obs / "expomap.json",
        tmp_path / "logs" / "expomap.log",
    )
    assert passed["status"] == "failed" and passed["failed_at"] == "pipeline"
    assert passed["message"] == record["message"] and passed["log"] == str(log)
    assert expomap.stat().st_size == 0


def test_a_stage_that_dies_half_way_leaves_no_partial_final_file(tmp_path):
    final = tmp_path / "obs" / "product.fits"
    final.parent.mkdir()

    def make(scratch: Path) -> dict:
        (scratch / "product.fits").write_bytes(b"SIMPLE  =" + b" " * 100)  # half written
        raise OSError("disk full")

    record = run_guarded(
        "products", OBSID, {}, {"product": final}, tmp_path / "obs" / "products.json", None, make
    )
    assert record["status"] == "failed" and "disk full" in record["message"]
    assert final.read_bytes() == b""
    with pytest.raises(RuntimeError), atomic_path(final) as tmp:
        tmp.write_text("partial")
        raise RuntimeError("killed")
    assert final.read_bytes() == b"" and not list(final.parent.glob(".*"))


def test_an_unreadable_record_counts_as_failed(tmp_path):
    path = tmp_path / "pipeline.json"
    path.write_text('{"status": "o')  # truncated by hand
    record = read_record(path)
    assert record["status"] == "failed" and "unreadable" in record["message"]
