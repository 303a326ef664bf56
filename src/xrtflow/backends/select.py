"""Choice of the processing backend: ``native`` (pure Python) or ``heasoft`` (HEASoft + PyXspec)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

__all__ = [
    "BACKENDS",
    "REQUIRED_TASKS",
    "BackendChoice",
    "BackendUnavailable",
    "choose_backend",
    "heasoft_status",
    "write_backend_choice",
]

BACKENDS = ("auto", "native", "heasoft")

#: HEASoft tasks the heasoft backend runs.
REQUIRED_TASKS = ("xrtpipeline", "xrtexpomap", "xrtproducts", "ftgrouppha")

_FIX = (
    "To use the heasoft backend, initialise HEASoft in the shell that runs xrtflow "
    "('export HEADAS=/path/to/heasoft/<platform>; source $HEADAS/headas-init.sh') or create and "
    "activate the conda environment from environment.yml (HEASARC conda channel); see "
    "docs/heasoft.md. Otherwise use 'backend: native' or 'backend: auto'."
)


class BackendUnavailable(RuntimeError):
    """The requested backend cannot run here; the message says what is missing and how to fix it."""


@dataclass(frozen=True)
class BackendChoice:
    """The backend that will run, and why.

    Attributes
    ----------
    name : str
        ``native`` or ``heasoft``.
    reason : str
        One-line explanation.
    requested : str
        What was asked for (``auto``, ``native``, ``heasoft``).
    details : dict
        HEASoft probe: ``headas``, ``tasks`` (name -> path or None), ``xspec`` (bool),
        ``xspec_error``.
    """

    name: str
    reason: str
    requested: str = "auto"
    details: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def _probe_xspec(env: Mapping[str, str]) -> tuple[bool, str | None]:
    """Whether ``import xspec`` works, tried in a child interpreter (it may crash or print)."""
    try:
        proc = subprocess.run(
            [sys.executable, "-c", "import xspec"],
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            timeout=120,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        return False, str(err)
    if proc.returncode == 0:
        return True, None
    last = (proc.stdout or "").strip().splitlines()
    return False, last[-1] if last else f"exit status {proc.returncode}"


def heasoft_status(env: Mapping[str, str] | None = None, *, check_xspec: bool = True) -> dict:
    """Probe the HEASoft installation visible in ``env`` (default ``os.environ``).

    Returns
    -------
    dict
        ``headas`` (str or None), ``tasks`` (task -> path or None), ``missing_tasks`` (list),
        ``xspec`` (bool or None when not checked), ``xspec_error`` (str or None).
    """
    env = dict(os.environ if env is None else env)
    headas = env.get("HEADAS") or None
    tasks = {t: shutil.which(t, path=env.get("PATH", "")) for t in REQUIRED_TASKS}
    status = {
        "headas": headas,
        "tasks": tasks,
        "missing_tasks": [t for t, p in tasks.items() if p is None],
        "xspec": None,
        "xspec_error": None,
    }
    if check_xspec:
        if headas is None:
            status["xspec"], status["xspec_error"] = False, "HEADAS is not set"
        else:
            status["xspec"], status["xspec_error"] = _probe_xspec(env)
    return status


def _problems(status: dict, need_xspec: bool) -> list[str]:
    problems = []
    if status["headas"] is None:
        problems.append("HEADAS is not set (HEASoft is not initialised)")
    if status["missing_tasks"]:
        problems.append("not on PATH: " + ", ".join(status["missing_tasks"]))
    if need_xspec and status["xspec"] is False:
        problems.append(f"PyXspec 'import xspec' fails ({status['xspec_error']})")
    return problems


def choose_backend(
    requested: str = "auto",
    *,
    env: Mapping[str, str] | None = None,
    check_xspec: bool = True,
) -> BackendChoice:
    """Choose the backend.

    Parameters
    ----------
    requested : {"auto", "native", "heasoft"}
        ``auto`` picks ``heasoft`` when ``HEADAS`` is set and all of :data:`REQUIRED_TASKS` are on
        ``PATH`` (PyXspec availability is reported), else ``native``.
    env : Mapping, optional
        Environment to probe (default ``os.environ``).
    check_xspec : bool
        Try ``import xspec`` (in a child process).

    Returns
    -------
    BackendChoice

    Raises
    ------
    BackendUnavailable
        ``heasoft`` was requested but HEADAS, a task or PyXspec is missing.
    ValueError
        Unknown ``requested``.
    """
    requested = str(requested or "auto").lower()
    if requested not in BACKENDS:
        raise ValueError(f"backend {requested!r} is not one of {BACKENDS}")
    if requested == "native":
        return BackendChoice("native", "requested in the configuration", requested)

    status = heasoft_status(env, check_xspec=check_xspec)
    if requested == "heasoft":
        problems = _problems(status, need_xspec=check_xspec)
        if problems:
            raise BackendUnavailable(
                "backend 'heasoft' was requested but HEASoft is not usable: "
                + "; ".join(problems)
                + ". "
                + _FIX
            )
        return BackendChoice(
            "heasoft",
            f"requested; HEADAS={status['headas']}, tasks on PATH, PyXspec importable",
            requested,
            status,
        )

    problems = _problems(status, need_xspec=False)
    if problems:
        return BackendChoice(
            "native", "auto: HEASoft not usable (" + "; ".join(problems) + ")", requested, status
        )
    if status["xspec"] is False:
        xs = f"PyXspec NOT importable ({status['xspec_error']}): fits use the native fitter"
    elif status["xspec"] is None:
        xs = "PyXspec not checked"
    else:
        xs = "PyXspec importable"
    return BackendChoice(
        "heasoft", f"auto: HEADAS={status['headas']} and all tasks on PATH; {xs}", requested, status
    )


def write_backend_choice(path: str | os.PathLike, choice: BackendChoice) -> Path:
    """Write ``choice`` as JSON (``.json``) or YAML (``.yaml``/``.yml``) and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = choice.to_dict()
    if path.suffix.lower() in (".yaml", ".yml"):
        import yaml

        text = yaml.safe_dump(data, sort_keys=False)
    else:
        text = json.dumps(data, indent=2) + "\n"
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path
