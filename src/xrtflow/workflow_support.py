"""Helpers the Snakemake rules call (kept out of the .smk files, as ``snakemake --lint`` asks)."""

from __future__ import annotations

import re
import sys
from glob import glob
from pathlib import Path

#: Snakemake commands that build the DAG without running it.
GRAPH_ONLY = {"--report", "--rulegraph", "--dag", "--filegraph", "--d3dag", "--summary"}


def fit_files(summary_paths: list[str]) -> dict[str, list[str]]:
    """``fit.json`` and ``fit_plot.ecsv`` of every ObsID that was fitted, from its summary."""
    from .steps.summary import read_summaries, with_products
    from .steps.tables import single_fit_json

    fits = [str(single_fit_json(s)) for s in with_products(read_summaries(summary_paths))]
    return {"fits": fits, "plots": [str(Path(f).with_name("fit_plot.ecsv")) for f in fits]}


def declare_existing_checkpoint_outputs(workflow, checkpoints, argv=None) -> int:  # noqa: ANN001
    """For --report/--rulegraph/--dag only: checkpoint outputs on disk count as created.

    Snakemake resolves a checkpoint only for jobs already in the DAG (snakemake issues #2822,
    #3862): with nothing to run, the per-ObsID checkpoints reached through the selection
    checkpoint stay unresolved, and the rules behind them (pipeline, expomap, products,
    group_spectrum, fit_observation) are missing from the report's graph and statistics.
    Declaring the existing outputs created lets Snakemake build the whole DAG in one pass. A
    normal run is left alone (there a checkpoint that must rerun must not be read early).

    Returns
    -------
    int
        Number of files declared.
    """
    from snakemake.io import regex_from_filepattern

    if not GRAPH_ONLY.intersection(sys.argv if argv is None else argv):
        return 0
    found = []
    for rule in workflow.rules:
        if not rule.is_checkpoint:
            continue
        for pattern in rule.output:
            regex = re.compile(regex_from_filepattern(str(pattern)))
            found += [f for f in glob(re.sub(r"\{[^}]+\}", "*", str(pattern))) if regex.match(f)]
    checkpoints.created_output.update(found)
    return len(found)
