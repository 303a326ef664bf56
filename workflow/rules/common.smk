# Configuration, backend choice, wildcard constraints and input functions shared by all rules.
import functools
import json
from pathlib import Path

from snakemake.exceptions import WorkflowError

from xrtflow import naming
from xrtflow.config import validate_config


validate_config(config, schema=workflow.source_path("../schemas/config.schema.yaml"))

RESULTS = config["results"]
MODE = config["mode"]
TARGETS = sorted(config["targets"])
# Only the settings that change processing products: editing e.g. the fit model must not rerun them.
PROCESSING_CONFIG = {
    key: config[key] for key in ("mode", "caldb", "heasoft", "products", "grouping", "regions")
}


def _choose_backend():
    from xrtflow.backends.select import BackendUnavailable, choose_backend

    try:
        return choose_backend(config["backend"])
    except BackendUnavailable as err:
        raise WorkflowError(str(err)) from None


BACKEND = _choose_backend()
logger.info(f"xrtflow backend: {BACKEND.name} ({BACKEND.reason})")


def _check_network_needed():
    """Stop before any job when the config needs the network and there is none."""
    archive = config["archive"]
    needs = archive["source"] != "local" or archive["catalog"] is None
    needs = needs or any(
        t.get("ra") is None or t.get("dec") is None for t in config["targets"].values()
    )
    if not needs:
        return
    from xrtflow.network import NetworkUnavailable, check_network

    try:
        check_network(archive)
    except NetworkUnavailable as err:
        raise WorkflowError(str(err)) from None


_check_network_needed()


wildcard_constraints:
    target="|".join(TARGETS),
    obsid=r"\d{11}",


def res(path):
    """A path below the results directory."""
    return f"{RESULTS}/{path}"


def obs_file(name_function):
    """Pattern of a per-ObsID product named by an ``xrtflow.naming`` function."""
    return res(f"{{target}}/obs/{{obsid}}/{name_function(naming.WILDCARD, MODE)}")


# ---------------------------------------------------------------------------------------------
# Reading checkpoint outputs (cached: thousands of ObsIDs ask for the same files)
# ---------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=None)
def _read_json(path, mtime):
    with open(path) as stream:
        return json.load(stream)


def read_json(path):
    path = str(path)
    return _read_json(path, Path(path).stat().st_mtime_ns)


@functools.lru_cache(maxsize=None)
def _read_manifest(path, mtime):
    return tuple(line.strip() for line in open(path) if line.strip())


def selected_obsids(target):
    """ObsIDs selected for ``target`` (waits for the selection checkpoint)."""
    path = checkpoints.select_observations.get(target=target).output.manifest
    return _read_manifest(str(path), Path(path).stat().st_mtime_ns)


def selection_table(wildcards):
    """The selection table, through the checkpoint: a rerun of the selection that changes
    nothing keeps the file (update flag) and so reruns nothing downstream."""
    return checkpoints.select_observations.get(target=wildcards.target).output.table


def selection_row(target, obsid):
    from xrtflow.steps.catalog import selection_rows

    path = checkpoints.select_observations.get(target=target).output.table
    return selection_rows(str(path), Path(path).stat().st_mtime_ns)[obsid]


def _status(checkpoint, wildcards):
    path = checkpoint.get(target=wildcards.target, obsid=wildcards.obsid).output[0]
    return path, read_json(path)


def cleaned_event_file(wildcards):
    path, info = _status(checkpoints.pipeline, wildcards)
    if info["status"] != "ok":
        raise WorkflowError(f"ObsID {wildcards.obsid} failed the pipeline stage: {info['message']}")
    return info["event_file"]


def summary_inputs(wildcards):
    """Everything one ObsID produced, as far as it got.

    The per-ObsID checkpoints (staging, pipeline) are resolved here, one ObsID at a time, so
    that the joint stages depend on one checkpoint only (the selection) and see each ObsID
    through its summary: an ObsID that failed contributes its status, not its products.
    """
    stage, info = _status(checkpoints.stage_observation, wildcards)
    if info["status"] != "ok":
        return {"stage": stage}
    pipeline, info = _status(checkpoints.pipeline, wildcards)
    if info["status"] != "ok":
        return {"stage": stage, "pipeline": pipeline}
    products = {
        key: obs_file(function).format(**wildcards)
        for key, function in (
            ("image", naming.sky_image),
            ("src_lc", naming.source_lightcurve),
            ("bkg_lc", naming.background_lightcurve),
            ("src_pha", naming.source_spectrum),
            ("bkg_pha", naming.background_spectrum),
            ("arf", naming.source_arf),
            ("rmf", naming.source_rmf),
            ("grouped", naming.grouped_spectrum),
        )
    }
    fit = res("{target}/obs/{obsid}/fit.json").format(**wildcards)
    fit_table = res("{target}/obs/{obsid}/fit.ecsv").format(**wildcards)
    return {"stage": stage, "pipeline": pipeline, **products, "fit": fit, "fit_table": fit_table}


def summaries(wildcards):
    """The summary of every selected ObsID (waits for the selection checkpoint only)."""
    return [
        res("{target}/obs/{obsid}/summary.json").format(target=wildcards.target, obsid=obsid)
        for obsid in selected_obsids(wildcards.target)
    ]


def all_outputs():
    outputs = []
    for target in TARGETS:
        base = f"{RESULTS}/{target}"
        outputs += [
            f"{base}/backend.json",
            f"{base}/tables/results.ecsv",
            f"{base}/tables/results.csv",
            f"{base}/tables/status.ecsv",
        ]
        # figures, their tables and the report captions: FIGURE_OUTPUTS in figures.smk
        outputs += [pattern.format(base=base) for pattern in FIGURE_OUTPUTS]
    return outputs
