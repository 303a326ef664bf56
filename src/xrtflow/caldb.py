"""Calibration-file lookup through an OGIP CALDB index (``data/swift/xrt/index/caldb.indx``).

Works with a real HEASARC CALDB (``$CALDB``) and with the small tree that
:func:`xrtflow.simulate.make_demo_archive` writes. Selection follows the CALDB rules:
``TELESCOP``/``INSTRUME`` match, ``CAL_QUAL == 0``, every requested boundary (``CAL_CBD``) is
satisfied (an entry without a boundary on a parameter accepts any value), the validity start
``CAL_VSD``/``CAL_VST`` is not after the requested date, and among those the entry with the
latest validity start wins (ties: the later row in the index).

Example
-------
>>> cal = Caldb("/path/to/caldb")                              # doctest: +SKIP
>>> cal.rmf(datamode="PC", grades="0:12", date=Time("2011-09-01"))  # doctest: +SKIP
PosixPath('/path/to/caldb/data/swift/xrt/cpf/rmf/swxpc0to12s6_20010101v900.rmf')
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.time import Time

INDEX_RELPATH = Path("data/swift/xrt/index/caldb.indx")

#: XRT read-out mode names accepted by :meth:`Caldb.rmf` -> CALDB ``DATAMODE`` boundary values.
DATAMODES = {
    "PC": "PHOTON",
    "PHOTON": "PHOTON",
    "WT": "WINDOWED",
    "WINDOWED": "WINDOWED",
    "PD": "PILEDUP",
    "LR": "LOWRATE",
}

_CBD_RE = re.compile(r"^\s*([A-Za-z0-9_\-]+)\s*\((.*)\)\s*(\S*)\s*$")


class CaldbError(LookupError):
    """No calibration file matches a query (or the CALDB index is missing/unreadable)."""


@dataclass(frozen=True)
class Boundary:
    """One ``CAL_CBD`` entry, e.g. ``GRADE(G0:12)`` or ``XRTVSUB(6)`` or ``CHAN(0-1023)``."""

    name: str
    value: str

    @classmethod
    def parse(cls, text: str) -> Boundary | None:
        text = text.strip()
        if not text or text.upper() == "NONE":
            return None
        m = _CBD_RE.match(text)
        if not m:
            return None
        return cls(m.group(1).upper(), m.group(2).strip().strip("\"'").strip())

    def accepts(self, value: str | float) -> bool:
        """True if a requested ``value`` lies within this boundary."""
        want = str(value).strip().strip("\"'").upper()
        have = self.value.upper()
        if have == want:
            return True
        # numeric value or range boundaries: "6", "0-1023", "1.5-2.0"
        try:
            x = float(want)
        except ValueError:
            return False
        for part in have.split(","):
            part = part.strip()
            rng = re.fullmatch(
                r"([-+]?[\d.]+(?:[eE][-+]?\d+)?)\s*-\s*([-+]?[\d.]+(?:[eE][-+]?\d+)?)", part
            )
            try:
                if rng and float(rng.group(1)) <= x <= float(rng.group(2)):
                    return True
                if not rng and float(part) == x:
                    return True
            except ValueError:
                continue
        return False


def _grade_value(grades: str) -> str:
    g = str(grades).strip().upper().replace(" ", "")
    if not g.startswith("G"):
        g = "G" + g
    return g.replace("-", ":")


class Caldb:
    """A CALDB tree with a Swift-XRT index.

    Parameters
    ----------
    root : path-like, optional
        The CALDB root (the directory holding ``data/``). Defaults to ``$CALDB``.
    telescope, instrument : str
        Index rows to consider (``SWIFT``, ``XRT``).
    """

    def __init__(
        self,
        root: str | os.PathLike | None = None,
        telescope: str = "SWIFT",
        instrument: str = "XRT",
    ) -> None:
        if root is None:
            root = os.environ.get("CALDB")
            if not root:
                raise CaldbError("no CALDB root given and $CALDB is not set")
        self.root = Path(root)
        self.index_path = self.root / INDEX_RELPATH
        self.telescope = telescope.upper()
        self.instrument = instrument.upper()
        if not self.index_path.is_file():
            raise CaldbError(f"CALDB index not found: {self.index_path}")
        with fits.open(self.index_path) as hdul:
            data = hdul[1].data
            self._rows = [
                {
                    "TELESCOP": str(r["TELESCOP"]).strip().upper(),
                    "INSTRUME": str(r["INSTRUME"]).strip().upper(),
                    "CAL_DIR": str(r["CAL_DIR"]).strip(),
                    "CAL_FILE": str(r["CAL_FILE"]).strip(),
                    "CAL_CNAM": str(r["CAL_CNAM"]).strip().upper(),
                    "CAL_CBD": [
                        b
                        for b in (Boundary.parse(str(s)) for s in np.atleast_1d(r["CAL_CBD"]))
                        if b
                    ],
                    "CAL_VSD": str(r["CAL_VSD"]).strip(),
                    "CAL_VST": str(r["CAL_VST"]).strip() or "00:00:00",
                    "CAL_QUAL": int(r["CAL_QUAL"]),
                    "CAL_DEV": str(r["CAL_DEV"]).strip().upper(),
                }
                for r in data
            ]

    def __repr__(self) -> str:
        return f"Caldb({str(self.root)!r})"

    # --- generic query ---------------------------------------------------------------------
    def query(
        self,
        cnam: str,
        date: Time | str | None = None,
        **boundaries: str | float | None,
    ) -> Path:
        """Path of the best file with code name ``cnam`` satisfying ``boundaries`` at ``date``.

        Parameters
        ----------
        cnam : str
            ``CAL_CNAM`` (``MATRIX``, ``SPECRESP``, ``PSF``, ``VIGNET``, ...).
        date : astropy.time.Time or str, optional
            Observation date; defaults to "now" (the latest valid file).
        **boundaries
            Boundary name -> requested value, e.g. ``DATAMODE="PHOTON", GRADE="G0:12"``.
            ``None`` values are ignored.

        Raises
        ------
        CaldbError
            If no entry matches; the message names the query and the index file.
        """
        cnam = cnam.upper()
        when = Time.now() if date is None else Time(date)
        wanted = {k.upper(): v for k, v in boundaries.items() if v is not None}
        best: tuple[Time, int] | None = None
        best_row = None
        for i, row in enumerate(self._rows):
            if row["TELESCOP"] != self.telescope or row["INSTRUME"] != self.instrument:
                continue
            if row["CAL_CNAM"] != cnam or row["CAL_QUAL"] != 0:
                continue
            cbd = {b.name: b for b in row["CAL_CBD"]}
            if any(name in cbd and not cbd[name].accepts(v) for name, v in wanted.items()):
                continue
            start = Time(f"{row['CAL_VSD']}T{row['CAL_VST']}", scale="utc")
            if start > when:
                continue
            key = (start, i)
            if best is None or key[0] > best[0] or (key[0] == best[0] and i > best[1]):
                best, best_row = key, row
        if best_row is None:
            asked = ", ".join(f"{k}={v}" for k, v in wanted.items()) or "no boundaries"
            have = sorted({r["CAL_CNAM"] for r in self._rows if r["INSTRUME"] == self.instrument})
            raise CaldbError(
                f"no {self.telescope}/{self.instrument} CALDB file with CAL_CNAM={cnam!r} "
                f"({asked}) valid at {when.isot[:19]} in index {self.index_path} "
                f"(code names present: {', '.join(have) or 'none'})"
            )
        path = self.root / best_row["CAL_DIR"] / best_row["CAL_FILE"]
        if not path.exists():
            raise CaldbError(f"CALDB index {self.index_path} lists {path}, which does not exist")
        return path

    # --- XRT shortcuts -------------------------------------------------------------------------
    def _response(
        self, cnam: str, datamode: str, grades: str, date: Time | str | None, xrtvsub: int | None
    ) -> Path:
        return self.query(
            cnam, date, DATAMODE=self._mode(datamode), GRADE=_grade_value(grades), XRTVSUB=xrtvsub
        )

    def rmf(
        self,
        datamode: str = "PC",
        grades: str = "0:12",
        date: Time | str | None = None,
        xrtvsub: int | None = None,
    ) -> Path:
        """Response matrix (``CAL_CNAM='MATRIX'``) for a read-out mode and grade selection."""
        return self._response("MATRIX", datamode, grades, date, xrtvsub)

    def arf(
        self,
        datamode: str = "PC",
        grades: str = "0:12",
        date: Time | str | None = None,
        xrtvsub: int | None = None,
    ) -> Path:
        """On-axis effective area (``CAL_CNAM='SPECRESP'``)."""
        return self._response("SPECRESP", datamode, grades, date, xrtvsub)

    def psf(self, date: Time | str | None = None) -> Path:
        """PSF coefficient file (``CAL_CNAM='PSF'``)."""
        return self.query("PSF", date)

    def vignetting(self, date: Time | str | None = None) -> Path:
        """Vignetting coefficient file (``CAL_CNAM='VIGNET'``)."""
        return self.query("VIGNET", date)

    @staticmethod
    def _mode(datamode: str) -> str:
        try:
            return DATAMODES[datamode.strip().upper()]
        except KeyError:
            raise CaldbError(
                f"unknown XRT data mode {datamode!r}; use one of {sorted(DATAMODES)}"
            ) from None
