"""Figure: long-term light curve (net count rate per snapshot, Gehrels errors) and the hardness
ratio of each ObsID below it, against days after the epoch; read from the light-curve tables."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from astropy.table import Table

from .style import COLOURS, COLUMN_WIDTH, epoch_label, new_figure, save, style


def lightcurve_figure(lightcurve: str | Path, hardness: str | Path, target: dict):  # noqa: ANN201
    """Light curve and hardness ratio figure."""
    lc = Table.read(lightcurve, format="ascii.ecsv")
    hr = Table.read(hardness, format="ascii.ecsv")
    _, xlabel = epoch_label(target)
    with style():
        fig = new_figure(COLUMN_WIDTH, 3.4)
        top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=(2, 1))
        if len(lc):
            rate = np.asarray(lc["net_rate"], float)
            errors = np.vstack([lc["net_rate_errlo"], lc["net_rate_errhi"]])
            bars = top.errorbar(
                np.asarray(lc["days_after_epoch"], float),
                rate,
                yerr=errors,
                fmt="o",
                color=COLOURS["single"],
                elinewidth=0.7,
            )
            bars.lines[0].set_gid("rate")
        top.set_ylabel(r"Net rate [counts s$^{-1}$]")
        top.set_title(f"{target['name']}: {lc.meta.get('band', '')}, per snapshot", fontsize=7)
        if len(hr):
            bars = bottom.errorbar(
                np.asarray(hr["days_after_epoch"], float),
                np.asarray(hr["hardness"], float),
                yerr=np.asarray(hr["hardness_err"], float),
                fmt="s",
                color=COLOURS["joint"],
                elinewidth=0.7,
            )
            bars.lines[0].set_gid("hardness")
        soft = "-".join(f"{e:g}" for e in hr.meta.get("soft_band_keV", ()))
        hard = "-".join(f"{e:g}" for e in hr.meta.get("hard_band_keV", ()))
        bottom.set_ylabel(f"HR (H$-$S)/(H+S)\nH: {hard}, S: {soft} keV", fontsize=6)
        bottom.axhline(0, color="0.6", lw=0.5)
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
