"""Atomic writes and per-stage records: no file ever carries its final name while partial.

Every workflow output is written to a temporary name beside it and renamed into place with
``os.replace`` (atomic on one file system), so a job killed at any moment leaves either the old
complete file, no file, or a ``.<stem>.part<suffix>`` leftover that the next run overwrites.

Per-ObsID stages write a *record* (``obs/<obsid>/<stage>.json``) next to their products: ``ok``
with the products' names and SHA-256, or ``failed`` with the stage, reason and log. A stage
whose input record failed propagates that failure and writes its declared products as empty
placeholders, so that Snakemake tracks every file of every ObsID (no checkpoint per ObsID) while
nothing downstream mistakes a placeholder for data.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

log = logging.getLogger(__name__)

__all__ = [
    "StageFailure",
    "atomic_path",
    "failed_upstream",
    "read_record",
    "run_guarded",
    "staging_dir",
    "write_json",
    "write_placeholders",
    "write_table",
    "write_text",
]


class StageFailure(RuntimeError):
    """A per-ObsID stage cannot make its products; the message says why (recorded, not raised)."""


def part_path(path: str | os.PathLike) -> Path:
    """The temporary name of ``path``: hidden, same directory, same suffix (format inference)."""
    path = Path(path)
    return path.with_name(f".{path.stem}.part{path.suffix}")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path; on success rename it to ``path``, on error delete it."""
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = part_path(final)
    tmp.unlink(missing_ok=True)
    try:
        yield tmp
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if not tmp.exists():
        raise RuntimeError(f"nothing was written to {tmp} (for {final})")
    os.replace(tmp, final)


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def write_json(path: str | os.PathLike, data: Mapping, **kwargs) -> Path:
    """Write ``data`` as indented JSON atomically (keys in insertion order: deterministic)."""
    kwargs.setdefault("indent", 2)
    return write_text(path, json.dumps(data, **kwargs) + "\n")


def write_table(table, path: str | os.PathLike, format: str = "ascii.ecsv") -> Path:  # noqa: A002, ANN001
    """Write an astropy table atomically."""
    with atomic_path(path) as tmp:
        table.write(tmp, format=format, overwrite=True)
    return Path(path)


@contextlib.contextmanager
def staging_dir(outdir: str | os.PathLike, label: str) -> Iterator[Path]:
    """A fixed-name scratch directory ``outdir/.<label>.tmp`` for one job's products.

    The name is fixed per job so that a leftover from a killed run is removed by the rerun.
    """
    path = Path(outdir) / f".{label}.tmp"
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def file_sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while block := stream.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


# --- per-stage records ---------------------------------------------------------------------------
def read_record(path: str | os.PathLike) -> dict:
    """A stage record; an unreadable one counts as a failure of that stage (never as ``ok``)."""
    path = Path(path)
    try:
        record = json.loads(path.read_text())
        if record.get("status") not in ("ok", "failed"):
            raise ValueError(f"status {record.get('status')!r}")
    except (OSError, ValueError) as err:
        return {
            "status": "failed",
            "failed_at": path.stem,
            "message": f"record {path} is unreadable ({err}): delete it and rerun",
            "log": "",
        }
    return record


def failed_upstream(records: Mapping[str, str | os.PathLike]) -> dict | None:
    """The first failed record among ``records`` (stage name -> path), or ``None``."""
    for path in records.values():
        record = read_record(path)
        if record["status"] != "ok":
            return {k: record.get(k, "") for k in ("status", "failed_at", "message", "log")}
    return None


def write_placeholders(paths: Mapping[str, str | os.PathLike]) -> None:
    """Empty files at the declared product names of a failed ObsID (see module docstring)."""
    for path in paths.values():
        write_text(path, "")


def run_guarded(
    stage: str,
    obsid: str,
    upstream: Mapping[str, str | os.PathLike],
    products: Mapping[str, str | os.PathLike],
    record_out: str | os.PathLike,
    log_path: str | os.PathLike | None,
    make: Callable[[Path], Mapping[str, str | os.PathLike]],
    extra: Mapping | None = None,
) -> dict:
    """Run one per-ObsID stage so that it always writes its declared outputs.

    Parameters
    ----------
    stage : str
        Stage name (``pipeline``, ``products``, ...), recorded as ``failed_at`` on failure.
    upstream : mapping
        Records of the stages this one depends on; a failed one is propagated unchanged.
    products : mapping
        Key -> final path of every declared product.
    record_out : path
        This stage's record.
    make : callable
        ``make(scratch_dir)`` builds the products inside ``scratch_dir`` and returns key -> path
        of what it made; each is then moved to its final name.
    extra : mapping, optional
        Fields added to an ``ok`` record.

    Returns
    -------
    dict
        The record written.
    """
    failure = failed_upstream(upstream)
    record: dict
    if failure is None:
        outdir = Path(record_out).parent
        try:
            with staging_dir(outdir, stage) as scratch:
                made = make(scratch)
                missing = [k for k in products if k not in made or not Path(made[k]).is_file()]
                if missing:
                    raise StageFailure(f"the {stage} stage did not write {', '.join(missing)}")
                for key, final in products.items():
                    with atomic_path(final) as tmp:
                        shutil.move(str(made[key]), tmp)
            record = {"obsid": obsid, "stage": stage, "status": "ok", **dict(extra or {})}
            record["products"] = {
                key: {"path": str(path), "sha256": file_sha256(path)}
                for key, path in products.items()
            }
        except Exception as err:  # recorded: one bad ObsID never stops the others
            log.exception("ObsID %s: %s stage failed", obsid, stage)
            failure = {
                "status": "failed",
                "failed_at": stage,
                "message": _reason(err),
                "log": str(log_path or ""),
            }
    if failure is not None:
        write_placeholders(products)
        record = {"obsid": obsid, "stage": stage, **failure}
    write_json(record_out, record)
    return record


def _reason(err: BaseException) -> str:
    """The failure reason: the message of our own errors, with the type for anything else."""
    if isinstance(err, StageFailure) or type(err).__name__.endswith(("FileError", "StagingError")):
        return str(err)
    return f"{type(err).__name__}: {err}"
