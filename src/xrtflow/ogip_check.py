"""``ftverify``-like checks that run without HEASoft: FITS validity and OGIP keywords.

:func:`check_file` runs astropy's FITS verification (``HDUList.verify("exception")``, the
standard's structural rules), checks ``CHECKSUM``/``DATASUM`` where present, and then the keywords
and columns each kind of extension needs (chosen by ``HDUCLAS1``/``EXTNAME``), as the OGIP memos
define them and as HEASoft's tasks read them:

* events (``EVENTS``): the observation keywords, timing keywords, the sky WCS of ``X``/``Y``,
  and a data-subspace grade selection (``DSTYPn = 'GRADE'``; ``xrtmkarf`` stops without it);
* spectra (OGIP/92-007), light curves (OGIP/93-003), ARFs (CAL/GEN/92-002), images and GTIs.

Example
-------
>>> problems = check_file("sw00031940101xpcw3posr.pha")   # doctest: +SKIP
>>> assert not problems, problems                          # doctest: +SKIP
"""

from __future__ import annotations

import warnings
from pathlib import Path

__all__ = ["check_file", "check_hdu", "REQUIRED"]

_OBS = ("TELESCOP", "INSTRUME")
_TIME = ("TIMESYS", "MJDREFI", "MJDREFF", "TIMEUNIT", "TSTART", "TSTOP")

#: Required keywords and columns per kind of extension.
REQUIRED: dict[str, dict[str, tuple[str, ...]]] = {
    "EVENTS": {
        "keys": _OBS
        + _TIME
        + (
            "HDUCLASS",
            "HDUCLAS1",
            "DATAMODE",
            "OBS_ID",
            "DATE-OBS",
            "DATE-END",
            "EXPOSURE",
            "ONTIME",
            "TIMEDEL",
            "TIMEPIXR",
            "TIMEREF",
            "RA_PNT",
            "DEC_PNT",
            "PA_PNT",
            "RA_NOM",
            "DEC_NOM",
            "ATTFLAG",
            "EQUINOX",
            "RADECSYS",
            "XRTVSUB",
        ),
        "cols": ("TIME", "X", "Y", "PI", "GRADE"),
    },
    "GTI": {
        "keys": _OBS + ("HDUCLASS", "HDUCLAS1", "TIMESYS", "MJDREFI"),
        "cols": ("START", "STOP"),
    },
    "SPECTRUM": {
        "keys": _OBS
        + (
            "HDUCLASS",
            "HDUCLAS1",
            "HDUCLAS2",
            "HDUCLAS3",
            "HDUVERS",
            "FILTER",
            "EXPOSURE",
            "AREASCAL",
            "BACKSCAL",
            "CORRSCAL",
            "BACKFILE",
            "CORRFILE",
            "RESPFILE",
            "ANCRFILE",
            "CHANTYPE",
            "DETCHANS",
            "DATE-OBS",
            "OBS_ID",
        ),
        "cols": ("CHANNEL",),
    },
    "LIGHTCURVE": {
        "keys": _OBS
        + _TIME
        + ("HDUCLASS", "HDUCLAS1", "TIMEDEL", "TIMEZERO", "TIMEPIXR", "TIMEREF"),
        "cols": ("TIME", "RATE", "ERROR"),
    },
    "RESPONSE": {
        "keys": _OBS + ("HDUCLASS", "HDUCLAS1", "HDUCLAS2", "HDUVERS"),
        "cols": ("ENERG_LO", "ENERG_HI", "SPECRESP"),
    },
    "IMAGE": {
        "keys": _OBS
        + ("CTYPE1", "CTYPE2", "CRVAL1", "CRVAL2", "CRPIX1", "CRPIX2", "CDELT1", "CDELT2")
        + ("EXPOSURE", "EQUINOX"),
        "cols": (),
    },
}


def _kind(hdu) -> str | None:
    h = hdu.header
    cls = str(h.get("HDUCLAS1", "")).strip().upper()
    name = str(h.get("EXTNAME", "")).strip().upper()
    if cls in REQUIRED:
        return cls
    if name in ("EVENTS", "GTI", "SPECTRUM"):
        return name
    if name == "SPECRESP":
        return "RESPONSE"
    if name == "RATE":
        return "LIGHTCURVE"
    if getattr(hdu, "is_image", False) and hdu.header.get("NAXIS", 0) == 2:
        return "IMAGE"
    return None


def check_hdu(hdu, label: str = "") -> list[str]:
    """Problems of one HDU (missing keywords/columns for its kind, bad values)."""
    kind = _kind(hdu)
    if kind is None:
        return []
    h = hdu.header
    where = f"{label}[{h.get('EXTNAME', 'PRIMARY')}]"
    need = REQUIRED[kind]
    out = [f"{where}: {kind} needs keyword {k}" for k in need["keys"] if k not in h]
    if need["cols"]:
        names = {c.upper() for c in hdu.columns.names}
        out += [f"{where}: {kind} needs column {c}" for c in need["cols"] if c not in names]
        if kind == "SPECTRUM" and not ({"COUNTS", "RATE"} & names):
            out.append(f"{where}: SPECTRUM needs a COUNTS or RATE column")
        if kind == "SPECTRUM" and "STAT_ERR" not in names and "POISSERR" not in h:
            out.append(f"{where}: SPECTRUM needs POISSERR or a STAT_ERR column")
    if "HDUCLASS" in h and str(h["HDUCLASS"]).strip().upper() != "OGIP":
        out.append(f"{where}: HDUCLASS is {h['HDUCLASS']!r}, not 'OGIP'")
    if kind == "EVENTS":
        out += _check_events(hdu, where)
    if kind == "SPECTRUM" and "EXPOSURE" in h and not float(h["EXPOSURE"]) > 0:
        out.append(f"{where}: EXPOSURE must be positive")
    return out


def _check_events(hdu, where: str) -> list[str]:
    h = hdu.header
    out = []
    n, grade = 1, False
    while f"DSTYP{n}" in h:
        if f"DSVAL{n}" not in h:
            out.append(f"{where}: DSTYP{n} without DSVAL{n}")
        grade |= str(h[f"DSTYP{n}"]).strip().upper() == "GRADE"
        n += 1
    if not grade:
        out.append(f"{where}: no data-subspace grade selection (DSTYPn = 'GRADE')")
    names = [c.upper() for c in hdu.columns.names]
    for col in ("X", "Y"):
        if col in names:
            i = names.index(col) + 1
            for stem in ("TCTYP", "TCRVL", "TCRPX", "TCDLT", "TCUNI", "TLMIN", "TLMAX"):
                if f"{stem}{i}" not in h:
                    out.append(f"{where}: column {col} needs {stem}{i}")
    return out


def check_file(path: str | Path) -> list[str]:
    """All problems found in a FITS file (empty list: the file passes).

    Structural errors from astropy's verification, failed checksums and missing OGIP keywords
    are reported, each naming the file and extension.
    """
    from astropy.io import fits
    from astropy.io.fits.verify import VerifyError

    path = Path(path)
    problems: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            with fits.open(path, checksum=True) as hdul:
                try:
                    hdul.verify("exception")
                except VerifyError as exc:
                    problems.append(f"{path.name}: FITS verification failed: {exc}")
                for hdu in hdul:
                    problems += check_hdu(hdu, path.name)
        except OSError as exc:
            return [f"{path.name}: not a readable FITS file ({exc})"]
    for w in caught:
        msg = str(w.message)
        if "checksum" in msg.lower() or "datasum" in msg.lower():
            problems.append(f"{path.name}: {msg}")
    return problems
