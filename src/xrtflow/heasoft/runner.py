"""Run one HEASoft task safely: argument list, private parameter files, logged output.

Every call of a HEASoft task in xrtflow goes through :func:`run_task`. It

* builds an argument list ``[task, "name=value", ...]`` -- never a shell string;
* runs the task in the job's own working directory with ``stdin`` closed (``/dev/null``);
* gives each call its own, freshly created parameter-file directory, so that jobs running in
  parallel never read or write each other's ``.par`` files
  (``PFILES="<workdir>/pfiles/<task>.<random>;$HEADAS/syspfiles"``);
* sets ``HEADASNOQUERY`` (empty) and ``HEADASPROMPT=/dev/null`` so no task can stop on a prompt;
* appends the command line and the task output to the rule's log file;
* raises :class:`HeasoftTaskError` (task, ObsID, last lines of output) on a non-zero exit status
  *and* on the error markers that some HEASoft tasks print while still exiting with status 0.

Notes on parameter values
-------------------------
PIL (the HEASoft Parameter Interface Library) takes ``name=value`` words from the command line
(https://heasarc.gsfc.nasa.gov/lheasoft/headas/pil/node22.html); spaces are allowed *around* the
``=`` separator, which means a word made only of ``=`` or starting with ``=`` is joined with its
neighbours. Within one argument a value may contain spaces, but the Swift XRT tasks are Perl
scripts that rebuild shell command strings for the sub-tasks they call (``xrtproducts`` runs
``xselect``, ``xrtlccorr``, ... through ``system("... $par=$value ...")``). A value with a space or a
shell metacharacter would be split or interpreted there. :func:`format_value` therefore rejects
such values with a clear error instead of quoting them: xrtflow passes file names, numbers and
keywords only, and paths containing spaces must be moved/linked to a path without them.
"""

from __future__ import annotations

import math
import numbers
import os
import re
import shlex
import shutil
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "ERROR_MARKERS",
    "HeasoftEnvironmentError",
    "HeasoftTaskError",
    "TaskResult",
    "build_args",
    "format_value",
    "run_task",
    "task_environment",
]

#: Characters refused in parameter values: whitespace/control characters and characters that a
#: shell (used internally by the Perl XRT tasks) would interpret.
_FORBIDDEN = re.compile(r"[\s\x00-\x1f\x7f;&|<>$`'\"\\(){}*?!#~]")

#: Parameter names are identifiers (PIL names: letters, digits, underscore).
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

#: Output lines that mean failure even when the exit status is 0.
#:
#: * ``<task>_<version>: Exit with Error.`` -- closing line of the Swift/XRT Perl tasks
#:   (``xrtpipeline``, ``xrtproducts``, ``xrtexpomap``); success ends with ``Exit with success.``
#: * ``<task>: Error: ...`` -- the messages those tasks print through ``PrntChty``;
#: * ``Task <name> <version> terminating with status <n>`` -- HEAdas C tasks (``ftgrouppha``).
ERROR_MARKERS: tuple[re.Pattern[str], ...] = (
    re.compile(r"Exit with Error", re.IGNORECASE),
    re.compile(r"^\s*[\w.\-]+:\s+Error:", re.MULTILINE),
    re.compile(r"terminating with status\s+-?[1-9]\d*", re.IGNORECASE),
)

#: Number of trailing output lines quoted in :class:`HeasoftTaskError`.
TAIL_LINES = 20


class HeasoftEnvironmentError(RuntimeError):
    """HEASoft is not set up (``HEADAS`` unset, ``syspfiles`` missing or task not on PATH)."""


class HeasoftTaskError(RuntimeError):
    """A HEASoft task failed.

    Attributes
    ----------
    task : str
        Task name.
    obsid : str or None
        Swift observation ID the task worked on.
    returncode : int or None
        Exit status (``None`` after a timeout).
    tail : str
        Last :data:`TAIL_LINES` lines of the task output.
    log : Path or None
        Log file holding the complete output.
    """

    def __init__(
        self,
        task: str,
        obsid: str | None,
        returncode: int | None,
        tail: str,
        *,
        reason: str,
        log: Path | None = None,
    ) -> None:
        self.task = task
        self.obsid = obsid
        self.returncode = returncode
        self.tail = tail
        self.log = log
        where = f" for ObsID {obsid}" if obsid else ""
        logmsg = f"\nfull output: {log}" if log is not None else ""
        super().__init__(
            f"HEASoft task {task!r} failed{where}: {reason}.\n"
            f"--- last {TAIL_LINES} lines of {task} output ---\n{tail}{logmsg}"
        )


@dataclass(frozen=True)
class TaskResult:
    """Outcome of one successful task run.

    Attributes
    ----------
    task : str
        Task name.
    args : list of str
        The exact argument list that was executed.
    returncode : int
        Exit status (0).
    output : str
        Combined stdout and stderr.
    workdir : Path
        Working directory of the run.
    pfiles : Path
        The private parameter-file directory that was used (removed after success).
    elapsed : float
        Wall-clock seconds.
    """

    task: str
    args: list[str]
    returncode: int
    output: str
    workdir: Path
    pfiles: Path
    elapsed: float = 0.0
    env: Mapping[str, str] = field(default_factory=dict, repr=False)


def format_value(name: str, value: object) -> str:
    """Convert one parameter value to the text HEASoft expects.

    Parameters
    ----------
    name : str
        Parameter name (used in error messages).
    value : object
        ``bool`` -> ``yes``/``no``; ``int`` -> decimal; ``float`` -> shortest text that reads back
        to the same float (``repr``); ``os.PathLike`` -> its path; ``str`` unchanged.

    Returns
    -------
    str

    Raises
    ------
    ValueError
        Empty text, non-finite numbers, or characters that PIL or the shell inside the Perl
        XRT tasks would split or interpret (whitespace, newlines, quotes, ``;|&$`` ...).
    TypeError
        Any other type.
    """
    if isinstance(value, bool):  # before numbers: bool is an int
        return "yes" if value else "no"
    if isinstance(value, numbers.Integral):
        text = str(int(value))
    elif isinstance(value, numbers.Real):
        fvalue = float(value)
        if not math.isfinite(fvalue):
            raise ValueError(f"parameter {name}: {value!r} is not a finite number")
        text = repr(fvalue)
    elif isinstance(value, os.PathLike):
        text = os.fspath(value)
        if isinstance(text, bytes):
            text = os.fsdecode(text)
    elif isinstance(value, str):
        text = value
    else:
        raise TypeError(
            f"parameter {name}: cannot pass a {type(value).__name__} to a HEASoft task "
            "(use bool, int, float, str or a path)"
        )
    if text == "":
        raise ValueError(f"parameter {name}: empty value (leave it out to use the task default)")
    bad = _FORBIDDEN.search(text)
    if bad:
        raise ValueError(
            f"parameter {name}={text!r}: character {bad.group()!r} is not allowed in a HEASoft "
            "parameter value (whitespace, newlines, quotes and shell metacharacters break PIL "
            "parsing or the shell commands the Perl XRT tasks build; use a path without them)"
        )
    if text.startswith("="):
        raise ValueError(f"parameter {name}={text!r}: a value must not start with '='")
    return text


def build_args(task: str, params: Mapping[str, object]) -> list[str]:
    """Return ``[task, "name=value", ...]`` in the order of ``params``; ``None`` values are left out.

    Parameters
    ----------
    task : str
        Executable name of the task.
    params : Mapping
        Parameter names and values (see :func:`format_value`).

    Returns
    -------
    list of str
    """
    if not _NAME.match(task):
        raise ValueError(f"{task!r} is not a HEASoft task name")
    args = [task]
    for name, value in params.items():
        if not _NAME.match(str(name)):
            raise ValueError(f"{name!r} is not a parameter name")
        if value is None:
            continue
        args.append(f"{name}={format_value(name, value)}")
    return args


def task_environment(pfiles_dir: Path, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment for one task run with a private ``PFILES`` and no prompting.

    Parameters
    ----------
    pfiles_dir : Path
        The run's own (writable) parameter-file directory.
    env : Mapping, optional
        Base environment (default: ``os.environ``); must contain ``HEADAS``.

    Returns
    -------
    dict
    """
    base = dict(os.environ if env is None else env)
    headas = base.get("HEADAS")
    if not headas:
        raise HeasoftEnvironmentError(
            "HEADAS is not set: HEASoft is not initialised in this shell. Run "
            "'source $HEADAS/headas-init.sh' (or activate the conda environment from "
            "environment.yml) before using the heasoft backend."
        )
    syspfiles = Path(headas) / "syspfiles"
    if not syspfiles.is_dir():
        raise HeasoftEnvironmentError(
            f"{syspfiles} does not exist: HEADAS={headas} is not a HEASoft installation"
        )
    # ';' separates the user (writable) part from the system (read-only) part of PFILES.
    base["PFILES"] = f"{pfiles_dir};{syspfiles}"
    base["HEADASNOQUERY"] = ""
    base["HEADASPROMPT"] = "/dev/null"
    return base


def _tail(text: str, n: int = TAIL_LINES) -> str:
    lines = text.rstrip("\n").splitlines()
    return "\n".join(lines[-n:]) if lines else "(no output)"


def _error_marker(text: str) -> str | None:
    for pattern in ERROR_MARKERS:
        match = pattern.search(text)
        if match:
            line_start = text.rfind("\n", 0, match.start()) + 1
            line_end = text.find("\n", match.end())
            return text[line_start : None if line_end < 0 else line_end].strip()
    return None


def _write_log(log: Path | None, text: str) -> None:
    if log is None:
        return
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a", encoding="utf-8") as fh:
        fh.write(text)


def run_task(
    task: str,
    params: Mapping[str, object],
    *,
    workdir: Path,
    log: Path | None = None,
    chatter: int | None = None,
    obsid: str | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
    keep_pfiles: bool = False,
) -> TaskResult:
    """Run a HEASoft task with isolated parameter files and raise on any failure.

    Parameters
    ----------
    task : str
        Task name, found on ``PATH`` of ``env``.
    params : Mapping
        ``name -> value``; converted by :func:`format_value`, ``None`` values are left out.
    workdir : Path
        The job's own working directory (created if needed); the task runs there.
    log : Path, optional
        Log file; the command line and the task output are *appended*.
    chatter : int, optional
        Sets the ``chatter`` parameter unless ``params`` already has it.
    obsid : str, optional
        Quoted in error messages.
    env : Mapping, optional
        Base environment (default ``os.environ``); must define ``HEADAS``.
    timeout : float, optional
        Seconds before the task is killed (then :class:`HeasoftTaskError`).
    keep_pfiles : bool
        Keep the private parameter directory after a successful run (it is always kept after a
        failure, for debugging).

    Returns
    -------
    TaskResult

    Raises
    ------
    HeasoftEnvironmentError
        HEASoft is not set up or the task is not on ``PATH``.
    HeasoftTaskError
        Non-zero exit status, timeout, or an error marker in the output.
    """
    params = dict(params)
    if chatter is not None and "chatter" not in params:
        params["chatter"] = int(chatter)
    args = build_args(task, params)

    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    pfiles_root = workdir / "pfiles"
    pfiles_root.mkdir(exist_ok=True)
    # A fresh, unique directory per call: parallel calls never share parameter files.
    pfiles_dir = Path(tempfile.mkdtemp(prefix=f"{task}.", dir=pfiles_root))
    run_env = task_environment(pfiles_dir, env)

    executable = shutil.which(task, path=run_env.get("PATH"))
    if executable is None:
        shutil.rmtree(pfiles_dir, ignore_errors=True)
        raise HeasoftEnvironmentError(
            f"HEASoft task {task!r} is not on PATH (HEADAS={run_env['HEADAS']}); "
            "run 'source $HEADAS/headas-init.sh' or install the HEASoft conda package"
        )

    header = (
        f"\n# ---- {time.strftime('%Y-%m-%d %H:%M:%S')} {task}"
        f"{' ObsID ' + obsid if obsid else ''}\n"
        f"# cwd: {workdir}\n# PFILES={run_env['PFILES']}\n"
        f"$ {shlex.join(args)}\n"
    )
    _write_log(log, header)

    start = time.monotonic()
    try:
        proc = subprocess.run(
            args,
            cwd=workdir,
            env=run_env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as err:
        out = err.output or ""
        if isinstance(out, bytes):
            out = out.decode(errors="replace")
        _write_log(log, out + f"\n# {task}: killed after {timeout} s\n")
        raise HeasoftTaskError(
            task, obsid, None, _tail(out), reason=f"timed out after {timeout} s", log=log
        ) from None
    elapsed = time.monotonic() - start
    output = proc.stdout or ""
    _write_log(log, output + f"\n# {task}: exit status {proc.returncode} after {elapsed:.1f} s\n")

    if proc.returncode != 0:
        raise HeasoftTaskError(
            task,
            obsid,
            proc.returncode,
            _tail(output),
            reason=f"exit status {proc.returncode}",
            log=log,
        )
    marker = _error_marker(output)
    if marker is not None:
        raise HeasoftTaskError(
            task,
            obsid,
            proc.returncode,
            _tail(output),
            reason=f"exit status 0 but the output reports an error ({marker!r})",
            log=log,
        )
    if not keep_pfiles:
        shutil.rmtree(pfiles_dir, ignore_errors=True)
    return TaskResult(
        task=task,
        args=args,
        returncode=proc.returncode,
        output=output,
        workdir=workdir,
        pfiles=pfiles_dir,
        elapsed=elapsed,
        env={k: run_env[k] for k in ("PFILES", "HEADASNOQUERY", "HEADASPROMPT")},
    )


def split_args(args: Sequence[str]) -> dict[str, str]:
    """Inverse of :func:`build_args` for tests and logs: ``["t", "a=1"] -> {"a": "1"}``."""
    return dict(a.split("=", 1) for a in args[1:])
