"""The HEASoft task runner, exercised with fake task executables (no HEASoft needed)."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import numpy as np
import pytest

from xrtflow.heasoft.runner import (
    HeasoftEnvironmentError,
    HeasoftTaskError,
    build_args,
    format_value,
    run_task,
    split_args,
)

RECORDER = """#!/bin/sh
# fake HEASoft task: record what it saw, then pretend to work
out="$PWD/seen.$$"
{
  echo "task=$(basename "$0")"
  echo "PFILES=$PFILES"
  echo "HEADASNOQUERY_SET=${HEADASNOQUERY+yes}"
  echo "HEADASNOQUERY=$HEADASNOQUERY"
  echo "HEADASPROMPT=$HEADASPROMPT"
  echo "STDIN=$(readlink /proc/$$/fd/0)"
  echo "ARGS=$*"
} > "$out"
userdir="${PFILES%%;*}"
ls -A "$userdir" > "$out.before"
echo "par" > "$userdir/$(basename "$0").par"
sleep 0.3
ls -A "$userdir" > "$out.after"
echo "$(basename "$0"): all done"
"""

FAILER = """#!/bin/sh
echo "fake: starting"
echo "xrtproducts_0.4.2: Error: Unable to open region file src.reg" >&2
echo "xrtproducts_0.4.2: Exit with Error."
exit {code}
"""


def _exe(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


@pytest.fixture
def fake_heasoft(tmp_path):
    """A fake HEADAS (with syspfiles/) and a bin dir put first on PATH."""
    headas = tmp_path / "headas"
    (headas / "syspfiles").mkdir(parents=True)
    bindir = tmp_path / "bin"
    bindir.mkdir()
    env = dict(os.environ)
    env["HEADAS"] = str(headas)
    env["PATH"] = f"{bindir}{os.pathsep}{env.get('PATH', '')}"
    env.pop("PFILES", None)
    return env, bindir


def _seen(workdir: Path) -> list[dict]:
    out = []
    for f in sorted(workdir.glob("seen.*")):
        if f.suffix in (".before", ".after"):
            continue
        d = dict(line.split("=", 1) for line in f.read_text().splitlines())
        d["before"] = Path(f"{f}.before").read_text().split()
        d["after"] = Path(f"{f}.after").read_text().split()
        out.append(d)
    return out


# --- value conversion ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "text"),
    [
        (True, "yes"),
        (False, "no"),
        (3, "3"),
        (np.int64(7), "7"),
        (0.1, "0.1"),
        (136.17291666666665, "136.17291666666665"),
        (np.float64(-32.379861111), "-32.379861111"),
        (1e-20, "1e-20"),
        (Path("/data/sw00031940001xpcw3po_cl.evt"), "/data/sw00031940001xpcw3po_cl.evt"),
        ("CALDB", "CALDB"),
        ("file.fits+1", "file.fits+1"),
    ],
)
def test_format_value(value, text):
    assert format_value("p", value) == text
    if isinstance(value, float):
        assert float(text) == value  # no precision lost


@pytest.mark.parametrize(
    "bad",
    ["a b", "line\nbreak", "tab\there", "x;rm -rf", "$HOME/x", "`id`", "q'uote", 'd"q', "", "=x"],
)
def test_format_value_rejects_unsafe_text(bad):
    with pytest.raises(ValueError, match="parameter p"):
        format_value("p", bad)


def test_format_value_rejects_other_types_and_nan():
    with pytest.raises(TypeError):
        format_value("p", [1, 2])
    with pytest.raises(ValueError, match="finite"):
        format_value("p", float("nan"))


def test_build_args_is_a_list_never_a_shell_string():
    args = build_args(
        "xrtproducts", {"infile": Path("/a/ev.evt"), "bkgextract": True, "pilow": 30, "x": None}
    )
    assert args == ["xrtproducts", "infile=/a/ev.evt", "bkgextract=yes", "pilow=30"]
    assert split_args(args) == {"infile": "/a/ev.evt", "bkgextract": "yes", "pilow": "30"}
    with pytest.raises(ValueError):
        build_args("xrt products", {})
    with pytest.raises(ValueError):
        build_args("task", {"bad name": 1})


# --- environment isolation -----------------------------------------------------------------------
def test_parallel_tasks_never_share_pfiles(fake_heasoft, tmp_path):
    env, bindir = fake_heasoft
    _exe(bindir / "xrtexpomap", RECORDER)
    _exe(bindir / "xrtproducts", RECORDER)
    workdir = tmp_path / "job"  # the SAME working directory for both: worst case
    log1, log2 = tmp_path / "a.log", tmp_path / "b.log"
    results, errors = {}, []

    def go(task, log):
        try:
            results[task] = run_task(
                task, {"infile": "ev.evt"}, workdir=workdir, log=log, chatter=2, env=env
            )
        except Exception as err:  # pragma: no cover - reported below
            errors.append(err)

    threads = [
        threading.Thread(target=go, args=("xrtexpomap", log1)),
        threading.Thread(target=go, args=("xrtproducts", log2)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    seen = _seen(workdir)
    assert len(seen) == 2
    pfiles = {s["PFILES"] for s in seen}
    assert len(pfiles) == 2, "the two tasks shared a PFILES value"
    for s in seen:
        user, system = s["PFILES"].split(";")
        assert Path(user).parent == workdir.resolve() / "pfiles"
        assert system == f"{env['HEADAS']}/syspfiles"
        assert s["HEADASNOQUERY_SET"] == "yes" and s["HEADASNOQUERY"] == ""
        assert s["HEADASPROMPT"] == "/dev/null"
        assert s["STDIN"] == "/dev/null"
        assert s["before"] == [], "the parameter directory was not fresh"
        assert s["after"] == [f"{s['task']}.par"], "another task wrote into this PFILES dir"
        assert "chatter=2" in s["ARGS"]
    # private parameter directories are removed after success
    assert not any(Path(r.pfiles).exists() for r in results.values())
    text = log1.read_text()
    assert "$ xrtexpomap infile=ev.evt chatter=2" in text
    assert "xrtexpomap: all done" in text


def test_caller_pfiles_is_ignored(fake_heasoft, tmp_path):
    env, bindir = fake_heasoft
    _exe(bindir / "ftgrouppha", RECORDER)
    env["PFILES"] = "/somewhere/shared;/elsewhere"
    res = run_task("ftgrouppha", {}, workdir=tmp_path / "w", log=None, env=env)
    assert res.env["PFILES"].startswith(str((tmp_path / "w").resolve() / "pfiles"))
    assert "/somewhere/shared" not in res.env["PFILES"]


# --- error reporting -----------------------------------------------------------------------------
@pytest.mark.parametrize("code", [1, 0])
def test_failure_names_task_obsid_and_message(fake_heasoft, tmp_path, code):
    env, bindir = fake_heasoft
    _exe(bindir / "xrtproducts", FAILER.format(code=code))
    log = tmp_path / "products.log"
    with pytest.raises(HeasoftTaskError) as info:
        run_task(
            "xrtproducts",
            {"infile": "ev.evt"},
            workdir=tmp_path / "w",
            log=log,
            obsid="00031940001",
            env=env,
        )
    err = info.value
    msg = str(err)
    assert "xrtproducts" in msg and "00031940001" in msg
    assert "Unable to open region file src.reg" in msg
    assert err.returncode == code
    if code == 0:
        assert "exit status 0 but the output reports an error" in msg
    assert "Unable to open region file" in log.read_text()
    assert "$ xrtproducts infile=ev.evt" in log.read_text()


def test_timeout(fake_heasoft, tmp_path):
    env, bindir = fake_heasoft
    _exe(bindir / "xrtpipeline", "#!/bin/sh\necho started\nsleep 5\n")
    with pytest.raises(HeasoftTaskError, match="timed out"):
        run_task("xrtpipeline", {}, workdir=tmp_path / "w", env=env, timeout=0.5)


def test_missing_headas_or_task(fake_heasoft, tmp_path):
    env, _ = fake_heasoft
    no_headas = {k: v for k, v in env.items() if k != "HEADAS"}
    with pytest.raises(HeasoftEnvironmentError, match="HEADAS is not set"):
        run_task("ftgrouppha", {}, workdir=tmp_path / "w", env=no_headas)
    with pytest.raises(HeasoftEnvironmentError, match="not on PATH"):
        run_task("nosuchtask", {}, workdir=tmp_path / "w", env=env)
