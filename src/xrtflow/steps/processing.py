"""Steps: per-ObsID processing through the chosen backend (``native`` or ``heasoft``)."""

from __future__ import annotations

import importlib
import json
import logging
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger(__name__)


def backend_module(name: str):  # noqa: ANN201 (a module)
    """The stage functions of backend ``name`` (``xrtflow.backends.<name>``)."""
    if name not in ("native", "heasoft"):
        raise ValueError(f"unknown backend {name!r} (native or heasoft)")
    return importlib.import_module(f"xrtflow.backends.{name}")


@contextmanager
def job_workdir(outdir: Path, label: str):
    """A private scratch directory per job (parallel jobs never share parameter files)."""
    outdir.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix=f".{label}-", dir=outdir))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def run_pipeline(
    backend: str,
    obsid: str,
    stage_json: str | Path,
    target_json: str | Path,
    config: dict,
    output: str | Path,
    log_path: str | Path | None,
) -> dict:
    """Cleaned events for one ObsID; failures are recorded in ``pipeline.json``, not raised."""
    stage = json.loads(Path(stage_json).read_text())
    output = Path(output)
    info: dict = {"obsid": obsid, "backend": backend, "status": "failed", "message": ""}
    if stage["status"] != "ok":
        info["message"] = f"not staged: {stage['message']}"
    else:
        from .catalog import read_target  # astropy.coordinates: only the pipeline stage

        _, target = read_target(target_json)
        try:
            with job_workdir(output.parent, "pipeline") as workdir:
                event_file = backend_module(backend).pipeline(
                    obsid,
                    Path(stage["obs_dir"]),
                    output.parent,
                    target,
                    config,
                    workdir,
                    Path(log_path) if log_path else None,
                )
            info.update(status="ok", event_file=str(event_file))
        except Exception as err:  # recorded: one bad ObsID never stops the others
            log.exception("ObsID %s: pipeline stage failed", obsid)
            info["message"] = f"{type(err).__name__}: {err}"
    output.write_text(json.dumps(info, indent=2) + "\n")
    return info


def run_expomap(
    backend: str, obsid: str, event_file, stage_json, config: dict, output, log_path
) -> Path:
    stage = json.loads(Path(stage_json).read_text())
    output = Path(output)
    with job_workdir(output.parent, "expomap") as workdir:
        made = backend_module(backend).expomap(
            obsid,
            Path(event_file),
            Path(stage["attitude_file"]),
            Path(stage["hk_file"]),
            output.parent,
            config,
            workdir,
            Path(log_path) if log_path else None,
        )
    _expect(made, output, obsid, "exposure map")
    return output


def run_products(
    backend: str,
    obsid: str,
    event_file,
    expomap,
    src_region,
    bkg_region,
    stage_json,
    config: dict,
    outputs: dict,
    log_path,
) -> dict:
    stage = json.loads(Path(stage_json).read_text())
    outdir = Path(outputs["src_pha"]).parent
    with job_workdir(outdir, "products") as workdir:
        made = backend_module(backend).products(
            obsid,
            Path(event_file),
            Path(src_region),
            Path(bkg_region),
            Path(expomap),
            Path(stage["attitude_file"]),
            Path(stage["hk_file"]),
            outdir,
            config,
            workdir,
            Path(log_path) if log_path else None,
        )
    for key, path in outputs.items():
        _expect(made.get(key), Path(path), obsid, key)
    return made


def run_group(backend: str, obsid: str, src_pha, bkg_pha, rmf, config: dict, output, log_path):
    output = Path(output)
    with job_workdir(output.parent, "group") as workdir:
        made = backend_module(backend).group(
            obsid,
            Path(src_pha),
            Path(bkg_pha),
            Path(rmf),
            output,
            config,
            workdir,
            Path(log_path) if log_path else None,
        )
    _expect(made, output, obsid, "grouped spectrum")
    return output


def _expect(made, expected: Path, obsid: str, what: str) -> None:
    if made is None or Path(made).resolve() != expected.resolve() or not expected.exists():
        raise RuntimeError(
            f"ObsID {obsid}: the backend did not write the {what} as {expected} (got {made})"
        )
