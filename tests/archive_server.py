"""Local stand-ins for HEASARC, reusable by any test (no internet).

* :func:`make_catalog` -- a small ``swiftmastr``-like catalogue (real column names and units).
* :func:`build_heasarc_tree` -- an archive in HEASARC's exact layout ``swift/data/obs/YYYY_MM/<obsid>/...``
  with the XRT files (``xrt/event``, ``xrt/hk``, ``auxil``) plus UVOT, BAT and log files that the downloader
  must never fetch. Content comes from ``xrtflow.simulate.make_demo_archive`` when given its output, else small
  valid gzipped FITS files with CHECKSUM/DATASUM are generated here.
* :class:`ArchiveServer` -- a real ``ThreadingHTTPServer`` on 127.0.0.1 (port 0) in a thread that serves

  - ``/FTP/<path>``: files and Apache-style directory index pages, with Content-Length and Range support;
  - ``/s3/?list-type=2&prefix=...`` and ``/s3/<key>``: an anonymous S3 ``ListObjectsV2`` stand-in;
  - ``/xamin/vo/tap/{sync,tables}`` and ``/xamin/vo/datalink/<table>``: enough of HEASARC's Xamin TAP and
    datalink services for the real astroquery/pyvo code (metainfo query, cone search ADQL, VOSI tables,
    datalink directory links);

  with fault injection (N failures with a status, truncated bodies, corrupted bytes) and a log of every request.
"""

from __future__ import annotations

import gzip
import io
import re
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, quote, unquote, urlsplit
from xml.sax.saxutils import escape

import numpy as np
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.io.votable.tree import Info, VOTableFile
from astropy.table import Table
from astropy.time import Time

#: Default columns of swiftmastr, in Xamin's order, and the extra columns of the full table.
SWIFTMASTR_DEFAULT = [
    "name",
    "obsid",
    "ra",
    "dec",
    "start_time",
    "processing_date",
    "xrt_exposure",
    "uvot_exposure",
    "bat_exposure",
    "archive_date",
]
SWIFTMASTR_UNITS = {
    "ra": "deg",
    "dec": "deg",
    "roll_angle": "deg",
    "start_time": "mjd",
    "stop_time": "mjd",
    "processing_date": "mjd",
    "archive_date": "mjd",
    "xrt_exposure": "s",
    "uvot_exposure": "s",
    "bat_exposure": "s",
    "xrt_expo_pc": "s",
    "xrt_expo_wt": "s",
}
DEFAULT_RADIUS_ARCMIN = 15.0
OTHER_TABLES = {
    "xray": "HEASARC Master X-Ray Catalog",
    "numaster": "NuSTAR Master Catalog",
    "swiftbalog": "Swift BAT Instrument Log",
}


# --- content ---------------------------------------------------------------------------------
def make_catalog(
    n_obs: int = 3, seed: int = 1, ra: float = 136.1733, dec: float = -32.3799
) -> Table:
    """A ``swiftmastr``-like table around (ra, dec) plus one far-away row; obsids are 11-char strings."""
    rng = np.random.default_rng(seed)
    start = 55666.3 + np.sort(rng.uniform(0, 90, n_obs))  # spans month boundaries
    rows = []
    for i in range(n_obs):
        rows.append(
            dict(
                name="T_Pyx",
                obsid=f"000319400{i + 1:02d}",
                ra=ra + rng.normal(0, 0.01),
                dec=dec + rng.normal(0, 0.01),
                roll_angle=float(rng.uniform(0, 360)),
                start_time=start[i],
                stop_time=start[i] + 0.05,
                processing_date=start[i] + 10,
                archive_date=start[i] + 7,
                xrt_exposure=float(rng.uniform(800, 3000)),
                xrt_expo_pc=0.0,
                xrt_expo_wt=0.0,
                uvot_exposure=float(rng.uniform(800, 3000)),
                bat_exposure=float(rng.uniform(800, 3000)),
                target_id=31940,
                obs_type="ToO",
            )
        )
        rows[-1]["xrt_expo_pc"] = rows[-1]["xrt_exposure"]
    far = dict(
        rows[0],
        name="ELSEWHERE",
        obsid="00099999001",
        ra=(ra + 40) % 360,
        dec=0.0,
        start_time=55000.2,
    )
    far.update(stop_time=55000.25, processing_date=55010.0, archive_date=55007.0)
    rows.insert(0, far)
    tab = Table(rows=rows)
    # shuffle so that sorting by start_time is observable
    tab = tab[rng.permutation(len(tab))]
    for col, unit in SWIFTMASTR_UNITS.items():
        if col in tab.colnames:
            tab[col].unit = unit
    tab["__row"] = np.arange(1, len(tab) + 1) * 7 + 1000
    return tab


def obs_path(obsid: str, start_time_mjd: float) -> str:
    """``swift/data/obs/YYYY_MM/<obsid>`` (independent re-implementation for the tests)."""
    month = Time(start_time_mjd, format="mjd").to_datetime().strftime("%Y_%m")
    return f"swift/data/obs/{month}/{obsid}"


def _fits_gz(path: Path, n_rows: int, seed: int, extname: str = "EVENTS", image: int = 0) -> None:
    rng = np.random.default_rng(seed)
    prim = fits.PrimaryHDU(
        data=rng.normal(size=(image, image)).astype(np.float32) if image else None,
    )
    prim.header["TELESCOP"] = "SWIFT"
    cols = [
        fits.Column("TIME", "D", array=np.sort(rng.uniform(0, 1000, n_rows))),
        fits.Column("PI", "J", array=rng.integers(0, 1024, n_rows)),
    ]
    hdul = fits.HDUList([prim, fits.BinTableHDU.from_columns(cols, name=extname)])
    buf = io.BytesIO()
    hdul.writeto(buf, checksum=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(buf.getvalue(), compresslevel=1, mtime=0))


#: (relative path template, rows, image size) of the generated files; ``{o}`` is the obsid.
XRT_FILES = [
    ("xrt/event/sw{o}xpcw3po_cl.evt.gz", 3000, 0),
    ("xrt/event/sw{o}xpcw3po_uf.evt.gz", 6000, 0),
    ("xrt/hk/sw{o}xhd.hk.gz", 200, 0),
    ("xrt/hk/sw{o}xtr.hk.gz", 100, 0),
    ("auxil/sw{o}pat.fits.gz", 300, 0),
    ("auxil/sw{o}sat.fits.gz", 300, 0),
    ("auxil/sw{o}x.mkf.gz", 300, 0),
]
DECOY_FILES = [
    ("uvot/image/sw{o}uw1_sk.img.gz", 10, 160),
    ("uvot/image/sw{o}uvv_sk.img.gz", 10, 160),
    ("uvot/hk/sw{o}uac.hk.gz", 300, 0),
    ("bat/survey/sw{o}bsvpbo.dph.gz", 10, 120),
    ("bat/hk/sw{o}bevbu.hk.gz", 300, 0),
]


def build_heasarc_tree(
    root: Path, catalog: Table, demo_archive: Path | None = None
) -> dict[str, Path]:
    """Write the archive of every catalogue row under ``root/swift/data/obs/YYYY_MM/<obsid>``.

    Parameters
    ----------
    root : Path
        The ``/FTP`` root of the server.
    catalog : Table
        Rows with ``obsid`` and ``start_time``.
    demo_archive : Path, optional
        ``outdir/archive`` of ``xrtflow.simulate.make_demo_archive``; its ``<obsid>/`` trees are copied in
        (decoys are still added).

    Returns
    -------
    dict
        obsid -> observation directory.
    """
    import shutil

    out = {}
    for k, row in enumerate(catalog):
        obsid = str(row["obsid"])
        d = root / obs_path(obsid, float(row["start_time"]))
        if demo_archive is not None and (demo_archive / obsid).is_dir():
            shutil.copytree(demo_archive / obsid, d, dirs_exist_ok=True)
        else:
            for j, (tmpl, n, _img) in enumerate(XRT_FILES):
                _fits_gz(d / tmpl.format(o=obsid), n, seed=100 * k + j)
        for j, (tmpl, n, img) in enumerate(DECOY_FILES):
            _fits_gz(d / tmpl.format(o=obsid), n, seed=1000 + 100 * k + j, image=img)
        aux_txt = d / f"auxil/sw{obsid}ppr.par.gz"
        aux_txt.write_bytes(gzip.compress(b'obsid,s,h,"%s",,,""\n' % obsid.encode(), mtime=0))
        (d / "log").mkdir(parents=True, exist_ok=True)
        (d / "log" / f"sw{obsid}xrtpipeline.log").write_text("xrtpipeline log\n" * 200)
        out[obsid] = d
    return out


# --- request log / faults --------------------------------------------------------------------
@dataclass
class Request:
    method: str
    path: str
    query: str
    range: str | None
    status: int = 0
    bytes_sent: int = 0


@dataclass
class Faults:
    """Per-path queue of actions consumed one per request: an int status, ``"truncate"`` or ``"corrupt"``."""

    plan: dict[str, list] = field(default_factory=lambda: defaultdict(list))
    lock: threading.Lock = field(default_factory=threading.Lock)
    truncate_fraction: float = 0.5
    ignore_range: bool = False

    def fail(self, path: str, n: int = 1, status: int = 500) -> None:
        with self.lock:
            self.plan[path] += [status] * n

    def truncate(self, path: str, times: int = 1) -> None:
        """Send the full Content-Length but only part of the body, then close the connection."""
        with self.lock:
            self.plan[path] += ["truncate"] * times

    def short(self, path: str, times: int = 1) -> None:
        """Send a truncated file *consistently* (Content-Length of the truncated body)."""
        with self.lock:
            self.plan[path] += ["short"] * times

    def corrupt(self, path: str, times: int = 1) -> None:
        """Send the right number of bytes with some flipped in the middle."""
        with self.lock:
            self.plan[path] += ["corrupt"] * times

    def pop(self, path: str):
        with self.lock:
            q = self.plan.get(path)
            return q.pop(0) if q else None


# --- VO helpers ------------------------------------------------------------------------------
def votable_bytes(table: Table | None, *, error: str | None = None) -> bytes:
    """A TAP/DAL result VOTable (RESOURCE type="results" with QUERY_STATUS)."""
    if table is None:
        table = Table()
    vot = VOTableFile.from_table(table)
    res = vot.resources[0]
    res.type = "results"
    info = Info(name="QUERY_STATUS", value="ERROR" if error else "OK")
    if error:
        info.content = error
    res.infos.append(info)
    buf = io.BytesIO()
    vot.to_xml(buf)
    return buf.getvalue()


def _vosi_tables(catalog: Table) -> bytes:
    def col(name, dtype, unit=""):
        return (
            f"<column><name>{name}</name><description>{name}</description><unit>{unit}</unit>"
            f'<dataType xsi:type="vs:VOTableType">{dtype}</dataType></column>'
        )

    cols = []
    for name in catalog.colnames:
        kind = catalog[name].dtype.kind
        dtype = {"U": "char", "S": "char", "i": "long", "f": "double"}.get(kind, "char")
        cols.append(col(name, dtype, SWIFTMASTR_UNITS.get(name, "")))
    tables = [
        f'<table type="table"><name>swiftmastr</name><description>Swift Master Catalog</description>'
        f"{''.join(cols)}</table>"
    ]
    for name, desc in OTHER_TABLES.items():
        tables.append(
            f'<table type="table"><name>{name}</name><description>{escape(desc)}</description>'
            f"{col('ra', 'double', 'deg')}{col('dec', 'double', 'deg')}</table>"
        )
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<vosi:tableset xmlns:vosi="http://www.ivoa.net/xml/VOSITables/v1.0" '
        'xmlns:vs="http://www.ivoa.net/xml/VODataService/v1.1" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        f"<schema><name>public</name>{''.join(tables)}</schema></vosi:tableset>"
    )
    return xml.encode()


_ADQL = re.compile(
    r"^\s*SELECT\s+(?P<cols>.+?)\s+FROM\s+(?P<table>\w+)(?P<where>\s+WHERE\s+.*)?$", re.I | re.S
)
_CIRCLE = re.compile(
    r"CONTAINS\s*\(\s*POINT\s*\(\s*'ICRS'\s*,\s*ra\s*,\s*dec\s*\)\s*,\s*CIRCLE\s*\(\s*'ICRS'\s*,"
    r"\s*([-+\d.eE]+)\s*,\s*([-+\d.eE]+)\s*,\s*([-+\d.eE]+)\s*\)\s*\)\s*=\s*1",
    re.I,
)


# --- server ----------------------------------------------------------------------------------
class ArchiveServer:
    """HEASARC stand-in over real HTTP on 127.0.0.1.

    Parameters
    ----------
    root : Path
        Served as ``/FTP`` (and as the S3 bucket under ``/s3``).
    catalog : Table, optional
        Rows of ``swiftmastr`` for the TAP/datalink endpoints.

    Attributes
    ----------
    url : str
        ``http://127.0.0.1:<port>`` -- pass as ``heasarc_url``; the archive root is ``url + "/FTP"``.
    requests : list of Request
        Every request, in order.
    faults : Faults
        Fault injection hooks.
    """

    def __init__(self, root: Path, catalog: Table | None = None):
        self.root = Path(root)
        self.catalog = catalog
        self.requests: list[Request] = []
        self.faults = Faults()
        self._lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread: threading.Thread | None = None

    # lifecycle
    def start(self) -> ArchiveServer:
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}
        )
        self._thread.daemon = True
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    def __enter__(self) -> ArchiveServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # helpers for tests
    @property
    def archive_url(self) -> str:
        return f"{self.url}/FTP"

    @property
    def s3_url(self) -> str:
        return f"{self.url}/s3"

    def ftp_path(self, obsid: str, start_time_mjd: float, rel: str = "") -> str:
        p = f"/FTP/{obs_path(obsid, start_time_mjd)}/"
        return p + rel if rel else p

    def clear_log(self) -> None:
        with self._lock:
            self.requests.clear()

    def file_gets(self) -> list[str]:
        """Paths of GET requests that returned file bodies (listings excluded)."""
        return [
            r.path
            for r in self.requests
            if r.method == "GET" and not r.path.endswith("/") and r.status in (200, 206, 500, 503)
        ]

    def bytes_sent(self, prefix: str = "/") -> int:
        return sum(
            r.bytes_sent
            for r in self.requests
            if r.path.startswith(prefix) and not r.path.endswith("/")
        )

    # request handling
    def _handler_class(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            server_version = "Apache/2.4 (xrtflow-test)"

            def log_message(self, *args):  # keep pytest output clean
                pass

            def _record(self) -> Request:
                parts = urlsplit(self.path)
                rec = Request(
                    self.command, unquote(parts.path), parts.query, self.headers.get("Range")
                )
                with server._lock:
                    server.requests.append(rec)
                return rec

            def _send(self, rec: Request, status: int, body: bytes, ctype: str, headers=None):
                rec.status = status
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)
                    rec.bytes_sent = len(body)

            def do_HEAD(self):
                self.do_GET()

            def do_GET(self):
                self._dispatch(b"")

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                self._dispatch(self.rfile.read(n))

            def _dispatch(self, body: bytes):
                rec = self._record()
                parts = urlsplit(self.path)
                path = unquote(parts.path)
                try:
                    if path.startswith("/FTP/") or path == "/FTP":
                        self._ftp(rec, path[len("/FTP") :] or "/")
                    elif path.startswith("/s3"):
                        self._s3(rec, path[len("/s3") :] or "/", parts.query)
                    elif path.startswith("/xamin/vo/"):
                        params = parse_qs(parts.query)
                        ctype = self.headers.get("Content-Type", "")
                        if body and "multipart" not in ctype:
                            for k, v in parse_qs(body.decode()).items():
                                params.setdefault(k, []).extend(v)
                        self._vo(
                            rec, path[len("/xamin/vo") :], {k.upper(): v for k, v in params.items()}
                        )
                    else:
                        self._send(rec, 404, b"not found", "text/plain")
                except (BrokenPipeError, ConnectionResetError):
                    pass

            # --- archive files ---
            def _ftp(self, rec: Request, rel: str):
                fs = server.root / rel.lstrip("/")
                if fs.is_dir():
                    if not rec.path.endswith("/"):
                        return self._send(rec, 301, b"", "text/html", {"Location": rec.path + "/"})
                    action = server.faults.pop(rec.path)
                    if isinstance(action, int):
                        return self._send(rec, action, b"error", "text/plain")
                    return self._send(
                        rec, 200, self._index(rec.path, fs), "text/html;charset=UTF-8"
                    )
                if not fs.is_file():
                    return self._send(rec, 404, b"<h1>Not Found</h1>", "text/html")
                self._file(rec, fs)

            def _file(self, rec: Request, fs: Path):
                data = fs.read_bytes()
                action = server.faults.pop(rec.path)
                if isinstance(action, int):
                    return self._send(rec, action, b"server error", "text/plain")
                if action == "corrupt":
                    mid = len(data) // 2
                    data = (
                        data[:mid]
                        + bytes(b ^ 0xFF for b in data[mid : mid + 64])
                        + data[mid + 64 :]
                    )
                if action == "short":
                    data = data[: len(data) // 2]
                size = len(data)
                start, status, headers = 0, 200, {"Accept-Ranges": "bytes"}
                headers["Last-Modified"] = formatdate(fs.stat().st_mtime, usegmt=True)
                rng = self.headers.get("Range")
                if rng and not server.faults.ignore_range:
                    m = re.match(r"bytes=(\d+)-$", rng.strip())
                    if m:
                        start = int(m.group(1))
                        if start >= size:
                            return self._send(
                                rec, 416, b"", "text/plain", {"Content-Range": f"bytes */{size}"}
                            )
                        status = 206
                        headers["Content-Range"] = f"bytes {start}-{size - 1}/{size}"
                body = data[start:]
                if action == "truncate":
                    rec.status = status
                    self.send_response(status)
                    self.send_header("Content-Type", "application/octet-stream")
                    self.send_header("Content-Length", str(len(body)))
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    cut = body[: int(len(body) * server.faults.truncate_fraction)]
                    self.wfile.write(cut)
                    self.wfile.flush()
                    rec.bytes_sent = len(cut)
                    self.close_connection = True
                    return
                self._send(rec, status, body, "application/octet-stream", headers)

            def _index(self, url_path: str, fs: Path) -> bytes:
                """Apache 2.4 ``mod_autoindex`` FancyIndexing page, like HEASARC's /FTP tree."""
                title = escape(url_path.rstrip("/") or "/")
                parent = url_path.rstrip("/").rsplit("/", 1)[0] + "/"
                lines = [
                    '<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 3.2 Final//EN">',
                    "<html>",
                    f" <head>\n  <title>Index of {title}</title>\n </head>",
                    f" <body>\n<h1>Index of {title}</h1>",
                    '<pre><img src="/icons/blank.gif" alt="Icon "> <a href="?C=N;O=D">Name</a>'
                    '                    <a href="?C=M;O=A">Last modified</a>      <a href="?C=S;O=A">Size</a>'
                    '  <a href="?C=D;O=A">Description</a><hr>'
                    f'<img src="/icons/back.gif" alt="[PARENTDIR]"> <a href="{quote(parent)}">Parent Directory</a>'
                    "                             -   ",
                ]
                for p in sorted(fs.iterdir()):
                    name = p.name + ("/" if p.is_dir() else "")
                    stamp = time.strftime("%Y-%m-%d %H:%M", time.gmtime(p.stat().st_mtime))
                    size = "-" if p.is_dir() else _human(p.stat().st_size)
                    icon = "/icons/folder.gif" if p.is_dir() else "/icons/compressed.gif"
                    alt = "[DIR]" if p.is_dir() else "[   ]"
                    lines.append(
                        f'<img src="{icon}" alt="{alt}"> <a href="{quote(name)}">{escape(name)}</a>'
                        f"{' ' * max(1, 40 - len(name))}{stamp}  {size:>4}  "
                    )
                lines += ["<hr></pre>", "</body></html>", ""]
                return "\n".join(lines).encode()

            # --- S3 ---
            def _s3(self, rec: Request, rel: str, query: str):
                q = parse_qs(query)
                if rel == "/" and q.get("list-type") == ["2"]:
                    prefix = q.get("prefix", [""])[0]
                    keys = []
                    for p in sorted(server.root.rglob("*")):
                        key = p.relative_to(server.root).as_posix()
                        if p.is_file() and key.startswith(prefix):
                            keys.append((key, p.stat().st_size))
                    contents = "".join(
                        f"<Contents><Key>{escape(k)}</Key><Size>{s}</Size><StorageClass>STANDARD</StorageClass>"
                        f"</Contents>"
                        for k, s in keys
                    )
                    xml = (
                        '<?xml version="1.0" encoding="UTF-8"?>\n'
                        '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
                        f"<Name>nasa-heasarc</Name><Prefix>{escape(prefix)}</Prefix><KeyCount>{len(keys)}"
                        f"</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated>{contents}"
                        "</ListBucketResult>"
                    )
                    return self._send(rec, 200, xml.encode(), "application/xml")
                fs = server.root / rel.lstrip("/")
                if not fs.is_file():
                    return self._send(
                        rec, 404, b"<Error><Code>NoSuchKey</Code></Error>", "application/xml"
                    )
                self._file(rec, fs)

            # --- VO ---
            def _vo(self, rec: Request, rel: str, params: dict):
                cat = server.catalog
                if cat is None:
                    return self._send(rec, 404, b"no catalog", "text/plain")
                if rel == "/tap/tables":
                    return self._send(rec, 200, _vosi_tables(cat), "text/xml")
                if rel == "/tap/sync":
                    query = params.get("QUERY", [""])[0]
                    try:
                        table = self._adql(query, cat)
                    except ValueError as err:
                        return self._send(rec, 400, votable_bytes(None, error=str(err)), "text/xml")
                    return self._send(rec, 200, votable_bytes(table), "text/xml")
                if rel.startswith("/datalink/"):
                    return self._send(
                        rec,
                        200,
                        votable_bytes(self._datalink(cat, params.get("ID", []))),
                        "text/xml",
                    )
                self._send(rec, 404, b"unknown VO service", "text/plain")

            def _adql(self, query: str, cat: Table) -> Table:
                if re.search(r"\bFROM\s+metainfo\b", query, re.I):
                    tables = ["swiftmastr"] * (len(SWIFTMASTR_DEFAULT) + 1)
                    pars = [*SWIFTMASTR_DEFAULT, ""]
                    values = [float(i + 1) for i in range(len(SWIFTMASTR_DEFAULT))] + [
                        DEFAULT_RADIUS_ARCMIN
                    ]
                    for name in OTHER_TABLES:
                        tables += [name, name, name]
                        pars += ["ra", "dec", ""]
                        values += [1.0, 2.0, 10.0]
                    return Table({"table": tables, "par": pars, "value": np.array(values)})
                m = _ADQL.match(query)
                if not m:
                    raise ValueError(f"cannot parse ADQL: {query}")
                if m.group("table").lower() != "swiftmastr":
                    return Table({"ra": np.zeros(0), "dec": np.zeros(0)})
                rows = cat
                where = m.group("where") or ""
                if where:
                    c = _CIRCLE.search(where)
                    if not c:
                        raise ValueError(f"unsupported WHERE clause: {where}")
                    ra0, dec0, r = (float(x) for x in c.groups())
                    sep = SkyCoord(cat["ra"], cat["dec"], unit="deg").separation(
                        SkyCoord(ra0, dec0, unit="deg")
                    )
                    rows = cat[sep.deg <= r]
                cols = [c.strip() for c in m.group("cols").split(",")]
                if cols == ["*"]:
                    return rows
                missing = [c for c in cols if c not in rows.colnames]
                if missing:
                    raise ValueError(f"unknown columns {missing}")
                return rows[cols]

            def _datalink(self, cat: Table, ids: list[str]) -> Table:
                out = {
                    k: []
                    for k in (
                        "ID",
                        "access_url",
                        "service_def",
                        "error_message",
                        "semantics",
                        "description",
                        "content_type",
                    )
                }
                lengths = []
                by_row = {str(r["__row"]): r for r in cat}
                for rid in ids:
                    row = by_row.get(str(rid))
                    out["ID"].append(f"ivo://nasa.heasarc/swiftmastr?{rid}")
                    out["service_def"].append("")
                    out["semantics"].append("#this")
                    if row is None:
                        out["access_url"].append("")
                        out["error_message"].append(f"NotFoundFault: {rid}")
                        out["description"].append("")
                        out["content_type"].append("")
                        lengths.append(0)
                        continue
                    rel = obs_path(str(row["obsid"]), float(row["start_time"]))
                    d = server.root / rel
                    out["access_url"].append(f"{server.url}/FTP/{rel}/")
                    out["error_message"].append("")
                    out["description"].append("Swift observation directory")
                    out["content_type"].append("directory")
                    lengths.append(
                        sum(p.stat().st_size for p in d.rglob("*") if p.is_file())
                        if d.is_dir()
                        else 0
                    )
                tab = Table(out)
                tab["content_length"] = np.array(lengths, dtype=np.int64)
                return tab

        return Handler


def _human(n: int) -> str:
    """Apache's human-readable size (``1.2K``, ``34M``)."""
    for unit in ("", "K", "M", "G"):
        if n < 1024 or unit == "G":
            return f"{n}" if unit == "" else (f"{n:.1f}{unit}" if n < 10 else f"{n:.0f}{unit}")
        n /= 1024
    return str(n)


def directory_size(path: Path) -> int:
    """Total bytes of the files below ``path``."""
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())
