"""Steps: the results table (all fits, one row per parameter) and the per-ObsID status table."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from astropy.table import Table, vstack

from ..catalog import read_observation_table

log = logging.getLogger(__name__)


def _fit_rows(path: str | Path, kind: str) -> Table:
    table = Table.read(path, format="ascii.ecsv")
    table.meta = {}
    table["fit"] = np.full(len(table), kind, dtype="U6")
    return table


def results_table(
    joint: str | Path,
    summaries: list[str | Path],
    selection: str | Path,
    ecsv_out: str | Path,
    csv_out: str | Path,
) -> Table:
    """All fitted parameters: the joint fit (``fit=joint``) then each ObsID's own (``single``).

    Adds each ObsID's start time and days after the epoch from the selection table.
    """
    from .summary import read_summaries

    singles = [s["products"]["fit_table"] for s in read_summaries(summaries) if s["status"] == "ok"]
    tables = [_fit_rows(joint, "joint")] + [_fit_rows(p, "single") for p in singles]
    tables = [t for t in tables if len(t)]
    if not tables:
        raise RuntimeError("no fit produced any parameter: see the fit logs")
    table = vstack(tables, metadata_conflicts="silent")
    rows = read_observation_table(selection)
    by_obsid = {str(r["obsid"]): r for r in rows}
    obsids = [str(o) for o in table["obsid"]]
    table["start_mjd"] = [
        float(by_obsid[o]["start_time"]) if o in by_obsid else np.nan for o in obsids
    ]
    table["days_after_epoch"] = [
        float(by_obsid[o]["days_after_epoch"]) if o in by_obsid else np.nan for o in obsids
    ]
    first = ["fit", "obsid", "start_mjd", "days_after_epoch"]
    table = table[first + [c for c in table.colnames if c not in first]]
    table.meta["comment"] = "err_lo/err_hi: 90% confidence bounds (delta stat 2.706)"
    table.write(ecsv_out, format="ascii.ecsv", overwrite=True)
    table.write(csv_out, format="ascii.csv", overwrite=True)
    log.info("%d parameter rows written", len(table))
    return table


def status_table(selection: str | Path, summaries: list[str | Path], output: str | Path) -> Table:
    """One row per selected ObsID: how far it got, and why it stopped if it did."""
    from .summary import read_summaries

    rows = read_observation_table(selection)
    start = {str(r["obsid"]): float(r["start_time"]) for r in rows}
    infos = read_summaries(summaries)
    table = Table(
        {
            "obsid": np.array([i["obsid"] for i in infos], dtype="U11"),
            "start_mjd": np.array([start.get(i["obsid"], np.nan) for i in infos], dtype=float),
            "status": np.array([i["status"] for i in infos], dtype="U10"),
            "failed_at": np.array([i["failed_at"] for i in infos], dtype="U8"),
            "message": np.array([i["message"] for i in infos], dtype=str)
            if infos
            else np.array([], dtype="U1"),
        }
    )
    table.write(output, format="ascii.ecsv", overwrite=True)
    n_ok = int(np.sum(table["status"] == "ok"))
    log.info("%d of %d selected ObsIDs processed and fitted", n_ok, len(table))
    for row in table[table["status"] != "ok"]:
        log.warning("ObsID %s failed at %s: %s", row["obsid"], row["failed_at"], row["message"])
    return table
