"""Figure: long-term light curve (corrected net count rate per bin in every band, Gehrels
asymmetric errors) and the hardness ratio below it (per bin, and per ObsID), against days after
the epoch; read from the light-curve tables (``tables/lightcurve.ecsv``, ``hardness.ecsv``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from astropy.table import Table

from .style import COLOURS, COLUMN_WIDTH, COMPONENT_COLOURS, epoch_label, new_figure, save, style

MARKERS = ("o", "v", "^", "s", "D", "P")


def _bands(lc: Table) -> list[tuple[str, str]]:
    """(rate column, label) of every band in the table, the main band first."""
    bands = [("net_rate", lc.meta.get("band", ""))]
    for lo, hi in lc.meta.get("bands_keV", [])[1:]:
        name = f"{lo:g}-{hi:g}"
        if f"net_rate_{name}" in lc.colnames:
            bands.append((f"net_rate_{name}", f"{name} keV"))
    return bands


def lightcurve_figure(lightcurve: str | Path, hardness: str | Path, target: dict):  # noqa: ANN201
    """Light curve (every band) and hardness ratio figure."""
    lc = Table.read(lightcurve, format="ascii.ecsv")
    hr = Table.read(hardness, format="ascii.ecsv")
    _, xlabel = epoch_label(target)
    with style():
        fig = new_figure(COLUMN_WIDTH, 3.6)
        top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=(2, 1))
        days = np.asarray(lc["days_after_epoch"], float) if len(lc) else np.array([])
        for k, (col, label) in enumerate(_bands(lc) if len(lc) else []):
            errors = np.vstack([lc[f"{col}_errlo"], lc[f"{col}_errhi"]])
            colour = COLOURS["single"] if k == 0 else COMPONENT_COLOURS[k % len(COMPONENT_COLOURS)]
            bars = top.errorbar(
                days,
                np.asarray(lc[col], float),
                yerr=errors,
                fmt=MARKERS[k % len(MARKERS)],
                ms=3 if k == 0 else 2.5,
                color=colour,
                elinewidth=0.7,
                label=label,
            )
            bars.lines[0].set_gid("rate" if k == 0 else f"rate_{label.split()[0]}")
        if len(lc):
            top.legend(fontsize=5, loc="best")
            # bands a decade apart (the hard band of a soft source): log scale when it can be
            rates = np.concatenate([np.asarray(lc[c], float) for c, _ in _bands(lc)])
            if np.all(np.isfinite(rates) & (rates > 0)):
                top.set_yscale("log")
        top.set_ylabel(r"Net rate [counts s$^{-1}$]")
        binning = lc.meta.get("binning", "snapshot")
        top.set_title(
            f"{target['name']}: {lc.meta.get('band', '')}, corrected, per {binning}", fontsize=7
        )
        if len(lc) and "hr" in lc.colnames:
            bars = bottom.errorbar(
                days,
                np.asarray(lc["hr"], float),
                yerr=np.vstack([lc["hr_errlo"], lc["hr_errhi"]]),
                fmt=".",
                color=COLOURS["other"],
                elinewidth=0.5,
                label=f"per {binning}",
            )
            bars.lines[0].set_gid("hr")
        if len(hr) and "hardness" in hr.colnames:
            bars = bottom.errorbar(
                np.asarray(hr["days_after_epoch"], float),
                np.asarray(hr["hardness"], float),
                yerr=np.vstack([hr["hardness_errlo"], hr["hardness_errhi"]]),
                fmt="s",
                ms=3,
                color=COLOURS["joint"],
                elinewidth=0.7,
                label="per ObsID",
            )
            bars.lines[0].set_gid("hardness")
            bottom.legend(fontsize=5, loc="best")
        soft = "-".join(f"{e:g}" for e in hr.meta.get("soft_band_keV", ()))
        hard = "-".join(f"{e:g}" for e in hr.meta.get("hard_band_keV", ()))
        bottom.set_ylabel(f"HR = H/S\nH: {hard}, S: {soft} keV", fontsize=6)
        bottom.set_xlabel(xlabel)
    return fig


def plot_lightcurve(
    lightcurve: str | Path,
    hardness: str | Path,
    target: dict,
    output: str | Path,
    pdf: str | Path | None = None,
) -> None:
    """Write the light curve figure as PNG and PDF."""
    save(
        [lightcurve_figure(lightcurve, hardness, target)],
        pdf or Path(output).with_suffix(".pdf"),
        png=output,
    )
