"""Step: one JSON per ObsID saying how far it got, with the paths of what it produced.

The summary rule depends on every record and product of its ObsID, so it runs only after all of
them exist; the joint stages (joint fit, tables, figures) read the summaries instead of each
ObsID's products, and use the ObsIDs whose summary says ``ok``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

from .files import read_record, write_json

log = logging.getLogger(__name__)

#: The per-ObsID stages, in order, each with its record and the product keys it declares.
STAGES = {
    "stage": (),
    "pipeline": ("events",),
    "expomap": ("expomap",),
    "products": (
        "image",
        "src_lc",
        "bkg_lc",
        "src_pha",
        "bkg_pha",
        "arf",
        "rmf",
        "src_region",
        "bkg_region",
    ),
    "group": ("grouped",),
    "fit": ("fit", "fit_table", "fit_plot"),
}


def write_summary(obsid: str, inputs: Mapping[str, str], output: str | Path) -> dict:
    """Summarise one ObsID from its records (``<stage>_record`` inputs) and products.

    Products are listed only for the stages that succeeded: a failed ObsID's placeholders are
    never handed on as data.
    """
    summary: dict = {"obsid": obsid, "status": "ok", "failed_at": "", "message": "", "log": ""}
    products: dict[str, str] = {}
    for step, keys in STAGES.items():
        record_path = inputs.get("fit" if step == "fit" else f"{step}_record")
        record = read_record(record_path) if record_path else {"status": "ok"}
        if record["status"] != "ok":
            summary.update(
                status="failed",
                failed_at=record.get("failed_at", step),
                message=record.get("message", ""),
                log=record.get("log", ""),
            )
            break
        products.update({key: str(inputs[key]) for key in keys if key in inputs})
        if "pileup" in record:  # the products stage's pile-up assessment, for the tables
            summary["pileup"] = record["pileup"]
    summary["products"] = products
    summary["has_products"] = summary["status"] == "ok"
    write_json(output, summary)
    if summary["status"] == "ok":
        log.info("ObsID %s: processed and fitted", obsid)
    else:
        log.warning("ObsID %s failed at %s: %s", obsid, summary["failed_at"], summary["message"])
    return summary


def read_summaries(paths: Sequence[str | Path]) -> list[dict]:
    """Summaries in the given (selection) order."""
    import json

    return [json.loads(Path(p).read_text()) for p in paths]


def with_products(summaries: Sequence[dict]) -> list[dict]:
    """The summaries of ObsIDs that were processed and fitted (status ``ok``)."""
    return [s for s in summaries if s.get("status") == "ok" and s.get("has_products")]
