"""Steps: the results table (one row per fit and ObsID), the status and selection tables, and
HTML renderings of any table for the Snakemake report.

Column names say what they hold (``bbody_kT``, ``bbody_kT_lo90``, ``abs_flux``, ``net_rate``);
each column carries its unit and a description (ECSV), the CSV has the same columns.
"""

from __future__ import annotations

import html
import json
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from astropy.table import Table

from ..catalog import read_observation_table
from .files import write_table, write_text

log = logging.getLogger(__name__)

#: XSPEC unit strings that astropy does not parse, and what they mean.
XSPEC_UNITS = {"10^22 atoms cm^-2": "1e22 / cm2", "10^22": "1e22 / cm2", "": ""}
FLUX_UNIT = "erg / (cm2 s)"


def parameter_columns(parameters: Sequence[dict]) -> dict[int, str]:
    """Column name of each model parameter (by XSPEC index): ``nH``, ``bbody_kT``, ...

    The bare parameter name is used where it is unique in the model, ``component_name``
    otherwise, and ``component_<position>_name`` (XSPEC's component number, as in
    ``bbody_2.kT``) where the same component appears twice.
    """
    first: dict[int, dict] = {}
    for p in parameters:
        first.setdefault(int(p["index"]), p)
    # component number: a new component starts where the name changes or a parameter repeats
    position, previous, seen, numbered = 0, None, set(), {}
    for index in sorted(first):
        p = first[index]
        if p["component"] != previous or p["parameter"] in seen:
            position, previous, seen = position + 1, p["component"], set()
        seen.add(p["parameter"])
        numbered[index] = position
    names = [first[i]["parameter"] for i in sorted(first)]
    long = [f"{first[i]['component']}_{first[i]['parameter']}" for i in sorted(first)]
    out = {}
    for index, name, full in zip(sorted(first), names, long, strict=True):
        p = first[index]
        if names.count(name) == 1:
            out[index] = name
        elif long.count(full) == 1:
            out[index] = full
        else:
            out[index] = f"{p['component']}_{numbered[index]}_{p['parameter']}"
    return out


def _unit(xspec_unit: str) -> str:
    import astropy.units as u

    text = XSPEC_UNITS.get(xspec_unit, xspec_unit)
    try:
        return u.Unit(text).to_string() if text else ""
    except ValueError:
        return ""


#: results columns from the products stage's pile-up assessment: (column, record key, unit, text)
PILEUP_COLUMNS = (
    ("pileup", "piled_up", "", "piled-up core excised: the spectrum is the annulus's"),
    ("src_rate", "src_rate", "ct / s", "background-subtracted count rate in the source circle"),
    ("src_rate_err", "src_rate_err", "ct / s", "1-sigma error of src_rate"),
    ("pileup_threshold", "threshold", "ct / s", "pile-up threshold (pileup.threshold_pc/_wt)"),
    ("excision_radius", "excision_radius_arcsec", "arcsec", "inner radius of the annulus"),
    ("excision_radius_pix", "excision_radius_pix", "pix", 'the same in sky pixels (2.357")'),
    ("psf_fraction", "psf_fraction", "", "fraction of the circle's PSF in the annulus, 1.5 keV"),
)


def _pileup_values(info: dict | None) -> dict:
    info = info or {}
    out = {}
    for column, key, _, _ in PILEUP_COLUMNS:
        value = info.get(key)
        out[column] = bool(value) if column == "pileup" else _number(value)
    return out


def _fit_rows(fit: dict, kind: str, epoch_rows: dict, pileup: dict | None = None) -> list[dict]:
    """Rows of one fit JSON: one per data group (ObsID)."""
    names = parameter_columns(fit["parameters"])
    counts = {s["obsid"]: s for s in fit.get("spectra", [])}
    fluxes = {f["obsid"]: f for f in fit.get("fluxes", [])}
    groups: dict[str, dict] = {}
    for p in fit["parameters"]:
        obsid = str(p["obsid"])
        row = groups.setdefault(obsid, {"fit": kind, "obsid": obsid})
        name = names[int(p["index"])]
        row[name] = p["value"]
        row[f"{name}_lo90"] = p["err_lo"]
        row[f"{name}_hi90"] = p["err_hi"]
    for obsid, row in groups.items():
        sel = epoch_rows.get(obsid)
        row["start_mjd"] = float(sel["start_time"]) if sel is not None else np.nan
        row["days_after_epoch"] = float(sel["days_after_epoch"]) if sel is not None else np.nan
        spec = counts.get(obsid, {})
        for key in (
            "exposure",
            "src_counts",
            "bkg_counts",
            "bkg_scale",
            "net_counts",
            "net_rate",
            "net_rate_err",
        ):
            row[key] = float(spec.get(key, np.nan))
        flux = fluxes.get(obsid, {})
        for kind_, key in (("abs", "flux"), ("unabs", "unabs_flux")):
            row[f"{kind_}_flux"] = _number(flux.get(key))
            row[f"{kind_}_flux_lo90"] = _number(flux.get(f"{key}_lo"))
            row[f"{kind_}_flux_hi90"] = _number(flux.get(f"{key}_hi"))
        row.update(_pileup_values((pileup or {}).get(obsid)))
        row["statistic"] = fit.get("statistic", "")
        row["stat_value"] = float(fit.get("stat", np.nan))
        row["dof"] = int(fit.get("dof", -1))
        row["n_bins"] = int(fit.get("n_bins", -1))
    return list(groups.values())


def _number(value) -> float:  # noqa: ANN001 (None in JSON for NaN)
    return np.nan if value is None else float(value)


def describe_results(table: Table, fits: Sequence[dict]) -> Table:
    """Units and descriptions of every results column (from the fits' own metadata)."""
    fit = fits[0]
    band = "-".join(f"{e:g}" for e in fit.get("flux_band_keV", (0.3, 10.0))) + " keV"
    names = parameter_columns(fit["parameters"])
    tied = {int(p["index"]) for f in fits for p in f["parameters"] if p.get("tied_to")}
    frozen = {int(p["index"]) for p in fit["parameters"] if p.get("frozen")}
    info = {
        "fit": ("", "joint: all ObsIDs fitted together; single: this ObsID on its own"),
        "obsid": ("", "Swift ObsID"),
        "start_mjd": ("d", "start of the observation, MJD (UTC)"),
        "days_after_epoch": ("d", "start of the observation, days after the target's epoch"),
        "exposure": ("s", "exposure of the source spectrum (EXPOSURE)"),
        "src_counts": ("ct", f"counts in the source region, noticed band ({fit.get('ignore')})"),
        "bkg_counts": ("ct", "counts in the background region, same channels"),
        "bkg_scale": ("", "background scaling: BACKSCAL and EXPOSURE ratio, source/background"),
        "net_counts": ("ct", "src_counts - bkg_scale * bkg_counts"),
        "net_rate": ("ct / s", "background-subtracted count rate in the noticed band"),
        "net_rate_err": ("ct / s", "1-sigma error of net_rate (Gaussian)"),
        **{column: (unit, text) for column, _, unit, text in PILEUP_COLUMNS},
        "statistic": ("", "fit statistic (cstat: W-stat with background, as XSPEC)"),
        "stat_value": ("", "statistic at the best fit (joint rows: of the whole joint fit)"),
        "dof": ("", "degrees of freedom (joint rows: of the whole joint fit)"),
        "n_bins": ("", "spectral bins in the fit (joint rows: all ObsIDs)"),
    }
    for kind, what in (("abs", "absorbed"), ("unabs", "unabsorbed (absorbers set to 0)")):
        info[f"{kind}_flux"] = (FLUX_UNIT, f"{what} energy flux, {band}")
        info[f"{kind}_flux_lo90"] = (FLUX_UNIT, f"{what} flux, {band}: lower 90% bound")
        info[f"{kind}_flux_hi90"] = (FLUX_UNIT, f"{what} flux, {band}: upper 90% bound")
    for p in fit["parameters"]:
        index = int(p["index"])
        if int(p["group"]) != 1:
            continue
        name, unit = names[index], _unit(p["unit"])
        what = f"{p['component']}.{p['parameter']} ({p['unit'] or 'dimensionless'})"
        if index in tied:
            what += ", tied across ObsIDs in the joint fit"
        if index in frozen:
            what += ", frozen"
        info[name] = (unit, what)
        info[f"{name}_lo90"] = (unit, f"{what}: lower 90% bound (delta stat 2.706)")
        info[f"{name}_hi90"] = (unit, f"{what}: upper 90% bound (delta stat 2.706)")
    for column in table.colnames:
        unit, text = info.get(column, ("", ""))
        table[column].unit = unit or None
        table[column].description = text
    table.meta["model"] = fit.get("model", "")
    table.meta["flux_band_keV"] = list(fit.get("flux_band_keV", (0.3, 10.0)))
    table.meta["intervals"] = "*_lo90/*_hi90: 90% confidence bounds (delta stat 2.706)"
    return table


def results_table(
    joint: str | Path,
    summaries: list[str | Path],
    selection: str | Path,
    ecsv_out: str | Path,
    csv_out: str | Path,
) -> Table:
    """The joint fit (``fit=joint``) then each ObsID's own fit (``single``), one row per ObsID.

    Parameters
    ----------
    joint : path
        ``fit/joint.json`` (``.ecsv`` beside it is accepted too).
    summaries : list of path
        Per-ObsID summaries; the single fits are the ``fit.json`` beside each ``fit_table``.
    selection : path
        The selection table (start times, days after the epoch).
    ecsv_out, csv_out : path
        Outputs.
    """
    from .summary import read_summaries, with_products

    epoch_rows = {str(r["obsid"]): r for r in read_observation_table(selection)}
    fits = [(json.loads(Path(joint).with_suffix(".json").read_text()), "joint")]
    pileup = {}
    for summary in with_products(read_summaries(summaries)):
        fits.append((json.loads(single_fit_json(summary).read_text()), "single"))
        pileup[str(summary["obsid"])] = summary.get("pileup")
    fits = [(f, k) for f, k in fits if f.get("status", "ok") == "ok" and f.get("parameters")]
    if fits:
        rows = [row for fit, kind in fits for row in _fit_rows(fit, kind, epoch_rows, pileup)]
        first = ["fit", "obsid", "start_mjd", "days_after_epoch"]
        order = first + [c for c in rows[0] if c not in first]
        table = Table(rows=[[r.get(c, np.nan) for c in order] for r in rows], names=order)
        table = describe_results(table, [f for f, _ in fits])
    else:  # every ObsID failed: an empty table (the status table says why), not a crash
        log.warning("no fit produced any parameter: the results table is empty (see status.ecsv)")
        table = Table(
            names=("fit", "obsid", "start_mjd", "days_after_epoch"),
            dtype=("U6", "U11", float, float),
        )
    write_table(table, ecsv_out)
    write_table(table, csv_out, format="ascii.csv")
    log.info("%d fit rows written (%d fits)", len(table), len(fits))
    return table


def single_fit_json(summary: dict) -> Path:
    """The ``fit.json`` of one ObsID, from its summary."""
    products = summary.get("products", {})
    if "fit" in products:
        return Path(products["fit"])
    return Path(products["fit_table"]).with_name("fit.json")


def selection_table(selection: str | Path, ecsv_out: str | Path, csv_out: str | Path) -> Table:
    """Every catalog observation with ``selected`` and the ``reason`` it was dropped."""
    table = read_observation_table(selection)
    keep = [
        c
        for c in (
            "obsid",
            "start_time",
            "days_after_epoch",
            "xrt_exposure",
            "mode_exposure",
            "selected",
            "reason",
        )
        if c in table.colnames
    ]
    table = table[keep]
    text = {
        "obsid": "Swift ObsID",
        "start_time": "start, MJD (UTC)",
        "days_after_epoch": "start, days after the target's epoch",
        "xrt_exposure": "XRT exposure, all modes",
        "mode_exposure": "XRT exposure in the configured mode",
        "selected": "kept for processing",
        "reason": "why it was dropped (empty when selected)",
    }
    for name in table.colnames:
        table[name].description = text.get(name, "")
    write_table(table, ecsv_out)
    write_table(table, csv_out, format="ascii.csv")
    return table


def html_table(ecsv: str | Path, output: str | Path, title: str | None = None) -> None:
    """A self-contained HTML page of an ECSV table: units and descriptions in the header."""
    table = Table.read(ecsv, format="ascii.ecsv")
    head = []
    for name in table.colnames:
        col = table[name]
        unit = f" [{col.unit}]" if col.unit not in (None, "") else ""
        tip = html.escape(col.description or "", quote=True)
        head.append(f'<th title="{tip}">{html.escape(name)}{html.escape(unit)}</th>')
    body = []
    for row in table:
        cells = [html.escape(_format(row[name])) for name in table.colnames]
        body.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    described = [
        f"<li><b>{html.escape(n)}</b>: {html.escape(table[n].description)}</li>"
        for n in table.colnames
        if table[n].description
    ]
    name = title or Path(ecsv).stem
    page = (
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'>"
        f"<title>{html.escape(name)}</title><style>"
        "body{font-family:sans-serif;font-size:13px}table{border-collapse:collapse}"
        "td,th{border:1px solid #bbb;padding:2px 6px;text-align:right;white-space:nowrap}"
        "th{background:#eee;position:sticky;top:0}</style></head><body>"
        f"<h2>{html.escape(name)}</h2><p>{len(table)} rows; the ECSV file has the same "
        "columns with units and descriptions.</p>"
        f"<table><thead><tr>{''.join(head)}</tr></thead><tbody>\n"
        + "\n".join(body)
        + "\n</tbody></table>"
        + (f"<h3>Columns</h3><ul>{''.join(described)}</ul>" if described else "")
        + "</body></html>\n"
    )
    write_text(output, page)


def _format(value) -> str:  # noqa: ANN001
    if isinstance(value, float | np.floating):
        return "" if not np.isfinite(value) else f"{value:.5g}"
    return str(value)


def status_table(
    selection: str | Path,
    summaries: list[str | Path],
    output: str | Path,
    lightcurve_records: list[str | Path] | None = None,
) -> Table:
    """One row per selected ObsID: how far it got, and why it stopped if it did.

    With ``lightcurve_records`` (the ``lightcurve`` stage's records), a column ``lightcurve``:
    ``ok``, ``failed: <reason>``, or empty where the ObsID failed before its products.
    """
    from .files import read_record
    from .summary import read_summaries

    rows = read_observation_table(selection)
    start = {str(r["obsid"]): float(r["start_time"]) for r in rows}
    infos = read_summaries(summaries)
    lc = {}
    for path in lightcurve_records or []:
        record = read_record(path)
        lc[record.get("obsid", Path(path).parent.name)] = record
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
            "lightcurve": np.array([_lightcurve_status(i, lc) for i in infos], dtype=str)
            if infos
            else np.array([], dtype="U1"),
        }
    )
    table.meta["comment"] = (
        "status ok: processed and fitted; failed: failed_at names the stage, message the "
        "reason, log the job's log file; lightcurve: the corrected light curve (ok, or failed "
        "with the reason; it does not stop the fits)"
    )
    write_table(table, output)
    n_ok = int(np.sum(table["status"] == "ok"))
    log.info("%d of %d selected ObsIDs processed and fitted", n_ok, len(table))
    for row in table[table["status"] != "ok"]:
        log.warning("ObsID %s failed at %s: %s", row["obsid"], row["failed_at"], row["message"])
    return table


def _lightcurve_status(summary: dict, records: dict) -> str:
    """``ok``, ``failed: <reason>`` or empty (no record, or the ObsID failed before it)."""
    record = records.get(summary["obsid"])
    if record is None or record.get("failed_at", "lightcurve") != "lightcurve":
        return ""
    return "ok" if record["status"] == "ok" else f"failed: {record.get('message', '')}"


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
        if "lightcurve" in status.colnames:
            for row in status[np.char.startswith(status["lightcurve"].astype(str), "failed")]:
                lines.append(f"  ObsID {row['obsid']}: no light curve ({row['lightcurve']})")
        joint = base / "fit" / "joint.json"
        if joint.exists():
            info = json.loads(joint.read_text())
            if info.get("status") != "ok":
                lines.append(f"  {target}: joint fit not made: {info.get('message', '')}")
    return lines
