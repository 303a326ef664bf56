# Configuration, backend choice, wildcard constraints and input functions shared by all rules.
import functools
import json
import os
import re
from pathlib import Path

from snakemake.exceptions import WorkflowError

from xrtflow import naming
from xrtflow.config import ConfigError, validate_config

# Every job is single-threaded: one BLAS/OpenMP thread per job, so that parallel jobs do not
# oversubscribe the cores and floating-point sums do not depend on the machine's core count (a run
# on a laptop, on a cluster node or through SLURM gives the same bytes). A user's setting wins.
for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")


# Every config error stops here, before any job, as one message naming the key and the fix.
try:
    validate_config(
        config, schema=workflow.source_path("../schemas/config.schema.yaml")
    )
except ConfigError as err:
    raise WorkflowError(f"invalid configuration: {err}") from None

RESULTS = config["results"]
MODE = config["mode"]
TARGETS = sorted(config["targets"])
# Only the settings that change processing products: editing e.g. the fit model must not rerun them.
PROCESSING_CONFIG = {
    key: config[key]
    for key in (
        "mode",
        "caldb",
        "caldb_cache",
        "heasoft",
        "products",
        "grouping",
        "regions",
        "pileup",
    )
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


def _check_caldb():
    """The native backend's calibration (local index, or remote CALDB reachable/cached)."""
    if BACKEND.name != "native":
        return  # the heasoft backend uses HEASoft's own CALDB setup
    from xrtflow.caldb import CaldbError, check_caldb

    try:
        found = check_caldb(config["caldb"], config["caldb_cache"], require_local=False)
        logger.info(f"xrtflow calibration: {found}")
    except CaldbError as err:
        raise WorkflowError(str(err)) from None


_check_caldb()


wildcard_constraints:
    # target keys are validated as plain directory names, and escaped here all the same
    target="|".join(re.escape(t) for t in TARGETS),
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

    # Read directly, not through the checkpoint: the ObsID's jobs exist only once the selection
    # does, and per-ObsID jobs must not depend on the selection file (a new ObsID would rerun all).
    path = Path(res(f"{target}/catalog/selection.ecsv"))
    return selection_rows(str(path), path.stat().st_mtime_ns)[obsid]


def record(stage):
    """Pattern of the record (``ok`` or ``failed``, with the reason) of a per-ObsID stage."""
    return res(f"{{target}}/obs/{{obsid}}/{stage}.json")


#: Every product of one ObsID, by key (see xrtflow.steps.summary.STAGES).
PRODUCTS = {
    "events": obs_file(naming.cleaned_events),
    "expomap": obs_file(naming.exposure_map),
    "image": obs_file(naming.sky_image),
    "src_lc": obs_file(naming.source_lightcurve),
    "bkg_lc": obs_file(naming.background_lightcurve),
    "src_pha": obs_file(naming.source_spectrum),
    "bkg_pha": obs_file(naming.background_spectrum),
    "arf": obs_file(naming.source_arf),
    "rmf": obs_file(naming.source_rmf),
    # the regions actually used (WT: per-ObsID boxes along the strip)
    "src_region": obs_file(naming.source_region),
    "bkg_region": obs_file(naming.background_region),
    "grouped": obs_file(naming.grouped_spectrum),
    "fit": res("{target}/obs/{obsid}/fit.json"),
    "fit_table": res("{target}/obs/{obsid}/fit.ecsv"),
    "fit_plot": res("{target}/obs/{obsid}/fit_plot.ecsv"),
}


#: Per-ObsID stages with a record of their own (the fit's record is fit.json).
STAGE_RECORDS = ("stage", "pipeline", "expomap", "products", "group")

#: The corrected light curve of one ObsID (lightcurves.smk), not in the summary -- a new binning
#: must rerun the light curves and their table, not the fits that read the summaries.
LIGHTCURVE_PRODUCTS = {
    "lc_corr": obs_file(naming.corrected_lightcurve),
    "lc_corr_table": obs_file(naming.corrected_lightcurve_table),
}


def products_of(*keys):
    """The named products of one ObsID, as rule outputs or inputs."""
    return {key: PRODUCTS[key] for key in keys}


def run_summary(log):
    """At the end of a run: what failed and why, per target (from the status tables)."""
    from xrtflow.steps.tables import run_summary_lines

    for line in run_summary_lines(RESULTS, TARGETS):
        log.warning(line)


def summaries(wildcards):
    """The summary of every selected ObsID (waits for the selection checkpoint only)."""
    return [
        res("{target}/obs/{obsid}/summary.json").format(
            target=wildcards.target, obsid=obsid
        )
        for obsid in selected_obsids(wildcards.target)
    ]


def lightcurve_records(wildcards):
    """The light-curve record of every selected ObsID (it names the products when ok)."""
    return [
        record("lightcurve").format(target=wildcards.target, obsid=obsid)
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
        outputs += known_summaries(target)
    return outputs


def known_summaries(target):
    """Every file of every ObsID of an existing selection, requested by ``all`` directly.

    Snakemake checks a job for missing outputs only when the job is a target (or something
    downstream must rerun): without this, a deleted intermediate under up-to-date results would
    never be remade. The manifest is read as it is on disk (not through the checkpoint); a
    selection that changes in this run still reaches its new ObsIDs through the checkpoint.
    """
    manifest = Path(f"{RESULTS}/{target}/catalog/obsids.txt")
    if not manifest.exists():
        return []
    patterns = [*PRODUCTS.values(), *(record(s) for s in STAGE_RECORDS)]
    patterns += [*LIGHTCURVE_PRODUCTS.values(), record("lightcurve")]
    patterns.append(res("{target}/obs/{obsid}/summary.json"))
    obsids = _read_manifest(str(manifest), manifest.stat().st_mtime_ns)
    return [p.format(target=target, obsid=obsid) for obsid in obsids for p in patterns]
