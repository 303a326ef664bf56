"""Selection of Swift observations from a ``swiftmastr``-like table.

The table may come from HEASARC (:mod:`xrtflow.network`) or from a local file (the offline demo):
this module never knows which. Every dropped row keeps the reason it was dropped.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.table import Table

from .naming import check_obsid

#: Column of the XRT exposure in each mode, as ``swiftmastr`` names them.
MODE_EXPOSURE_COLUMN = {"PC": "xrt_expo_pc", "WT": "xrt_expo_wt"}


@dataclass
class SelectionCriteria:
    """What makes an observation useful for the analysis.

    Attributes
    ----------
    epoch_mjd : float or None
        Reference epoch (e.g. discovery), MJD.
    days_after_epoch : (float or None, float or None)
        Open window (exclusive bounds, like the seed notebook) of days after ``epoch_mjd``.
    min_exposure : astropy.units.Quantity
        Minimum XRT exposure in ``mode``.
    mode : str
        ``"PC"`` or ``"WT"``.
    include, exclude : list of str
        ObsIDs always kept (if in the table) or always dropped.
    """

    epoch_mjd: float | None = None
    days_after_epoch: tuple[float | None, float | None] = (None, None)
    min_exposure: u.Quantity = field(default_factory=lambda: 0 * u.s)
    mode: str = "PC"
    include: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)

    @classmethod
    def from_target_config(cls, target: dict, mode: str = "PC") -> SelectionCriteria:
        """Criteria from one target's block of the workflow config."""
        low, high = (list(target.get("days_after_epoch") or [None, None]) + [None, None])[:2]
        return cls(
            epoch_mjd=target.get("epoch_mjd"),
            days_after_epoch=(low, high),
            min_exposure=float(target.get("min_exposure", 0)) * u.s,
            mode=mode,
            include=[check_obsid(o) for o in target.get("include", [])],
            exclude=[check_obsid(o) for o in target.get("exclude", [])],
        )


def normalise_obsids(values: Iterable) -> np.ndarray:
    """ObsIDs as 11-character zero-padded strings (tables sometimes hold them as integers)."""
    return np.array([str(v).strip().zfill(11) for v in values], dtype="U11")


def select_observations(table: Table, criteria: SelectionCriteria) -> Table:
    """Mark each row selected or not, with the reason.

    Parameters
    ----------
    table : astropy.table.Table
        ``swiftmastr`` rows; needs ``obsid``, ``start_time`` (MJD) and the exposure columns.
    criteria : SelectionCriteria

    Returns
    -------
    astropy.table.Table
        A copy sorted by ``start_time`` with added columns ``days_after_epoch``, ``mode_exposure``,
        ``selected`` (bool) and ``reason`` (empty when selected, else why the row was dropped).
    """
    missing = {"obsid", "start_time"} - set(table.colnames)
    if missing:
        raise ValueError(f"observation table lacks column(s) {sorted(missing)}")
    out = table.copy()
    out["obsid"] = normalise_obsids(out["obsid"])
    out.sort("start_time")
    start = np.asarray(out["start_time"], dtype=float)
    n_rows = len(out)

    if criteria.epoch_mjd is not None:
        days = start - float(criteria.epoch_mjd)
    else:
        days = np.full(n_rows, np.nan)
    out["days_after_epoch"] = days * u.day

    column = MODE_EXPOSURE_COLUMN.get(criteria.mode.upper())
    if column in out.colnames:
        exposure = np.asarray(out[column], dtype=float)
    elif "xrt_exposure" in out.colnames:
        exposure = np.asarray(out["xrt_exposure"], dtype=float)
    else:
        raise ValueError(f"observation table has neither {column!r} nor 'xrt_exposure'")
    exposure = np.nan_to_num(exposure, nan=0.0)
    out["mode_exposure"] = exposure * u.s

    reasons = np.full(n_rows, "", dtype=object)

    def drop(mask: np.ndarray, why: str) -> None:
        mask = mask & (reasons == "")
        reasons[mask] = why

    low, high = criteria.days_after_epoch
    if criteria.epoch_mjd is None and (low is not None or high is not None):
        raise ValueError("days_after_epoch is set but epoch_mjd is not")
    drop(np.isin(out["obsid"], criteria.exclude), "excluded by config")
    if low is not None:
        drop(~(days > low), f"before day {low:g} after epoch")
    if high is not None:
        drop(~(days < high), f"after day {high:g} after epoch")
    min_exp = criteria.min_exposure.to_value(u.s)
    drop(exposure <= 0, f"no XRT {criteria.mode} exposure")
    drop(exposure < min_exp, f"{criteria.mode} exposure below {min_exp:g} s")
    forced = np.isin(out["obsid"], criteria.include)
    reasons[forced] = ""

    out["selected"] = reasons == ""
    out["reason"] = np.array([str(r) for r in reasons], dtype="U64")
    return out


def read_observation_table(path: str | Path) -> Table:
    """Read a stored ``swiftmastr``-like table (ECSV, FITS or VOTable)."""
    table = Table.read(path)
    table["obsid"] = normalise_obsids(table["obsid"])
    return table


def write_if_changed(table: Table, path: str | Path) -> bool:
    """Write ``table`` as ECSV unless ``path`` already holds exactly the same text.

    Keeping the old file (and its modification time) when nothing changed is what lets a new
    query that finds the same ObsIDs rerun nothing downstream.

    Returns
    -------
    bool
        True if the file was (re)written.
    """
    import io

    buffer = io.StringIO()
    table.write(buffer, format="ascii.ecsv")
    text = buffer.getvalue()
    path = Path(path)
    if path.exists() and path.read_text() == text:
        return False
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)
    return True
