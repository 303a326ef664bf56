"""Reading XRT level-2 (cleaned) event files and their sky WCS.

The file layout is fixed by ``docs/architecture.md``: a primary HDU, an ``EVENTS`` table with sky
coordinates ``X``/``Y`` (1-based sky pixels, WCS in ``TCTYPn``/``TCRVLn``/``TCRPXn``/``TCDLTn``), a
``GTI`` table and (optionally) a ``BADPIX`` table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS

if TYPE_CHECKING:
    from astropy.time import Time

__all__ = [
    "EventFileError",
    "EventList",
    "read_events",
    "sky_wcs",
    "wcs_header",
    "gti_exposure",
    "mjdref",
    "mission_time_to_time",
    "COPY_KEYWORDS",
]

#: Keywords propagated from the event file into every product.
COPY_KEYWORDS = (
    "TELESCOP",
    "INSTRUME",
    "FILTER",
    "DATAMODE",
    "OBS_MODE",
    "OBS_ID",
    "TARG_ID",
    "SEG_NUM",
    "OBJECT",
    "RA_OBJ",
    "DEC_OBJ",
    "RA_PNT",
    "DEC_PNT",
    "PA_PNT",
    "EQUINOX",
    "RADECSYS",
    "TIMESYS",
    "MJDREFI",
    "MJDREFF",
    "TIMEREF",
    "TASSIGN",
    "TIMEUNIT",
    "TSTART",
    "TSTOP",
    "DATE-OBS",
    "DATE-END",
    "XRTVSUB",
)

REQUIRED_COLUMNS = ("TIME", "X", "Y", "PI")


class EventFileError(ValueError):
    """A level-2 event file is missing, unreadable or inconsistent."""


@dataclass
class EventList:
    """Columns and metadata of a cleaned XRT event file.

    Attributes
    ----------
    path : Path
        File the events were read from.
    time, x, y, pi, grade : numpy.ndarray
        Event columns (``x``/``y`` are 1-based sky pixels; ``grade`` is all zeros if absent).
    header : astropy.io.fits.Header
        ``EVENTS`` extension header.
    gti : numpy.ndarray
        ``(n, 2)`` array of good time intervals (START, STOP) in mission seconds.
    badpix : numpy.ndarray or None
        Records of the ``BADPIX`` extension, if present.
    """

    path: Path
    time: np.ndarray
    x: np.ndarray
    y: np.ndarray
    pi: np.ndarray
    grade: np.ndarray
    header: fits.Header
    primary_header: fits.Header
    gti: np.ndarray
    gti_header: fits.Header
    badpix: np.ndarray | None = None
    wcs: WCS = field(init=False)

    def __post_init__(self) -> None:
        self.wcs = sky_wcs(self.header)

    @property
    def obsid(self) -> str:
        return str(self.header.get("OBS_ID", "")).strip()

    @property
    def exposure(self) -> float:
        """``EXPOSURE`` keyword (dead-time corrected GTI sum); GTI sum if the keyword is absent."""
        if "EXPOSURE" in self.header:
            return float(self.header["EXPOSURE"])
        return gti_exposure(self.gti)

    @property
    def image_shape(self) -> tuple[int, int]:
        """``(ny, nx)`` of the sky pixel grid from ``TLMIN``/``TLMAX`` of the X and Y columns."""
        ix, iy = _column_index(self.header, "X"), _column_index(self.header, "Y")
        nx = int(self.header.get(f"TLMAX{ix}", 1000)) - int(self.header.get(f"TLMIN{ix}", 1)) + 1
        ny = int(self.header.get(f"TLMAX{iy}", 1000)) - int(self.header.get(f"TLMIN{iy}", 1)) + 1
        return ny, nx

    def pixel_index(self) -> np.ndarray:
        """Flat sky-grid index of every event, ``(Y-1) * nx + (X-1)``; ``ny * nx`` if off the grid.

        Computed once per event list and shared by the image and every region selection (a
        lookup in the region's pixel mask), so the ``X``/``Y`` columns are read once.
        """
        cached = self.__dict__.get("_pixel_index")
        if cached is not None and cached.size == self.x.size:
            return cached
        ny, nx = self.image_shape
        xi = self.x.astype(np.intp) - 1
        yi = self.y.astype(np.intp) - 1
        # unsigned view: negative offsets wrap to huge values, so one comparison per axis
        ok = (xi.view(np.uintp) < nx) & (yi.view(np.uintp) < ny)
        flat = yi * nx + xi
        if not ok.all():
            flat[~ok] = nx * ny
        self.__dict__["_pixel_index"] = flat
        return flat

    def select(self, mask: np.ndarray) -> EventList:
        """A copy restricted to the events where ``mask`` is true (metadata shared)."""
        out = EventList(
            path=self.path,
            time=self.time[mask],
            x=self.x[mask],
            y=self.y[mask],
            pi=self.pi[mask],
            grade=self.grade[mask],
            header=self.header,
            primary_header=self.primary_header,
            gti=self.gti,
            gti_header=self.gti_header,
            badpix=self.badpix,
        )
        return out

    def copy_keywords(self, header: fits.Header) -> fits.Header:
        """Copy the standard observation keywords (:data:`COPY_KEYWORDS`) into ``header``."""
        for key in COPY_KEYWORDS:
            if key in self.header:
                header[key] = (self.header[key], self.header.comments[key])
            elif key in self.primary_header:
                header[key] = (self.primary_header[key], self.primary_header.comments[key])
        return header


def _column_index(header: fits.Header, name: str) -> int:
    for i in range(1, int(header.get("TFIELDS", 0)) + 1):
        if str(header.get(f"TTYPE{i}", "")).strip().upper() == name:
            return i
    raise KeyError(name)


def sky_wcs(header: fits.Header, xcol: str = "X", ycol: str = "Y") -> WCS:
    """Celestial WCS of the sky pixel columns of an event table.

    Built from the column keywords ``TCTYPn``, ``TCRVLn``, ``TCRPXn``, ``TCDLTn``. Like every
    astropy WCS it works in 0-based pixel coordinates: the event at sky pixel ``X`` (1-based,
    FITS convention) is at ``X - 1``.
    """
    ix, iy = _column_index(header, xcol), _column_index(header, ycol)
    w = WCS(naxis=2)
    w.wcs.ctype = [str(header[f"TCTYP{ix}"]), str(header[f"TCTYP{iy}"])]
    w.wcs.crval = [float(header[f"TCRVL{ix}"]), float(header[f"TCRVL{iy}"])]
    w.wcs.crpix = [float(header[f"TCRPX{ix}"]), float(header[f"TCRPX{iy}"])]
    w.wcs.cdelt = [float(header[f"TCDLT{ix}"]), float(header[f"TCDLT{iy}"])]
    w.wcs.cunit = ["deg", "deg"]
    w.wcs.radesys = str(header.get("RADECSYS", header.get("RADESYS", "FK5"))).strip() or "FK5"
    w.wcs.equinox = float(header.get("EQUINOX", 2000.0))
    return w


def wcs_header(wcs: WCS) -> fits.Header:
    """Image-HDU WCS keywords (``CTYPE``/``CRVAL``/``CRPIX``/``CDELT``/``CUNIT``) of ``wcs``."""
    h = fits.Header()
    for i in (0, 1):
        n = i + 1
        h[f"CTYPE{n}"] = wcs.wcs.ctype[i]
        h[f"CRVAL{n}"] = float(wcs.wcs.crval[i])
        h[f"CRPIX{n}"] = float(wcs.wcs.crpix[i])
        h[f"CDELT{n}"] = float(wcs.wcs.cdelt[i])
        h[f"CUNIT{n}"] = "deg"
    h["RADESYS"] = wcs.wcs.radesys or "FK5"
    h["EQUINOX"] = float(wcs.wcs.equinox) if np.isfinite(wcs.wcs.equinox) else 2000.0
    return h


def gti_exposure(gti: np.ndarray) -> float:
    """Sum of ``STOP - START`` over good time intervals."""
    gti = np.asarray(gti, dtype=float).reshape(-1, 2)
    return float(np.sum(gti[:, 1] - gti[:, 0]))


def mjdref(header: fits.Header) -> float:
    """``MJDREFI + MJDREFF`` (or ``MJDREF``), Swift's default if absent."""
    if "MJDREFI" in header:
        return float(header["MJDREFI"]) + float(header.get("MJDREFF", 0.0))
    return float(header.get("MJDREF", 51910.00074287037))


def mission_time_to_time(t: float, header: fits.Header) -> Time:
    """Swift mission time (TT seconds since MJDREF) to an astropy ``Time``."""
    from astropy.time import Time  # only stages that date the observation

    return Time(mjdref(header), t / 86400.0, format="mjd", scale="tt")


def read_events(path: str | Path, obsid: str | None = None, mode: str | None = None) -> EventList:
    """Read and check a level-2 XRT event file.

    Parameters
    ----------
    path : str or Path
        Event file (``.evt`` or ``.evt.gz``).
    obsid : str, optional
        Expected ``OBS_ID``; a mismatch raises.
    mode : str, optional
        Expected XRT mode (``"PC"`` needs ``DATAMODE='PHOTON'``, ``"WT"`` ``'WINDOWED'``).

    Raises
    ------
    EventFileError
        If the file is missing, unreadable, lacks the ``EVENTS``/``GTI`` extensions or required
        columns, or does not match ``obsid``/``mode``. The message names the ObsID and the file.
    """
    path = Path(path)
    tag = f"ObsID {obsid}: " if obsid else ""
    if not path.is_file():
        raise EventFileError(f"{tag}event file {path} does not exist")
    try:
        with fits.open(path, memmap=False) as hdul:
            names = [h.name.upper() for h in hdul]
            for ext in ("EVENTS", "GTI"):
                if ext not in names:
                    raise EventFileError(f"{tag}event file {path} has no {ext} extension")
            ev = hdul["EVENTS"]
            cols = [c.upper() for c in ev.columns.names]
            missing = [c for c in REQUIRED_COLUMNS if c not in cols]
            if missing:
                raise EventFileError(f"{tag}event file {path} lacks EVENTS columns {missing}")
            data = ev.data
            header = ev.header.copy()
            primary = hdul[0].header.copy()
            n = len(data)
            time = np.asarray(data["TIME"], dtype=np.float64)
            x = np.asarray(data["X"], dtype=np.int32)
            y = np.asarray(data["Y"], dtype=np.int32)
            pi = np.asarray(data["PI"], dtype=np.int32)
            grade = (
                np.asarray(data["GRADE"], dtype=np.int16)
                if "GRADE" in cols
                else np.zeros(n, dtype=np.int16)
            )
            g = hdul["GTI"]
            gti = np.column_stack(
                [np.asarray(g.data["START"], float), np.asarray(g.data["STOP"], float)]
            )
            gti_header = g.header.copy()
            badpix = np.array(hdul["BADPIX"].data) if "BADPIX" in names else None
    except EventFileError:
        raise
    except Exception as exc:  # corrupt gzip, truncated FITS, ...
        raise EventFileError(f"{tag}event file {path} is unreadable or corrupt: {exc}") from exc

    file_obsid = str(header.get("OBS_ID", primary.get("OBS_ID", ""))).strip()
    if obsid is not None and file_obsid != str(obsid):
        raise EventFileError(
            f"{tag}event file {path} has OBS_ID={file_obsid!r}, expected {str(obsid)!r}"
        )
    if mode is not None:
        expected = {"PC": "PHOTON", "WT": "WINDOWED"}.get(mode.upper(), mode.upper())
        datamode = str(header.get("DATAMODE", primary.get("DATAMODE", ""))).strip().upper()
        if datamode and datamode != expected:
            raise EventFileError(
                f"{tag}event file {path} has DATAMODE={datamode!r}, expected {expected!r} "
                f"for mode {mode!r}"
            )
    try:
        events = EventList(
            path=path,
            time=time,
            x=x,
            y=y,
            pi=pi,
            grade=grade,
            header=header,
            primary_header=primary,
            gti=gti,
            gti_header=gti_header,
            badpix=badpix,
        )
    except KeyError as exc:
        raise EventFileError(f"{tag}event file {path} has no sky WCS keyword {exc}") from exc
    return events
