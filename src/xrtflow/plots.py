"""Figures: observation timeline, image grid, spectra with the fitted model, light curves."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import astropy.units as u  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from astropy.io import fits  # noqa: E402
from astropy.nddata import Cutout2D  # noqa: E402
from astropy.table import Table  # noqa: E402
from astropy.time import Time  # noqa: E402
from astropy.visualization import AsinhStretch, ImageNormalize  # noqa: E402
from astropy.wcs import WCS  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402

from .catalog import read_observation_table  # noqa: E402

#: Fixed metadata so that the same inputs give byte-identical PNG files.
PNG_METADATA = {"Software": None}
PLAIN_NUMBERS = FuncFormatter(lambda value, _: f"{value:g}")
ENERGY_TICKS = (0.3, 0.5, 1, 2, 5, 10)


def _style(ax) -> None:  # noqa: ANN001
    ax.minorticks_on()
    ax.tick_params(which="both", direction="in", top=True, right=True)


def _save(fig, output: str | Path) -> None:  # noqa: ANN001
    fig.savefig(output, dpi=150, metadata=PNG_METADATA)
    plt.close(fig)


def _epoch_label(target: dict) -> tuple[float, str]:
    epoch = target.get("epoch_mjd")
    if epoch is None:
        return 0.0, "MJD"
    return float(epoch), f"Days after MJD {epoch:g}"


def plot_timeline(selection: str | Path, target: dict, mode: str, output: str | Path) -> None:
    """XRT exposure of every catalog observation against time, selected ones highlighted."""
    table = read_observation_table(selection)
    epoch, label = _epoch_label(target)
    days = np.asarray(table["start_time"], float) - epoch
    exposure = np.asarray(table["xrt_exposure"], float)
    chosen = np.asarray(table["selected"], bool)
    fig, ax = plt.subplots(figsize=(9, 3.5), layout="constrained")
    _style(ax)
    ax.plot(
        days[~chosen], exposure[~chosen], "+", color="steelblue", alpha=0.7, label="Not selected"
    )
    ax.plot(days[chosen], exposure[chosen], "d", color="goldenrod", label=f"Selected ({mode})")
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(PLAIN_NUMBERS)
    ax.yaxis.set_minor_formatter(PLAIN_NUMBERS)
    ax.tick_params(which="minor", labelsize=8)
    low, high = (list(target.get("days_after_epoch") or [None, None]) + [None, None])[:2]
    if target.get("epoch_mjd") is not None and (low is not None or high is not None):
        ax.axvspan(
            low if low is not None else days.min(),
            high if high is not None else days.max(),
            color="goldenrod",
            alpha=0.12,
            lw=0,
            label="Selection window",
        )
    ax.set_xlabel(label, fontsize=13)
    ax.set_ylabel("Swift-XRT exposure [s]", fontsize=13)
    ax.set_title(f"{target['name']}: {int(chosen.sum())} of {len(table)} observations selected")
    ax.legend(fontsize=11)
    _save(fig, output)


def _grid(n: int, n_cols: int) -> tuple[int, int]:
    n_cols = max(1, min(n_cols, n))
    return int(np.ceil(max(n, 1) / n_cols)), n_cols


def plot_image_grid(
    images: list[str | Path],
    target_json: str | Path,
    src_region: str | Path,
    bkg_region: str | Path,
    target: dict,
    output: str | Path,
    size: u.Quantity = 14 * u.arcmin,
) -> None:
    """Cutouts of each ObsID's sky image around the target, with the extraction regions."""
    from regions import Regions

    from .steps.catalog import read_target

    _, coord = read_target(target_json)
    regions = list(Regions.read(src_region, format="ds9")) + list(
        Regions.read(bkg_region, format="ds9")
    )
    epoch, _ = _epoch_label(target)
    n_rows, n_cols = _grid(len(images), 4)
    fig, axes = plt.subplots(
        n_rows, n_cols, figsize=(3.2 * n_cols, 3.4 * n_rows), squeeze=False, layout="constrained"
    )
    for ax in axes.flat[len(images) :]:
        ax.set_visible(False)
    for ax, path in zip(axes.flat, images, strict=False):
        with fits.open(path) as hdul:
            hdu = next(h for h in hdul if h.data is not None and h.data.ndim == 2)
            wcs = WCS(hdu.header)
            cutout = Cutout2D(hdu.data, coord, size, wcs=wcs, mode="partial", fill_value=0)
            header = hdu.header
        norm = ImageNormalize(
            cutout.data, vmin=0, vmax=max(cutout.data.max(), 1), stretch=AsinhStretch(0.02)
        )
        ax.imshow(cutout.data, origin="lower", cmap="magma", norm=norm, interpolation="nearest")
        for region in regions:
            region.to_pixel(cutout.wcs).plot(ax=ax, color="cyan", lw=0.8, ls="-")
        day = Time(header.get("DATE-OBS")).mjd - epoch if header.get("DATE-OBS") else np.nan
        ax.set_title(f"{header.get('OBS_ID', Path(path).name[2:13])}  day {day:.2f}", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(f"{target['name']}: Swift-XRT images ({size.to_value(u.arcmin):g}' across)")
    _save(fig, output)


def plot_spectra(
    plot_table: str | Path, fit_json: str | Path, target: dict, output: str | Path
) -> None:
    """Each ObsID's spectrum (background subtracted, counts/s/keV) with the folded model."""
    table = Table.read(plot_table, format="ascii.ecsv")
    fit = json.loads(Path(fit_json).read_text())
    obsids = list(dict.fromkeys(str(o) for o in table["obsid"]))
    n_rows, n_cols = _grid(len(obsids), 2)
    fig = plt.figure(figsize=(6.3 * n_cols, 4.2 * n_rows), layout="constrained")
    outer = fig.add_gridspec(n_rows, n_cols)
    ax_main = None
    for index, obsid in enumerate(obsids):
        rows = table[np.asarray(table["obsid"]).astype(str) == obsid]
        inner = outer[index // n_cols, index % n_cols].subgridspec(
            2, 1, height_ratios=(3, 1), hspace=0
        )
        ax = fig.add_subplot(inner[0], sharex=ax_main)
        ax_main = ax_main or ax
        res = fig.add_subplot(inner[1], sharex=ax)
        centre = 0.5 * (rows["e_lo"] + rows["e_hi"])
        half = 0.5 * (rows["e_hi"] - rows["e_lo"])
        _style(ax)
        _style(res)
        ax.errorbar(
            centre,
            rows["rate"],
            xerr=half,
            yerr=rows["rate_err"],
            fmt="none",
            ecolor="k",
            lw=0.6,
            alpha=0.8,
            label=obsid,
        )
        ax.step(
            np.append(rows["e_lo"], rows["e_hi"][-1]),
            np.append(rows["model"], rows["model"][-1]),
            where="post",
            color="firebrick",
            lw=1.2,
            label="model",
        )
        ax.set_xscale("log")
        ax.set_yscale("log")
        positive = np.asarray(rows["rate"])[np.asarray(rows["rate"]) > 0]
        if len(positive):
            ax.set_ylim(positive.min() / 3, positive.max() * 3)
        ax.set_xlim(0.95 * float(np.min(rows["e_lo"])), 1.05 * float(np.max(rows["e_hi"])))
        ax.legend(loc="upper right", fontsize=9)
        ax.set_ylabel(r"counts s$^{-1}$ keV$^{-1}$")
        safe = np.where(rows["rate_err"] > 0, rows["rate_err"], np.inf)
        res.errorbar(
            centre,
            (rows["rate"] - rows["model"]) / safe,
            xerr=half,
            yerr=1.0 * (safe < np.inf),
            fmt="none",
            ecolor="k",
            lw=0.6,
        )
        res.axhline(0, color="firebrick", lw=1)
        res.set_ylabel(r"$\chi$")
        res.set_xlabel("Energy [keV]")
        res.set_xticks(ENERGY_TICKS)
        res.xaxis.set_major_formatter(PLAIN_NUMBERS)
        res.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.tick_params(labelbottom=False)
    fig.suptitle(
        f"{target['name']}: joint fit of {fit.get('model', '')}, "
        f"{fit.get('statistic', '')} = {fit.get('stat', float('nan')):.1f} for {fit.get('dof', '')} dof"
    )
    _save(fig, output)


def _backscal_ratio(src_pha: str | Path, bkg_pha: str | Path) -> float:
    return float(fits.getval(src_pha, "BACKSCAL", "SPECTRUM")) / float(
        fits.getval(bkg_pha, "BACKSCAL", "SPECTRUM")
    )


def plot_lightcurves(
    sources: list[str | Path],
    backgrounds: list[str | Path],
    src_phas: list[str | Path],
    bkg_phas: list[str | Path],
    target: dict,
    output: str | Path,
    binsize: float = 500.0,
) -> None:
    """Background-subtracted count rate of every ObsID against days after the epoch."""
    epoch, label = _epoch_label(target)
    fig, ax = plt.subplots(figsize=(9, 3.8), layout="constrained")
    _style(ax)
    colours = plt.cm.viridis(np.linspace(0, 0.9, max(len(sources), 1)))
    for colour, src, bkg, spha, bpha in zip(
        colours, sources, backgrounds, src_phas, bkg_phas, strict=True
    ):
        scale = _backscal_ratio(spha, bpha)
        with fits.open(src) as s, fits.open(bkg) as b:
            header = s["RATE"].header
            mjdref = header.get("MJDREFI", 0) + header.get("MJDREFF", 0.0)
            time = s["RATE"].data["TIME"] + header.get("TIMEZERO", 0.0)
            delta = header["TIMEDEL"]
            frac = (
                s["RATE"].data["FRACEXP"]
                if "FRACEXP" in s["RATE"].columns.names
                else np.ones(len(time))
            )
            counts = s["RATE"].data["RATE"] * delta * frac
            bcounts = b["RATE"].data["RATE"] * delta * frac
        # Rebin to ~binsize for display; rates from counts so partial bins are weighted right.
        edges = np.arange(time.min(), time.max() + binsize, binsize)
        index = np.digitize(time, edges) - 1
        exposure = np.bincount(index, weights=frac * delta, minlength=len(edges))
        c = np.bincount(index, weights=counts, minlength=len(edges))
        bc = np.bincount(index, weights=bcounts, minlength=len(edges))
        keep = exposure > 0.2 * binsize
        rate = (c[keep] - scale * bc[keep]) / exposure[keep]
        error = np.sqrt(c[keep] + scale**2 * bc[keep]) / exposure[keep]
        centre = (
            np.bincount(index, weights=time * frac * delta, minlength=len(edges))[keep]
            / exposure[keep]
        )
        days = mjdref + centre / 86400.0 - epoch
        obsid = header.get("OBS_ID", Path(src).name[2:13])
        ax.errorbar(days, rate, yerr=error, fmt="o", ms=3, color=colour, label=obsid)
    ax.set_xlabel(label, fontsize=13)
    ax.set_ylabel("Count rate [counts s$^{-1}$]", fontsize=13)
    ax.set_title(f"{target['name']}: Swift-XRT light curves ({binsize:g} s bins)")
    if len(sources) <= 12:
        ax.legend(fontsize=8, ncol=2)
    _save(fig, output)
