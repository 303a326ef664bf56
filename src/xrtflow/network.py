"""Everything in xrtflow that touches the network.

* target name resolution (Sesame, through :meth:`astropy.coordinates.SkyCoord.from_name`);
* the HEASARC ``swiftmastr`` query and data location, through the real ``astroquery.heasarc`` code path
  (pyvo TAP at ``<heasarc_url>/xamin/vo/tap`` and datalink at ``<heasarc_url>/xamin/vo/datalink``);
* HTTP(S) downloads with retries, exponential backoff, Range-resume, timeouts and atomic writes;
* directory listings: Apache-style index pages (HEASARC's ``/FTP`` tree) and anonymous S3
  ``ListObjectsV2`` (the ``nasa-heasarc`` AWS open-data bucket, over plain HTTPS, no boto3 needed).

Notes
-----
``astroquery.heasarc.HeasarcClass`` copies ``conf.VO_URL`` into a *class* attribute when the module is imported,
and caches its TAP service on the instance. ``conf.set_temp("VO_URL", ...)`` alone therefore does not redirect the
module-level ``Heasarc`` object. :func:`heasarc_client` sets ``conf`` temporarily *and* builds a fresh
``HeasarcClass`` whose instance attribute ``VO_URL`` points at the chosen endpoint, so tests can run the real
astroquery/pyvo code against a local server.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
import warnings
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote, urljoin, urlsplit

import requests

if TYPE_CHECKING:  # astropy is imported where it is used: staging a local archive needs none of it
    import astropy.units as u
    from astropy.coordinates import SkyCoord
    from astropy.table import Table

from xrtflow.naming import check_obsid

__all__ = [
    "AWS_HTTPS_URL",
    "DEFAULT_HEASARC_URL",
    "HEASARC_ARCHIVE_URL",
    "S3_BUCKET",
    "DownloadError",
    "NetworkError",
    "RemoteEntry",
    "ResolveError",
    "archive_obs_path",
    "archive_obs_url",
    "fetch_file",
    "heasarc_client",
    "list_apache_directory",
    "list_s3_prefix",
    "locate_data",
    "make_session",
    "query_swift_master",
    "resolve_target",
    "s3_to_https",
]

#: Root of the HEASARC web site; the VO services live under ``/xamin/vo`` and the archive under ``/FTP``.
DEFAULT_HEASARC_URL = "https://heasarc.gsfc.nasa.gov"
#: Root of the HEASARC HTTPS archive (Apache directory listings).
HEASARC_ARCHIVE_URL = f"{DEFAULT_HEASARC_URL}/FTP"
#: The AWS open-data bucket that mirrors the HEASARC archive (anonymous access).
S3_BUCKET = "nasa-heasarc"
#: HTTPS form of the bucket (virtual-hosted style); keys are the archive paths, e.g. ``swift/data/obs/...``.
AWS_HTTPS_URL = f"https://{S3_BUCKET}.s3.amazonaws.com"

SWIFT_MASTER = "swiftmastr"
USER_AGENT = "xrtflow (+https://github.com/xrtflow)"
RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


# --- errors --------------------------------------------------------------------------------------
class NetworkError(RuntimeError):
    """Base class of the network errors raised by xrtflow."""


class ResolveError(NetworkError):
    """A target name could not be resolved to coordinates."""


class DownloadError(NetworkError):
    """A file could not be downloaded (after retries).

    Parameters
    ----------
    url : str
        The URL that failed.
    obsid : str or None
        The Swift ObsID the file belongs to.
    cause : str
        What went wrong (HTTP status, connection error, verification failure, ...).
    status : int or None
        The last HTTP status code, when there was one.
    """

    def __init__(self, url: str, obsid: str | None, cause: str, status: int | None = None):
        self.url = url
        self.obsid = obsid
        self.cause = cause
        self.status = status
        what = f"ObsID {obsid}" if obsid else "download"
        code = f" (HTTP {status})" if status is not None else ""
        super().__init__(f"{what}: could not fetch {url}{code}: {cause}")


# --- target resolution ---------------------------------------------------------------------------
class NetworkUnavailable(NetworkError):
    """The configuration needs a service that cannot be reached (raised before any job runs)."""


def _host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)


def connect_check(url: str, timeout: float = 5.0) -> tuple[str, int]:
    """Open (and close) a TCP connection to ``url``'s host; ``OSError`` if it cannot be reached.

    Returns the ``(host, port)`` tried, for messages.
    """
    import socket

    host, port = _host_port(url)
    with socket.create_connection((host, port), timeout=timeout):
        pass
    return host, port


def check_network(archive: dict, *, timeout: float = 5.0) -> None:
    """Check that the services a configuration needs answer at all (a TCP connection).

    Parameters
    ----------
    archive : dict
        The ``archive`` block of the workflow config.
    timeout : float
        Seconds to wait for each connection.

    Raises
    ------
    NetworkUnavailable
        Naming the service, the host and what to do instead.
    """
    needed = {"HEASARC catalog service": archive.get("heasarc_url") or DEFAULT_HEASARC_URL}
    if archive.get("source") == "aws":
        needed["AWS S3 archive"] = AWS_HTTPS_URL
    elif archive.get("source") == "heasarc":
        needed["HEASARC archive"] = archive.get("url") or HEASARC_ARCHIVE_URL
    for what, url in needed.items():
        host, port = _host_port(url)
        try:
            connect_check(url, timeout)
        except OSError as err:
            raise NetworkUnavailable(
                f"this configuration needs the network ({what}: {url}) but {host}:{port} "
                f"cannot be reached ({err}). Run where the network is available, or work "
                "offline: give ra/dec for each target, archive.catalog (a local swiftmastr "
                "table) and archive.source: local with archive.path (see config/demo.yaml; "
                "`make demo` runs the simulated offline archive)."
            ) from err


def resolve_target(
    name: str | None = None,
    *,
    ra: float | None = None,
    dec: float | None = None,
    frame: str = "icrs",
) -> SkyCoord:
    """Coordinates of a target: from ``ra``/``dec`` (degrees) when given, else by name through Sesame.

    Parameters
    ----------
    name : str, optional
        Target name, e.g. ``"T Pyx"``; only used when ``ra``/``dec`` are not given.
    ra, dec : float, optional
        Coordinates in degrees. Giving both bypasses the network entirely.
    frame : str
        Frame of ``ra``/``dec``.

    Returns
    -------
    astropy.coordinates.SkyCoord

    Raises
    ------
    ResolveError
        If the name cannot be resolved (e.g. no network), with a hint to give ra/dec in the config.
    """
    from astropy.coordinates import SkyCoord

    if (ra is None) != (dec is None):
        raise ValueError("give both ra and dec (degrees), or neither")
    if ra is not None:
        return SkyCoord(float(ra), float(dec), unit="deg", frame=frame)
    if not name:
        raise ValueError("need a target name or ra/dec")
    try:
        return SkyCoord.from_name(name)
    except Exception as err:  # NameResolveError, URLError, timeouts ...
        raise ResolveError(
            f"could not resolve {name!r}: no network? give ra/dec in config ({type(err).__name__}: {err})"
        ) from err


# --- HEASARC catalogue (astroquery) --------------------------------------------------------------
def _vo_url(heasarc_url: str | None) -> str:
    root = (heasarc_url or DEFAULT_HEASARC_URL).rstrip("/")
    return root if root.endswith("/vo") else f"{root}/xamin/vo"


@contextlib.contextmanager
def heasarc_client(heasarc_url: str | None = None, *, timeout: float | None = None) -> Iterator:
    """A fresh ``astroquery.heasarc.HeasarcClass`` talking to ``heasarc_url``.

    Parameters
    ----------
    heasarc_url : str, optional
        Root of the HEASARC site (``https://heasarc.gsfc.nasa.gov``; the VO base ``/xamin/vo`` is appended) or
        a VO base URL ending in ``/vo``. Defaults to the real HEASARC.
    timeout : float, optional
        astroquery ``conf.timeout`` during the block.

    Yields
    ------
    astroquery.heasarc.HeasarcClass
    """
    from astroquery.heasarc import HeasarcClass, conf

    vo_url = _vo_url(heasarc_url)
    with contextlib.ExitStack() as stack:
        stack.enter_context(conf.set_temp("VO_URL", vo_url))
        if timeout is not None:
            stack.enter_context(conf.set_temp("timeout", timeout))
        client = HeasarcClass()
        client.VO_URL = vo_url  # the class attribute was frozen at import time
        client.TAR_URL = vo_url.rsplit("/vo", 1)[0] + "/TarServlet"
        if timeout is not None:
            client.timeout = timeout
        yield client


def _obsid_column(values) -> list[str]:
    out = []
    for v in values:
        s = v.decode() if isinstance(v, bytes) else str(v)
        s = s.strip()
        out.append(s.zfill(11) if s.isdigit() else s)
    return out


def query_swift_master(
    coord: SkyCoord,
    radius: u.Quantity | str | None = None,
    *,
    heasarc_url: str | None = None,
    catalog: str = SWIFT_MASTER,
    columns: str | None = None,
) -> Table:
    """Observations of the Swift master catalogue around ``coord``, sorted by ``start_time``.

    Runs ``Heasarc.query_region(coord, catalog="swiftmastr", radius=radius)``.

    Parameters
    ----------
    coord : SkyCoord
        Search centre.
    radius : Quantity or str, optional
        Cone radius; default: the catalogue's default (``Heasarc.get_default_radius``).
    heasarc_url : str, optional
        Endpoint root (see :func:`heasarc_client`).
    catalog : str
        Catalogue name.
    columns : str, optional
        ADQL column list; default: the catalogue's default columns (always including ``__row``).

    Returns
    -------
    astropy.table.Table
        With ``obsid`` as 11-character strings; empty table when nothing matches.
    """
    import astropy.units as u

    if isinstance(radius, str):
        from astropy.coordinates import Angle

        radius = Angle(radius)
    if radius is not None and not isinstance(radius, u.Quantity):
        radius = float(radius) * u.arcmin
    with heasarc_client(heasarc_url) as client, warnings.catch_warnings():
        from astroquery.exceptions import NoResultsWarning

        warnings.simplefilter("ignore", NoResultsWarning)
        if radius is None:
            radius = client.get_default_radius(catalog)
        try:
            table = client.query_region(coord, catalog=catalog, radius=radius, columns=columns)
        except Exception as err:
            raise NetworkError(
                f"HEASARC query of {catalog} at {_vo_url(heasarc_url)} failed: {err}"
            ) from err
    table.meta["catalog"] = catalog
    table.meta["radius_arcmin"] = float(u.Quantity(radius).to_value(u.arcmin))
    if "obsid" in table.colnames:
        table["obsid"] = _obsid_column(table["obsid"])
    if "start_time" in table.colnames and len(table):
        table.sort("start_time")
    return table


def locate_data(
    table_rows: Table,
    *,
    heasarc_url: str | None = None,
    catalog: str = SWIFT_MASTER,
) -> Table:
    """Archive locations of observations, via ``Heasarc.locate_data`` (VO datalink).

    Parameters
    ----------
    table_rows : Table or Row
        Rows returned by :func:`query_swift_master` (they must keep the ``__row`` column).
    heasarc_url : str, optional
        Endpoint root (see :func:`heasarc_client`).
    catalog : str
        Catalogue the rows come from.

    Returns
    -------
    astropy.table.Table
        astroquery's columns ``ID``, ``access_url`` (``.../swift/data/obs/<YYYY_MM>/<obsid>/``), ``sciserver``,
        ``aws``, ``content_length``, ``error_message``, plus ``obsid`` parsed from the URL.
    """
    with heasarc_client(heasarc_url) as client:
        try:
            links = client.locate_data(table_rows, catalog_name=catalog)
        except Exception as err:
            raise NetworkError(
                f"HEASARC locate_data at {_vo_url(heasarc_url)} failed: {err}"
            ) from err
    obsids = []
    for url in links["access_url"]:
        m = re.search(r"/(\d{11})/?$", str(url))
        obsids.append(m.group(1) if m else "")
    links["obsid"] = obsids
    return links


# --- archive layout ------------------------------------------------------------------------------
def archive_obs_path(obsid: str, start_time_mjd: float) -> str:
    """Archive path of an observation: ``swift/data/obs/YYYY_MM/<obsid>``.

    The month directory is the (UTC) calendar month of the observation start time.

    Parameters
    ----------
    obsid : str
        11-digit ObsID.
    start_time_mjd : float
        ``start_time`` of the ``swiftmastr`` row (MJD).

    Returns
    -------
    str
    """
    from astropy.time import Time

    obsid = check_obsid(obsid)
    t = Time(float(start_time_mjd), format="mjd", scale="utc")
    return f"swift/data/obs/{t.strftime('%Y_%m')}/{obsid}"


def archive_obs_url(obsid: str, start_time_mjd: float, base_url: str = HEASARC_ARCHIVE_URL) -> str:
    """``<base_url>/swift/data/obs/YYYY_MM/<obsid>/`` (always with a trailing slash)."""
    return f"{base_url.rstrip('/')}/{archive_obs_path(obsid, start_time_mjd)}/"


def s3_to_https(url: str) -> str:
    """``s3://bucket/key`` to ``https://bucket.s3.amazonaws.com/key`` (other URLs unchanged)."""
    if url.startswith("s3://"):
        bucket, _, key = url[5:].partition("/")
        return f"https://{bucket}.s3.amazonaws.com/{key}"
    return url


# --- HTTP session and listings -------------------------------------------------------------------
def make_session() -> requests.Session:
    """A ``requests.Session`` with xrtflow's User-Agent (retries are handled by :func:`fetch_file`)."""
    s = requests.Session()
    s.headers["User-Agent"] = USER_AGENT
    return s


@dataclass(frozen=True)
class RemoteEntry:
    """One entry of a remote directory."""

    name: str
    url: str
    is_dir: bool
    size: int | None = None


class _LinkParser(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag.lower() == "a":
            href = dict(attrs).get("href")
            if href:
                self.links.append(href)


def _sleep_backoff(attempt: int, backoff: float, cap: float = 30.0) -> None:
    if backoff > 0:
        time.sleep(min(cap, backoff * 2**attempt))


def _get_with_retries(
    session: requests.Session,
    url: str,
    *,
    obsid: str | None,
    retries: int,
    backoff: float,
    timeout: float | tuple[float, float],
    params: dict | None = None,
) -> requests.Response:
    last = "no attempt"
    status = None
    for attempt in range(retries + 1):
        if attempt:
            _sleep_backoff(attempt - 1, backoff)
        try:
            r = session.get(url, params=params, timeout=timeout)
        except requests.RequestException as err:
            last, status = f"{type(err).__name__}: {err}", None
            continue
        if r.status_code in RETRY_STATUS:
            last, status = r.reason or "server error", r.status_code
            continue
        if r.status_code >= 400:
            raise DownloadError(url, obsid, r.reason or "client error", r.status_code)
        return r
    raise DownloadError(url, obsid, f"gave up after {retries + 1} attempts: {last}", status)


def list_apache_directory(
    url: str,
    *,
    session: requests.Session | None = None,
    obsid: str | None = None,
    retries: int = 4,
    backoff: float = 0.5,
    timeout: float | tuple[float, float] = (10, 60),
) -> list[RemoteEntry]:
    """Entries of an Apache-style directory index page (HEASARC's HTTPS archive).

    Sort links (``?C=N;O=D``), the parent directory and links leaving the directory are ignored.

    Returns
    -------
    list of RemoteEntry
        Sorted by name; directories have ``is_dir=True`` and a URL ending in ``/``.
    """
    url = url if url.endswith("/") else url + "/"
    session = session or make_session()
    r = _get_with_retries(
        session, url, obsid=obsid, retries=retries, backoff=backoff, timeout=timeout
    )
    parser = _LinkParser()
    parser.feed(r.text)
    base_path = urlsplit(url).path
    entries: dict[str, RemoteEntry] = {}
    for href in parser.links:
        if href.startswith(("?", "#", "mailto:")):
            continue
        full = urljoin(url, href)
        parts = urlsplit(full)
        if parts.query or urlsplit(url).netloc != parts.netloc:
            continue
        if not parts.path.startswith(base_path) or parts.path == base_path:
            continue  # parent directory or elsewhere
        rel = parts.path[len(base_path) :]
        is_dir = rel.endswith("/")
        name = unquote(rel.rstrip("/"))
        if not name or "/" in name:
            continue
        if name in (".", "..") or "\\" in name or "\0" in name:
            # an encoded "..", "%2e%2e" or a backslash: never a file of the observation
            raise DownloadError(url, obsid, f"unsafe name {name!r} in the directory listing")
        entries[name] = RemoteEntry(name=name, url=full, is_dir=is_dir)
    return [entries[k] for k in sorted(entries)]


_S3_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


def list_s3_prefix(
    bucket_url: str,
    prefix: str,
    *,
    session: requests.Session | None = None,
    obsid: str | None = None,
    retries: int = 4,
    backoff: float = 0.5,
    timeout: float | tuple[float, float] = (10, 60),
) -> list[RemoteEntry]:
    """All objects under ``prefix`` of a public S3 bucket, through anonymous HTTPS ``ListObjectsV2``.

    Parameters
    ----------
    bucket_url : str
        ``https://nasa-heasarc.s3.amazonaws.com`` (or an ``s3://bucket`` URL).
    prefix : str
        Key prefix, e.g. ``swift/data/obs/2011_04/00031940001/xrt/event/``.

    Returns
    -------
    list of RemoteEntry
        One per object; ``name`` is the key relative to ``prefix`` (may contain ``/``), ``size`` is exact.
    """
    bucket_url = s3_to_https(bucket_url).rstrip("/")
    session = session or make_session()
    out: list[RemoteEntry] = []
    token = None
    while True:
        params = {"list-type": "2", "prefix": prefix}
        if token:
            params["continuation-token"] = token
        r = _get_with_retries(
            session,
            bucket_url + "/",
            obsid=obsid,
            retries=retries,
            backoff=backoff,
            timeout=timeout,
            params=params,
        )
        root = ET.fromstring(r.content)
        ns = _S3_NS if root.tag.startswith(_S3_NS) else ""
        for c in root.findall(f"{ns}Contents"):
            key = c.findtext(f"{ns}Key")
            if not key or key.endswith("/"):
                continue
            if not key.startswith(prefix) or _unsafe_key(key[len(prefix) :]):
                raise DownloadError(
                    bucket_url, obsid, f"unsafe key {key!r} in the listing of prefix {prefix!r}"
                )
            size = c.findtext(f"{ns}Size")
            out.append(
                RemoteEntry(
                    name=key[len(prefix) :],
                    url=f"{bucket_url}/{quote(key)}",
                    is_dir=False,
                    size=int(size) if size else None,
                )
            )
        if root.findtext(f"{ns}IsTruncated", "false").lower() != "true":
            break
        token = root.findtext(f"{ns}NextContinuationToken")
        if not token:
            break
    return sorted(out, key=lambda e: e.name)


def _unsafe_key(name: str) -> bool:
    """True for an S3 key remainder that could leave the local directory it is written to."""
    return (
        not name
        or name.startswith("/")
        or "\\" in name
        or "\0" in name
        or any(part in ("", ".", "..") for part in name.split("/"))
    )


# --- file download -------------------------------------------------------------------------------
def _content_range_total(value: str | None) -> tuple[int | None, int | None]:
    m = re.match(r"bytes\s+(\d+)-\d+/(\d+|\*)", value or "")
    if not m:
        return None, None
    return int(m.group(1)), (None if m.group(2) == "*" else int(m.group(2)))


def _stream_once(
    session: requests.Session,
    url: str,
    part: Path,
    *,
    timeout: float | tuple[float, float],
    resume: bool,
    chunk_size: int,
    on_bytes: Callable[[int], None] | None,
) -> tuple[int | None, int | None]:
    """One GET into ``part``. Returns ``(status, expected_total_size)``; raises requests errors."""
    offset = part.stat().st_size if (resume and part.exists()) else 0
    headers = {"Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    with session.get(url, headers=headers, stream=True, timeout=timeout) as r:
        if r.status_code == 416 and offset:  # our partial file is already complete (or bogus)
            start, total = _content_range_total(
                r.headers.get("Content-Range", "").replace("*", "0-0")
            )
            return 416, total
        if r.status_code not in (200, 206):
            return r.status_code, None
        if r.status_code == 206:
            start, total = _content_range_total(r.headers.get("Content-Range"))
            if start != offset:  # server ignored our offset: start again
                part.unlink(missing_ok=True)
                return -1, None
            mode = "ab"
        else:
            length = r.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            mode = "wb"
        with open(part, mode) as fh:
            for block in r.iter_content(chunk_size=chunk_size):
                fh.write(block)
                if on_bytes:
                    on_bytes(len(block))
        return r.status_code, total


def fetch_file(
    url: str,
    dest: str | os.PathLike,
    *,
    obsid: str | None = None,
    session: requests.Session | None = None,
    verify: Callable[[Path], None] | None = None,
    retries: int = 4,
    backoff: float = 0.5,
    timeout: float | tuple[float, float] = (10, 120),
    resume: bool = True,
    chunk_size: int = 1 << 13,
    on_bytes: Callable[[int], None] | None = None,
) -> int:
    """Download ``url`` to ``dest`` atomically, with retries, backoff and Range-resume.

    The body is streamed to ``dest + ".part"``; its size is checked against ``Content-Length`` (or the total
    of ``Content-Range``), then ``verify(part)`` runs, and only then is the part renamed to ``dest``
    (``os.replace``). A short body keeps the part file and the next attempt asks for the rest with
    ``Range: bytes=N-``; a part that fails ``verify`` is deleted and fetched again from zero.

    Parameters
    ----------
    url : str
        ``http(s)://`` URL (``s3://bucket/key`` is translated to the bucket's HTTPS URL).
    dest : path
        Final file name.
    obsid : str, optional
        For error messages.
    session : requests.Session, optional
        Reused connection pool.
    verify : callable, optional
        Raises an exception if the downloaded file is not valid.
    retries : int
        Retries after the first attempt for 5xx/408/429 statuses, connection errors, short bodies and failed
        verification. Other 4xx statuses fail at once.
    backoff : float
        Sleep ``backoff * 2**k`` seconds before retry ``k + 1`` (capped at 30 s).
    timeout : float or (connect, read)
        requests timeout.
    resume : bool
        Resume partial downloads with HTTP Range when the server supports it.
    chunk_size : int
        Streaming block size.
    on_bytes : callable, optional
        Called with the number of bytes of each received block (progress bars).

    Returns
    -------
    int
        Size of the file in bytes.

    Raises
    ------
    DownloadError
        Naming the URL, the ObsID and the last HTTP status / cause.
    """
    url = s3_to_https(url)
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    session = session or make_session()
    last, status = "no attempt", None
    for attempt in range(retries + 1):
        if attempt:
            _sleep_backoff(attempt - 1, backoff)
        try:
            code, total = _stream_once(
                session,
                url,
                part,
                timeout=timeout,
                resume=resume,
                chunk_size=chunk_size,
                on_bytes=on_bytes,
            )
        except requests.RequestException as err:  # connection reset, truncated body, timeout
            last, status = f"{type(err).__name__}: {err}", None
            continue
        if code == -1:
            last, status = "server ignored the Range offset", 206
            continue
        if code == 416:
            size = part.stat().st_size if part.exists() else 0
            if total is None or size != total:
                part.unlink(missing_ok=True)
                last, status = "range not satisfiable", 416
                continue
        elif code in RETRY_STATUS:
            last, status = "server error", code
            continue
        elif code not in (200, 206):
            part.unlink(missing_ok=True)
            raise DownloadError(url, obsid, "request refused", code)
        size = part.stat().st_size if part.exists() else 0
        if total is not None and size != total:
            last, status = f"incomplete body: {size} of {total} bytes", code
            if size > total:
                part.unlink(missing_ok=True)
            continue
        if verify is not None:
            try:
                verify(part)
            except Exception as err:
                part.unlink(missing_ok=True)
                last, status = f"verification failed: {err}", code
                continue
        os.replace(part, dest)
        return size
    raise DownloadError(url, obsid, f"gave up after {retries + 1} attempts: {last}", status)
