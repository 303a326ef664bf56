"""DS9 region files (fk5) for the source circle and background annulus, and event selection.

Regions are written and read through the `regions` package. Selection converts the sky region to
a pixel region with the event file's sky WCS and tests sky pixel *centres* (events sit on integer
sky pixels ``X``, ``Y``), exactly the convention used for the region areas (``BACKSCAL``), so
counts and areas are consistent.
"""

from __future__ import annotations

from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.coordinates import FK5, SkyCoord
from astropy.wcs import WCS
from regions import (
    CircleAnnulusSkyRegion,
    CircleSkyRegion,
    PixCoord,
    Regions,
    SkyRegion,
)

__all__ = [
    "write_regions",
    "read_region",
    "region_center",
    "region_radii_arcmin",
    "events_in_region",
    "region_pixel_mask",
]


def write_regions(
    target: SkyCoord,
    src_radius_arcsec: float,
    bkg_inner_arcsec: float,
    bkg_outer_arcsec: float,
    src_path: str | Path,
    bkg_path: str | Path,
) -> tuple[Path, Path]:
    """Write the source circle and background annulus as DS9 fk5 region files.

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
    center = target.transform_to(FK5(equinox="J2000"))
    src = CircleSkyRegion(center=center, radius=float(src_radius_arcsec) * u.arcsec)
    bkg = CircleAnnulusSkyRegion(
        center=center,
        inner_radius=float(bkg_inner_arcsec) * u.arcsec,
        outer_radius=float(bkg_outer_arcsec) * u.arcsec,
    )
    out = []
    for region, path in ((src, src_path), (bkg, bkg_path)):
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        text = Regions([region]).serialize(format="ds9")
        # `regions` names the FK5/J2000 frame "j2000"; HEASoft and the notebook use "fk5".
        lines = ["fk5" if line.strip() == "j2000" else line for line in text.splitlines()]
        path.write_text("\n".join(lines) + "\n")
        out.append(path)
    return out[0], out[1]


def read_region(path: str | Path) -> SkyRegion:
    """Read a one-shape DS9 region file as a sky region (circle or circle annulus)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"region file {path} does not exist")
    regs = Regions.read(str(path), format="ds9")
    if len(regs) != 1:
        raise ValueError(f"region file {path} holds {len(regs)} shapes; expected exactly one")
    reg = regs[0]
    if not isinstance(reg, CircleSkyRegion | CircleAnnulusSkyRegion):
        raise ValueError(
            f"region file {path}: {type(reg).__name__} is not supported "
            "(use a sky circle or annulus in fk5/icrs)"
        )
    return reg


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


def events_in_region(region: SkyRegion, wcs: WCS, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Boolean mask of events (1-based sky pixels ``x``, ``y``) inside ``region``."""
    pix = region.to_pixel(wcs)
    return np.asarray(pix.contains(PixCoord(np.asarray(x) - 1.0, np.asarray(y) - 1.0)), bool)


def region_pixel_mask(region: SkyRegion, wcs: WCS, shape: tuple[int, int]) -> np.ndarray:
    """Boolean ``(ny, nx)`` image of the sky pixels whose centres lie inside ``region``.

    ``mask[j, i]`` refers to sky pixel ``X = i + 1``, ``Y = j + 1``.
    """
    ny, nx = shape
    pix = region.to_pixel(wcs)
    bbox = pix.bounding_box
    mask = np.zeros(shape, dtype=bool)
    if bbox is None:
        return mask
    ixmin, ixmax = max(bbox.ixmin - 1, 0), min(bbox.ixmax + 1, nx)
    iymin, iymax = max(bbox.iymin - 1, 0), min(bbox.iymax + 1, ny)
    if ixmin >= ixmax or iymin >= iymax:
        return mask
    yy, xx = np.mgrid[iymin:iymax, ixmin:ixmax]
    mask[iymin:iymax, ixmin:ixmax] = pix.contains(PixCoord(xx.ravel(), yy.ravel())).reshape(
        xx.shape
    )
    return mask
