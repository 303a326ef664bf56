"""Calibration-file lookup through an OGIP CALDB index (``data/swift/xrt/index/caldb.indx``).

Works with a real HEASARC CALDB (``$CALDB``) and with the small tree that
:func:`xrtflow.simulate.make_demo_archive` writes. Selection follows the CALDB rules:
``TELESCOP``/``INSTRUME`` match, ``CAL_QUAL == 0``, every requested boundary (``CAL_CBD``) is
satisfied (an entry without a boundary on a parameter accepts any value), the validity start
``CAL_VSD``/``CAL_VST`` is not after the requested date, and among those the entry with the
latest validity start wins (ties: the later row in the index).

Without a local CALDB, :class:`RemoteCaldb` reads HEASARC's index over HTTPS
(``https://heasarc.gsfc.nasa.gov/FTP/caldb/data/swift/xrt/index/caldb.indx``, the layout HEASoft's
own remote-CALDB access uses) and downloads only the files a query selects, verified (size, gzip
CRC, FITS CHECKSUM/DATASUM) and atomically (``.part`` then rename), into a cache shared by every
target and ObsID, one download at a time per file (a lock file). :func:`open_caldb` makes the
choice the workflow makes: a configured path or URL, else ``$CALDB``, else HTTPS.

Example
-------
>>> cal = Caldb("/path/to/caldb")                              # doctest: +SKIP
>>> cal.rmf(datamode="PC", grades="0:12", date=Time("2011-09-01"))  # doctest: +SKIP
PosixPath('/path/to/caldb/data/swift/xrt/cpf/rmf/swxpc0to12s6_20010101v900.rmf')
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import quote

import numpy as np
from astropy.io import fits
from astropy.time import Time

INDEX_RELPATH = Path("data/swift/xrt/index/caldb.indx")
#: HEASARC's CALDB root over HTTPS (what ``CALDB=https://...`` means to HEASoft).
DEFAULT_REMOTE_URL = "https://heasarc.gsfc.nasa.gov/FTP/caldb"
#: A cached remote index older than this (s) is fetched again.
INDEX_MAX_AGE = 86400.0

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


def _release_date(text: str) -> str:
    """``CAL_DATE`` as sortable ``YYYY-MM-DD`` (index files use ``dd/mm/yy`` or ISO dates)."""
    m = re.fullmatch(r"(\d{2})/(\d{2})/(\d{2})", text)
    if m:
        dd, mm, yy = (int(g) for g in m.groups())
        # FITS dd/mm/yy dates are 19yy; CALDB indices use them for 20yy dates too (before 2000
        # there were no Swift files), so years below 90 are 20yy.
        return f"{2000 + yy if yy < 90 else 1900 + yy:04d}-{mm:02d}-{dd:02d}"
    return text[:10]


def safe_relpath(cal_dir: str, cal_file: str, index: Path | str = "index") -> PurePosixPath:
    """``CAL_DIR/CAL_FILE`` checked to stay inside the CALDB root.

    Raises
    ------
    CaldbError
        For absolute paths, ``..`` components, backslashes, URLs or control characters: an index
        (local, or from a server) must never make xrtflow read or write outside the CALDB.
    """
    text = f"{cal_dir.strip()}/{cal_file.strip()}"
    rel = PurePosixPath(text)
    bad = (
        not cal_file.strip()
        or rel.is_absolute()
        or any(part in ("..", "~") for part in rel.parts)
        or "\\" in text
        or "://" in text
        or any(ord(ch) < 32 for ch in text)
    )
    if bad:
        raise CaldbError(
            f"CALDB index {index} lists the unsafe path {text!r} (outside the CALDB root); "
            "the index is corrupt or not a CALDB index"
        )
    return rel


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
        self._load_index()

    def _load_index(self) -> None:
        if not self.index_path.is_file():
            raise CaldbError(f"CALDB index not found: {self.index_path}")
        try:
            with fits.open(self.index_path) as hdul:
                data = hdul[1].data
                names = {n.upper() for n in data.columns.names}
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
                        "CAL_DATE": _release_date(
                            str(r["CAL_DATE"]).strip() if "CAL_DATE" in names else ""
                        ),
                    }
                    for r in data
                ]
        except (OSError, KeyError, ValueError, IndexError) as exc:
            raise CaldbError(f"CALDB index {self.index_path} is unreadable: {exc}") from exc

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
        best: tuple | None = None
        best_row = None
        for i, row in enumerate(self._rows):
            if row["TELESCOP"] != self.telescope or row["INSTRUME"] != self.instrument:
                continue
            if row["CAL_CNAM"] != cnam or row["CAL_QUAL"] != 0:
                continue
            if row["CAL_DEV"] not in ("", "ONLINE"):
                continue
            cbd = {b.name: b for b in row["CAL_CBD"]}
            if any(name in cbd and not cbd[name].accepts(v) for name, v in wanted.items()):
                continue
            start = Time(f"{row['CAL_VSD']}T{row['CAL_VST']}", scale="utc")
            if start > when:
                continue
            # quzcif/HDgtcalf: the latest validity start wins; among equal starts the file
            # released last (CAL_DATE), then the later row of the index.
            key = (start.mjd, row["CAL_DATE"], i)
            if best is None or key > best:
                best, best_row = key, row
        if best_row is None:
            asked = ", ".join(f"{k}={v}" for k, v in wanted.items()) or "no boundaries"
            have = sorted({r["CAL_CNAM"] for r in self._rows if r["INSTRUME"] == self.instrument})
            raise CaldbError(
                f"no {self.telescope}/{self.instrument} CALDB file with CAL_CNAM={cnam!r} "
                f"({asked}) valid at {when.isot[:19]} in index {self.index_path} "
                f"(code names present: {', '.join(have) or 'none'})"
            )
        return self._resolve(best_row)

    def _relpath(self, row: dict) -> PurePosixPath:
        return safe_relpath(row["CAL_DIR"], row["CAL_FILE"], self.index_path)

    def _resolve(self, row: dict) -> Path:
        """Local path of an index row (a remote CALDB downloads it first)."""
        path = self.root / self._relpath(row)
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

    def psf(self, date: Time | str | None = None, datamode: str | None = None) -> Path:
        """PSF coefficient file (``CAL_CNAM='PSF'``; xrtmkarf asks ``datamode.eq.<mode>``)."""
        mode = self._mode(datamode) if datamode else None
        return self.query("PSF", date, DATAMODE=mode)

    def vignetting(self, date: Time | str | None = None) -> Path:
        """Vignetting coefficient file (``CAL_CNAM='VIGNET'``)."""
        return self.query("VIGNET", date)

    def badpix(self, date: Time | str | None = None) -> Path:
        """Bad pixel table (``CAL_CNAM='BADPIX'``)."""
        return self.query("BADPIX", date)

    @staticmethod
    def _mode(datamode: str) -> str:
        try:
            return DATAMODES[datamode.strip().upper()]
        except KeyError:
            raise CaldbError(
                f"unknown XRT data mode {datamode!r}; use one of {sorted(DATAMODES)}"
            ) from None


# --- remote CALDB over HTTPS -------------------------------------------------------------------
def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/xrtflow/caldb`` (``~/.cache/xrtflow/caldb``): one cache for all jobs."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "xrtflow" / "caldb"


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """Exclusive lock on ``<path>.lock`` (flock: works across processes and threads)."""
    lock = path.with_name(path.name + ".lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


class RemoteCaldb(Caldb):
    """A CALDB read over HTTP(S): the index, then only the files the queries select.

    Parameters
    ----------
    url : str
        CALDB root URL (the directory holding ``data/``); HEASARC's by default.
    cache_dir : path-like, optional
        Local mirror of the tree (shared by every target and ObsID); :func:`default_cache_dir`
        by default.
    index_max_age : float
        Seconds after which the cached index is fetched again (new calibration releases).
    session, retries, backoff, timeout
        Passed to :func:`xrtflow.network.fetch_file`.
    """

    def __init__(
        self,
        url: str = DEFAULT_REMOTE_URL,
        cache_dir: str | os.PathLike | None = None,
        *,
        index_max_age: float = INDEX_MAX_AGE,
        telescope: str = "SWIFT",
        instrument: str = "XRT",
        session=None,
        retries: int = 4,
        backoff: float = 0.5,
        timeout: float | tuple[float, float] = (10, 120),
    ) -> None:
        self.url = str(url).rstrip("/")
        self._fetch_kw = dict(retries=retries, backoff=backoff, timeout=timeout)
        self._session = session
        self._checked: set[Path] = set()
        root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        index = root / INDEX_RELPATH
        stale = not index.is_file() or time.time() - index.stat().st_mtime > index_max_age
        self._fetch(PurePosixPath(INDEX_RELPATH.as_posix()), index, refresh=stale)
        super().__init__(root, telescope=telescope, instrument=instrument)

    def __repr__(self) -> str:
        return f"RemoteCaldb({self.url!r}, cache_dir={str(self.root)!r})"

    def _fetch(self, rel: PurePosixPath, dest: Path, refresh: bool = False) -> Path:
        from xrtflow.download import CorruptFileError, verify_file
        from xrtflow.network import DownloadError, fetch_file, make_session

        root = dest.parents[len(rel.parts) - 1]
        if not dest.resolve().is_relative_to(root.resolve()):  # a symlink leading elsewhere
            raise CaldbError(f"CALDB cache path {dest} leaves the cache {root}")
        url = f"{self.url}/{quote(rel.as_posix())}"
        with _file_lock(dest):
            # another job may have fetched it while we waited for the lock
            if dest.is_file() and not refresh:
                if dest in self._checked:
                    return dest
                try:
                    verify_file(dest)
                    self._checked.add(dest)
                    return dest
                except (CorruptFileError, OSError):
                    dest.unlink(missing_ok=True)
            if self._session is None:
                self._session = make_session()
            try:
                fetch_file(url, dest, session=self._session, verify=verify_file, **self._fetch_kw)
            except DownloadError as exc:
                if refresh and dest.is_file() and rel.name == INDEX_RELPATH.name:
                    return dest  # keep working from the cached index when offline
                raise CaldbError(
                    f"could not download CALDB file {url}: {exc.cause}; set caldb: <local CALDB "
                    "path> in the config (or $CALDB) to work without the network"
                ) from exc
            self._checked.add(dest)
        return dest

    def _resolve(self, row: dict) -> Path:
        rel = self._relpath(row)
        return self._fetch(rel, self.root / rel)


def open_caldb(
    setting: str | os.PathLike | None = None, cache_dir: str | os.PathLike | None = None
) -> Caldb:
    """The CALDB the native backend uses, chosen as the workflow chooses it.

    Parameters
    ----------
    setting : str or path, optional
        The config's ``caldb``: a local CALDB root, ``"remote"`` (HEASARC over HTTPS) or an
        ``http(s)://`` CALDB root URL. ``None``: ``$CALDB`` (a path or URL) if set, else remote.
    cache_dir : path, optional
        Cache of the remote CALDB (config ``caldb_cache``); :func:`default_cache_dir` if None.
    """
    if setting is None or str(setting).strip() == "":
        setting = os.environ.get("CALDB") or "remote"
    text = str(setting).strip()
    if text.lower() == "remote":
        return RemoteCaldb(DEFAULT_REMOTE_URL, cache_dir)
    if text.lower().startswith(("http://", "https://")):
        return RemoteCaldb(text, cache_dir)
    return Caldb(text)


def check_caldb(
    setting: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
    timeout: float = 5.0,
    require_local: bool = True,
) -> str:
    """Check, before any job runs, that the native backend will find its calibration.

    A local CALDB must have its index (with ``require_local=False`` a missing one is only
    reported: the workflow may create it, as the demo does); a remote one must answer (a TCP
    connection), unless its index is already cached. Returns a one-line description.

    Raises
    ------
    CaldbError
        Naming the CALDB, what is missing and the settings that fix it.
    """
    if setting is None or str(setting).strip() == "":
        setting = os.environ.get("CALDB") or "remote"
    text = str(setting).strip()
    if not text.lower().startswith(("http://", "https://", "remote")):
        index = Path(text) / INDEX_RELPATH
        if not index.is_file() and not require_local:
            return f"local CALDB {text} (index {index} not found yet)"
        if not index.is_file():
            raise CaldbError(
                f"CALDB {text}: index {index} not found; set caldb to a CALDB root (the directory "
                "holding data/swift/xrt), or to 'remote' to read HEASARC's CALDB over HTTPS"
            )
        return f"local CALDB {text}"
    url = DEFAULT_REMOTE_URL if text.lower() == "remote" else text
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    if (cache / INDEX_RELPATH).is_file():
        return f"remote CALDB {url} (cached in {cache})"
    from xrtflow.network import connect_check

    try:
        connect_check(url, timeout)
    except OSError as exc:
        raise CaldbError(
            f"no local CALDB ($CALDB unset) and the remote CALDB {url} cannot be reached "
            f"({exc}); set caldb: <local CALDB root> in the config, or run where the network is "
            "available (files are cached for later offline runs)"
        ) from exc
    return f"remote CALDB {url} (cache {cache})"
