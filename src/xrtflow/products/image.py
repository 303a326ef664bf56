"""Native equivalent of the ``xrtproducts`` sky image (``*_sk.img``).

``xrtproducts`` extracts the image before it applies ``pilow``/``pihigh`` (they select the light
curves), so the image holds every PI channel; the native backend does the same by default.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from astropy.io import fits

from .events import EventList, wcs_header

__all__ = ["counts_image", "write_image"]


def counts_image(events: EventList, pilow: int = 30, pihigh: int = 1000) -> np.ndarray:
    """Counts per sky pixel of the events with ``pilow <= PI <= pihigh``.

    Returns an ``(ny, nx)`` integer array (``image[Y-1, X-1]``); events outside the sky grid are
    dropped.
    """
    ny, nx = events.image_shape
    flat = events.pixel_index()  # off-grid events land in the extra last bin
    if pilow > 0 or pihigh < 1023:
        flat = flat[(events.pi >= pilow) & (events.pi <= pihigh)]
    counts = np.bincount(flat, minlength=nx * ny + 1)[: nx * ny]
    return counts.reshape(ny, nx).astype(np.int32)


def write_image(path: str | Path, events: EventList, pilow: int = 30, pihigh: int = 1000) -> Path:
    """Write the counts image (primary HDU, int32) with the sky WCS and observation keywords."""
    image = counts_image(events, pilow, pihigh)
    header = wcs_header(events.wcs)
    events.copy_keywords(header)
    header["EXPOSURE"] = (events.exposure, "[s] exposure time")
    for key in ("ONTIME", "LIVETIME"):
        if key in events.header:
            header[key] = events.header[key]
    header["BUNIT"] = "count"
    header["HDUCLASS"] = ("OGIP", "format conforms to OGIP standard")
    header["HDUCLAS1"] = ("IMAGE", "image dataset")
    header["HDUCLAS2"] = ("TOTAL", "gross counts image")
    header["HDUVERS"] = ("1.0.0", "version of the format")
    for key in ("TSTART", "TSTOP"):
        header.setdefault(
            key, float(events.gti[:, 0].min() if key == "TSTART" else events.gti[:, 1].max())
        )
    header["PILOW"] = (int(pilow), "lowest PI channel in the image")
    header["PIHIGH"] = (int(pihigh), "highest PI channel in the image")
    header["TOTCTS"] = (int(image.sum()), "total counts in the image")
    header["CREATOR"] = "xrtflow.products.image"
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fits.HDUList([fits.PrimaryHDU(image, header), gti_hdu(events)]).writeto(path, overwrite=True)
    return path


def gti_hdu(events: EventList) -> fits.BinTableHDU:
    """``GTI`` extension (START, STOP) copied from the event file."""
    hdu = fits.BinTableHDU.from_columns(
        [
            fits.Column("START", "D", unit="s", array=events.gti[:, 0]),
            fits.Column("STOP", "D", unit="s", array=events.gti[:, 1]),
        ],
        name="GTI",
    )
    for key in (
        "TELESCOP",
        "INSTRUME",
        "OBS_ID",
        "MJDREFI",
        "MJDREFF",
        "TIMESYS",
        "TIMEREF",
        "TIMEUNIT",
    ):
        if key in events.header:
            hdu.header[key] = events.header[key]
    hdu.header["TSTART"] = (float(events.gti[:, 0].min()), "[s] start of the first GTI")
    hdu.header["TSTOP"] = (float(events.gti[:, 1].max()), "[s] end of the last GTI")
    hdu.header["HDUCLASS"] = "OGIP"
    hdu.header["HDUCLAS1"] = "GTI"
    hdu.header["HDUCLAS2"] = "STANDARD"
    return hdu
