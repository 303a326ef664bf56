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


def selection_row(target, obsid):
    from xrtflow.steps.catalog import selection_rows

    path = checkpoints.select_observations.get(target=target).output.table
    return selection_rows(str(path), Path(path).stat().st_mtime_ns)[obsid]


def stage_info(wildcards):
    path = checkpoints.stage_observation.get(target=wildcards.target, obsid=wildcards.obsid).output[0]
    return read_json(path)


def staged_obsids(target):
    """Selected ObsIDs whose data were found and verified."""
    ok = []
    for obsid in selected_obsids(target):
        path = checkpoints.stage_observation.get(target=target, obsid=obsid).output[0]
        if read_json(path)["status"] == "ok":
            ok.append(obsid)
    return ok


def processed_obsids(target):
    """Selected ObsIDs whose data were staged and went through the pipeline stage."""
    ok = []
    for obsid in staged_obsids(target):
        path = checkpoints.pipeline.get(target=target, obsid=obsid).output[0]
        if read_json(path)["status"] == "ok":
            ok.append(obsid)
    return ok


def cleaned_event_file(wildcards):
    path = checkpoints.pipeline.get(target=wildcards.target, obsid=wildcards.obsid).output[0]
    info = read_json(path)
    if info["status"] != "ok":
        raise WorkflowError(f"ObsID {wildcards.obsid} failed the pipeline stage: {info['message']}")
    return info["event_file"]


def per_obs(pattern):
    """Input function: ``pattern`` for every ObsID that went through the pipeline."""

    def inputs(wildcards):
        return [
            pattern.format(target=wildcards.target, obsid=obsid)
            for obsid in processed_obsids(wildcards.target)
        ]

    return inputs


def per_staged_obs(pattern):
    def inputs(wildcards):
        return [
            pattern.format(target=wildcards.target, obsid=obsid)
            for obsid in staged_obsids(wildcards.target)
        ]

    return inputs


def per_selected_obs(pattern):
    def inputs(wildcards):
        return [
            pattern.format(target=wildcards.target, obsid=obsid)
            for obsid in selected_obsids(wildcards.target)
        ]

    return inputs


FIGURES = ["timeline", "images", "spectra", "lightcurves"]


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
        outputs += [f"{base}/figures/{name}.png" for name in FIGURES]
    return outputs
