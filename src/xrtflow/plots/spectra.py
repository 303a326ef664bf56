"""Figure: spectra with the folded model, residuals, background, and the unfolded E F(E) with
each additive component; one row per ObsID, at most ``SPECTRA_PER_PAGE`` rows per page.

Residuals: ``(data - model) / sigma`` per display bin (at least 20 counts, so sigma =
sqrt(N_src + s^2 N_bkg) is close to Gaussian). For a C-stat fit that is *not* the statistic's
own contribution, so the axis says ``(data-model)/sigma`` rather than chi; for chi^2 fits it is
chi. The unfolded spectrum follows XSPEC ``eufspec``: data x (model photon flux / folded model).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from astropy.table import Table

from .style import (
    COLOURS,
    COMPONENT_COLOURS,
    PAGE_WIDTH,
    energy_axis,
    new_figure,
    page_count,
    save,
    style,
)

#: ObsIDs per page: 3 panels each, so 12 panels a page (below MAX_PANELS_PER_PAGE).
SPECTRA_PER_PAGE = 4


def residual_label(statistic: str) -> str:
    """Residual-axis label for the fit statistic."""
    if statistic.lower() in ("chi", "pchi", "chi2"):
        return r"$\chi$"
    return r"(data$-$model)/$\sigma$"


def model_curves(fit: dict, obsid: str, e_lo: float, e_hi: float, n: int = 300) -> dict:
    """E F(E) (keV photons cm^-2 s^-1 keV^-1) of the whole model and each additive component."""
    from ..spectral.models import parse_model

    model = parse_model(fit["model"])
    rows = sorted(
        (p for p in fit["parameters"] if str(p["obsid"]) == obsid), key=lambda p: p["index"]
    )
    values = np.array([p["value"] for p in rows], float)
    edges = np.geomspace(e_lo, e_hi, n + 1)
    centre, width = np.sqrt(edges[1:] * edges[:-1]), np.diff(edges)
    opts = {"abund": fit.get("abund", "wilm"), "xsect": fit.get("xsect", "vern")}
    curves = {"energy": centre, "total": centre * model.evaluate(edges, values, **opts) / width}
    parts = model.additive_components(edges, values, **opts)
    if len(parts) > 1:
        for name, flux in parts.items():
            curves[name.rsplit("_", 1)[0]] = centre * flux / width
    return curves


def _spectrum_row(fig, cell, rows: Table, fit: dict, obsid: str, title: str) -> list:  # noqa: ANN001
    inner = cell.subgridspec(2, 2, height_ratios=(3, 1), hspace=0, wspace=0.08)
    ax = fig.add_subplot(inner[0, 0])
    res = fig.add_subplot(inner[1, 0], sharex=ax)
    unf = fig.add_subplot(inner[:, 1])
    e_lo, e_hi = np.asarray(rows["e_lo"], float), np.asarray(rows["e_hi"], float)
    centre, half = 0.5 * (e_lo + e_hi), 0.5 * (e_hi - e_lo)
    rate, err = np.asarray(rows["rate"], float), np.asarray(rows["rate_err"], float)
    model = np.asarray(rows["model"], float)
    edges = np.append(e_lo, e_hi[-1])
    data = ax.errorbar(
        centre, rate, xerr=half, yerr=err, fmt="none", ecolor=COLOURS["data"], lw=0.6
    )
    data.lines[2][0].set_gid(f"data:{obsid}") if data.lines[2] else None
    ax.stairs(model, edges, baseline=None, color=COLOURS["model"], lw=1.0, label="folded model")
    if "bkg_rate" in rows.colnames:
        ax.stairs(
            # empty bins as gaps, not drops to zero on the log axis
            np.where(np.asarray(rows["bkg_rate"], float) > 0, rows["bkg_rate"], np.nan),
            edges,
            baseline=None,
            color=COLOURS["background"],
            lw=0.8,
            ls="--",
            label="background (scaled)",
        )
    ax.set_yscale("log")
    positive = rate[rate > 0]
    if len(positive):
        ax.set_ylim(positive.min() / 5, positive.max() * 3)
    ax.set_ylabel(r"counts s$^{-1}$ keV$^{-1}$")
    ax.set_title(title, loc="left", fontsize=7)
    ax.tick_params(labelbottom=False)
    safe = np.where(err > 0, err, np.inf)
    res.errorbar(
        centre,
        (rate - model) / safe,
        xerr=half,
        yerr=np.isfinite(safe) * 1.0,
        fmt="none",
        ecolor="k",
        lw=0.6,
    )
    res.axhline(0, color=COLOURS["model"], lw=0.8)
    res.set_ylabel(residual_label(fit.get("statistic", "")), fontsize=6.5)
    res.set_xlabel("Energy [keV]")
    for a in (ax, res):
        energy_axis(a)
    ax.tick_params(labelbottom=False)
    # unfolded: data x (model photon flux / folded model), times E
    if "model_photon_flux" in rows.colnames:
        factor = np.divide(
            np.asarray(rows["model_photon_flux"], float),
            model,
            out=np.zeros_like(model),
            where=model > 0,
        )
        unf.errorbar(
            centre,
            centre * rate * factor,
            xerr=half,
            yerr=centre * err * factor,
            fmt="none",
            ecolor=COLOURS["data"],
            lw=0.6,
        )
    curves = model_curves(fit, obsid, float(e_lo.min()), float(e_hi.max()))
    unf.plot(curves["energy"], curves["total"], color=COLOURS["model"], lw=1.0, label="model")
    for colour, name in zip(
        COMPONENT_COLOURS, [k for k in curves if k not in ("energy", "total")], strict=False
    ):
        unf.plot(curves["energy"], curves[name], color=colour, lw=0.8, ls=":", label=name)
    unf.set_yscale("log")
    top = np.nanmax(curves["total"])
    if np.isfinite(top) and top > 0:
        unf.set_ylim(top / 1e3, top * 5)
    energy_axis(unf)
    unf.set_xlabel("Energy [keV]")
    unf.set_ylabel(r"$E\,F(E)$ [keV photons cm$^{-2}$ s$^{-1}$ keV$^{-1}$]", fontsize=6)
    unf.yaxis.set_label_position("right")
    unf.yaxis.tick_right()
    return [ax, res, unf]


def spectra_figures(  # noqa: ANN001
    plot_tables: list, fits: list, target: dict, kind: str, only_pages=None
) -> list:
    """Pages of spectra.

    Parameters
    ----------
    plot_tables : list of path
        ``fit_plot.ecsv`` files (one joint table holding every ObsID, or one per ObsID).
    fits : list of path
        The matching fit JSON files.
    kind : str
        ``joint`` or ``single`` (for the titles).
    only_pages : sequence of int, optional
        Build only these pages (0-based); all by default.
    """
    entries = []
    for plot_path, fit_path in zip(plot_tables, fits, strict=True):
        table = Table.read(plot_path, format="ascii.ecsv")
        fit = json.loads(Path(fit_path).read_text())
        if fit.get("status", "ok") != "ok" or not len(table):
            continue
        obsid_column = np.asarray(table["obsid"]).astype(str)
        for obsid in dict.fromkeys(obsid_column):
            entries.append((obsid, table[obsid_column == obsid], fit))
    n_pages = page_count(len(entries), SPECTRA_PER_PAGE)
    figures = []
    with style():
        for page in range(n_pages) if only_pages is None else only_pages:
            chunk = entries[page * SPECTRA_PER_PAGE : (page + 1) * SPECTRA_PER_PAGE]
            fig = new_figure(PAGE_WIDTH, 0.6 + 2.3 * max(len(chunk), 1))
            grid = fig.add_gridspec(max(len(chunk), 1), 1)
            for index, (obsid, rows, fit) in enumerate(chunk):
                stat = f"{fit.get('statistic', '')} = {fit.get('stat', float('nan')):.1f} / {fit.get('dof', '')} dof"
                title = f"{obsid}: {'joint' if kind == 'joint' else 'own'} fit, {stat}"
                _spectrum_row(fig, grid[index, 0], rows, fit, obsid, title)
            if chunk:
                fig.axes[0].legend(loc="upper right", fontsize=6)
                fig.axes[2].legend(loc="upper right", fontsize=6)
            model = chunk[0][2].get("model", "") if chunk else ""
            what = "joint fit" if kind == "joint" else "single-ObsID fits"
            suffix = f" (page {page + 1}/{n_pages})" if n_pages > 1 else ""
            fig.suptitle(f"{target['name']}: {model}, {what}{suffix}")
            figures.append(fig)
    return figures


def plot_spectra(
    plot_tables: list,
    fits: list,
    target: dict,
    pdf: str | Path,
    png: str | Path,
    pages: str | Path,
    kind: str = "joint",
) -> None:
    """Write the spectra pages: one PDF, the first page as PNG, and every page as PNG."""
    save(spectra_figures(plot_tables, fits, target, kind), pdf, png=png, pages=pages)
