"""Tests of xrtflow.download against a local HEASARC-layout HTTP server (no internet)."""

from __future__ import annotations

import gzip
import io
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from xrtflow import download, network
from xrtflow.download import CorruptFileError, download_observation, verify_file

sys.path.insert(0, str(Path(__file__).parent))
from archive_server import (  # noqa: E402
    XRT_FILES,
    ArchiveServer,
    build_heasarc_tree,
    directory_size,
    make_catalog,
    obs_path,
)

OBSIDS = ["00031940001", "00031940002", "00031940003"]


@pytest.fixture(scope="module")
def catalog():
    return make_catalog(n_obs=3, seed=1)


@pytest.fixture(scope="module")
def archive(tmp_path_factory, catalog):
    root = tmp_path_factory.mktemp("ftp")
    build_heasarc_tree(root, catalog)
    return root


@pytest.fixture(scope="module")
def server(archive, catalog):
    with ArchiveServer(archive, catalog) as srv:
        yield srv


@pytest.fixture
def srv(server):
    server.clear_log()
    server.faults.plan.clear()
    yield server
    server.faults.plan.clear()


def start(catalog, obsid):
    return float(catalog[catalog["obsid"] == obsid][0]["start_time"])


def expected_rel(obsid):
    rels = [t.format(o=obsid) for t, _, _ in XRT_FILES] + [f"auxil/sw{obsid}ppr.par.gz"]
    return sorted(rels)


def fetch(srv, catalog, obsid, dest, **kw):
    kw.setdefault("backoff", 0)
    kw.setdefault("progress", False)
    return download_observation(obsid, start(catalog, obsid), dest, base_url=srv.archive_url, **kw)


# --- the main path ---------------------------------------------------------------------------
def test_downloads_exactly_the_xrt_files(srv, catalog, tmp_path):
    for obsid in OBSIDS:
        files = fetch(srv, catalog, obsid, tmp_path)
        assert files == sorted(tmp_path / obsid / r for r in expected_rel(obsid))
        for f in files:
            assert (
                f.read_bytes()
                == (
                    srv.root
                    / obs_path(obsid, start(catalog, obsid))
                    / f.relative_to(tmp_path / obsid)
                ).read_bytes()
            )
    requested = {r.path for r in srv.requests}
    expected = set()
    for obsid in OBSIDS:
        base = srv.ftp_path(obsid, start(catalog, obsid))
        expected |= {base + r for r in expected_rel(obsid)}
        expected |= {base + "xrt/event/", base + "xrt/hk/", base + "auxil/"}
    assert requested == expected  # files + the 3 listings per ObsID, nothing else
    assert not any(s in p for p in requested for s in ("/uvot", "/bat", "/log"))
    assert all(r.method == "GET" and r.status == 200 for r in srv.requests)
    assert not list(tmp_path.rglob("*.part"))


def test_manifest(srv, catalog, tmp_path):
    obsid = OBSIDS[0]
    files = fetch(srv, catalog, obsid, tmp_path)
    man = download.read_manifest(tmp_path, obsid)
    assert man == json.loads((tmp_path / obsid / download.MANIFEST_NAME).read_text())
    assert man["obsid"] == obsid and man["source"] == "heasarc"
    assert man["url"] == srv.url + srv.ftp_path(obsid, start(catalog, obsid))
    assert [f["path"] for f in man["files"]] == expected_rel(obsid)
    for entry, path in zip(man["files"], files, strict=True):
        assert entry["size"] == path.stat().st_size
        assert entry["sha256"] == download.file_sha256(path)
    assert man["total_bytes"] == sum(p.stat().st_size for p in files)
    assert man["bytes_fetched_last_run"] == man["total_bytes"]


def test_bytes_per_obsid_vs_whole_directory(srv, catalog, tmp_path):
    """The point of the module: report what a selective download saves."""
    lines = []
    for obsid in OBSIDS:
        srv.clear_log()
        fetch(srv, catalog, obsid, tmp_path)
        obs_dir = srv.root / obs_path(obsid, start(catalog, obsid))
        got = srv.bytes_sent(srv.ftp_path(obsid, start(catalog, obsid)))
        whole = directory_size(obs_dir)
        listing = sum(r.bytes_sent for r in srv.requests if r.path.endswith("/"))
        assert got == download.read_manifest(tmp_path, obsid)["total_bytes"]
        assert got < 0.5 * whole
        lines.append(
            f"{obsid}: fetched {got} B in files (+{listing} B listings) of {whole} B "
            f"({100 * got / whole:.0f}%)"
        )
    print("\n" + "\n".join(lines))


def test_patterns_restrict_further(srv, catalog, tmp_path):
    obsid = OBSIDS[1]
    files = fetch(
        srv,
        catalog,
        obsid,
        tmp_path,
        patterns=("*xpcw3po_cl.evt.gz", "*pat.fits.gz", "xrt/hk/*xhd.hk.gz"),
    )
    assert [f.relative_to(tmp_path / obsid).as_posix() for f in files] == [
        f"auxil/sw{obsid}pat.fits.gz",
        f"xrt/event/sw{obsid}xpcw3po_cl.evt.gz",
        f"xrt/hk/sw{obsid}xhd.hk.gz",
    ]
    assert len(srv.file_gets()) == 3


def test_missing_subdir_is_skipped_but_nothing_at_all_is_an_error(srv, catalog, tmp_path):
    obsid = OBSIDS[0]
    files = fetch(srv, catalog, obsid, tmp_path, subdirs=("xrt/event", "xrt/nothing"))
    assert len(files) == 2
    with pytest.raises(network.DownloadError, match=obsid):
        fetch(srv, catalog, obsid, tmp_path / "b", subdirs=("xrt/nothing",))


# --- cache -----------------------------------------------------------------------------------
def test_second_call_fetches_no_file(srv, catalog, tmp_path):
    obsid = OBSIDS[2]
    first = fetch(srv, catalog, obsid, tmp_path)
    srv.clear_log()
    second = fetch(srv, catalog, obsid, tmp_path)
    assert first == second
    assert srv.file_gets() == []
    assert all(r.path.endswith("/") for r in srv.requests)  # listings only
    assert download.read_manifest(tmp_path, obsid)["bytes_fetched_last_run"] == 0


def test_corrupt_local_file_is_refetched(srv, catalog, tmp_path):
    obsid = OBSIDS[2]
    files = fetch(srv, catalog, obsid, tmp_path)
    victim = tmp_path / obsid / f"xrt/hk/sw{obsid}xhd.hk.gz"
    good = victim.read_bytes()
    victim.write_bytes(good[: len(good) // 2])
    srv.clear_log()
    assert fetch(srv, catalog, obsid, tmp_path) == files
    assert [p.rsplit("/", 1)[1] for p in srv.file_gets()] == [victim.name]
    assert victim.read_bytes() == good


# --- faults ----------------------------------------------------------------------------------
def _path(srv, catalog, obsid, rel):
    return srv.ftp_path(obsid, start(catalog, obsid), rel.format(o=obsid))


def test_truncated_and_corrupted_downloads_are_refetched(srv, catalog, tmp_path):
    obsid = OBSIDS[1]
    trunc = _path(srv, catalog, obsid, "xrt/event/sw{o}xpcw3po_uf.evt.gz")
    short = _path(srv, catalog, obsid, "xrt/event/sw{o}xpcw3po_cl.evt.gz")
    bad = _path(srv, catalog, obsid, "auxil/sw{o}pat.fits.gz")
    srv.faults.truncate(trunc)  # Content-Length right, body cut: resumed with Range
    srv.faults.short(short)  # consistent but truncated file: gzip check catches it
    srv.faults.corrupt(bad)  # flipped bytes: gzip CRC catches it
    files = fetch(srv, catalog, obsid, tmp_path)
    assert len(files) == len(expected_rel(obsid))
    for f in files:
        verify_file(f)
    gets = srv.file_gets()
    assert gets.count(trunc) == 2 and gets.count(short) == 2 and gets.count(bad) == 2
    assert [r.range for r in srv.requests if r.path == trunc][1].startswith("bytes=")
    assert [r.range for r in srv.requests if r.path == short] == [None, None]
    assert not list(tmp_path.rglob("*.part"))


def test_persistently_corrupt_file_never_lands(srv, catalog, tmp_path):
    obsid = OBSIDS[0]
    bad = _path(srv, catalog, obsid, "xrt/hk/sw{o}xhd.hk.gz")
    srv.faults.corrupt(bad, times=10)
    with pytest.raises(network.DownloadError) as exc:
        fetch(srv, catalog, obsid, tmp_path, retries=2, subdirs=("xrt/hk",))
    assert exc.value.obsid == obsid and exc.value.url.endswith(bad)
    assert "verification failed" in str(exc.value)
    assert not (tmp_path / obsid / f"xrt/hk/sw{obsid}xhd.hk.gz").exists()
    assert not list(tmp_path.rglob("*.part"))
    assert download.read_manifest(tmp_path, obsid) is None


def test_server_errors_are_retried(srv, catalog, tmp_path):
    obsid = OBSIDS[0]
    p = _path(srv, catalog, obsid, "auxil/sw{o}sat.fits.gz")
    listing = srv.ftp_path(obsid, start(catalog, obsid), "xrt/hk/")
    srv.faults.fail(p, n=2, status=500)
    srv.faults.fail(listing, n=1, status=503)
    files = fetch(srv, catalog, obsid, tmp_path)
    assert len(files) == len(expected_rel(obsid))
    assert [r.status for r in srv.requests if r.path == p] == [500, 500, 200]
    assert [r.status for r in srv.requests if r.path == listing] == [503, 200]


def test_persistent_server_errors_raise_naming_url_and_obsid(srv, catalog, tmp_path):
    obsid = OBSIDS[0]
    p = _path(srv, catalog, obsid, "xrt/event/sw{o}xpcw3po_cl.evt.gz")
    srv.faults.fail(p, n=10, status=500)
    with pytest.raises(network.DownloadError) as exc:
        fetch(srv, catalog, obsid, tmp_path, retries=3, backoff=0.001)
    msg = str(exc.value)
    assert srv.url + p in msg and obsid in msg and "HTTP 500" in msg
    assert srv.file_gets().count(p) == 4


def test_resume_partial_file_with_range(srv, catalog, tmp_path):
    obsid = OBSIDS[2]
    rel = f"xrt/event/sw{obsid}xpcw3po_uf.evt.gz"
    src = srv.root / obs_path(obsid, start(catalog, obsid)) / rel
    part = tmp_path / obsid / (rel + ".part")
    part.parent.mkdir(parents=True)
    part.write_bytes(src.read_bytes()[:20000])
    fetch(srv, catalog, obsid, tmp_path, subdirs=("xrt/event",))
    (req,) = [r for r in srv.requests if r.path.endswith(rel)]
    assert req.range == "bytes=20000-" and req.status == 206
    assert (tmp_path / obsid / rel).read_bytes() == src.read_bytes()


# --- other sources ---------------------------------------------------------------------------
def test_aws_source_through_s3_listing(srv, catalog, tmp_path):
    obsid = OBSIDS[1]
    files = download_observation(
        obsid,
        start(catalog, obsid),
        tmp_path,
        source="aws",
        base_url=srv.s3_url,
        progress=False,
        backoff=0,
    )
    assert [f.relative_to(tmp_path / obsid).as_posix() for f in files] == expected_rel(obsid)
    assert all("/uvot" not in r.path and "/bat" not in r.path for r in srv.requests)
    assert sum(r.query.startswith("list-type=2") for r in srv.requests) == 3


def test_observation_url_defaults():
    url = download.observation_url("00031940001", 55666.3)
    assert url == "https://heasarc.gsfc.nasa.gov/FTP/swift/data/obs/2011_04/00031940001/"
    aws = download.observation_url("00031940001", 55666.3, "aws")
    assert aws == "https://nasa-heasarc.s3.amazonaws.com/swift/data/obs/2011_04/00031940001/"
    with pytest.raises(ValueError):
        download.observation_url("00031940001", 55666.3, "ftp")


@pytest.mark.parametrize("layout", ["heasarc", "month", "flat"])
def test_local_source_copies_with_verification(archive, catalog, tmp_path, layout):
    obsid = OBSIDS[0]
    t0 = start(catalog, obsid)
    base = {
        "heasarc": archive,
        "month": archive / "swift/data/obs",
        "flat": archive / "swift/data/obs" / obs_path(obsid, t0).split("/")[-2],
    }[layout]
    files = download_observation(
        obsid, t0, tmp_path, source="local", base_url=str(base), progress=False
    )
    assert [f.relative_to(tmp_path / obsid).as_posix() for f in files] == expected_rel(obsid)
    assert all(f.is_file() and not f.is_symlink() for f in files)
    assert download.read_manifest(tmp_path, obsid)["source"] == "local"


def test_local_source_symlinks_and_rejects_corrupt(archive, catalog, tmp_path):
    import shutil

    obsid = OBSIDS[1]
    t0 = start(catalog, obsid)
    files = download_observation(
        obsid, t0, tmp_path / "a", source="local", base_url=str(archive), link=True, progress=False
    )
    assert all(f.is_symlink() for f in files)
    copy = tmp_path / "copy"
    shutil.copytree(archive / obs_path(obsid, t0), copy / obsid)
    evt = copy / obsid / f"xrt/event/sw{obsid}xpcw3po_cl.evt.gz"
    evt.write_bytes(evt.read_bytes()[:-100])
    with pytest.raises(network.DownloadError, match=f"{obsid}.*corrupt file in local archive"):
        download_observation(
            obsid, t0, tmp_path / "b", source="local", base_url=str(copy), progress=False
        )
    assert not (tmp_path / "b" / obsid / f"xrt/event/{evt.name}").exists()
    with pytest.raises(FileNotFoundError, match="00000000000"):
        download_observation("00000000000", t0, tmp_path, source="local", base_url=str(copy))


# --- verification unit tests -----------------------------------------------------------------
def _fits_bytes(checksum=True):
    hdul = fits.HDUList(
        [
            fits.PrimaryHDU(),
            fits.BinTableHDU.from_columns([fits.Column("X", "D", array=np.arange(500.0))]),
        ]
    )
    buf = io.BytesIO()
    hdul.writeto(buf, checksum=checksum)
    return buf.getvalue()


def test_verify_file_accepts_valid_files(tmp_path):
    raw = _fits_bytes()
    (tmp_path / "a.fits").write_bytes(raw)
    (tmp_path / "a.fits.gz").write_bytes(gzip.compress(raw))
    (tmp_path / "t.par.gz").write_bytes(gzip.compress(b"text"))
    (tmp_path / "plain.txt").write_text("hello")
    for name in ("a.fits", "a.fits.gz", "t.par.gz", "plain.txt"):
        verify_file(tmp_path / name)
    verify_file(tmp_path / "a.fits", expected_size=len(raw))
    assert download.is_valid_file(tmp_path / "a.fits.gz")


@pytest.mark.parametrize(
    ("name", "mangle", "match"),
    [
        ("a.fits.gz", lambda raw: gzip.compress(raw)[:-20], "gzip"),
        ("a.fits.gz", lambda raw: b"<html>404</html>", "not gzip"),
        ("a.fits", lambda raw: raw[:-2880], "after the last complete HDU"),
        ("a.fits", lambda raw: raw[:-10], "multiple of 2880"),
        ("a.fits", lambda raw: raw[:-100] + b"\x01" + raw[-99:], "[Cc]hecksum|[Dd]atasum"),
        ("a.fits.gz", lambda raw: gzip.compress(raw[:-2880]), "not a readable FITS|truncated"),
    ],
)
def test_verify_file_rejects_broken_files(tmp_path, name, mangle, match):
    path = tmp_path / name
    path.write_bytes(mangle(_fits_bytes()))
    with pytest.raises(CorruptFileError, match=match):
        verify_file(path)
    assert not download.is_valid_file(path)


def test_verify_file_expected_size(tmp_path):
    (tmp_path / "x.txt").write_text("12345")
    with pytest.raises(CorruptFileError, match="expected 6"):
        verify_file(tmp_path / "x.txt", expected_size=6)


# --- with the simulated archive, when xrtflow.simulate provides it ----------------------------
def test_query_locate_download_chain_on_simulated_archive(tmp_path):
    """swiftmastr query -> locate_data -> download, all against the simulated demo archive."""
    simulate = pytest.importorskip("xrtflow.simulate")
    if not hasattr(simulate, "make_demo_archive"):
        pytest.skip("xrtflow.simulate.make_demo_archive not available yet")
    cfg = simulate.DemoConfig(n_obs=2, seed=3, include_outliers=False)
    cat = simulate.make_demo_archive(tmp_path / "demo", cfg, progress=False)
    cat["__row"] = np.arange(len(cat)) + 1
    root = tmp_path / "ftp"
    build_heasarc_tree(root, cat, demo_archive=tmp_path / "demo" / "archive")
    coord = network.resolve_target(ra=float(cat["ra"][0]), dec=float(cat["dec"][0]))
    with ArchiveServer(root, cat) as srv:
        rows = network.query_swift_master(coord, heasarc_url=srv.url)
        assert sorted(rows["obsid"]) == sorted(str(o).zfill(11) for o in cat["obsid"])
        links = network.locate_data(rows, heasarc_url=srv.url)
        report = []
        for row, link in zip(rows, links, strict=True):
            obsid, t0 = row["obsid"], float(row["start_time"])
            base_url, _, rel = str(link["access_url"]).partition("/swift/data/obs/")
            assert base_url == srv.archive_url
            assert f"swift/data/obs/{rel}".rstrip("/") == network.archive_obs_path(obsid, t0)
            srv.clear_log()
            files = download_observation(
                obsid, t0, tmp_path / "dl", base_url=base_url, progress=False, backoff=0
            )
            rels = {f.relative_to(tmp_path / "dl" / obsid).as_posix() for f in files}
            assert rels == {
                f"xrt/event/sw{obsid}xpcw3po_cl.evt.gz",
                f"auxil/sw{obsid}pat.fits.gz",
                f"auxil/sw{obsid}ppr.par.gz",
                f"xrt/hk/sw{obsid}xhd.hk.gz",
            }
            got = srv.bytes_sent("/FTP/")
            whole = directory_size(root / obs_path(obsid, t0))
            report.append(
                f"simulated {obsid}: fetched {got} B of {whole} B ({100 * got / whole:.0f}%)"
            )
    print("\n" + "\n".join(report))
