"""One matplotlib style for every xrtflow figure, and saving to PNG and PDF (paginated).

Sizes are for print: single-panel figures are one journal column wide (3.5 in), grids one page
wide (7.1 in), with 7-8 pt text, so that they are readable printed at that size.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402

#: Widths (inches) of one journal column and of a full page.
COLUMN_WIDTH = 3.5
PAGE_WIDTH = 7.1
#: At most this many panels (axes) per page of a figure that grows with the number of ObsIDs.
MAX_PANELS_PER_PAGE = 24
DPI = 200
#: Fixed metadata so that the same inputs give byte-identical files.
PNG_METADATA = {"Software": None}
PDF_METADATA = {"Creator": None, "Producer": None, "CreationDate": None}
PLAIN_NUMBERS = FuncFormatter(lambda value, _: f"{value:g}")
ENERGY_TICKS = (0.3, 0.5, 1, 2, 5, 10)

RC = {
    "font.size": 8,
    "axes.titlesize": 8,
    "axes.labelsize": 8,
    "legend.fontsize": 7,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "xtick.direction": "in",
    "ytick.direction": "in",
    "xtick.top": True,
    "ytick.right": True,
    "xtick.minor.visible": True,
    "ytick.minor.visible": True,
    "lines.linewidth": 1.0,
    "lines.markersize": 3.5,
    "errorbar.capsize": 0,
    "legend.frameon": False,
    "figure.dpi": 100,
    "savefig.dpi": DPI,
    "pdf.fonttype": 42,
    "image.origin": "lower",
    "svg.hashsalt": "xrtflow",
}
#: Colours (colour-blind safe, Okabe & Ito 2008) used consistently across figures.
COLOURS = {
    "data": "black",
    "single": "#0072B2",
    "joint": "#D55E00",
    "model": "#D55E00",
    "background": "#999999",
    "source_region": "#00FF66",
    "background_region": "#56B4E9",
    "selected": "#E69F00",
    "other": "#56B4E9",
}
COMPONENT_COLOURS = ("#0072B2", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442")


@contextmanager
def style():
    """The xrtflow rc settings, for the figures made inside the block."""
    with matplotlib.rc_context(RC):
        yield


def new_figure(width: float, height: float, **kwargs):  # noqa: ANN201
    """A constrained-layout figure of the given size in inches."""
    return plt.figure(figsize=(width, height), layout="constrained", **kwargs)


def page_count(n_items: int, per_page: int) -> int:
    """Pages needed for ``n_items`` at ``per_page`` each (at least one)."""
    return max(1, -(-n_items // per_page))


def save(figures: Sequence, pdf: str | Path, png: str | Path | None = None, pages=None) -> None:  # noqa: ANN001
    """Write all ``figures`` as pages of one PDF, the first as ``png``, every one into ``pages``.

    Parameters
    ----------
    figures : list of Figure
    pdf : path
        Multi-page PDF with every page.
    png : path, optional
        PNG of the first page.
    pages : path, optional
        Directory that receives ``page-001.png``, ``page-002.png``, ...
    """
    import shutil

    from matplotlib.backends.backend_pdf import PdfPages

    from ..steps.files import atomic_path, part_path

    # every file under a temporary name first: a killed job never leaves a partial figure
    with atomic_path(pdf) as tmp, PdfPages(tmp, metadata=PDF_METADATA) as out:
        for fig in figures:
            out.savefig(fig)
    if png is not None:
        with atomic_path(png) as tmp:
            figures[0].savefig(tmp, format="png", dpi=DPI, metadata=PNG_METADATA)
    if pages is not None:
        final, tmp = Path(pages), part_path(pages)
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        for number, fig in enumerate(figures, 1):
            fig.savefig(tmp / f"page-{number:03d}.png", dpi=DPI, metadata=PNG_METADATA)
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
    for fig in figures:
        plt.close(fig)


def nothing_to_show(
    target: dict,
    what: str,
    pdf: str | Path,
    png: str | Path | None = None,
    pages=None,  # noqa: ANN001
) -> None:
    """Write a figure's outputs as one page saying there is nothing to show, and why."""
    fig = new_figure(COLUMN_WIDTH * 1.7, 2.0)
    ax = fig.add_subplot()
    ax.axis("off")
    ax.text(
        0.5,
        0.5,
        f"{target.get('name', '')}: no {what} to show\n"
        "no ObsID was selected, or every selected ObsID failed (see tables/status.ecsv)",
        ha="center",
        va="center",
    )
    save([fig], pdf, png, pages)


def epoch_label(target: dict) -> tuple[float, str]:
    """Reference epoch (MJD) and the time-axis label."""
    epoch = target.get("epoch_mjd")
    if epoch is None:
        return 0.0, "Time [MJD]"
    return float(epoch), f"Days after MJD {epoch:g} [d]"


def energy_axis(ax) -> None:  # noqa: ANN001
    """Logarithmic energy axis with plain tick labels."""
    ax.set_xscale("log")
    ax.set_xticks(ENERGY_TICKS)
    ax.xaxis.set_major_formatter(PLAIN_NUMBERS)
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
