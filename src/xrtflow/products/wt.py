"""Windowed Timing (WT) geometry: strip boxes, event selection, BACKSCAL and the WT ARF.

In WT mode the CCD rows are summed on read-out, so every event of an ObsID lies on a
one-dimensional strip through the source in the sky grid, along the detector rows. The strip's
direction in the sky grid is ``PA_PNT - 90`` degrees from ``+X`` (counter-clockwise), as the
UKSSDC WT products show (:func:`strip_angle`).

Regions (the UKSSDC choice, Evans et al. 2007, 2009): a **box along the strip**, not a circle.
A circle of radius R selects the same columns as a 2R-long box, but ``extractor`` computes
``BACKSCAL`` from the region *area* on the sky grid, and the area of a circle (pi R^2) against that
of an annulus is not the ratio of their lengths along a 1-D strip: the background would be scaled
wrongly (by 7x for a 20-pixel circle and a 50-90 pixel annulus). Boxes of one common width make the
area ratio equal to the length ratio, in xrtflow and in HEASoft alike. So:

* source: a box of length ``2 * source_radius`` along the strip (UKSSDC: 40 pixels), width
  :data:`BOX_WIDTH_PIX`; with pile-up, the central ``2 * r_excise`` columns are cut out (two
  boxes, as the UKSSDC does);
* background: two boxes on the strip, ``background_inner`` to ``background_outer`` from the source
  on both sides (the target-level annulus radii of the config, read along the strip).

Files are DS9 ``fk5`` with sizes in arcsec and the rotation angle in degrees
(``box(ra,dec,94.290",47.145",305.000)``; first size along the strip). :func:`read_boxes` reads
them as CFITSIO does: sizes through the sky pixel scale, a pixel is inside when its position
rotated by ``-angle`` is within half the sizes (inclusive); several ``box`` lines are a union,
``-box`` lines are excluded.

The ARF (:func:`wt_psf_fraction`): in WT mode the whole PSF along the columns is read out, so the
fraction of a point source's photons in a strip interval ``[a, b]`` is the integral of the
*line-spread function* (:func:`xrtflow.products.pileup_wt.king_line_spread`) over it. Each column
counts with its weight: 0 for a bad column of the event file's ``BADPIX`` (``xrtmkarf``
weights WT by column through the exposure map; here only the bad columns are weighted, not the
attitude's column-by-column exposure), 1 otherwise.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.coordinates import SkyCoord
from astropy.wcs import WCS

__all__ = [
    "BOX_WIDTH_PIX",
    "Box",
    "StripGeometry",
    "strip_angle",
    "strip_geometry",
    "strip_boxes",
    "write_boxes",
    "read_boxes",
    "boxes_contain",
    "boxes_npix",
    "source_column",
    "snapshot_columns",
    "strip_selection",
    "wt_psf_fraction",
]

#: Width of every WT box across the strip (pixels; the strip itself is a few pixels wide).
BOX_WIDTH_PIX = 20.0
_BOX_RE = re.compile(r"^([+-]?)\s*box\s*\((.*)\)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Box:
    """A rotated box in 1-based sky pixels: centre, sizes along/across its angle, angle (deg)."""

    xc: float
    yc: float
    length: float
    width: float
    angle: float
    include: bool = True

    def contains(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        a = np.radians(self.angle)
        dx = np.asarray(x, float) - self.xc
        dy = np.asarray(y, float) - self.yc
        u = dx * np.cos(a) + dy * np.sin(a)
        v = -dx * np.sin(a) + dy * np.cos(a)
        return (np.abs(u) <= 0.5 * self.length) & (np.abs(v) <= 0.5 * self.width)


@dataclass(frozen=True)
class StripGeometry:
    """The source's sky pixel and the strip direction of one WT event file."""

    xs: float
    ys: float
    angle: float  # deg from +X, counter-clockwise

    def along(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Signed distance along the strip from the source (pixels)."""
        a = np.radians(self.angle)
        return (np.asarray(x, float) - self.xs) * np.cos(a) + (np.asarray(y, float) - self.ys) * (
            np.sin(a)
        )


def strip_angle(header) -> float:  # noqa: ANN001 (a FITS header)
    """WT strip direction in the sky grid: ``PA_PNT - 90`` deg (see the module notes)."""
    return float((float(header.get("PA_PNT", 0.0)) - 90.0) % 360.0)


def strip_geometry(source: SkyCoord, wcs: WCS, header) -> StripGeometry:  # noqa: ANN001
    x, y = wcs.world_to_pixel(source)
    return StripGeometry(float(x) + 1.0, float(y) + 1.0, strip_angle(header))


def strip_boxes(
    geometry: StripGeometry, intervals: list[tuple[float, float]], width: float = BOX_WIDTH_PIX
) -> list[Box]:
    """One box per interval ``[a, b]`` of distance along the strip (pixels)."""
    a = np.radians(geometry.angle)
    boxes = []
    for lo, hi in intervals:
        mid = 0.5 * (lo + hi)
        boxes.append(
            Box(
                geometry.xs + mid * np.cos(a),
                geometry.ys + mid * np.sin(a),
                float(hi - lo),
                float(width),
                geometry.angle,
            )
        )
    return boxes


def _pixel_arcsec(wcs: WCS) -> float:
    return float(np.sqrt(abs(np.linalg.det(wcs.pixel_scale_matrix)))) * 3600.0


def write_boxes(path: str | Path, boxes: list[Box], wcs: WCS, comment: str = "") -> Path:
    """Write ``boxes`` as a DS9 fk5 region file (sizes in arcsec, angle in degrees)."""
    scale = _pixel_arcsec(wcs)
    lines = ["# Region file format: DS9 version 4.1"]
    if comment:
        lines.append(f"# {comment}")
    lines.append("fk5")
    for b in boxes:
        ra, dec = wcs.pixel_to_world_values(b.xc - 1.0, b.yc - 1.0)
        sign = "" if b.include else "-"
        lines.append(
            f'{sign}box({float(ra):.8f},{float(dec):.8f},{b.length * scale:.3f}",'
            f'{b.width * scale:.3f}",{b.angle:.3f})'
        )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def _size_pixels(text: str, scale: float) -> float:
    text = text.strip()
    unit = {'"': 1.0, "'": 60.0, "d": 3600.0}.get(text[-1:])
    if unit is None:
        return float(text)  # CFITSIO: a bare size is in pixels
    return float(text[:-1]) * unit / scale


def read_boxes(path: str | Path, wcs: WCS) -> list[Box]:
    """Read the ``box`` shapes of a DS9/CFITSIO region file (fk5 centres) in sky pixels."""
    from .regions import RegionFileError, _coordinate

    path = Path(path)
    if not path.is_file():
        raise RegionFileError(f"region file {path} does not exist")
    scale = _pixel_arcsec(wcs)
    boxes = []
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line or line.lower() in ("fk5", "icrs", "j2000") or line.startswith("global"):
            continue
        m = _BOX_RE.match(line)
        if not m:
            raise RegionFileError(f"region file {path}: cannot read {line!r} (WT: box shapes)")
        p = [s.strip() for s in m.group(2).split(",")]
        if len(p) != 5:
            raise RegionFileError(f"region file {path}: box needs 5 parameters, got {p}")
        ra, dec = _coordinate(p[0], True), _coordinate(p[1], False)
        x, y = wcs.world_to_pixel_values(ra, dec)
        boxes.append(
            Box(
                float(x) + 1.0,
                float(y) + 1.0,
                _size_pixels(p[2], scale),
                _size_pixels(p[3], scale),
                float(p[4]),
                m.group(1) != "-",
            )
        )
    if not any(b.include for b in boxes):
        raise RegionFileError(f"region file {path} holds no (included) box")
    return boxes


def boxes_contain(boxes: list[Box], x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Inside any included box and outside every excluded one."""
    x = np.asarray(x, float)
    inside = np.zeros(x.shape, bool)
    for b in boxes:
        if b.include:
            inside |= b.contains(x, y)
    for b in boxes:
        if not b.include:
            inside &= ~b.contains(x, y)
    return inside


def boxes_npix(boxes: list[Box], shape: tuple[int, int]) -> int:
    """Sky-grid pixels (centres at integer 1-based positions) inside the region."""
    ny, nx = shape
    reach = max(0.5 * np.hypot(b.length, b.width) for b in boxes)
    xs = [b.xc for b in boxes if b.include]
    ys = [b.yc for b in boxes if b.include]
    x1, x2 = max(int(np.floor(min(xs) - reach)), 1), min(int(np.ceil(max(xs) + reach)), nx)
    y1, y2 = max(int(np.floor(min(ys) - reach)), 1), min(int(np.ceil(max(ys) + reach)), ny)
    if x1 > x2 or y1 > y2:
        return 0
    yy, xx = np.mgrid[y1 : y2 + 1, x1 : x2 + 1]
    return int(boxes_contain(boxes, xx, yy).sum())


def source_column(
    rawx: np.ndarray, along: np.ndarray, half_length: float = 20.0
) -> tuple[float, int]:
    """The source's (continuous) ``RAWX`` and the sign of ``RAWX`` along the strip.

    ``along`` is each event's distance along the strip from the source (sky pixels, one column
    each). Near the source ``RAWX - sign * along`` is the source column for every event; the
    sign that makes it nearly constant is the right one, its median the column.
    """
    rawx = np.asarray(rawx, float)
    along = np.asarray(along, float)
    near = np.abs(along) <= half_length
    if near.sum() < 3:
        raise ValueError("fewer than 3 events near the source: cannot place it on the columns")
    plus, minus = rawx[near] - along[near], rawx[near] + along[near]
    if np.std(plus) <= np.std(minus):
        return float(np.median(plus)), 1
    return float(np.median(minus)), -1


def snapshot_columns(
    rawx: np.ndarray,
    along: np.ndarray,
    time: np.ndarray,
    gti: np.ndarray,
    half_length: float = 20.0,
) -> tuple[np.ndarray, np.ndarray, int]:
    """The source column of every snapshot (GTI), as :func:`source_column` per snapshot.

    Between snapshots the spacecraft re-points by a few arcsec, a pixel or two of column.

    Returns
    -------
    columns : numpy.ndarray
        Source column per GTI (NaN for a GTI without events near the source).
    index : numpy.ndarray
        GTI index of every event.
    sign : int
        Direction of ``RAWX`` along the strip (from all events).
    """
    _, sign = source_column(rawx, along, half_length)
    index = np.clip(np.searchsorted(gti[:, 0], time, side="right") - 1, 0, len(gti) - 1)
    near = np.abs(along) <= half_length
    columns = np.full(len(gti), np.nan)
    for k in range(len(gti)):
        sel = near & (index == k)
        if sel.any():
            columns[k] = float(np.median(rawx[sel] - sign * along[sel]))
    return columns, index, sign


def strip_selection(
    boxes: list[Box], geometry: StripGeometry, reach: float, step: float = 0.05, n_blur: int = 21
) -> tuple[np.ndarray, np.ndarray]:
    """Probability ``S(u)`` that a photon at distance ``u`` along the strip is selected.

    Between the photon and the region test lie the detector column (the photon's position is
    rounded to a column), the position randomised within the column when it becomes a sky
    position, and the rounding of ``X``/``Y`` to sky pixels, whose centres are tested against
    the boxes. The first two are uniform over one pixel each (their sum triangular: the source's
    sub-column position varies with the attitude); the sky pixels are those of the grid. On a
    strip at an angle to the grid only some distances are pixel centres, so at an excised
    core's edge, where the line-spread function is steep, ``S`` differs from a step function.

    Returns
    -------
    u, S : numpy.ndarray
        Grid of distances (pixels) and the selection probability on it.
    """
    u = np.arange(-round(reach / step), round(reach / step) + 1) * step
    b = (np.arange(n_blur) + 0.5) / n_blur - 0.5
    blur = (b[:, None] + b[None, :]).ravel()  # column rounding + randomisation
    a = np.radians(geometry.angle)
    pos = u[:, None] + blur[None, :]
    x = np.floor(geometry.xs + pos * np.cos(a) + 0.5)
    y = np.floor(geometry.ys + pos * np.sin(a) + 0.5)
    return u, boxes_contain(boxes, x, y).mean(axis=1)


def wt_psf_fraction(
    energy_keV: np.ndarray,
    intervals: list[tuple[float, float]] | None = None,
    offaxis_arcmin: float = 0.0,
    bad_offsets: np.ndarray | None = None,
    coefficients=None,
    selection: tuple[np.ndarray, np.ndarray] | None = None,
    step: float = 0.05,
) -> np.ndarray:
    """Fraction of a point source's photons selected on the strip.

    Either ``intervals`` of distance along the strip (pixels from the source; exact boundaries)
    or ``selection = (u, S)`` from :func:`strip_selection` (the region's sky pixels). ``bad_offsets``
    are the distances of bad columns from the source (columns; each covers ``offset +- 0.5``):
    their share of the line-spread function is removed.
    """
    from .pileup_wt import king_line_spread

    energy_keV = np.atleast_1d(np.asarray(energy_keV, float))
    bad = np.atleast_1d(np.asarray([] if bad_offsets is None else bad_offsets, float))
    if selection is not None:
        u, weight = (np.asarray(v, float) for v in selection)
        step = float(u[1] - u[0])
    else:
        reach = max(abs(v) for iv in intervals for v in iv) + 1.0
        u = np.arange(-round(reach / step), round(reach / step) + 1) * step
        weight = np.zeros(u.size)
        for lo, hi in intervals:
            weight[(u >= lo - 1e-9) & (u <= hi + 1e-9)] = 1.0
    for b in bad:
        weight = np.where((u >= b - 0.5) & (u < b + 0.5), 0.0, weight)
    # the PSF parameters are linear in energy: 40 nodes cover the grid, interpolated between
    nodes = np.linspace(max(0.1, float(energy_keV.min())), max(0.2, float(energy_keV.max())), 40)
    frac = np.array(
        [
            np.sum(king_line_spread(u, e, offaxis_arcmin, coefficients) * weight) * step
            for e in nodes
        ]
    )
    return np.interp(energy_keV, nodes, frac)
