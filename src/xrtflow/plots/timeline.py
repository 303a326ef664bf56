"""Figure: XRT exposure of every catalog observation against time, selected ones highlighted."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..catalog import read_observation_table
from .style import COLOURS, COLUMN_WIDTH, PLAIN_NUMBERS, epoch_label, new_figure, save, style


def timeline_figure(selection: str | Path, target: dict, mode: str):  # noqa: ANN201
    """The observation timeline as a matplotlib figure."""
    table = read_observation_table(selection)
    epoch, label = epoch_label(target)
    days = np.asarray(table["start_time"], float) - epoch
    exposure = np.asarray(table["xrt_exposure"], float)
    chosen = np.asarray(table["selected"], bool)
    with style():
        fig = new_figure(COLUMN_WIDTH, 2.4)
        ax = fig.add_subplot()
        ax.plot(days[~chosen], exposure[~chosen], "+", color=COLOURS["other"], label="Not selected")
        ax.plot(
            days[chosen],
            exposure[chosen],
            "d",
            color=COLOURS["selected"],
            label=f"Selected ({mode})",
        )
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(PLAIN_NUMBERS)
        low, high = (list(target.get("days_after_epoch") or [None, None]) + [None, None])[:2]
        if (
            target.get("epoch_mjd") is not None
            and (low is not None or high is not None)
            and len(days)
        ):
            ax.axvspan(
                low if low is not None else days.min(),
                high if high is not None else days.max(),
                color=COLOURS["selected"],
                alpha=0.12,
                lw=0,
                label="Selection window",
            )
        ax.set_xlabel(label)
        ax.set_ylabel("XRT exposure [s]")
        ax.set_title(f"{target['name']}: {int(chosen.sum())} of {len(table)} observations selected")
        ax.legend(loc="best")
    return fig


def plot_timeline(
    selection: str | Path,
    target: dict,
    mode: str,
    output: str | Path,
    pdf: str | Path | None = None,
) -> None:
    """Write the timeline as PNG (``output``) and PDF (``pdf``, default beside it)."""
    fig = timeline_figure(selection, target, mode)
    save([fig], pdf or Path(output).with_suffix(".pdf"), png=output)
