"""Per-ObsID fetch of exactly what XRT processing needs.

Only the ``xrt/event``, ``xrt/hk`` and ``auxil`` directories of an observation are fetched (no UVOT, BAT or
log files), into ``dest_root/<obsid>/<subdir>/...`` -- the layout ``xrtpipeline indir=`` expects. Every file is
verified (full gzip decompression, FITS structure and checksums, expected size), written atomically
(``name.part`` then ``os.replace``) and cached (a valid file is never fetched again; a corrupt one is). A manifest
``dest_root/<obsid>/.xrtflow-download.json`` lists the files with sizes and SHA-256, so a workflow rule has a single
output per ObsID.

Sources
-------
``heasarc``
    HEASARC's HTTPS archive (``https://heasarc.gsfc.nasa.gov/FTP``), listed through its Apache index pages.
``aws``
    The ``nasa-heasarc`` AWS open-data bucket over anonymous HTTPS (``ListObjectsV2`` for listings).
``local``
    A local archive directory (``<base>/<obsid>``, ``<base>/YYYY_MM/<obsid>`` or
    ``<base>/swift/data/obs/YYYY_MM/<obsid>``): files are copied (or symlinked) with the same verification.
"""

from __future__ import annotations

import fnmatch
import gzip
import hashlib
import json
import os
import shutil
import warnings
import zlib
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import requests

from xrtflow import network
from xrtflow.naming import check_obsid
from xrtflow.paths import safe_join

__all__ = [
    "DEFAULT_SUBDIRS",
    "MANIFEST_NAME",
    "SOURCES",
    "CorruptFileError",
    "download_observation",
    "file_sha256",
    "find_local_observation",
    "is_valid_file",
    "observation_url",
    "read_manifest",
    "safe_join",
    "verify_file",
]

#: Sub-directories of an observation that XRT processing needs.
DEFAULT_SUBDIRS: tuple[str, ...] = ("xrt/event", "xrt/hk", "auxil")
#: Name of the per-ObsID manifest written after a successful download.
MANIFEST_NAME = ".xrtflow-download.json"
SOURCES = ("heasarc", "aws", "local")
DEFAULT_BASE_URLS = {"heasarc": network.HEASARC_ARCHIVE_URL, "aws": network.AWS_HTTPS_URL}

_FITS_BLOCK = 2880


class CorruptFileError(ValueError):
    """A file failed verification (truncated, bad gzip CRC, bad FITS structure or checksum, wrong size)."""


# --- verification --------------------------------------------------------------------------------
def _gunzip_size(path: Path) -> tuple[int, bytes]:
    """Decompress fully (checks every member's CRC and length); return (size, first 80 bytes)."""
    size = 0
    head = b""
    try:
        with gzip.open(path, "rb") as fh:
            while block := fh.read(1 << 20):
                if len(head) < 80:
                    head += block[: 80 - len(head)]
                size += len(block)
    except (OSError, EOFError, zlib.error) as err:
        raise CorruptFileError(f"{path.name}: bad gzip stream ({err})") from err
    return size, head


def _check_fits(path: Path, data_size: int) -> None:
    from astropy.io import fits
    from astropy.utils.exceptions import AstropyUserWarning

    if data_size % _FITS_BLOCK:
        raise CorruptFileError(
            f"{path.name}: FITS size {data_size} is not a multiple of {_FITS_BLOCK}"
        )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", AstropyUserWarning)
        try:
            with fits.open(path, checksum=True, lazy_load_hdus=False, memmap=False) as hdul:
                end = 0
                for i, hdu in enumerate(hdul):
                    info = hdu.fileinfo()
                    end = info["datLoc"] + info["datSpan"]
                    if end > data_size:
                        raise CorruptFileError(
                            f"{path.name}: HDU {i} needs {end} bytes, file has {data_size}"
                        )
        except CorruptFileError:
            raise
        except Exception as err:
            raise CorruptFileError(f"{path.name}: not a readable FITS file ({err})") from err
    if end < data_size and _has_nonzero_tail(path, end):
        # astropy silently drops an HDU whose data are cut short: bytes after the last HDU betray it
        raise CorruptFileError(
            f"{path.name}: {data_size - end} bytes after the last complete HDU (truncated HDU?)"
        )
    for w in caught:
        msg = str(w.message).lower()
        if "checksum" in msg or "datasum" in msg or "truncated" in msg:
            raise CorruptFileError(f"{path.name}: {w.message}")


def _has_nonzero_tail(path: Path, offset: int) -> bool:
    with open(path, "rb") as fh:
        opener = gzip.open if fh.read(2) == b"\x1f\x8b" else open
    with opener(path, "rb") as fh:
        fh.seek(offset)
        while block := fh.read(1 << 20):
            if block.strip(b"\0"):
                return True
    return False


def verify_file(path: str | os.PathLike, expected_size: int | None = None) -> None:
    """Check that a downloaded archive file is complete and intact.

    * size equals ``expected_size`` (e.g. ``Content-Length``) when given;
    * ``.gz``: the whole stream decompresses (CRC-32 and length of every member checked);
    * FITS content (``SIMPLE  =`` at the start, compressed or not): size is a whole number of 2880-byte
      blocks, every HDU's data lies within the file, and CHECKSUM/DATASUM verify when present.

    Raises
    ------
    CorruptFileError
    """
    path = Path(path)
    size = path.stat().st_size
    if expected_size is not None and size != expected_size:
        raise CorruptFileError(f"{path.name}: {size} bytes, expected {expected_size}")
    name = path.name.removesuffix(".part")
    with open(path, "rb") as fh:
        magic = fh.read(80)
    if name.endswith(".gz") or magic[:2] == b"\x1f\x8b":
        if magic[:2] != b"\x1f\x8b":
            raise CorruptFileError(f"{path.name}: not gzip data")
        data_size, head = _gunzip_size(path)
    else:
        data_size, head = size, magic
    if head.startswith(b"SIMPLE  ="):
        _check_fits(path, data_size)


def is_valid_file(path: str | os.PathLike, expected_size: int | None = None) -> bool:
    """``True`` if :func:`verify_file` passes."""
    try:
        verify_file(path, expected_size)
    except (CorruptFileError, OSError):
        return False
    return True


def file_sha256(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            h.update(block)
    return h.hexdigest()


# --- path safety ---------------------------------------------------------------------------------


# --- locations -----------------------------------------------------------------------------------
def observation_url(
    obsid: str, start_time_mjd: float, source: str = "heasarc", base_url: str | None = None
) -> str:
    """URL (or local path) of an observation directory for ``source``."""
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}, not {source!r}")
    if source == "local":
        if base_url is None:
            raise ValueError("source='local' needs base_url (the local archive directory)")
        return str(find_local_observation(obsid, start_time_mjd, base_url))
    base = network.s3_to_https(base_url or DEFAULT_BASE_URLS[source])
    return network.archive_obs_url(obsid, start_time_mjd, base)


def find_local_observation(obsid: str, start_time_mjd: float, archive: str | os.PathLike) -> Path:
    """Directory of ``obsid`` in a local archive (flat, ``YYYY_MM/`` or full HEASARC layout)."""
    archive = Path(archive)
    obs_path = network.archive_obs_path(obsid, start_time_mjd)  # swift/data/obs/YYYY_MM/<obsid>
    month_path = "/".join(obs_path.split("/")[-2:])
    for cand in (archive / obsid, archive / month_path, archive / obs_path):
        if cand.is_dir():
            return cand
    raise FileNotFoundError(
        f"ObsID {obsid}: not found in local archive {archive} (tried <obsid>, {month_path}, {obs_path})"
    )


def _matches(relpath: str, patterns: Sequence[str] | None) -> bool:
    if not patterns:
        return True
    name = relpath.rsplit("/", 1)[-1]
    return any(fnmatch.fnmatch(name, p) or fnmatch.fnmatch(relpath, p) for p in patterns)


def _list_http(
    obs_url: str, subdir: str, *, session, obsid: str, retries: int, backoff: float, timeout
) -> list[tuple[str, str, int | None]]:
    """(relative path, url, size) of the files below ``obs_url/subdir`` (recursive, Apache listing)."""
    out = []
    todo = [subdir.strip("/")]
    while todo:
        rel = todo.pop()
        try:
            entries = network.list_apache_directory(
                f"{obs_url}{rel}/",
                session=session,
                obsid=obsid,
                retries=retries,
                backoff=backoff,
                timeout=timeout,
            )
        except network.DownloadError as err:
            if err.status == 404:  # e.g. an observation without xrt/hk: nothing to fetch there
                continue
            raise
        for e in entries:
            if e.is_dir:
                todo.append(f"{rel}/{e.name}")
            else:
                out.append((f"{rel}/{e.name}", e.url, e.size))
    return out


def _list_s3(
    obs_url: str, subdir: str, *, session, obsid: str, retries: int, backoff: float, timeout
):
    bucket_url, _, key = obs_url.partition(".amazonaws.com/")
    if not key:  # path-style or custom endpoint (tests): <bucket_url>/<key...>
        split = obs_url.split("/swift/data/obs/", 1)
        bucket_url, key = split[0], "swift/data/obs/" + split[1]
    else:
        bucket_url += ".amazonaws.com"
    prefix = f"{key.rstrip('/')}/{subdir.strip('/')}/"
    entries = network.list_s3_prefix(
        bucket_url,
        prefix,
        session=session,
        obsid=obsid,
        retries=retries,
        backoff=backoff,
        timeout=timeout,
    )
    return [(f"{subdir.strip('/')}/{e.name}", e.url, e.size) for e in entries]


# --- manifest ------------------------------------------------------------------------------------
def read_manifest(dest_root: str | os.PathLike, obsid: str) -> dict | None:
    """The manifest of a downloaded ObsID, or ``None`` if there is none."""
    path = Path(dest_root) / obsid / MANIFEST_NAME
    if not path.exists():
        return None
    return json.loads(path.read_text())


def _write_manifest(obs_dir: Path, record: dict) -> Path:
    path = obs_dir / MANIFEST_NAME
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, path)
    return path


# --- main entry ----------------------------------------------------------------------------------
def _progress(total: int, desc: str, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="file", disable=not enabled, leave=False)


def download_observation(
    obsid: str,
    start_time_mjd: float,
    dest_root: str | os.PathLike,
    *,
    source: str = "heasarc",
    base_url: str | None = None,
    subdirs: Iterable[str] = DEFAULT_SUBDIRS,
    patterns: Sequence[str] | None = None,
    progress: bool = True,
    link: bool = False,
    session: requests.Session | None = None,
    retries: int = 4,
    backoff: float = 0.5,
    timeout: float | tuple[float, float] = (10, 120),
) -> list[Path]:
    """Fetch the XRT-relevant part of one observation into ``dest_root/<obsid>/``.

    Parameters
    ----------
    obsid : str
        11-digit ObsID.
    start_time_mjd : float
        ``start_time`` of the observation (MJD): selects the archive month directory ``YYYY_MM``.
    dest_root : path
        Files land in ``dest_root/<obsid>/<subdir>/...``.
    source : {"heasarc", "aws", "local"}
        Where from (see the module docstring).
    base_url : str, optional
        Archive root: default ``https://heasarc.gsfc.nasa.gov/FTP`` (heasarc) or
        ``https://nasa-heasarc.s3.amazonaws.com`` (aws); required for ``local`` (a directory).
    subdirs : iterable of str
        Observation sub-directories to fetch (recursively).
    patterns : sequence of str, optional
        ``fnmatch`` patterns on the file name (or relative path); default: every file of ``subdirs``.
    progress : bool
        Show a tqdm bar over the files.
    link : bool
        ``local`` source only: symlink verified files instead of copying them.
    session : requests.Session, optional
        Reused HTTP session.
    retries, backoff, timeout
        Passed to :func:`xrtflow.network.fetch_file` and to the listing requests.

    Returns
    -------
    list of Path
        The local files, sorted.

    Raises
    ------
    xrtflow.network.DownloadError
        When a file cannot be fetched or stays corrupt after the retries (names URL and ObsID).
    FileNotFoundError
        ``local`` source without the observation.
    """
    obsid = check_obsid(obsid)
    subdirs = tuple(s.strip("/") for s in subdirs)
    obs_dir = Path(dest_root) / obsid
    obs_url = observation_url(obsid, start_time_mjd, source, base_url)

    if source == "local":
        src = Path(obs_url)
        listing = [
            (p.relative_to(src).as_posix(), str(p), p.stat().st_size)
            for sub in subdirs
            if (src / sub).is_dir()
            for p in sorted((src / sub).rglob("*"))
            if p.is_file() and not p.name.endswith(".part")
        ]
    else:
        session = session or network.make_session()
        lister = _list_s3 if source == "aws" else _list_http
        listing = []
        for sub in subdirs:
            listing += lister(
                obs_url,
                sub,
                session=session,
                obsid=obsid,
                retries=retries,
                backoff=backoff,
                timeout=timeout,
            )
    listing = sorted(
        {rel: (rel, url, size) for rel, url, size in listing if _matches(rel, patterns)}.values()
    )
    if not listing:
        raise network.DownloadError(obs_url, obsid, f"no files found in {', '.join(subdirs)}")

    # Names come from the remote listing: none may write (or delete) outside the ObsID directory.
    targets: dict[str, Path] = {}
    for rel, url, _ in listing:
        try:
            targets[rel] = safe_join(obs_dir, rel, what="name in the archive listing")
        except ValueError as err:
            raise network.DownloadError(url, obsid, str(err)) from None

    files: list[dict] = []
    fetched = 0
    with _progress(len(listing), obsid, progress) as bar:
        for rel, url, size in listing:
            dest = targets[rel]
            if dest.exists() or dest.is_symlink():
                if is_valid_file(dest, size):
                    files.append({"path": rel, "url": url})
                    bar.update(1)
                    continue
                dest.unlink()
            if source == "local":
                _copy_local(Path(url), dest, obsid=obsid, link=link)
            else:
                network.fetch_file(
                    url,
                    dest,
                    obsid=obsid,
                    session=session,
                    verify=lambda p, size=size: verify_file(p, size),
                    retries=retries,
                    backoff=backoff,
                    timeout=timeout,
                )
                fetched += dest.stat().st_size
            files.append({"path": rel, "url": url})
            bar.update(1)

    for f in files:
        path = targets[f["path"]]
        f["size"] = path.stat().st_size
        f["sha256"] = file_sha256(path)
    _write_manifest(
        obs_dir,
        {
            "obsid": obsid,
            "start_time_mjd": float(start_time_mjd),
            "source": source,
            "url": obs_url,
            "subdirs": list(subdirs),
            "patterns": list(patterns) if patterns else None,
            "files": files,
            "total_bytes": sum(f["size"] for f in files),
            "bytes_fetched_last_run": fetched,
            "written": datetime.now(UTC).isoformat(timespec="seconds"),
        },
    )
    return sorted(obs_dir / f["path"] for f in files)


def _copy_local(src: Path, dest: Path, *, obsid: str, link: bool) -> None:
    try:
        verify_file(src)
    except CorruptFileError as err:
        raise network.DownloadError(
            str(src), obsid, f"corrupt file in local archive: {err}"
        ) from err
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    part.unlink(missing_ok=True)
    if link:
        os.symlink(src.resolve(), part)
    else:
        shutil.copyfile(src, part)
        try:
            verify_file(part, src.stat().st_size)
        except CorruptFileError as err:
            part.unlink(missing_ok=True)
            raise network.DownloadError(
                str(src), obsid, f"copy failed verification: {err}"
            ) from err
    os.replace(part, dest)
