"""Step: one JSON per ObsID saying how far it got, with the paths of what it produced.

The joint stages (joint fit, tables, figures) read these summaries instead of depending on each
ObsID's products directly, so an ObsID that failed is reported, not waited for.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

log = logging.getLogger(__name__)

#: The steps whose own JSON records a status, in order.
STATUS_STEPS = ("stage", "pipeline", "fit")


def write_summary(obsid: str, inputs: Mapping[str, str], output: str | Path) -> dict:
    """Summarise one ObsID from its rule inputs (the status files and products it reached)."""
    summary: dict = {"obsid": obsid, "status": "ok", "failed_at": "", "message": ""}
    for step in STATUS_STEPS:
        path = inputs.get(step)
        if path is None:
            continue
        info = json.loads(Path(path).read_text())
        if info.get("status") != "ok":
            summary.update(status="failed", failed_at=step, message=info.get("message", ""))
            break
    summary["products"] = {
        key: str(value) for key, value in inputs.items() if key not in STATUS_STEPS
    }
    summary["has_products"] = "grouped" in summary["products"]
    Path(output).write_text(json.dumps(summary, indent=2) + "\n")
    if summary["status"] == "ok":
        log.info("ObsID %s: processed and fitted", obsid)
    else:
        log.warning("ObsID %s failed at %s: %s", obsid, summary["failed_at"], summary["message"])
    return summary


def read_summaries(paths: Sequence[str | Path]) -> list[dict]:
    """Summaries in the given (selection) order."""
    return [json.loads(Path(p).read_text()) for p in paths]


def with_products(summaries: Sequence[dict]) -> list[dict]:
    """The summaries of ObsIDs that have spectra, images and light curves."""
    return [s for s in summaries if s.get("has_products")]
