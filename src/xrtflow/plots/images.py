"""Figure: sky-image cutouts of every ObsID (paginated grid) and a larger one of the last.

Each panel has sky axes (astropy WCS), a scale bar, N/E arrows, the source region (solid) and
the background annulus (dashed) in different colours, and the day after the epoch in its title;
each page has one colour bar (counts per pixel, one scale for the page).
"""

from __future__ import annotations

from pathlib import Path

import astropy.units as u
import numpy as np

from .style import (
    COLOURS,
    COLUMN_WIDTH,
    PAGE_WIDTH,
    epoch_label,
    new_figure,
    page_count,
    save,
    style,
)

#: Columns and rows of the grid on each page.
GRID = (4, 5)
CUTOUT = 14 * u.arcmin


def read_cutout(path: str | Path, coord, size: u.Quantity = CUTOUT):  # noqa: ANN001, ANN201
    """Cutout around ``coord`` of the first 2-D image in ``path``, and its header."""
    from astropy.io import fits
    from astropy.nddata import Cutout2D
    from astropy.wcs import WCS

    with fits.open(path) as hdul:
        hdu = next(h for h in hdul if h.data is not None and h.data.ndim == 2)
        cutout = Cutout2D(hdu.data, coord, size, wcs=WCS(hdu.header), mode="partial", fill_value=0)
        return cutout, hdu.header.copy()


def _compass(ax, wcs, length_arcmin: float = 2.0) -> None:  # noqa: ANN001
    """N and E arrows in the upper-left corner, directions from the WCS."""
    ny, nx = wcs.array_shape
    x0, y0 = 0.85 * nx, 0.70 * ny
    origin = wcs.pixel_to_world(x0, y0)
    for label, pa in (("N", 0.0), ("E", 90.0)):
        tip = origin.directional_offset_by(pa * u.deg, length_arcmin * u.arcmin)
        x1, y1 = wcs.world_to_pixel(tip)
        ax.annotate(
            "",
            xy=(x1, y1),
            xytext=(x0, y0),
            arrowprops={"arrowstyle": "-|>", "color": "white", "lw": 0.8},
        )
        ax.text(
            x1 + 0.04 * (x1 - x0),
            y1 + 0.04 * (y1 - y0),
            label,
            color="white",
            fontsize=6,
            ha="center",
            va="center",
        )


def _scale_bar(ax, wcs, length_arcmin: float = 2.0) -> None:  # noqa: ANN001
    from astropy.wcs.utils import proj_plane_pixel_scales

    pixel = proj_plane_pixel_scales(wcs)[1] * 60.0  # arcmin per pixel
    ny, nx = wcs.array_shape
    n = length_arcmin / pixel
    x0, y0 = 0.92 * nx - n, 0.07 * ny
    ax.plot([x0, x0 + n], [y0, y0], color="white", lw=1.5, gid="scalebar")
    ax.text(
        x0 + n / 2, y0 + 0.03 * ny, f"{length_arcmin:g}'", color="white", fontsize=6, ha="center"
    )


def _panel(ax, cutout, header, regions, epoch: float, norm, title_size: float = 7):  # noqa: ANN001
    from astropy.time import Time

    image = ax.imshow(cutout.data, cmap="magma", norm=norm, interpolation="nearest")
    for region, colour, ls in regions:
        region.to_pixel(cutout.wcs).plot(ax=ax, color=colour, lw=0.8, ls=ls)
    _compass(ax, cutout.wcs)
    _scale_bar(ax, cutout.wcs)
    day = Time(header["DATE-OBS"]).mjd - epoch if header.get("DATE-OBS") else np.nan
    ax.set_title(f"{header.get('OBS_ID', '')}  day {day:.2f}", fontsize=title_size)
    ra, dec = ax.coords[0], ax.coords[1]
    ra.set_major_formatter("hh:mm:ss")
    dec.set_major_formatter("dd:mm")
    for c in (ra, dec):
        c.set_ticklabel(size=5)
        c.set_ticks(number=3)
    ra.set_axislabel("RA (ICRS)", fontsize=6)
    dec.set_axislabel("Dec (ICRS)", fontsize=6)
    return image


def _regions(src_region, bkg_region) -> list:  # noqa: ANN001
    from regions import Regions

    out = [(r, COLOURS["source_region"], "-") for r in Regions.read(src_region, format="ds9")]
    out += [(r, COLOURS["background_region"], "--") for r in Regions.read(bkg_region, format="ds9")]
    return out


def _norm(data_max: float):  # noqa: ANN202
    from astropy.visualization import AsinhStretch, ImageNormalize

    return ImageNormalize(vmin=0, vmax=max(data_max, 1), stretch=AsinhStretch(0.02))


def image_figures(
    images, target_json, src_region, bkg_region, target: dict, only_pages=None
) -> list:  # noqa: ANN001
    """Pages of the cutout grid (at most GRID[0] x GRID[1] panels per page).

    ``only_pages``: build only these pages (0-based), all by default.
    """
    from ..steps.catalog import read_target

    _, coord = read_target(target_json)
    regions = _regions(src_region, bkg_region)
    epoch, _ = epoch_label(target)
    per_page = GRID[0] * GRID[1]
    n_pages = page_count(len(images), per_page)
    figures = []
    with style():
        for page in range(n_pages) if only_pages is None else only_pages:
            chunk = images[page * per_page : (page + 1) * per_page]
            cutouts = [read_cutout(p, coord) for p in chunk]
            n_cols = min(GRID[0], max(len(chunk), 1))
            n_rows = page_count(len(chunk), n_cols)
            fig = new_figure(PAGE_WIDTH, 0.6 + 1.75 * n_rows * 4 / n_cols)
            norm = _norm(max((float(c.data.max()) for c, _ in cutouts), default=1.0))
            image = None
            for index, (cutout, header) in enumerate(cutouts):
                ax = fig.add_subplot(n_rows, n_cols, index + 1, projection=cutout.wcs)
                image = _panel(ax, cutout, header, regions, epoch, norm, title_size=6.5)
            if image is not None:
                fig.colorbar(image, ax=fig.axes, shrink=0.6, label="counts per pixel", pad=0.01)
            suffix = f" (page {page + 1}/{n_pages})" if n_pages > 1 else ""
            fig.suptitle(
                f"{target['name']}: Swift-XRT images, {CUTOUT.to_value(u.arcmin):g}' across; "
                f"source circle solid, background annulus dashed{suffix}"
            )
            figures.append(fig)
    return figures


def last_image_figure(image, target_json, src_region, bkg_region, target: dict):  # noqa: ANN001, ANN201
    """One column-wide image of one ObsID (the last), with its own colour bar."""
    from ..steps.catalog import read_target

    _, coord = read_target(target_json)
    epoch, _ = epoch_label(target)
    cutout, header = read_cutout(image, coord)
    with style():
        fig = new_figure(COLUMN_WIDTH, COLUMN_WIDTH * 1.05)
        ax = fig.add_subplot(projection=cutout.wcs)
        im = _panel(
            ax,
            cutout,
            header,
            _regions(src_region, bkg_region),
            epoch,
            _norm(float(cutout.data.max())),
            8,
        )
        for c in ax.coords:
            c.set_ticklabel(size=7)
        fig.colorbar(im, ax=ax, label="counts per pixel", shrink=0.85)
        ax.set_title(f"{target['name']} {ax.get_title()}")
    return fig


def plot_image_grid(images, target_json, src_region, bkg_region, target, pdf, png, pages) -> None:  # noqa: ANN001
    """Write the grid pages: PDF, the first page as PNG, every page into ``pages``."""
    figures = image_figures(list(images), target_json, src_region, bkg_region, target)
    save(figures, pdf, png=png, pages=pages)


def plot_last_image(image, target_json, src_region, bkg_region, target, png, pdf) -> None:  # noqa: ANN001
    """Write the larger image of one ObsID as PNG and PDF."""
    save([last_image_figure(image, target_json, src_region, bkg_region, target)], pdf, png=png)
