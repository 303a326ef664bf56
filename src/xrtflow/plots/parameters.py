"""Figure: every free parameter of the fits, and the fluxes, against days after the epoch.

Read from the results table only, so that the figure shows exactly the tabulated numbers:
single-ObsID fits as points with 90% intervals, the joint fit's per-ObsID values as open
squares, and parameters tied across ObsIDs in the joint fit as a band (90% interval).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from astropy.table import Table

from .style import COLOURS, COLUMN_WIDTH, epoch_label, new_figure, save, style

FLUXES = (("abs_flux", "Absorbed flux"), ("unabs_flux", "Unabsorbed flux"))


def parameter_names(table: Table) -> list[str]:
    """Parameter columns (those with ``_lo90``/``_hi90`` partners), fluxes excluded."""
    names = [c[: -len("_lo90")] for c in table.colnames if c.endswith("_lo90")]
    return [n for n in names if n not in dict(FLUXES) and f"{n}_hi90" in table.colnames]


def free_parameters(table: Table) -> list[str]:
    """Parameters that vary: a frozen one has no finite interval in any row."""
    out = []
    for name in parameter_names(table):
        lo, hi = np.asarray(table[f"{name}_lo90"], float), np.asarray(table[f"{name}_hi90"], float)
        if np.any(np.isfinite(lo) & np.isfinite(hi) & (hi > lo)):
            out.append(name)
    return out


def _is_tied(table: Table, name: str) -> bool:
    joint = table[table["fit"] == "joint"]
    values = np.asarray(joint[name], float)
    return len(values) > 1 and bool(np.all(values == values[0]))


def _label(table: Table, name: str) -> str:
    """Short axis label: the column name (fluxes by kind) and its unit."""
    col = table[name]
    short = {"abs_flux": "absorbed flux", "unabs_flux": "unabsorbed flux"}.get(name, name)
    short = short.replace("_", " ")
    if col.unit in (None, ""):
        return short
    return f"{short}\n[{col.unit.to_string('latex_inline')}]"


def parameters_figure(results: str | Path, target: dict):  # noqa: ANN201
    """Parameter evolution figure from ``tables/results.ecsv``."""
    table = Table.read(results, format="ascii.ecsv")
    _, xlabel = epoch_label(target)
    names = free_parameters(table) + [n for n, _ in FLUXES if n in table.colnames]
    single = table[table["fit"] == "single"]
    joint = table[table["fit"] == "joint"]
    with style():
        fig = new_figure(COLUMN_WIDTH, 0.4 + 1.05 * len(names))
        axes = fig.subplots(len(names), 1, sharex=True, squeeze=False)[:, 0]
        for ax, name in zip(axes, names, strict=True):
            for rows, kind, marker, fill in (
                (single, "single", "o", COLOURS["single"]),
                (joint, "joint", "s", "none"),
            ):
                if not len(rows) or (kind == "joint" and _is_tied(table, name)):
                    continue
                x = np.asarray(rows["days_after_epoch"], float)
                y = np.asarray(rows[name], float)
                lo = np.asarray(rows[f"{name}_lo90"], float)
                hi = np.asarray(rows[f"{name}_hi90"], float)
                err = np.vstack([np.clip(y - lo, 0, None), np.clip(hi - y, 0, None)])
                err = np.where(np.isfinite(err), err, 0.0)
                shift = 0.0 if kind == "single" else 0.15
                container = ax.errorbar(
                    x + shift,
                    y,
                    yerr=err,
                    fmt=marker,
                    mfc=fill,
                    color=COLOURS[kind],
                    elinewidth=0.7,
                    label="single-ObsID fits" if kind == "single" else "joint fit",
                )
                container.lines[0].set_gid(f"{kind}:{name}")
            if len(joint) and _is_tied(table, name):
                value = float(joint[name][0])
                lo, hi = float(joint[f"{name}_lo90"][0]), float(joint[f"{name}_hi90"][0])
                ax.axhspan(lo, hi, color=COLOURS["joint"], alpha=0.2, lw=0)
                line = ax.axhline(value, color=COLOURS["joint"], lw=0.8, label="joint fit (tied)")
                line.set_gid(f"joint-band:{name}")
            if "flux" in name:
                ax.set_yscale("log")
            ax.set_ylabel(_label(table, name), fontsize=6.5)
        handles = {}
        for ax in axes:
            for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
                handles.setdefault(label, handle)
        fig.legend(
            list(handles.values()), list(handles), loc="outside lower center", ncols=3, fontsize=6
        )
        axes[-1].set_xlabel(xlabel)
        model = table.meta.get("model", "")
        band = "-".join(f"{e:g}" for e in table.meta.get("flux_band_keV", ()))
        fig.suptitle(f"{target['name']}: {model}\n90% intervals; fluxes {band} keV")
    return fig


def plot_parameters(
    results: str | Path, target: dict, output: str | Path, pdf: str | Path | None = None
) -> None:
    """Write the parameter-evolution figure as PNG and PDF."""
    save([parameters_figure(results, target)], pdf or Path(output).with_suffix(".pdf"), png=output)
