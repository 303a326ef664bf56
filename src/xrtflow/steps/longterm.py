"""Step: the long-term light curve (corrected rates per bin, every band, hardness ratio) and the
hardness ratio per ObsID, from the corrected light curves of the ObsIDs (``lightcurve`` stage).

Errors are Gehrels (1986, ApJ 303, 336) 1-sigma Poisson limits (his eqs. 7 and 12 with
S = 1), which stay right at a few counts where sqrt(N) does not; source and scaled background
limits are combined in quadrature on each side.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from astropy.table import Table

from .files import write_table

log = logging.getLogger(__name__)


def gehrels_upper(n: np.ndarray, s: float = 1.0) -> np.ndarray:
    """Upper Poisson limit, Gehrels (1986) eq. 7: n + S sqrt(n + 3/4) + (S^2 + 3) / 4."""
    n = np.asarray(n, float)
    return n + s * np.sqrt(n + 0.75) + (s**2 + 3.0) / 4.0


def gehrels_lower(n: np.ndarray, s: float = 1.0) -> np.ndarray:
    """Lower Poisson limit, Gehrels (1986) eq. 12: n (1 - 1/(9n) - S/(3 sqrt n))^3, 0 at n=0."""
    n = np.asarray(n, float)
    safe = np.where(n > 0, n, 1.0)
    low = safe * (1.0 - 1.0 / (9.0 * safe) - s / (3.0 * np.sqrt(safe))) ** 3
    return np.where(n > 0, np.clip(low, 0.0, None), 0.0)


def net_with_errors(n_src, n_bkg, scale) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # noqa: ANN001
    """Net counts and their lower/upper 1-sigma errors (Gehrels limits, quadrature)."""
    n_src, n_bkg, scale = (np.asarray(x, float) for x in (n_src, n_bkg, scale))
    net = n_src - scale * n_bkg
    up = np.hypot(gehrels_upper(n_src) - n_src, scale * (gehrels_upper(n_bkg) - n_bkg))
    low = np.hypot(n_src - gehrels_lower(n_src), scale * (n_bkg - gehrels_lower(n_bkg)))
    return net, low, up


def _per_bin_rows(obsid: str, t: Table, bands, hardness, epoch: float) -> list[dict]:  # noqa: ANN001
    mjdref = float(t.meta.get("MJDREFI", 51910)) + float(t.meta.get("MJDREFF", 0.0))
    main = bands[0][0]
    rows = []
    for k, r in enumerate(t):
        mjd = mjdref + float(r["TIME"]) / 86400.0
        row = {
            "obsid": obsid,
            "bin": k + 1,
            "mjd": mjd,
            "days_after_epoch": mjd - epoch,
            "tstart": float(r["TSTART"]),
            "tstop": float(r["TSTOP"]),
            "exposure": float(r["EXPOSURE"]),
            "fracexp": float(r["FRACEXP"]),
            "corr": float(r["CORR"]),
            "src_counts": float(r[f"COUNTS_{main}"]),
            "bkg_counts": float(r[f"BKG_COUNTS_{main}"]),
            "bkg_scale": float(t.meta["AREARAT"]),
            "net_rate": float(r[f"RATE_{main}"]),
            "net_rate_errlo": float(r[f"ERR_LO_{main}"]),
            "net_rate_errhi": float(r[f"ERR_HI_{main}"]),
        }
        for name, _, _ in bands[1:]:
            row[f"net_rate_{name}"] = float(r[f"RATE_{name}"])
            row[f"net_rate_{name}_errlo"] = float(r[f"ERR_LO_{name}"])
            row[f"net_rate_{name}_errhi"] = float(r[f"ERR_HI_{name}"])
        if hardness:
            row["hr"] = float(r["HR"])
            row["hr_errlo"] = float(r["HR_ERR_LO"])
            row["hr_errhi"] = float(r["HR_ERR_HI"])
        rows.append(row)
    return rows


def _describe(table: Table, bands, hardness, binning: str) -> None:  # noqa: ANN001
    main = f"{bands[0][1]:g}-{bands[0][2]:g} keV"
    info = {
        "obsid": ("", "Swift ObsID"),
        "bin": ("", f"bin number within the ObsID ({binning} bins)"),
        "mjd": ("d", "bin centre, MJD (TT)"),
        "days_after_epoch": ("d", "bin centre, days after the target's epoch"),
        "tstart": ("s", "bin start, MET"),
        "tstop": ("s", "bin end, MET"),
        "exposure": ("s", "time of the bin inside the GTIs"),
        "fracexp": ("", "exposure / bin width"),
        "corr": ("", "xrtlccorr-like correction 1/f (PSF outside the region, bad columns)"),
        "src_counts": ("ct", f"counts in the source region, {main}"),
        "bkg_counts": ("ct", f"counts in the background region, {main}"),
        "bkg_scale": ("", "region area ratio source/background"),
        "net_rate": ("ct / s", f"background-subtracted corrected count rate, {main}"),
        "net_rate_errlo": ("ct / s", "lower 1-sigma error (Gehrels 1986 limits)"),
        "net_rate_errhi": ("ct / s", "upper 1-sigma error (Gehrels 1986 limits)"),
    }
    for name, lo, hi in bands[1:]:
        band = f"{lo:g}-{hi:g} keV"
        info[f"net_rate_{name}"] = ("ct / s", f"background-subtracted corrected rate, {band}")
        info[f"net_rate_{name}_errlo"] = ("ct / s", f"lower 1-sigma error, {band}")
        info[f"net_rate_{name}_errhi"] = ("ct / s", f"upper 1-sigma error, {band}")
    if hardness:
        hr = f"rate({hardness[1]} keV) / rate({hardness[0]} keV)"
        info["hr"] = ("", f"hardness ratio {hr}")
        info["hr_errlo"] = ("", "lower 1-sigma error of hr (propagated)")
        info["hr_errhi"] = ("", "upper 1-sigma error of hr (propagated)")
    for name in table.colnames:
        unit, text = info.get(name, ("", ""))
        table[name].unit = unit or None
        table[name].description = text


def _table(rows: list[dict], names: list[str], dtypes: tuple) -> Table:
    if rows:
        return Table(rows=[[r[c] for c in names] for r in rows], names=names)
    return Table(names=names, dtype=dtypes)


def lightcurve_table(
    lightcurve_records: Sequence[str | Path],
    selection: str | Path,
    epoch: float | None,
    lc_config: dict | None,
    ecsv_out: str | Path,
    csv_out: str | Path,
    hardness_out: str | Path,
) -> tuple[Table, Table]:
    """The long-term light curve from the corrected light curves of every ObsID.

    ``lightcurve.ecsv``: one row per bin (``lightcurve.binning``), the corrected net rate in
    every band with Gehrels errors and the hardness ratio; ``hardness.ecsv``: one row per ObsID,
    the whole ObsID as one bin (:func:`~xrtflow.products.lightcurve_corr.aggregate_light_curve`).
    ``lightcurve_records`` are the ``lightcurve`` stage records (selection order); the ObsIDs
    whose record failed are left out (the status table says why).
    """
    from ..catalog import read_observation_table
    from ..products.lightcurve_corr import aggregate_light_curve
    from .files import read_record
    from .lightcurves import lightcurve_settings

    settings = lightcurve_settings(lc_config)
    bands, hardness = settings["bands"], settings["hardness"]
    epoch = float(epoch or 0.0)
    days = {
        str(r["obsid"]): float(r["start_time"]) - epoch for r in read_observation_table(selection)
    }
    rows, hard = [], []
    for record_path in lightcurve_records:
        record = read_record(record_path)
        if record["status"] != "ok":
            continue
        obsid, path = record["obsid"], record["products"]["lc_corr_table"]["path"]
        t = Table.read(path, format="ascii.ecsv")
        if not len(t):
            continue
        rows += _per_bin_rows(obsid, t, bands, hardness, epoch)
        whole = aggregate_light_curve(t, bands, hardness)[0]
        h = {"obsid": obsid, "days_after_epoch": days.get(obsid, np.nan)}
        if hardness:
            soft, hard_band = hardness
            h["soft_rate"] = float(whole[f"RATE_{soft}"])
            h["hard_rate"] = float(whole[f"RATE_{hard_band}"])
            h["soft_net_counts"] = float(
                whole[f"COUNTS_{soft}"] - t.meta["AREARAT"] * whole[f"BKG_COUNTS_{soft}"]
            )
            h["hard_net_counts"] = float(
                whole[f"COUNTS_{hard_band}"] - t.meta["AREARAT"] * whole[f"BKG_COUNTS_{hard_band}"]
            )
            h["hardness"] = float(whole["HR"])
            h["hardness_errlo"] = float(whole["HR_ERR_LO"])
            h["hardness_errhi"] = float(whole["HR_ERR_HI"])
            h["hardness_err"] = 0.5 * (h["hardness_errlo"] + h["hardness_errhi"])
        hard.append(h)
    names = list(rows[0]) if rows else ["obsid", "bin", "days_after_epoch", "net_rate"]
    table = _table(rows, names, ("U11", int, float, float))
    _describe(table, bands, hardness, settings["binning"])
    table.meta["band"] = f"{bands[0][1]:g}-{bands[0][2]:g} keV"
    table.meta["bands_keV"] = [[lo, hi] for _, lo, hi in bands]
    table.meta["binning"] = settings["binning"]
    write_table(table, ecsv_out)
    write_table(table, csv_out, format="ascii.csv")
    hnames = ["obsid", "days_after_epoch"]
    if hardness:
        hnames += ["soft_rate", "hard_rate", "soft_net_counts", "hard_net_counts"]
        hnames += ["hardness", "hardness_errlo", "hardness_errhi", "hardness_err"]
    htable = _table(
        [{k: h.get(k, np.nan) for k in hnames} for h in hard],
        hnames,
        ("U11",) + (float,) * (len(hnames) - 1),
    )
    soft_b = next((b for b in bands if hardness and b[0] == hardness[0]), None)
    hard_b = next((b for b in bands if hardness and b[0] == hardness[1]), None)
    htext = {
        "obsid": ("", "Swift ObsID"),
        "days_after_epoch": ("d", "start of the ObsID, days after the epoch"),
        "soft_rate": ("ct / s", "corrected net rate S, soft band"),
        "hard_rate": ("ct / s", "corrected net rate H, hard band"),
        "soft_net_counts": ("ct", "net counts, soft band"),
        "hard_net_counts": ("ct", "net counts, hard band"),
        "hardness": ("", "hardness ratio H / S of the corrected rates"),
        "hardness_errlo": ("", "lower 1-sigma error (Gehrels errors, propagated)"),
        "hardness_errhi": ("", "upper 1-sigma error (Gehrels errors, propagated)"),
        "hardness_err": ("", "mean of the lower and upper errors"),
    }
    for name in htable.colnames:
        unit, text = htext.get(name, ("", ""))
        htable[name].unit = unit or None
        htable[name].description = text
    if soft_b and hard_b:
        htable.meta.update(
            soft_band_keV=[soft_b[1], soft_b[2]],
            hard_band_keV=[hard_b[1], hard_b[2]],
            definition="H / S",
        )
    write_table(htable, hardness_out)
    log.info("%d light-curve bins of %d ObsIDs", len(table), len(htable))
    return table, htable
