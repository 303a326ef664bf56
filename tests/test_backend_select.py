"""Backend choice with a fake HEASoft on PATH (no HEASoft needed)."""

from __future__ import annotations

import json
import os
import stat

import pytest
import yaml

from xrtflow.backends.select import (
    REQUIRED_TASKS,
    BackendUnavailable,
    choose_backend,
    write_backend_choice,
)


@pytest.fixture
def env_with(tmp_path):
    def make(tasks=REQUIRED_TASKS, headas=True):
        bindir = tmp_path / "bin"
        bindir.mkdir(exist_ok=True)
        for t in tasks:
            exe = bindir / t
            exe.write_text("#!/bin/sh\nexit 0\n")
            exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
        env = {"PATH": f"{bindir}{os.pathsep}/usr/bin:/bin"}
        if headas:
            (tmp_path / "headas" / "syspfiles").mkdir(parents=True, exist_ok=True)
            env["HEADAS"] = str(tmp_path / "headas")
        return env

    return make


def test_native_requested():
    c = choose_backend("native")
    assert c.name == "native" and c.requested == "native"


def test_auto_without_heasoft_is_native(env_with):
    c = choose_backend("auto", env=env_with(tasks=(), headas=False), check_xspec=False)
    assert c.name == "native"
    assert "HEADAS is not set" in c.reason and "xrtpipeline" in c.reason


def test_auto_with_heasoft(env_with):
    c = choose_backend("auto", env=env_with(), check_xspec=False)
    assert c.name == "heasoft"
    assert all(c.details["tasks"][t] for t in REQUIRED_TASKS)


def test_auto_reports_missing_xspec(env_with):
    # the fake HEADAS has no PyXspec: import xspec fails in the child interpreter
    c = choose_backend("auto", env=env_with(), check_xspec=True)
    assert c.name == "heasoft"
    assert "PyXspec NOT importable" in c.reason


def test_auto_with_a_task_missing(env_with):
    c = choose_backend("auto", env=env_with(tasks=REQUIRED_TASKS[:-1]), check_xspec=False)
    assert c.name == "native" and "ftgrouppha" in c.reason


def test_heasoft_requested_without_heasoft(env_with):
    with pytest.raises(BackendUnavailable) as info:
        choose_backend("heasoft", env=env_with(tasks=("xrtpipeline",), headas=False))
    msg = str(info.value)
    assert "HEADAS is not set" in msg
    assert "xrtexpomap, xrtproducts, ftgrouppha" in msg
    assert "import xspec" in msg
    assert "headas-init.sh" in msg and "environment.yml" in msg


def test_heasoft_requested_without_xspec(env_with):
    with pytest.raises(BackendUnavailable, match="import xspec"):
        choose_backend("heasoft", env=env_with())
    assert choose_backend("heasoft", env=env_with(), check_xspec=False).name == "heasoft"


def test_unknown_backend():
    with pytest.raises(ValueError):
        choose_backend("ciao")


@pytest.mark.parametrize("suffix", [".json", ".yaml"])
def test_write_backend_choice(tmp_path, env_with, suffix):
    c = choose_backend("auto", env=env_with(), check_xspec=False)
    path = write_backend_choice(tmp_path / "res" / f"backend{suffix}", c)
    text = path.read_text()
    data = json.loads(text) if suffix == ".json" else yaml.safe_load(text)
    assert data["name"] == "heasoft" and data["reason"] == c.reason


def test_cli_backend(tmp_path, capsys, monkeypatch):
    from xrtflow.cli import main

    monkeypatch.delenv("HEADAS", raising=False)
    cfg = tmp_path / "c.yaml"
    cfg.write_text("backend: native\n")
    assert main(["backend", "--config", str(cfg)]) == 0
    assert "backend: native" in capsys.readouterr().out
    assert main(["backend", "--backend", "heasoft", "--no-xspec"]) == 1
    assert "HEADAS is not set" in capsys.readouterr().out
    assert main(["backend", "--json", "--no-xspec", "--write", str(tmp_path / "b.json")]) == 0
    assert json.loads((tmp_path / "b.json").read_text())["name"] in ("native", "heasoft")
