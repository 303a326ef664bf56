"""Steps: per-ObsID processing through the chosen backend (``native`` or ``heasoft``).

Each stage runs inside :func:`xrtflow.steps.files.run_guarded`: it always writes its declared
products and a record (``ok``, or ``failed`` with stage, reason and log), builds everything in a
scratch directory and renames it into place, and passes an upstream failure on unchanged.
"""

from __future__ import annotations

import importlib
import json
import logging
from pathlib import Path

from .files import StageFailure, read_record, run_guarded

log = logging.getLogger(__name__)


def backend_module(name: str):  # noqa: ANN201 (a module)
    """The stage functions of backend ``name`` (``xrtflow.backends.<name>``)."""
    if name not in ("native", "heasoft"):
        raise ValueError(f"unknown backend {name!r} (native or heasoft)")
    return importlib.import_module(f"xrtflow.backends.{name}")


def _stage_info(stage_json: str | Path) -> dict:
    return json.loads(Path(stage_json).read_text())


def _log(log_path) -> Path | None:  # noqa: ANN001
    return Path(log_path) if log_path else None


def run_pipeline(
    backend: str,
    obsid: str,
    stage_json: str | Path,
    target_json: str | Path,
    config: dict,
    events_out: str | Path,
    record_out: str | Path,
    log_path: str | Path | None,
) -> dict:
    """Cleaned events for one ObsID (``xrtpipeline`` or its native equivalent)."""
    from .catalog import read_target

    def make(scratch: Path) -> dict:
        stage = _stage_info(stage_json)
        _, target = read_target(target_json)
        (scratch / "work").mkdir()
        made = backend_module(backend).pipeline(
            obsid, Path(stage["obs_dir"]), scratch, target, config, scratch / "work", _log(log_path)
        )
        return {"events": made}

    return run_guarded(
        "pipeline", obsid, {"stage": stage_json}, {"events": events_out}, record_out, log_path, make
    )


def run_expomap(
    backend: str,
    obsid: str,
    event_file,
    stage_json,
    pipeline_json,
    config: dict,
    output,
    record_out,
    log_path,
) -> dict:
    """Exposure map of one ObsID (``xrtexpomap`` or native)."""

    def make(scratch: Path) -> dict:
        stage = _stage_info(stage_json)
        (scratch / "work").mkdir()
        made = backend_module(backend).expomap(
            obsid,
            Path(event_file),
            Path(stage["attitude_file"]),
            Path(stage["hk_file"]),
            scratch,
            config,
            scratch / "work",
            _log(log_path),
        )
        return {"expomap": made}

    return run_guarded(
        "expomap",
        obsid,
        {"pipeline": pipeline_json},
        {"expomap": output},
        record_out,
        log_path,
        make,
    )


def _source_counts(pha: str | Path) -> int:
    from astropy.io import fits

    with fits.open(pha, memmap=False) as hdul:
        return int(hdul["SPECTRUM"].data["COUNTS"].sum())


def run_products(
    backend: str,
    obsid: str,
    event_file,
    expomap,
    src_region,
    bkg_region,
    stage_json,
    expomap_json,
    config: dict,
    outputs: dict,
    record_out,
    log_path,
) -> dict:
    """Image, light curves, spectra, ARF and RMF (``xrtproducts`` or native).

    First the pile-up check (:func:`xrtflow.products.excision.choose_source_region`, the same
    for both backends): the region actually used -- the configured circle, or the annulus that
    excises a piled-up core -- is written as the product ``src_region`` and handed to the
    backend; the assessment goes into the record (``pileup``). An empty source region is a
    failure of this stage (the spectrum could not be fitted).
    """
    from xrtflow import naming
    from xrtflow.products.excision import choose_source_region

    extra: dict = {}  # filled by make(): run_guarded adds it to the ok record

    def make(scratch: Path) -> dict:
        stage = _stage_info(stage_json)
        (scratch / "work").mkdir()
        mode = str(config.get("mode", "PC")).upper()
        region_used = scratch / naming.source_region(obsid, mode)
        text, extra["pileup"] = choose_source_region(
            event_file, src_region, bkg_region, expomap, config
        )
        region_used.write_text(text)
        made = backend_module(backend).products(
            obsid,
            Path(event_file),
            region_used,
            Path(bkg_region),
            Path(expomap),
            Path(stage["attitude_file"]),
            Path(stage["hk_file"]),
            scratch,
            config,
            scratch / "work",
            _log(log_path),
        )
        if "src_pha" in made and _source_counts(made["src_pha"]) == 0:
            radius = config.get("regions", {}).get("source_radius")
            shape = (
                f"WT box {radius} arcsec either side of the target along the strip"
                if str(config.get("mode", "PC")).upper() == "WT"
                else f"circle of {radius} arcsec around the target"
            )
            raise StageFailure(
                f"ObsID {obsid}: no events in the source region ({shape}): is the target in "
                "the field of view? Check the target position or exclude the ObsID"
            )
        return {**made, "src_region": region_used}

    return run_guarded(
        "products", obsid, {"expomap": expomap_json}, outputs, record_out, log_path, make, extra
    )


def run_group(
    backend: str,
    obsid: str,
    src_pha,
    bkg_pha,
    rmf,
    products_json,
    config: dict,
    output,
    record_out,
    log_path,
) -> dict:
    """Grouped source spectrum (``ftgrouppha`` or native)."""

    def make(scratch: Path) -> dict:
        target = scratch / Path(output).name
        (scratch / "work").mkdir()
        made = backend_module(backend).group(
            obsid,
            Path(src_pha),
            Path(bkg_pha),
            Path(rmf),
            target,
            config,
            scratch / "work",
            _log(log_path),
        )
        return {"grouped": made}

    return run_guarded(
        "group", obsid, {"products": products_json}, {"grouped": output}, record_out, log_path, make
    )


def record_ok(path: str | Path) -> bool:
    """True if the stage record at ``path`` says ``ok``."""
    return read_record(path)["status"] == "ok"
