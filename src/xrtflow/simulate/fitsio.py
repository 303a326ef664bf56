"""Deterministic FITS writing: fixed DATE, checksums with fixed comments, gzip with mtime 0."""

from __future__ import annotations

import gzip
import io
import os
from pathlib import Path

from astropy.io import fits
from astropy.time import Time

#: Label written into every simulated file so nothing can be mistaken for real Swift data.
SIMULATED_NOTE = "SIMULATED by xrtflow.simulate: synthetic demo data, NOT real Swift data"


def fits_date(mjd: float) -> str:
    """``YYYY-MM-DDThh:mm:ss`` (UTC) for an MJD, for DATE/DATE-OBS keywords."""
    return Time(mjd, format="mjd", scale="utc").isot[:19]


def finalize(hdul: fits.HDUList, date: str, creator: str = "xrtflow.simulate") -> None:
    """Set DATE/CREATOR/ORIGIN on every HDU and add checksums whose comments use ``date``."""
    for hdu in hdul:
        hdu.header["CREATOR"] = (creator, "Program that created this file")
        hdu.header["ORIGIN"] = ("xrtflow", "Simulated by the xrtflow demo generator")
        hdu.header["DATE"] = (date, "Creation date (from the simulated data)")


def to_bytes(hdul: fits.HDUList, date: str) -> bytes:
    """Serialise with checksums; comments carry ``date`` instead of the wall clock.

    The list is written once, read back (so that e.g. variable-length-array heaps are in their
    final layout), checksummed and written again.
    """
    buf = io.BytesIO()
    hdul.writeto(buf, output_verify="exception", checksum=False)
    buf.seek(0)
    with fits.open(buf) as again:
        for hdu in again:
            hdu.add_checksum(when=f"HDU checksum updated {date}")
        out = io.BytesIO()
        again.writeto(out, output_verify="exception", checksum=False)
    return out.getvalue()


def write_fits(
    hdul: fits.HDUList, path: str | os.PathLike, date: str, compress: bool | None = None
) -> Path:
    """Write ``hdul`` byte-reproducibly to ``path`` (gzip if ``compress`` or name ends in .gz).

    The file is written to a temporary name and renamed, so readers never see a partial file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    finalize(hdul, date)
    data = to_bytes(hdul, date)
    if compress is None:
        compress = path.suffix == ".gz"
    if compress:
        out = io.BytesIO()
        with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0, compresslevel=6) as gz:
            gz.write(data)
        data = out.getvalue()
    tmp = path.with_name(path.name + ".part")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return path
