"""Steps: target position, catalog query and ObsID selection."""

from __future__ import annotations

import functools
import json
import logging
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord
from astropy.table import Table

from ..catalog import (
    SelectionCriteria,
    read_observation_table,
    select_observations,
    write_if_changed,
)
from ..naming import OBSID_PATTERN
from .files import write_json, write_table, write_text

log = logging.getLogger(__name__)


def resolve_target(target: dict, output: str | Path) -> SkyCoord:
    """Write the target's ICRS position (given in config, or resolved by name) as JSON."""
    if target.get("ra") is not None and target.get("dec") is not None:
        coord = SkyCoord(float(target["ra"]) * u.deg, float(target["dec"]) * u.deg, frame="icrs")
        how = "config"
    else:
        from ..network import resolve_target as resolve_by_name

        coord = resolve_by_name(target["name"])
        how = "name resolver (Sesame)"
    log.info("%s at RA %.6f Dec %.6f from %s", target["name"], coord.ra.deg, coord.dec.deg, how)
    write_json(
        output, {"name": target["name"], "ra": coord.ra.deg, "dec": coord.dec.deg, "source": how}
    )
    return coord


def read_target(path: str | Path) -> tuple[str, SkyCoord]:
    """The target name and position written by :func:`resolve_target`."""
    info = json.loads(Path(path).read_text())
    return info["name"], SkyCoord(info["ra"] * u.deg, info["dec"] * u.deg, frame="icrs")


def query_catalog(
    target_json: str | Path, archive: dict, radius_arcmin: float | None, output: str | Path
) -> Table:
    """Observations of the target from HEASARC's ``swiftmastr`` (or a local stand-in table)."""
    _, coord = read_target(target_json)
    radius = None if radius_arcmin is None else radius_arcmin * u.arcmin
    if archive.get("catalog"):
        table = read_observation_table(archive["catalog"])
        # The same cone HEASARC would apply (its default radius for swiftmastr is 12 arcmin).
        cone = radius if radius is not None else 12 * u.arcmin
        rows = SkyCoord(
            np.asarray(table["ra"], float) * u.deg, np.asarray(table["dec"], float) * u.deg
        )
        table = table[rows.separation(coord) <= cone]
        log.info(
            "%d observations within %s in local catalog %s", len(table), cone, archive["catalog"]
        )
    else:
        from ..network import query_swift_master

        table = query_swift_master(coord, radius=radius, heasarc_url=archive.get("heasarc_url"))
        log.info("%d observations from HEASARC swiftmastr", len(table))
    table.sort("start_time")
    write_table(table, output)
    return table


def select(
    catalog: str | Path, target: dict, mode: str, table_out: str | Path, manifest_out: str | Path
) -> Table:
    """Select ObsIDs; write the annotated table and the manifest only if their content changed."""
    table = read_observation_table(catalog)
    selection = select_observations(table, SelectionCriteria.from_target_config(target, mode))
    # ObsIDs become directory names: a catalog row that is not an 11-digit ObsID is dropped.
    bad = np.array([not OBSID_PATTERN.match(str(o)) for o in selection["obsid"]], dtype=bool)
    if bad.any():
        selection["reason"] = selection["reason"].astype(object)
        for index in np.flatnonzero(bad):
            selection["selected"][index] = False
            selection["reason"][index] = "not an 11-digit ObsID"
        selection["reason"] = selection["reason"].astype(str)
    for row in selection[~selection["selected"]]:
        log.info("dropped %s: %s", row["obsid"], row["reason"])
    chosen = list(selection["obsid"][selection["selected"]])
    log.info("selected %d of %d observations: %s", len(chosen), len(selection), " ".join(chosen))
    changed = write_if_changed(selection, table_out)
    manifest = "".join(f"{obsid}\n" for obsid in chosen)
    manifest_path = Path(manifest_out)
    if not manifest_path.exists() or manifest_path.read_text() != manifest:
        write_text(manifest_path, manifest)
        changed = True
    if not chosen:
        log.warning(
            "no observation of %s passed the selection: nothing to process (reasons in %s)",
            target.get("name"),
            table_out,
        )
    log.info("selection %s", "updated" if changed else "unchanged: files kept as they were")
    return selection


@functools.lru_cache(maxsize=8)
def selection_rows(path: str, mtime_ns: int) -> dict[str, dict]:
    """Rows of a selection table keyed by ObsID (cached per file version)."""
    table = read_observation_table(path)
    return {
        str(row["obsid"]): {name: _plain(row[name]) for name in table.colnames} for row in table
    }


def _plain(value):  # noqa: ANN001, ANN202
    return value.item() if hasattr(value, "item") else value
