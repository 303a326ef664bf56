"""CALDB over HTTP(S) (xrtflow.caldb.RemoteCaldb) against a real local server on 127.0.0.1.

The server (tests/archive_server.py) serves a CALDB-layout tree under ``/FTP/caldb``: the demo
CALDB that ``xrtflow.simulate`` writes (real OGIP files with checksums) plus, for the selection
tests, an index written here with several versions of a file.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest
from archive_server import ArchiveServer
from astropy.io import fits

from xrtflow import network
from xrtflow.caldb import Caldb, CaldbError, RemoteCaldb, open_caldb
from xrtflow.simulate.response import CALDB_DIRS, RMF_NAME, write_caldb

INDEX = "data/swift/xrt/index/caldb.indx"


@pytest.fixture()
def served(tmp_path):
    root = tmp_path / "ftp"
    paths = write_caldb(root / "caldb")
    with ArchiveServer(root) as server:
        yield server, paths, f"{server.archive_url}/caldb"


def _gets(server, suffix=""):
    return [p for p in server.file_gets() if p.endswith(suffix)]


def test_downloads_only_what_is_asked(served, tmp_path):
    server, paths, url = served
    cache = tmp_path / "cache"
    cal = RemoteCaldb(url, cache, backoff=0)
    assert _gets(server) == [f"/FTP/caldb/{INDEX}"]
    rmf = cal.rmf(datamode="PC", grades="0:12", date="2011-09-01", xrtvsub=6)
    assert rmf == cache / CALDB_DIRS["rmf"] / RMF_NAME
    assert rmf.read_bytes() == paths["rmf"].read_bytes()
    assert len(server.file_gets()) == 2 and not (cache / CALDB_DIRS["arf"]).exists()
    for f in (cal.arf(date="2011-09-01"), cal.psf(), cal.vignetting()):
        assert f.is_file() and f.is_relative_to(cache)
    assert len(server.file_gets()) == 5
    assert not list(cache.rglob("*.part"))
    # a second job on the same cache: fresh index, files present -> no request at all
    server.clear_log()
    again = RemoteCaldb(url, cache, backoff=0)
    assert again.rmf(date="2011-09-01") == rmf
    assert server.file_gets() == []


def test_corrupt_and_failed_downloads_are_retried(served, tmp_path):
    server, paths, url = served
    rmf_path = f"/FTP/caldb/{CALDB_DIRS['rmf']}/{RMF_NAME}"
    server.faults.corrupt(rmf_path)  # flipped bytes: the FITS checksum fails
    server.faults.fail(rmf_path, 1, 503)
    cal = RemoteCaldb(url, tmp_path / "c", backoff=0)
    rmf = cal.rmf(date="2011-09-01")
    assert rmf.read_bytes() == paths["rmf"].read_bytes()
    assert len(_gets(server, RMF_NAME)) == 3


def test_unreachable_file_is_a_clear_error(served, tmp_path):
    server, _, url = served
    server.faults.fail(f"/FTP/caldb/{CALDB_DIRS['psf']}/" + Path(_psf_name(server)).name, 9, 500)
    cal = RemoteCaldb(url, tmp_path / "c", retries=1, backoff=0)
    with pytest.raises(CaldbError, match=r"could not download CALDB file .*swxpsf.*caldb:"):
        cal.psf()


def _psf_name(server) -> str:
    return next((server.root / "caldb" / CALDB_DIRS["psf"]).glob("*.fits")).name


def test_two_jobs_download_a_file_once(served, tmp_path, monkeypatch):
    server, paths, url = served
    original = network._stream_once

    def slow(*args, **kwargs):  # make the two downloads overlap for sure
        time.sleep(0.3)
        return original(*args, **kwargs)

    monkeypatch.setattr(network, "_stream_once", slow)
    cache = tmp_path / "shared-cache"
    RemoteCaldb(url, cache, backoff=0)  # index first
    results, errors = [], []

    def job():
        try:
            results.append(RemoteCaldb(url, cache, backoff=0).rmf(date="2011-09-01"))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=job) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(results) == 2 and results[0] == results[1]
    assert len(_gets(server, RMF_NAME)) == 1
    assert results[0].read_bytes() == paths["rmf"].read_bytes()


# --- selection as quzcif does it ---------------------------------------------------------------
def _cif(path: Path, rows: list[dict]) -> None:
    n = len(rows)
    cbd = np.full((n, 9), "NONE", dtype="U70")
    for i, r in enumerate(rows):
        for j, b in enumerate(r.get("cbd", [])):
            cbd[i, j] = b

    def col(name, fmt, key, default):
        return fits.Column(name, fmt, array=np.array([r.get(key, default) for r in rows]))

    hdu = fits.BinTableHDU.from_columns(
        [
            col("TELESCOP", "10A", "tel", "SWIFT"),
            col("INSTRUME", "10A", "ins", "XRT"),
            col("DETNAM", "20A", "det", "NONE"),
            col("FILTER", "10A", "flt", "NONE"),
            col("CAL_DEV", "20A", "dev", "ONLINE"),
            col("CAL_DIR", "70A", "dir", "data/swift/xrt/cpf/rmf"),
            col("CAL_FILE", "40A", "file", "x.rmf"),
            col("CAL_CLASS", "3A", "cls", "CPF"),
            col("CAL_DTYP", "4A", "dtyp", "DATA"),
            col("CAL_CNAM", "20A", "cnam", "MATRIX"),
            fits.Column("CAL_CBD", "630A", dim="(70,9)", array=cbd),
            col("CAL_XNO", "I", "xno", 1),
            col("CAL_VSD", "10A", "vsd", "2001-01-01"),
            col("CAL_VST", "8A", "vst", "00:00:00"),
            col("REF_TIME", "D", "ref", 51910.0),
            col("CAL_QUAL", "I", "qual", 0),
            col("CAL_DATE", "8A", "date", "01/01/05"),
            col("CAL_DESC", "70A", "desc", "test"),
        ],
        name="CIF",
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(path, overwrite=True)


def _tiny_fits(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fits.HDUList([fits.PrimaryHDU(np.zeros(3))]).writeto(path, checksum=True, overwrite=True)


def test_selection_like_quzcif(tmp_path):
    root = tmp_path / "ftp" / "caldb"
    pc = ["DATAMODE(PHOTON)", "GRADE(G0:12)", "XRTVSUB(6)"]
    rows = [
        dict(file="a2001.rmf", vsd="2001-01-01", cbd=pc, date="01/01/05"),
        dict(file="b2007.rmf", vsd="2007-01-01", cbd=pc, date="01/03/08"),
        dict(file="c2007.rmf", vsd="2007-01-01", cbd=pc, date="01/06/09"),  # released later
        dict(file="d2009bad.rmf", vsd="2009-01-01", cbd=pc, qual=5),  # bad quality
        dict(file="e2009wt.rmf", vsd="2009-01-01", cbd=["DATAMODE(WINDOWED)", "GRADE(G0:2)"]),
        dict(file="f2010v8.rmf", vsd="2010-01-01", cbd=[*pc[:2], "XRTVSUB(8)"]),
    ]
    _cif(root / INDEX, rows)
    for r in rows:
        _tiny_fits(root / "data/swift/xrt/cpf/rmf" / r["file"])
    with ArchiveServer(tmp_path / "ftp") as server:
        cal = RemoteCaldb(f"{server.archive_url}/caldb", tmp_path / "cache", backoff=0)

        def pick(date, **kw):
            return cal.rmf(date=date, **kw).name

        assert pick("2005-06-01", xrtvsub=6) == "a2001.rmf"
        assert pick("2008-06-01", xrtvsub=6) == "c2007.rmf"  # same start: later CAL_DATE
        assert pick("2012-06-01", xrtvsub=6) == "c2007.rmf"  # bad quality, other mode/VSUB
        assert pick("2012-06-01", xrtvsub=8) == "f2010v8.rmf"
        assert pick("2012-06-01", datamode="WT", grades="0:2") == "e2009wt.rmf"
        with pytest.raises(CaldbError, match="2000-06-01"):
            pick("2000-06-01")
        # only the files chosen were fetched
        fetched = sorted(p.name for p in (tmp_path / "cache").rglob("*.rmf"))
        assert fetched == ["a2001.rmf", "c2007.rmf", "e2009wt.rmf", "f2010v8.rmf"]
    # the same index read locally selects the same files
    assert Caldb(root).rmf(date="2008-06-01", xrtvsub=6).name == "c2007.rmf"


@pytest.mark.parametrize(
    "cal_dir", ["../../../outside", "/etc", "data/../../../outside", "data\\..\\x", "http://x"]
)
def test_index_paths_never_escape_the_cache(tmp_path, cal_dir):
    root = tmp_path / "ftp" / "caldb"
    _cif(root / INDEX, [dict(dir=cal_dir, file="evil.rmf", cbd=[])])
    with ArchiveServer(tmp_path / "ftp") as server:
        cal = RemoteCaldb(f"{server.archive_url}/caldb", tmp_path / "a" / "b" / "cache")
        with pytest.raises(CaldbError, match="unsafe path"):
            cal.rmf(date="2010-01-01")
        assert len(server.file_gets()) == 1  # the index only
    assert [p.name for p in tmp_path.rglob("evil*")] == []


def test_open_caldb_choice(tmp_path, monkeypatch):
    local = tmp_path / "local"
    write_caldb(local)
    assert type(open_caldb(str(local))) is Caldb
    monkeypatch.setenv("CALDB", str(local))
    assert open_caldb(None).root == local
    with ArchiveServer(tmp_path) as server:
        url = f"{server.archive_url}/local"
        monkeypatch.setenv("CALDB", url)  # HEASoft's remote-CALDB form
        cal = open_caldb(None, tmp_path / "cache")
        assert isinstance(cal, RemoteCaldb) and cal.url == url
        assert isinstance(open_caldb(url, tmp_path / "cache"), RemoteCaldb)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    from xrtflow.caldb import default_cache_dir

    assert default_cache_dir() == tmp_path / "xdg" / "xrtflow" / "caldb"


def test_check_caldb_before_any_job(tmp_path, monkeypatch):
    from xrtflow.caldb import check_caldb

    local = tmp_path / "local"
    write_caldb(local)
    assert check_caldb(str(local)).startswith("local CALDB")
    with pytest.raises(CaldbError, match="index .* not found"):
        check_caldb(str(tmp_path / "none"))
    assert "not found yet" in check_caldb(str(tmp_path / "none"), require_local=False)
    # a remote CALDB that does not answer: a clear message naming the fix
    with pytest.raises(CaldbError, match="cannot be reached.*caldb: <local CALDB root>"):
        check_caldb("http://127.0.0.1:9/caldb", tmp_path / "empty-cache", timeout=1)
    with ArchiveServer(tmp_path) as server:
        assert "remote CALDB" in check_caldb(f"{server.archive_url}/local", tmp_path / "c")
