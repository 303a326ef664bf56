"""Step: the long-term light curve table (count rate per snapshot) and hardness per ObsID.

Errors are Gehrels (1986, ApJ 303, 336) 1-sigma Poisson limits (his eqs. 7 and 12 with
S = 1), which stay right at a few counts where sqrt(N) does not; source and scaled background
limits are combined in quadrature on each side.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.table import Table

from .files import write_table

log = logging.getLogger(__name__)

#: XRT PI channels are 10 eV wide (PI = E / 10 eV).
PI_KEV = 0.01
#: Hardness bands (keV): soft and hard.
SOFT_BAND = (0.3, 1.0)
HARD_BAND = (1.0, 10.0)


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


def _backscal(path: str | Path) -> float:
    return float(fits.getval(path, "BACKSCAL", "SPECTRUM"))


def _snapshots(hdul: fits.HDUList, time: np.ndarray) -> np.ndarray:
    """Snapshot number of each light-curve bin: the GTI it falls in (or gaps > 10 min)."""
    if "GTI" in hdul and len(hdul["GTI"].data):
        start = np.asarray(hdul["GTI"].data["START"], float)
        return np.clip(np.searchsorted(start, time, side="right") - 1, 0, None)
    return np.concatenate([[0], np.cumsum(np.diff(time) > 600.0)])


def lightcurve_rows(
    obsid: str, src_lc: str, bkg_lc: str, src_pha: str, bkg_pha: str, epoch: float
) -> list[dict]:
    """One row per snapshot of one ObsID."""
    scale = _backscal(src_pha) / _backscal(bkg_pha)
    with fits.open(src_lc) as s, fits.open(bkg_lc) as b:
        header = s["RATE"].header
        mjdref = header.get("MJDREFI", 0) + header.get("MJDREFF", 0.0)
        data = s["RATE"].data
        time = np.asarray(data["TIME"], float) + header.get("TIMEZERO", 0.0)
        delta = float(header["TIMEDEL"])
        names = s["RATE"].columns.names
        frac = np.asarray(data["FRACEXP"], float) if "FRACEXP" in names else np.ones(len(time))
        live = delta * frac
        # RATE = counts / (TIMEDEL x FRACEXP), as extractor writes it
        counts = np.rint(np.asarray(data["RATE"], float) * live)
        bcounts = np.rint(np.asarray(b["RATE"].data["RATE"], float) * live)
        snap = _snapshots(s, time)
    rows = []
    for k in np.unique(snap):
        m = snap == k
        exposure = float(live[m].sum())
        if exposure <= 0:
            continue
        n, nb = float(counts[m].sum()), float(bcounts[m].sum())
        net, low, up = net_with_errors(n, nb, scale)
        centre = float(np.sum(time[m] * live[m]) / exposure)
        rows.append(
            {
                "obsid": obsid,
                "snapshot": int(k) + 1,
                "mjd": mjdref + centre / 86400.0,
                "days_after_epoch": mjdref + centre / 86400.0 - epoch,
                "exposure": exposure,
                "src_counts": n,
                "bkg_counts": nb,
                "bkg_scale": scale,
                "net_rate": float(net) / exposure,
                "net_rate_errlo": float(low) / exposure,
                "net_rate_errhi": float(up) / exposure,
            }
        )
    return rows


def _band_counts(path: str | Path, band: tuple[float, float]) -> float:
    data = fits.getdata(path, "SPECTRUM")
    energy = np.asarray(data["CHANNEL"], float) * PI_KEV
    inside = (energy >= band[0]) & (energy < band[1])
    return float(np.sum(np.asarray(data["COUNTS"], float)[inside]))


def hardness_row(obsid: str, src_pha: str, bkg_pha: str, days: float) -> dict:
    """Hardness ratio (H - S) / (H + S) of one ObsID from its spectra."""
    scale = (
        _backscal(src_pha)
        / _backscal(bkg_pha)
        * float(fits.getval(src_pha, "EXPOSURE", "SPECTRUM"))
        / float(fits.getval(bkg_pha, "EXPOSURE", "SPECTRUM"))
    )
    out = {"obsid": obsid, "days_after_epoch": days}
    nets = {}
    for name, band in (("soft", SOFT_BAND), ("hard", HARD_BAND)):
        net, low, up = net_with_errors(
            _band_counts(src_pha, band), _band_counts(bkg_pha, band), scale
        )
        nets[name] = (float(net), 0.5 * float(low + up))
        out[f"{name}_net_counts"] = float(net)
    (s, ds), (h, dh) = nets["soft"], nets["hard"]
    total = h + s
    out["hardness"] = (h - s) / total if total > 0 else np.nan
    out["hardness_err"] = 2.0 * np.hypot(s * dh, h * ds) / total**2 if total > 0 else np.nan
    return out


def lightcurve_table(
    summaries: Sequence[str | Path],
    selection: str | Path,
    epoch: float | None,
    pi_range: tuple[int, int],
    ecsv_out: str | Path,
    csv_out: str | Path,
    hardness_out: str | Path,
) -> tuple[Table, Table]:
    """Net count rate per snapshot of every ObsID, and the hardness ratio of every ObsID."""
    from ..catalog import read_observation_table
    from .summary import read_summaries, with_products

    epoch = float(epoch or 0.0)
    days = {
        str(r["obsid"]): float(r["start_time"]) - epoch for r in read_observation_table(selection)
    }
    rows, hard = [], []
    for summary in with_products(read_summaries(summaries)):
        p, obsid = summary["products"], summary["obsid"]
        rows += lightcurve_rows(obsid, p["src_lc"], p["bkg_lc"], p["src_pha"], p["bkg_pha"], epoch)
        hard.append(hardness_row(obsid, p["src_pha"], p["bkg_pha"], days.get(obsid, np.nan)))
    band = f"{pi_range[0] * PI_KEV:g}-{pi_range[1] * PI_KEV:g} keV (PI {pi_range[0]}-{pi_range[1]})"
    names = list(rows[0]) if rows else ["obsid", "snapshot", "days_after_epoch", "net_rate"]
    table = (
        Table(rows=[[r[c] for c in names] for r in rows], names=names)
        if rows
        else Table(names=names, dtype=("U11", int, float, float))
    )
    info = {
        "obsid": ("", "Swift ObsID"),
        "snapshot": ("", "snapshot (GTI) number within the ObsID"),
        "mjd": ("d", "exposure-weighted mid time, MJD (TT)"),
        "days_after_epoch": ("d", "mid time, days after the target's epoch"),
        "exposure": ("s", "live time of the snapshot (TIMEDEL x FRACEXP summed)"),
        "src_counts": ("ct", f"counts in the source region, {band}"),
        "bkg_counts": ("ct", f"counts in the background region, {band}"),
        "bkg_scale": ("", "BACKSCAL ratio source/background"),
        "net_rate": ("ct / s", f"background-subtracted count rate, {band}"),
        "net_rate_errlo": ("ct / s", "lower 1-sigma error (Gehrels 1986 limits)"),
        "net_rate_errhi": ("ct / s", "upper 1-sigma error (Gehrels 1986 limits)"),
    }
    for name in table.colnames:
        unit, text = info.get(name, ("", ""))
        table[name].unit = unit or None
        table[name].description = text
    table.meta["band"] = band
    write_table(table, ecsv_out)
    write_table(table, csv_out, format="ascii.csv")
    hnames = [
        "obsid",
        "days_after_epoch",
        "soft_net_counts",
        "hard_net_counts",
        "hardness",
        "hardness_err",
    ]
    htable = (
        Table(rows=[[h[c] for c in hnames] for h in hard], names=hnames)
        if hard
        else Table(names=hnames, dtype=("U11",) + (float,) * 5)
    )
    soft = f"{SOFT_BAND[0]:g}-{SOFT_BAND[1]:g} keV"
    hardb = f"{HARD_BAND[0]:g}-{HARD_BAND[1]:g} keV"
    htext = {
        "days_after_epoch": ("d", "start of the ObsID, days after the epoch"),
        "soft_net_counts": ("ct", f"net counts S, {soft}"),
        "hard_net_counts": ("ct", f"net counts H, {hardb}"),
        "hardness": ("", f"(H - S) / (H + S), H: {hardb}, S: {soft}"),
        "hardness_err": ("", "1-sigma error (mean Gehrels errors, propagated)"),
    }
    for name in htable.colnames:
        unit, text = htext.get(name, ("", "Swift ObsID"))
        htable[name].unit = unit or None
        htable[name].description = text
    htable.meta.update(soft_band_keV=list(SOFT_BAND), hard_band_keV=list(HARD_BAND))
    write_table(htable, hardness_out)
    log.info("%d snapshots of %d ObsIDs", len(table), len(htable))
    return table, htable
