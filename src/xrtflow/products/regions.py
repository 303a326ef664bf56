"""Region files that HEASoft reads, and event selection exactly as CFITSIO's region filter does it.

Files are written in DS9 syntax with an ``fk5`` line and sizes **with units** (``180.000"``):
CFITSIO's region parser (used by ``extractor``, ``xselect`` and so ``xrtproducts``) reads a size
without a unit in a sky-coordinate region as *pixels*, where DS9 would read it as degrees. The
reader follows CFITSIO, not DS9:

* ``"`` = arcsec, ``'`` = arcmin, ``d`` = degrees, a bare number = sky pixels;
* centres in degrees or sexagesimal (``hh:mm:ss``, ``dd:mm:ss``) in ``fk5``/``icrs``/``j2000``
  (``image``/``physical`` regions, all in pixels, need the event file's WCS);
* a size with a unit becomes pixels as CFITSIO computes it: the pixel distance between the centre
  and the point ``size`` away in declination, through the event file's sky WCS;
* boundaries are inclusive (a circle keeps ``r**2 <= R**2``, an annulus ``R_in**2 <= r**2 <=
  R_out**2``), tested at the integer sky pixels ``X``, ``Y`` of the events, and at pixel centres
  for the region area (``BACKSCAL``), as ``extractor`` does.

:func:`read_region` returns a `regions` sky region (circle or annulus, sizes as angles) so other
modules keep one type; a bare-pixel size is converted with the sky pixel scale of the given WCS
(XRT's 2.357" when none is given).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.coordinates import FK5, SkyCoord
from astropy.wcs import WCS
from regions import CircleAnnulusSkyRegion, CircleSkyRegion, SkyRegion

__all__ = [
    "RegionFileError",
    "PixelShape",
    "write_regions",
    "read_region",
    "region_center",
    "region_radii_arcmin",
    "pixel_shape",
    "events_in_region",
    "region_pixel_mask",
]

#: XRT sky pixel (deg), for bare-pixel sizes read without a WCS.
_XRT_PIXEL_DEG = 6.548089e-4
_SKY_FRAMES = {"fk5", "icrs", "j2000"}
_PIXEL_FRAMES = {"image", "physical"}
_SHAPE_RE = re.compile(r"^([+-]?)\s*(circle|annulus)\s*\((.*)\)\s*$", re.IGNORECASE)
_SIZE_RE = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([\"'dp]?)\s*$")


class RegionFileError(ValueError):
    """A region file is missing, unreadable or uses a shape/system xrtflow does not support."""


@dataclass(frozen=True)
class PixelShape:
    """A circle (``r_in == 0``) or annulus in 1-based sky pixels, as CFITSIO holds it."""

    xc: float
    yc: float
    r_in: float
    r_out: float
    annulus: bool

    def contains(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Inclusive test at pixel positions ``x``, ``y`` (1-based, like the ``X``/``Y`` columns)."""
        dx = np.asarray(x, dtype=np.float64) - self.xc
        dy = np.asarray(y, dtype=np.float64) - self.yc
        r2 = dx * dx + dy * dy
        inside = r2 <= self.r_out * self.r_out
        if self.annulus:
            inside &= r2 >= self.r_in * self.r_in
        return inside


# --- writing -----------------------------------------------------------------------------------
def write_regions(
    target: SkyCoord,
    src_radius_arcsec: float,
    bkg_inner_arcsec: float,
    bkg_outer_arcsec: float,
    src_path: str | Path,
    bkg_path: str | Path,
) -> tuple[Path, Path]:
    """Write the source circle and background annulus as DS9 fk5 files that HEASoft reads.

    Sizes carry the arcsec unit (``circle(136.17292778,-32.37986565,180.000")``).

    Parameters
    ----------
    target : SkyCoord
        Centre of both regions.
    src_radius_arcsec, bkg_inner_arcsec, bkg_outer_arcsec : float
        Radii in arcsec (the notebook uses 180, 240 and 390).
    src_path, bkg_path : str or Path
        Output files.

    Returns
    -------
    tuple of Path
        ``(src_path, bkg_path)``.
    """
    if not 0 < src_radius_arcsec:
        raise ValueError("source radius must be positive")
    if not 0 <= bkg_inner_arcsec < bkg_outer_arcsec:
        raise ValueError("background annulus needs 0 <= inner < outer radius")
    c = target.transform_to(FK5(equinox="J2000"))
    ra, dec = float(c.ra.deg), float(c.dec.deg)
    shapes = (
        f'circle({ra:.8f},{dec:.8f},{float(src_radius_arcsec):.3f}")',
        f'annulus({ra:.8f},{dec:.8f},{float(bkg_inner_arcsec):.3f}",'
        f'{float(bkg_outer_arcsec):.3f}")',
    )
    out = []
    for shape, path in zip(shapes, (src_path, bkg_path), strict=True):
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"# Region file format: DS9 version 4.1\nfk5\n{shape}\n")
        out.append(path)
    return out[0], out[1]


# --- reading -----------------------------------------------------------------------------------
def _angle_or_pixels(text: str, path: Path) -> tuple[float, str]:
    m = _SIZE_RE.match(text)
    if not m:
        raise RegionFileError(f"region file {path}: cannot read the size {text!r}")
    return float(m.group(1)), m.group(2)


def _coordinate(text: str, is_ra: bool) -> float:
    text = text.strip()
    if ":" not in text:
        return float(text.rstrip("d"))
    neg = text.startswith("-")
    parts = [float(p) for p in text.lstrip("+-").split(":")]
    parts += [0.0] * (3 - len(parts))
    value = parts[0] + parts[1] / 60.0 + parts[2] / 3600.0
    value = -value if neg else value
    return value * 15.0 if is_ra else value


def _pixel_deg(wcs: WCS | None) -> float:
    if wcs is None:
        return _XRT_PIXEL_DEG
    return float(np.sqrt(abs(np.linalg.det(wcs.pixel_scale_matrix))))


def read_region(path: str | Path, wcs: WCS | None = None) -> SkyRegion:
    """Read a one-shape region file (circle or annulus) with CFITSIO's units convention.

    Parameters
    ----------
    path : str or Path
        DS9/CFITSIO region file.
    wcs : WCS, optional
        Sky WCS of the event file; converts bare-pixel sizes (and ``image``/``physical``
        centres). Without it a bare size counts XRT sky pixels (2.357").

    Returns
    -------
    regions.CircleSkyRegion or regions.CircleAnnulusSkyRegion

    Raises
    ------
    RegionFileError
        Missing file, no or several shapes, an unsupported shape or coordinate system.
    """
    path = Path(path)
    if not path.is_file():
        raise RegionFileError(f"region file {path} does not exist")
    frame = "physical"  # CFITSIO's default before any system line
    shapes = []
    for raw in path.read_text(errors="replace").splitlines():
        line = raw.split("#", 1)[0].strip()
        for item in (s.strip() for s in line.split(";")):
            if not item or item.lower().startswith("global"):
                continue
            low = item.lower()
            if low in _SKY_FRAMES | _PIXEL_FRAMES:
                frame = low
                continue
            if low in {"fk4", "b1950", "galactic", "ecliptic", "linear", "amplifier", "detector"}:
                raise RegionFileError(
                    f"region file {path}: coordinate system {item!r} is not supported; "
                    "write the region in fk5 (or icrs) with sizes in arcsec"
                )
            m = _SHAPE_RE.match(item)
            if not m:
                raise RegionFileError(
                    f"region file {path}: cannot read {item!r} (supported: circle, annulus)"
                )
            if m.group(1) == "-":
                raise RegionFileError(f"region file {path}: excluded shapes are not supported")
            shapes.append((frame, m.group(2).lower(), [p.strip() for p in m.group(3).split(",")]))
    if len(shapes) != 1:
        raise RegionFileError(
            f"region file {path} holds {len(shapes)} shapes; expected exactly one circle or annulus"
        )
    frame, kind, params = shapes[0]
    need = 3 if kind == "circle" else 4
    if len(params) != need:
        raise RegionFileError(f"region file {path}: {kind} needs {need} parameters, got {params}")
    if frame in _PIXEL_FRAMES:
        if wcs is None:
            raise RegionFileError(
                f"region file {path} is in {frame} (pixel) coordinates; it needs the event "
                "file's WCS (or write it in fk5)"
            )
        ra, dec = wcs.pixel_to_world_values(float(params[0]) - 1.0, float(params[1]) - 1.0)
    else:
        try:
            ra, dec = _coordinate(params[0], True), _coordinate(params[1], False)
        except ValueError:
            raise RegionFileError(
                f"region file {path}: cannot read the centre {params[:2]}"
            ) from None
    center = SkyCoord(float(ra), float(dec), unit="deg", frame="fk5")
    radii = []
    for text in params[2:]:
        value, unit = _angle_or_pixels(text, path)
        # CFITSIO: '"' arcsec, "'" arcmin, 'd' degrees; bare (or 'p') = pixels in every system.
        deg = {'"': value / 3600.0, "'": value / 60.0, "d": value}.get(unit)
        if deg is None:
            deg = value * _pixel_deg(wcs)
        radii.append(deg * 3600.0 * u.arcsec)
    if kind == "circle":
        if radii[0] <= 0:
            raise RegionFileError(f"region file {path}: circle radius must be positive")
        return CircleSkyRegion(center=center, radius=radii[0])
    if not 0 <= radii[0] < radii[1]:
        raise RegionFileError(f"region file {path}: annulus needs 0 <= inner < outer radius")
    return CircleAnnulusSkyRegion(center=center, inner_radius=radii[0], outer_radius=radii[1])


def region_center(region: SkyRegion) -> SkyCoord:
    return region.center


def region_radii_arcmin(region: SkyRegion) -> tuple[float, float]:
    """``(inner, outer)`` radius in arcmin (inner is 0 for a circle)."""
    if isinstance(region, CircleSkyRegion):
        return 0.0, float(region.radius.to_value(u.arcmin))
    return (
        float(region.inner_radius.to_value(u.arcmin)),
        float(region.outer_radius.to_value(u.arcmin)),
    )


# --- selection ---------------------------------------------------------------------------------
def _radius_pixels(wcs: WCS, ra: float, dec: float, xc: float, yc: float, deg: float) -> float:
    # CFITSIO (fits_read_rgnfile): step the size in declination, towards the equator, from the
    # centre and take the pixel distance of that point from the centre.
    dec2 = dec + deg if dec < 0 else dec - deg
    x2, y2 = wcs.world_to_pixel_values(ra, dec2)
    return float(np.hypot(float(x2) + 1.0 - xc, float(y2) + 1.0 - yc))


def pixel_shape(region: SkyRegion, wcs: WCS) -> PixelShape:
    """The region in 1-based sky pixels of ``wcs``, converted as CFITSIO converts it."""
    c = region.center.transform_to(FK5(equinox="J2000"))
    ra, dec = float(c.ra.deg), float(c.dec.deg)
    x0, y0 = wcs.world_to_pixel_values(ra, dec)
    xc, yc = float(x0) + 1.0, float(y0) + 1.0
    r_in, r_out = (a / 60.0 for a in region_radii_arcmin(region))
    outer = _radius_pixels(wcs, ra, dec, xc, yc, r_out)
    inner = _radius_pixels(wcs, ra, dec, xc, yc, r_in) if r_in > 0 else 0.0
    return PixelShape(xc, yc, inner, outer, isinstance(region, CircleAnnulusSkyRegion))


def events_in_region(
    region: SkyRegion,
    wcs: WCS,
    x: np.ndarray,
    y: np.ndarray,
    index: tuple[np.ndarray, tuple[int, int]] | None = None,
) -> np.ndarray:
    """Boolean mask of events (1-based sky pixels ``x``, ``y``) inside ``region``.

    With ``index = (events.pixel_index(), events.image_shape)`` the test is one lookup per
    event in the region's pixel mask (:func:`region_pixel_mask`, the same inclusive test at the
    same integer pixels), several times faster than testing every event.
    """
    if index is not None:
        flat, shape = index
        grid = np.append(region_pixel_mask(region, wcs, shape).ravel(), False)  # off-grid: out
        return grid[flat]
    return pixel_shape(region, wcs).contains(x, y)


def region_pixel_mask(region: SkyRegion, wcs: WCS, shape: tuple[int, int]) -> np.ndarray:
    """Boolean ``(ny, nx)`` image of the sky pixels whose centres lie inside ``region``.

    ``mask[j, i]`` refers to sky pixel ``X = i + 1``, ``Y = j + 1``.
    """
    ny, nx = shape
    ps = pixel_shape(region, wcs)
    mask = np.zeros(shape, dtype=bool)
    # only the bounding box of the outer circle is tested (1-based pixel numbers)
    ixmin, ixmax = max(int(np.floor(ps.xc - ps.r_out)), 1), min(int(np.ceil(ps.xc + ps.r_out)), nx)
    iymin, iymax = max(int(np.floor(ps.yc - ps.r_out)), 1), min(int(np.ceil(ps.yc + ps.r_out)), ny)
    if ixmin > ixmax or iymin > iymax:
        return mask
    yy, xx = np.mgrid[iymin : iymax + 1, ixmin : ixmax + 1]
    mask[iymin - 1 : iymax, ixmin - 1 : ixmax] = ps.contains(xx, yy)
    return mask
