"""Tests of the offline demo archive (xrtflow.simulate): layout, headers, physics, determinism."""

from __future__ import annotations

import dataclasses
import gzip
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table
from astropy.wcs import WCS

from xrtflow import calibration, naming
from xrtflow.caldb import Caldb
from xrtflow.simulate import DemoConfig, ObservationSpec, make_demo_archive, powerlaw_flux

SMALL = DemoConfig(n_obs=2, exposure_range=(600.0, 900.0), short_exposure=120.0, snapshot_max=500.0)

#: A bright, background-free on-target observation for the count and PSF tests.
BRIGHT_SPEC = ObservationSpec(
    obsid="00031940001",
    day=145.0,
    exposure=1200.0,
    offset_arcmin=3.0,
    offset_pa_deg=40.0,
    roll_deg=120.0,
    n_snapshots=2,
)
BRIGHT = DemoConfig(
    observations=(BRIGHT_SPEC,),
    photon_flux=powerlaw_flux(2.0, 1.0e-2),
    background_rate=0.0,
)


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("small")
    make_demo_archive(out, SMALL, progress=False)
    return out


@pytest.fixture(scope="module")
def bright(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bright")
    make_demo_archive(out, BRIGHT, progress=False)
    return out


def _events(root: Path, obsid: str) -> fits.HDUList:
    return fits.open(root / "archive" / obsid / naming.archive_event(obsid))


def _sky_wcs(header: fits.Header) -> WCS:
    names = [header[f"TTYPE{i}"] for i in range(1, header["TFIELDS"] + 1)]
    ix, iy = names.index("X") + 1, names.index("Y") + 1
    w = WCS(naxis=2)
    w.wcs.ctype = [header[f"TCTYP{ix}"], header[f"TCTYP{iy}"]]
    w.wcs.crval = [header[f"TCRVL{ix}"], header[f"TCRVL{iy}"]]
    w.wcs.crpix = [header[f"TCRPX{ix}"], header[f"TCRPX{iy}"]]
    w.wcs.cdelt = [header[f"TCDLT{ix}"], header[f"TCDLT{iy}"]]
    return w


# --- layout ------------------------------------------------------------------------------------
def test_archive_layout_and_catalog(small):
    catalog = Table.read(small / "catalog.ecsv")
    truth = Table.read(small / "truth.ecsv")
    assert len(catalog) == 5 == len(truth)  # 2 in window + early + late + short
    assert sorted(truth["role"]) == ["early", "late", "short", "window", "window"]
    for col in (
        "obsid",
        "name",
        "ra",
        "dec",
        "start_time",
        "stop_time",
        "xrt_exposure",
        "uvot_exposure",
        "bat_exposure",
        "xrt_expo_pc",
        "xrt_expo_wt",
        "processing_date",
        "archive_date",
        "target_id",
        "obs_segment",
        "pointing_mode",
    ):
        assert col in catalog.colnames
    assert str(catalog["ra"].unit) == "deg" and str(catalog["xrt_exposure"].unit) == "s"
    days = catalog["start_time"] - SMALL.discovery_mjd
    assert np.all(np.diff(catalog["start_time"]) > 0)
    assert days.min() < 142 and days.max() > 149
    for row in catalog:
        obsid = str(row["obsid"])
        assert naming.check_obsid(obsid) == obsid
        base = small / "archive" / obsid
        for rel in (
            naming.archive_event(obsid),
            naming.archive_attitude(obsid),
            naming.archive_hk_header(obsid),
        ):
            path = base / rel
            assert path.is_file(), path
            with open(path, "rb") as f:
                assert f.read(2) == b"\x1f\x8b"  # gzip
        with _events(small, obsid) as ev:
            assert row["xrt_exposure"] == pytest.approx(ev["EVENTS"].header["EXPOSURE"])
    short = truth[truth["role"] == "short"][0]
    assert short["exposure"] < 200


def test_event_file_format(small):
    obsid = str(Table.read(small / "catalog.ecsv")["obsid"][0])
    with fits.open(small / "archive" / obsid / naming.archive_event(obsid), checksum=True) as hdul:
        hdul.verify("exception")
        assert [h.name for h in hdul] == ["PRIMARY", "EVENTS", "GTI", "BADPIX"]
        ev, gti = hdul["EVENTS"], hdul["GTI"]
        for h in (hdul[0].header, ev.header):
            for key in (
                "TELESCOP",
                "INSTRUME",
                "DATAMODE",
                "OBS_MODE",
                "OBS_ID",
                "TARG_ID",
                "OBJECT",
                "RA_PNT",
                "DEC_PNT",
                "PA_PNT",
                "RA_OBJ",
                "DEC_OBJ",
                "MJDREFI",
                "MJDREFF",
                "TIMESYS",
                "TIMEREF",
                "TIMEUNIT",
                "TSTART",
                "TSTOP",
                "DATE-OBS",
                "DATE-END",
                "ATTFLAG",
                "XRTVSUB",
                "CREATOR",
                "DATE",
                "CHECKSUM",
            ):
                assert key in h, key
            assert h["TELESCOP"] == "SWIFT" and h["INSTRUME"] == "XRT"
            assert h["DATAMODE"] == "PHOTON" and h["ATTFLAG"] == "110"
            assert h["OBS_ID"] == obsid and h["MJDREFI"] == 51910
            assert "SIMULATED" in str(h["COMMENT"])
        h = ev.header
        assert h["HDUCLASS"] == "OGIP" and h["HDUCLAS1"] == "EVENTS"
        for key in ("EXPOSURE", "ONTIME", "LIVETIME"):
            assert h[key] > 0
        assert gti.header["HDUCLAS1"] == "GTI"
        d = ev.data
        assert d.columns.names == [
            "TIME",
            "X",
            "Y",
            "RAWX",
            "RAWY",
            "DETX",
            "DETY",
            "PHA",
            "PI",
            "GRADE",
        ]
        formats = {c.name: c.format for c in d.columns}
        assert formats["TIME"] == "D" and formats["X"] == "I" and formats["PI"] == "J"
        assert formats["PHA"] == "J" and formats["GRADE"] == "I"
        assert h["TCTYP2"] == "RA---TAN" and h["TCTYP3"] == "DEC--TAN"
        assert h["TCRPX2"] == 500.5 and h["TCDLT2"] == pytest.approx(-6.548089e-4)
        assert h["TCRVL2"] == h["RA_PNT"] and h["TCRVL3"] == h["DEC_PNT"]
        assert np.all(np.diff(d["TIME"]) >= 0)
        starts, stops = gti.data["START"], gti.data["STOP"]
        assert len(starts) >= 2
        inside = np.zeros(len(d), bool)
        for a, b in zip(starts, stops, strict=True):
            inside |= (d["TIME"] >= a) & (d["TIME"] <= b)
        assert inside.all()
        assert h["EXPOSURE"] == pytest.approx(np.sum(stops - starts))
        assert h["TSTART"] == starts[0] and h["TSTOP"] == stops[-1]
        assert d["X"].min() >= 1 and d["X"].max() <= 1000
        assert d["RAWX"].min() >= 0 and d["RAWX"].max() <= 599
        assert np.all(d["DETX"] == d["RAWX"] + 1)
        assert d["PI"].min() >= 0 and d["PI"].max() <= 1023
        assert d["PHA"].max() <= 4095 and d["GRADE"].max() <= 12
        bad = hdul["BADPIX"].data
        assert len(bad) == 2
        assert not np.isin(d["RAWX"], bad["RAWX"]).any()


def test_attitude_and_hk_files(small):
    obsid = str(Table.read(small / "catalog.ecsv")["obsid"][1])
    base = small / "archive" / obsid
    with _events(small, obsid) as ev:
        gti = ev["GTI"].data
        h = ev["EVENTS"].header
    with fits.open(base / naming.archive_attitude(obsid), checksum=True) as att:
        a = att["ATTITUDE"]
        assert a.header["ATTFLAG"] == "110"
        assert a.columns["POINTING"].format == "3E" and a.columns["QPARAM"].format == "4D"
        t = a.data["TIME"]
        assert t.min() <= gti["START"][0] and t.max() >= gti["STOP"][-1]
        pnt = a.data["POINTING"]
        assert np.allclose(pnt[:, 0], h["RA_PNT"], atol=0.02)
        assert np.allclose(pnt[:, 1], h["DEC_PNT"], atol=0.02)
        assert np.allclose(np.linalg.norm(a.data["QPARAM"], axis=1), 1.0)
    with fits.open(base / naming.archive_hk_header(obsid), checksum=True) as hk:
        frame = hk["FRAME"].data
        assert {"TIME", "XRTMode", "CCDTemp"} <= set(frame.columns.names)
        assert np.all(frame["XRTMode"] == 7)


# --- physics -----------------------------------------------------------------------------------
def _read_rmf_dense(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with fits.open(path) as hdul:
        m = hdul["MATRIX"].data
        dense = np.zeros((len(m), hdul["MATRIX"].header["DETCHANS"]))
        for i, row in enumerate(m):
            if row["N_GRP"]:
                f, n = int(row["F_CHAN"]), int(row["N_CHAN"])
                dense[i, f : f + n] = row["MATRIX"][:n]
        edges = np.append(m["ENERG_LO"], m["ENERG_HI"][-1]).astype(float)
    return dense, edges


def test_counts_match_folded_spectrum(bright):
    cal = Caldb(bright / "caldb")
    dense, edges = _read_rmf_dense(cal.rmf())
    with fits.open(cal.arf()) as arf:
        area = arf["SPECRESP"].data["SPECRESP"].astype(float)
    truth = Table.read(bright / "truth.ecsv")[0]
    flux = BRIGHT.photon_flux(edges)
    emid = 0.5 * (edges[1:] + edges[:-1])
    vig = calibration.vignetting(emid, truth["offaxis_arcmin"])
    expected_ch = (flux * area * vig * truth["exposure"]) @ dense
    with _events(bright, BRIGHT_SPEC.obsid) as ev:
        pi = ev["EVENTS"].data["PI"]
    for lo, hi in ((30, 700), (30, 100), (100, 300), (300, 1024)):
        mu = expected_ch[lo:hi].sum()
        n = np.count_nonzero((pi >= lo) & (pi < hi))
        assert abs(n - mu) < 4 * np.sqrt(mu) + 2, (lo, hi, n, mu)
    assert truth["expected_rate_03_7"] * truth["exposure"] == pytest.approx(
        expected_ch[30:700].sum(), rel=1e-3
    )


def test_source_position_and_psf(bright):
    with _events(bright, BRIGHT_SPEC.obsid) as ev:
        d = ev["EVENTS"].data
        w = _sky_wcs(ev["EVENTS"].header)
    x, y = d["X"].astype(float), d["Y"].astype(float)
    ra, dec = w.wcs_pix2world(x, y, 1)
    # separation from the true position (small-angle)
    dra = (ra - BRIGHT.ra) * np.cos(np.radians(BRIGHT.dec)) * 3600
    ddec = (dec - BRIGHT.dec) * 3600
    r = np.hypot(dra, ddec)
    core = r < 30
    centroid = np.hypot(np.median(dra[core]), np.median(ddec[core]))
    assert centroid < 3.0
    # encircled fractions relative to 150" (the PSF is nearly energy independent)
    n150 = np.count_nonzero(r < 150)
    for radius in (20.0, 60.0):
        frac = np.count_nonzero(r < radius) / n150
        model = calibration.psf_encircled_fraction(
            radius / 60, 1.5, 3.0
        ) / calibration.psf_encircled_fraction(150 / 60, 1.5, 3.0)
        sigma = np.sqrt(model * (1 - model) / n150)
        assert abs(frac - model) < 4 * sigma + 0.02, (radius, frac, model)


def test_background_level(tmp_path):
    spec = ObservationSpec(obsid="00031940002", day=145.0, exposure=1000.0, n_snapshots=1)
    cfg = DemoConfig(
        observations=(spec,), photon_flux=powerlaw_flux(2.0, 0.0), background_rate=2e-3
    )
    make_demo_archive(tmp_path, cfg, progress=False)
    with _events(tmp_path, spec.obsid) as ev:
        n = len(ev["EVENTS"].data)
        exposure = ev["EVENTS"].header["EXPOSURE"]
    area = (600 * calibration.PIXEL_ARCMIN) ** 2 * (598 / 600)  # two bad columns
    mu = 2e-3 * area * exposure
    assert abs(n - mu) < 4 * np.sqrt(mu)


def test_default_model_rates(small):
    truth = Table.read(small / "truth.ecsv")
    assert truth.meta["model"] == "tbabs*(bb+brems)"
    assert list(truth.meta["parameter_order"]) == [
        "nH",
        "bb_kT",
        "bb_norm",
        "brems_kT",
        "brems_norm",
    ]
    assert np.allclose(truth["nH"], 0.136) and np.allclose(truth["bb_kT"], 0.047)
    assert np.all((truth["expected_rate_03_7"] > 0.3) & (truth["expected_rate_03_7"] < 1.0))
    assert np.all(truth["n_source"] > 0) and np.all(truth["n_background"] > 0)


def test_parameter_drift():
    cfg = DemoConfig(drift={"bb_kT": 0.001})
    assert cfg.parameters_at(cfg.drift_reference_day + 2)["bb_kT"] == pytest.approx(0.049)
    with pytest.raises(ValueError):
        DemoConfig(drift={"nope": 1.0}).parameters_at(145.0)


# --- determinism and CLI -----------------------------------------------------------------------
def _all_files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_deterministic(small, tmp_path):
    make_demo_archive(tmp_path, SMALL, progress=False)
    a, b = _all_files(small), _all_files(tmp_path)
    assert a.keys() == b.keys()
    for name in a:
        assert a[name] == b[name], name
    other = tmp_path / "other"
    make_demo_archive(other, dataclasses.replace(SMALL, seed=1), progress=False)
    obsid = "00031940002"
    rel = f"archive/{obsid}/{naming.archive_event(obsid)}"
    assert gzip.decompress(a[rel]) != gzip.decompress((other / rel).read_bytes())


def test_cli(tmp_path):
    from xrtflow.cli import main

    assert (
        main(["simulate", str(tmp_path), "--n-obs", "1", "--no-outliers", "--seed", "3", "--quiet"])
        == 0
    )
    catalog = Table.read(tmp_path / "catalog.ecsv")
    assert len(catalog) == 1
    assert (tmp_path / "caldb" / "data/swift/xrt/index/caldb.indx").is_file()


def test_fallback_model_without_spectral_module(monkeypatch):
    import builtins

    from xrtflow.simulate.spectrum import model_photon_flux

    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "xrtflow.spectral.models":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.warns(RuntimeWarning, match="approximate"):
        flux = model_photon_flux("tbabs*(bb+brems)", [0.136, 0.047, 6e-3, 1.43, 2.8e-3])
    assert not flux.exact
    edges = np.linspace(0.0, 12.0, 2401)
    values = flux(edges)
    assert values.shape == (2400,) and np.all(values >= 0) and values[60:100].sum() > 0
    with pytest.raises(ImportError, match="fallback"):
        model_photon_flux("powerlaw", [2.0, 1.0])
