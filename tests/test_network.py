"""Tests of xrtflow.network against local servers only (no internet)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.time import Time

from xrtflow import network

sys.path.insert(0, str(Path(__file__).parent))
from archive_server import (  # noqa: E402
    DEFAULT_RADIUS_ARCMIN,
    SWIFTMASTR_DEFAULT,
    ArchiveServer,
    build_heasarc_tree,
    make_catalog,
)

T_PYX = SkyCoord(136.1733, -32.3799, unit="deg")


@pytest.fixture(scope="module")
def catalog():
    return make_catalog(n_obs=3, seed=1)


@pytest.fixture(scope="module")
def server(tmp_path_factory, catalog):
    root = tmp_path_factory.mktemp("ftp")
    build_heasarc_tree(root, catalog)
    with ArchiveServer(root, catalog) as srv:
        yield srv


@pytest.fixture
def srv(server):
    server.clear_log()
    server.faults.plan.clear()
    server.faults.ignore_range = False
    yield server
    server.faults.plan.clear()
    server.faults.ignore_range = False


# --- archive layout --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("iso", "month"),
    [
        ("2011-04-14T07:12:00", "2011_04"),
        ("2011-04-30T23:59:30", "2011_04"),
        ("2011-05-01T00:00:30", "2011_05"),
        ("2004-12-31T12:00:00", "2004_12"),
    ],
)
def test_archive_obs_path_month_from_start_date(iso, month):
    mjd = Time(iso, scale="utc").mjd
    assert network.archive_obs_path("00031940001", mjd) == f"swift/data/obs/{month}/00031940001"
    url = network.archive_obs_url("00031940001", mjd, "https://x/FTP/")
    assert url == f"https://x/FTP/swift/data/obs/{month}/00031940001/"


def test_archive_obs_path_rejects_bad_obsid():
    with pytest.raises(ValueError, match="11 digits"):
        network.archive_obs_path("31940001", 55666.3)


def test_s3_to_https():
    assert (
        network.s3_to_https("s3://nasa-heasarc/swift/data/obs/2011_04/00031940001/")
        == "https://nasa-heasarc.s3.amazonaws.com/swift/data/obs/2011_04/00031940001/"
    )
    assert network.s3_to_https("https://a/b") == "https://a/b"


# --- target resolution -----------------------------------------------------------------------
def test_resolve_target_from_coordinates_needs_no_network(monkeypatch):
    def boom(*a, **k):
        raise AssertionError("network used")

    monkeypatch.setattr(SkyCoord, "from_name", boom)
    c = network.resolve_target("T Pyx", ra=136.1733, dec=-32.3799)
    assert c.ra.deg == pytest.approx(136.1733)
    with pytest.raises(ValueError):
        network.resolve_target("T Pyx", ra=1.0)


def test_resolve_target_offline_error(monkeypatch):
    from astropy.coordinates.name_resolve import NameResolveError

    def offline(name, *a, **k):
        raise NameResolveError("Unable to find coordinates for name 'T Pyx' (URLError)")

    monkeypatch.setattr(SkyCoord, "from_name", offline)
    with pytest.raises(
        network.ResolveError, match="could not resolve 'T Pyx': no network\\?"
    ) as exc:
        network.resolve_target("T Pyx")
    assert "give ra/dec in config" in str(exc.value)


def test_resolve_target_by_name(monkeypatch):
    monkeypatch.setattr(SkyCoord, "from_name", lambda name, *a, **k: T_PYX)
    assert network.resolve_target("T Pyx") is T_PYX


# --- HEASARC TAP / datalink through the real astroquery + pyvo code ---------------------------
def test_query_swift_master_local_endpoint(srv, catalog):
    tab = network.query_swift_master(T_PYX, heasarc_url=srv.url)
    near = catalog[catalog["obsid"] != "00099999001"]
    assert list(tab["obsid"]) == list(near[np.argsort(near["start_time"])]["obsid"])
    assert tab.colnames == [*SWIFTMASTR_DEFAULT, "__row"]
    assert all(len(o) == 11 for o in tab["obsid"])
    assert np.all(np.diff(tab["start_time"]) > 0)
    assert tab["ra"].unit == u.deg
    assert str(tab["start_time"].unit) == "mjd"
    assert tab.meta["radius_arcmin"] == pytest.approx(DEFAULT_RADIUS_ARCMIN)
    paths = [r.path for r in srv.requests]
    assert set(paths) == {"/xamin/vo/tap/sync"}  # metainfo (default columns, radius) + cone query
    assert len(paths) == 2


def test_query_swift_master_radius_and_empty(srv):
    tab = network.query_swift_master(T_PYX, radius="20 arcmin", heasarc_url=srv.url)
    assert len(tab) == 3
    assert tab.meta["radius_arcmin"] == pytest.approx(20)
    empty = network.query_swift_master(
        SkyCoord(10, 10, unit="deg"), radius=1 * u.arcmin, heasarc_url=srv.url
    )
    assert len(empty) == 0


def test_query_swift_master_unreachable_endpoint():
    with pytest.raises(network.NetworkError, match="HEASARC"):
        network.query_swift_master(T_PYX, radius=1 * u.arcmin, heasarc_url="http://127.0.0.1:9")


def test_heasarc_client_does_not_leak_endpoint(srv):
    from astroquery.heasarc import Heasarc, conf

    before = (conf.VO_URL, Heasarc.VO_URL)
    with network.heasarc_client(srv.url) as client:
        assert client.VO_URL == f"{srv.url}/xamin/vo"
        assert conf.VO_URL == f"{srv.url}/xamin/vo"
        names = client.list_catalogs(master=True, keywords="swift")["name"]
        assert list(names) == ["swiftmastr"]
        assert client.get_default_radius("swiftmastr") == DEFAULT_RADIUS_ARCMIN * u.arcmin
    assert (conf.VO_URL, Heasarc.VO_URL) == before


def test_locate_data_local_endpoint(srv):
    tab = network.query_swift_master(T_PYX, heasarc_url=srv.url)
    links = network.locate_data(tab, heasarc_url=srv.url)
    assert list(links["obsid"]) == list(tab["obsid"])
    for row, link in zip(tab, links, strict=True):
        rel = network.archive_obs_path(row["obsid"], row["start_time"])
        assert link["access_url"] == f"{srv.url}/FTP/{rel}/"
        assert link["aws"] == f"s3://nasa-heasarc/{rel}/"
        assert link["sciserver"] == f"/FTP/{rel}/"
        assert link["content_length"] > 0
    assert "/xamin/vo/datalink/swiftmastr" in [r.path for r in srv.requests]


# --- listings --------------------------------------------------------------------------------
def test_list_apache_directory(srv, catalog):
    row = catalog[catalog["obsid"] == "00031940001"][0]
    url = srv.url + srv.ftp_path(row["obsid"], row["start_time"])
    entries = network.list_apache_directory(url)
    assert [(e.name, e.is_dir) for e in entries] == [
        ("auxil", True),
        ("bat", True),
        ("log", True),
        ("uvot", True),
        ("xrt", True),
    ]
    assert entries[0].url == url + "auxil/"
    files = network.list_apache_directory(url + "xrt/event")  # no trailing slash is fine
    assert [e.name for e in files] == [
        "sw00031940001xpcw3po_cl.evt.gz",
        "sw00031940001xpcw3po_uf.evt.gz",
    ]


def test_list_apache_directory_404_and_retry(srv):
    with pytest.raises(network.DownloadError) as exc:
        network.list_apache_directory(srv.url + "/FTP/nothing/", obsid="00031940001", backoff=0)
    assert exc.value.status == 404
    assert len(srv.requests) == 1  # 4xx: no retry


def test_list_s3_prefix(srv, catalog):
    row = catalog[catalog["obsid"] == "00031940002"][0]
    prefix = network.archive_obs_path(row["obsid"], row["start_time"]) + "/xrt/hk/"
    entries = network.list_s3_prefix(srv.s3_url, prefix)
    assert [e.name for e in entries] == ["sw00031940002xhd.hk.gz", "sw00031940002xtr.hk.gz"]
    assert all(e.size > 0 for e in entries)
    assert entries[0].url == f"{srv.s3_url}/{prefix}sw00031940002xhd.hk.gz"


# --- fetch_file ------------------------------------------------------------------------------
def _one_file(srv, catalog, rel="xrt/event/sw00031940003xpcw3po_uf.evt.gz"):
    row = catalog[catalog["obsid"] == "00031940003"][0]
    path = srv.ftp_path(row["obsid"], row["start_time"], rel)
    return path, srv.url + path, (srv.root / path[len("/FTP/") :]).read_bytes()


def test_fetch_file_retries_5xx_then_succeeds(srv, catalog, tmp_path):
    path, url, data = _one_file(srv, catalog)
    srv.faults.fail(path, n=2, status=503)
    dest = tmp_path / "f.gz"
    assert network.fetch_file(url, dest, obsid="00031940003", backoff=0) == len(data)
    assert dest.read_bytes() == data
    assert [r.status for r in srv.requests] == [503, 503, 200]
    assert not (tmp_path / "f.gz.part").exists()


def test_fetch_file_persistent_5xx_raises_with_url_and_obsid(srv, catalog, tmp_path):
    path, url, _ = _one_file(srv, catalog)
    srv.faults.fail(path, n=10, status=500)
    with pytest.raises(network.DownloadError) as exc:
        network.fetch_file(url, tmp_path / "f.gz", obsid="00031940003", retries=2, backoff=0.001)
    err = exc.value
    assert err.url == url and err.obsid == "00031940003" and err.status == 500
    assert url in str(err) and "00031940003" in str(err) and "HTTP 500" in str(err)
    assert len(srv.requests) == 3
    assert not (tmp_path / "f.gz").exists()


def test_fetch_file_404_fails_at_once(srv, tmp_path):
    with pytest.raises(network.DownloadError, match="HTTP 404"):
        network.fetch_file(srv.url + "/FTP/missing.gz", tmp_path / "m.gz", backoff=0)
    assert len(srv.requests) == 1


def test_fetch_file_resumes_with_range(srv, catalog, tmp_path):
    path, url, data = _one_file(srv, catalog)
    dest = tmp_path / "f.gz"
    (tmp_path / "f.gz.part").write_bytes(data[:10000])
    network.fetch_file(url, dest, backoff=0)
    assert dest.read_bytes() == data
    (req,) = srv.requests
    assert req.range == "bytes=10000-" and req.status == 206
    for _ in range(200):  # the server thread counts the bytes after the client has them
        if req.bytes_sent:
            break
        time.sleep(0.01)
    assert req.bytes_sent == len(data) - 10000


def test_fetch_file_truncated_body_is_resumed(srv, catalog, tmp_path):
    path, url, data = _one_file(srv, catalog)
    srv.faults.truncate(path)
    dest = tmp_path / "f.gz"
    network.fetch_file(url, dest, backoff=0)
    assert dest.read_bytes() == data
    first, second = srv.requests
    assert first.status == 200 and first.bytes_sent < len(data)
    assert second.range is not None and second.status == 206


def test_fetch_file_server_ignoring_range_restarts(srv, catalog, tmp_path):
    path, url, data = _one_file(srv, catalog)
    srv.faults.ignore_range = True
    (tmp_path / "f.gz.part").write_bytes(b"garbage" * 100)
    network.fetch_file(url, tmp_path / "f.gz", backoff=0)
    assert (tmp_path / "f.gz").read_bytes() == data


def test_fetch_file_complete_part_gets_416(srv, catalog, tmp_path):
    path, url, data = _one_file(srv, catalog)
    (tmp_path / "f.gz.part").write_bytes(data)
    network.fetch_file(url, tmp_path / "f.gz", backoff=0)
    assert (tmp_path / "f.gz").read_bytes() == data
    assert [r.status for r in srv.requests] == [416]


def test_fetch_file_verification_failure_never_leaves_final_file(srv, catalog, tmp_path):
    path, url, _ = _one_file(srv, catalog)

    def reject(p):
        raise ValueError("nope")

    with pytest.raises(network.DownloadError, match="verification failed: nope"):
        network.fetch_file(
            url, tmp_path / "f.gz", obsid="00031940003", verify=reject, retries=1, backoff=0
        )
    assert list(tmp_path.iterdir()) == []
