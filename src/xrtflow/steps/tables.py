"""Steps: the results table (all fits, one row per parameter) and the per-ObsID status table."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from astropy.table import Table, vstack

from ..catalog import read_observation_table
from .files import write_table

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
    from .summary import read_summaries, with_products

    singles = [s["products"]["fit_table"] for s in with_products(read_summaries(summaries))]
    tables = [_fit_rows(joint, "joint")] + [_fit_rows(p, "single") for p in singles]
    nonempty = [t for t in tables if len(t)]
    if not nonempty:
        log.warning("no fit produced any parameter: the results table is empty (see status.ecsv)")
    table = vstack(nonempty or tables[:1], metadata_conflicts="silent")
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
    write_table(table, ecsv_out)
    write_table(table, csv_out, format="ascii.csv")
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
            "failed_at": np.array([i["failed_at"] for i in infos], dtype="U9"),
            "message": np.array([i["message"] for i in infos], dtype=str)
            if infos
            else np.array([], dtype="U1"),
            "log": np.array([i.get("log", "") for i in infos], dtype=str)
            if infos
            else np.array([], dtype="U1"),
        }
    )
    table.meta["comment"] = (
        "status ok: processed and fitted; failed: failed_at names the stage, message the "
        "reason, log the job's log file"
    )
    write_table(table, output)
    n_ok = int(np.sum(table["status"] == "ok"))
    log.info("%d of %d selected ObsIDs processed and fitted", n_ok, len(table))
    for row in table[table["status"] != "ok"]:
        log.warning("ObsID %s failed at %s: %s", row["obsid"], row["failed_at"], row["message"])
    return table


def run_summary_lines(results: str | Path, targets: list[str]) -> list[str]:
    """The end-of-run summary: per target, how many ObsIDs were fitted and why the others failed.

    Read from each target's ``tables/status.ecsv`` (targets without one are skipped: the run
    stopped before it).
    """
    import json

    lines = []
    for target in targets:
        base = Path(results) / target
        status_path = base / "tables" / "status.ecsv"
        if not status_path.exists():
            continue
        status = Table.read(status_path, format="ascii.ecsv")
        failed = status[status["status"] != "ok"]
        lines.append(
            f"xrtflow {target}: {len(status) - len(failed)} of {len(status)} selected ObsIDs "
            f"processed and fitted ({status_path})"
        )
        for row in failed:
            log_note = f" [log: {row['log']}]" if "log" in status.colnames and row["log"] else ""
            lines.append(
                f"  ObsID {row['obsid']} failed at {row['failed_at']}: {row['message']}{log_note}"
            )
        joint = base / "fit" / "joint.json"
        if joint.exists():
            info = json.loads(joint.read_text())
            if info.get("status") != "ok":
                lines.append(f"  {target}: joint fit not made: {info.get('message', '')}")
    return lines
