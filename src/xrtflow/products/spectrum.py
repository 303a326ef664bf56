"""Native equivalent of the ``xrtproducts``/``extractor`` spectra: OGIP type-I PHA files.

``BACKSCAL`` follows ``extractor``: the number of sky pixels (pixel centres) inside the region
divided by the area of the full sky grid, ``(TLMAX-TLMIN+1)`` of ``X`` times that of ``Y`` (1000 x
1000 for XRT). When an exposure map is given, ``xrtproducts`` corrects this area for the pixels lost
to bad columns/pixels and the edges of the field of view by weighting every pixel by its exposure
relative to the full exposure; :func:`region_backscal` does the same with ``expomap / EXPOSURE``
(with the native exposure map this weight also holds the 1.5 keV vignetting).

Spectra cover all 1024 PI channels (``pilow``/``pihigh`` of ``xrtproducts`` apply to the light
curves only), so the total counts equal the events inside the region.

The event file's data-subspace keywords (``DSTYPn``/``DSVALn``...: grade and PI selections, GTI)
are copied into the spectrum, as ``extractor`` does: ``xrtmkarf`` reads the grade selection
(``DSTYPn = 'GRADE'``) from the spectrum to choose its CALDB files and stops without it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS
from regions import SkyRegion

from .events import EventList
from .image import gti_hdu
from .regions import pixel_shape, region_pixel_mask

__all__ = [
    "NCHAN",
    "copy_data_subspace",
    "pha_counts",
    "region_backscal",
    "region_hdus",
    "write_pha",
]

#: Grade selection assumed when an event file has no ``DSTYPn = 'GRADE'`` (xrtpipeline's PC one).
DEFAULT_GRADES = {"PHOTON": "0:12", "WINDOWED": "0:2"}

#: Number of XRT PI channels (0..1023).
NCHAN = 1024


def copy_data_subspace(events: EventList, header: fits.Header) -> fits.Header:
    """Copy the ``DSTYPn``/``DSVALn``/``DSUNIn``/``DSREFn``/``DSFORMn`` keywords of the events.

    Without a grade entry in the event file, ``DSTYPn = 'GRADE'`` is added with xrtpipeline's
    default selection for the read-out mode (``0:12`` in PC), so HEASoft's ``xrtmkarf`` accepts
    the spectrum.
    """
    src = events.header
    n, have_grade = 1, False
    while f"DSTYP{n}" in src:
        for stem in ("DSTYP", "DSVAL", "DSUNI", "DSREF", "DSFORM"):
            key = f"{stem}{n}"
            if key in src:
                header[key] = (src[key], src.comments[key] or "data subspace descriptor")
        have_grade |= str(src[f"DSTYP{n}"]).strip().upper() == "GRADE"
        n += 1
    if not have_grade:
        mode = str(src.get("DATAMODE", "PHOTON")).strip().upper()
        header[f"DSTYP{n}"] = ("GRADE", "data subspace descriptor: name")
        header[f"DSVAL{n}"] = (DEFAULT_GRADES.get(mode, "0:12"), "data subspace descriptor: value")
    return header


def pha_counts(pi: np.ndarray, nchan: int = NCHAN) -> np.ndarray:
    """Counts per PI channel ``0..nchan-1``; out-of-range PI values raise ``ValueError``."""
    pi = np.asarray(pi)
    if pi.size and (pi.min() < 0 or pi.max() >= nchan):
        raise ValueError(f"PI values outside 0..{nchan - 1} in the event list")
    return np.bincount(pi, minlength=nchan).astype(np.int32)


def region_backscal(
    region: SkyRegion,
    wcs: WCS,
    shape: tuple[int, int],
    expomap: np.ndarray | None = None,
    exposure: float | None = None,
) -> tuple[float, float]:
    """``BACKSCAL`` and the raw pixel count of ``region`` on the sky grid ``shape``.

    Parameters
    ----------
    region : SkyRegion
        Extraction region.
    wcs : WCS
        Sky WCS of the event file (0-based pixels).
    shape : tuple of int
        ``(ny, nx)`` of the sky grid; the normalisation is ``ny * nx``.
    expomap : numpy.ndarray, optional
        Exposure map on the same grid; if given every pixel counts ``expomap / exposure``.
    exposure : float, optional
        Full exposure (defaults to the map maximum).

    Returns
    -------
    backscal, npix : float
    """
    mask = region_pixel_mask(region, wcs, shape)
    npix = float(mask.sum())
    if expomap is None:
        area = npix
    else:
        norm = float(exposure) if exposure else float(np.max(expomap))
        area = float(np.clip(expomap[mask] / norm, 0.0, 1.0).sum()) if norm > 0 else 0.0
    return area / float(shape[0] * shape[1]), npix


def region_hdus(
    region: SkyRegion, events: EventList, mask: np.ndarray
) -> tuple[fits.PrimaryHDU, fits.BinTableHDU]:
    """``extractor``'s weighted map (primary HDU) and region table (``REG00101``).

    The WMAP covers the region's bounding box on the sky grid (``WMREBIN = 1``): the counts of
    each pixel inside the region, -1 outside (``WMAPFIX``); ``X-OFFSET``/``Y-OFFSET`` give its first
    sky pixel. ``xrtmkarf`` reads it to weight the PSF and exposure over the region. The region
    table holds the shape in sky pixels as CFITSIO converted it.
    """
    ny, nx = events.image_shape
    ps = pixel_shape(region, events.wcs)
    x1, x2 = max(int(np.ceil(ps.xc - ps.r_out)), 1), min(int(np.floor(ps.xc + ps.r_out)), nx)
    y1, y2 = max(int(np.ceil(ps.yc - ps.r_out)), 1), min(int(np.floor(ps.yc + ps.r_out)), ny)
    inside = region_pixel_mask(region, events.wcs, (ny, nx))[y1 - 1 : y2, x1 - 1 : x2]
    flat = (events.y[mask].astype(np.intp) - y1) * (x2 - x1 + 1) + (events.x[mask] - x1)
    counts = np.bincount(flat, minlength=inside.size)[: inside.size].reshape(inside.shape)
    wmap = np.where(inside, counts, -1).astype(np.float32)
    h = events.copy_keywords(fits.Header())
    copy_data_subspace(events, h)
    h["HDUCLASS"] = ("OGIP", "format conforms to OGIP standard")
    h["HDUCLAS1"] = ("IMAGE", "extension contains an image")
    h["HDUCLAS2"] = ("WMAP", "extension contains a weighted map")
    h["HDUNAME"] = "WMAP"
    h["EXPOSURE"] = (events.exposure, "[s] exposure time")
    h["WMREBIN"] = (1, "weighted map rebinning")
    h["WMAPFIX"] = (True, "pixels outside the region set to -1")
    h["NPIXSOU"] = (float(inside.sum()), "number of image bins in the region")
    h["X-OFFSET"] = (x1, "first original X pixel in map")
    h["Y-OFFSET"] = (y1, "first original Y pixel in map")
    h["BBOX1"], h["BBOX2"] = x1, y1
    h["HBBOX1"], h["HBBOX2"] = 1, 1
    h["OPTIC1"], h["OPTIC2"] = -999.0, -999.0
    w = events.wcs.wcs
    for i, (axis, off) in enumerate((("X", x1), ("Y", y1)), start=1):
        h[f"CTYPE{i}"] = w.ctype[i - 1]
        h[f"CRPIX{i}"] = (float(w.crpix[i - 1]) - off + 1, f"{axis} axis reference pixel")
        h[f"CRVAL{i}"] = (float(w.crval[i - 1]), f"coord of {axis} ref pixel")
        h[f"CDELT{i}"] = (float(w.cdelt[i - 1]), f"{axis} axis increment")
        # physical (sky pixel) coordinates of the map, as DS9 and extractor write them
        h[f"WCSTY{i}P"] = "PHYSICAL"
        h[f"LTV{i}"] = (float(1 - off), "offset for logical to physical pixel")
        h[f"LTM{i}_{i}"] = (1.0, "slope for logical to physical pixel")
        h[f"CTYPE{i}P"] = (axis, f"source of {axis}-axis")
        h[f"CRPIX{i}P"] = 1.0
        h[f"CRVAL{i}P"] = float(off)
        h[f"CDELT{i}P"] = 1.0
    h["HDUVERS"] = ("2.0.0", "version of format (OGIP memo OGIP-96-001)")
    primary = fits.PrimaryHDU(wmap, h)
    shape = "ANNULUS" if ps.annulus else "CIRCLE"
    radius = np.array([[ps.r_in, ps.r_out]]) if ps.annulus else np.array([ps.r_out])
    reg = fits.BinTableHDU.from_columns(
        [
            fits.Column("X", "1D", unit="pixel", array=[ps.xc]),
            fits.Column("Y", "1D", unit="pixel", array=[ps.yc]),
            fits.Column("SHAPE", "16A", array=[shape]),
            fits.Column("R", "2D" if ps.annulus else "1D", unit="pixel", array=radius),
            fits.Column("ROTANG", "1D", unit="deg", array=[0.0]),
            fits.Column("COMPONENT", "1I", array=[1]),
        ],
        name="REG00101",
    )
    reg.header["HDUCLASS"] = ("OGIP", "format conforms to OGIP standard")
    reg.header["HDUCLAS1"] = ("REGION", "extension contains a region")
    reg.header["HDUCLAS2"] = ("STANDARD", "standard region definition")
    reg.header["HDUVERS"] = ("1.2.0", "version of format")
    for key in ("TELESCOP", "INSTRUME"):
        if key in events.header:
            reg.header[key] = events.header[key]
    return primary, reg


def write_pha(
    path: str | Path,
    counts: np.ndarray,
    events: EventList,
    backscal: float,
    kind: str = "TOTAL",
    respfile: str = "none",
    ancrfile: str = "none",
    backfile: str = "none",
    quality: np.ndarray | None = None,
    grouping: np.ndarray | None = None,
    extra: dict | None = None,
    region: SkyRegion | None = None,
    mask: np.ndarray | None = None,
) -> Path:
    """Write an OGIP type-I PHA file (``SPECTRUM`` + ``GTI`` extensions).

    Parameters
    ----------
    path : str or Path
        Output file.
    counts : numpy.ndarray
        Counts in channels ``0..1023``.
    events : EventList
        Source of the observation keywords, exposure and GTIs.
    backscal : float
        ``BACKSCAL`` keyword.
    kind : {"TOTAL", "BKG"}
        ``HDUCLAS2``.
    respfile, ancrfile, backfile : str
        Names written to ``RESPFILE``/``ANCRFILE``/``BACKFILE`` (basenames of the neighbours).
    quality, grouping : numpy.ndarray, optional
        ``QUALITY`` (default 0) and ``GROUPING`` (default 1: every channel its own group).
    extra : dict, optional
        More keywords for the ``SPECTRUM`` header.
    region, mask : SkyRegion and numpy.ndarray, optional
        The extraction region and its event mask: the primary HDU then holds ``extractor``'s
        weighted map (WMAP, which ``xrtmkarf`` needs) and a ``REG00101`` table follows the GTIs.
    """
    counts = np.asarray(counts, dtype=np.int32)
    nchan = len(counts)
    quality = np.zeros(nchan, np.int16) if quality is None else np.asarray(quality, np.int16)
    grouping = np.ones(nchan, np.int16) if grouping is None else np.asarray(grouping, np.int16)
    cols = [
        fits.Column("CHANNEL", "J", array=np.arange(nchan, dtype=np.int32)),
        fits.Column("COUNTS", "J", unit="count", array=counts),
        fits.Column("QUALITY", "I", array=quality),
        fits.Column("GROUPING", "I", array=grouping),
    ]
    hdu = fits.BinTableHDU.from_columns(cols, name="SPECTRUM")
    h = hdu.header
    h["TLMIN1"] = (0, "lowest legal channel number")
    h["TLMAX1"] = (nchan - 1, "highest legal channel number")
    h["HDUCLASS"] = ("OGIP", "format conforms to OGIP standard")
    h["HDUCLAS1"] = ("SPECTRUM", "PHA dataset (OGIP memo OGIP-92-007)")
    h["HDUCLAS2"] = (kind, "gross PHA spectrum" if kind == "TOTAL" else "background spectrum")
    h["HDUCLAS3"] = ("COUNT", "PHA data stored as counts")
    h["HDUVERS"] = ("1.2.1", "version of the format (OGIP memo OGIP-92-007)")
    events.copy_keywords(h)
    if "FILTER" not in h:
        h["FILTER"] = "NONE"
    h["CHANTYPE"] = ("PI", "channel type")
    h["DETCHANS"] = (nchan, "total number of possible channels")
    h["EXPOSURE"] = (events.exposure, "[s] exposure time (GTI livetime)")
    for key in ("ONTIME", "LIVETIME"):
        if key in events.header:
            h[key] = events.header[key]
    h["AREASCAL"] = (1.0, "area scaling factor")
    h["BACKSCAL"] = (float(backscal), "region area / sky grid area")
    h["CORRSCAL"] = (1.0, "correction file scaling factor")
    h["BACKFILE"] = (backfile, "background spectrum")
    h["CORRFILE"] = ("none", "correction file")
    h["RESPFILE"] = (respfile, "redistribution matrix")
    h["ANCRFILE"] = (ancrfile, "ancillary response")
    h["POISSERR"] = (True, "Poissonian errors to be assumed")
    h["STAT_ERR"] = (0, "no statistical error specified")
    h["SYS_ERR"] = (0, "no systematic error specified")
    h["TOTCTS"] = (int(counts.sum()), "total counts in spectrum")
    copy_data_subspace(events, h)
    for key, value in (extra or {}).items():
        h[key] = value
    h["CREATOR"] = "xrtflow.products.spectrum"
    hdus = [fits.PrimaryHDU(header=events.copy_keywords(fits.Header())), hdu, gti_hdu(events)]
    if region is not None and mask is not None:
        hdus[0], reg = region_hdus(region, events, mask)
        n = 1
        while f"DSTYP{n}" in h:
            n += 1
        h[f"DSTYP{n}"] = ("POS(X,Y)", "data subspace descriptor: name")
        h[f"DSVAL{n}"] = ("TABLE", "data subspace descriptor: value")
        h[f"DSREF{n}"] = (":REG00101", "data subspace descriptor: reference")
        hdus.append(reg)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fits.HDUList(hdus).writeto(path, overwrite=True)
    return path
