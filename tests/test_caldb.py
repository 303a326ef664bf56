"""Tests of the CALDB lookup (xrtflow.caldb), the demo CALDB files and xrtflow.calibration."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.time import Time
from scipy import integrate

from xrtflow import calibration
from xrtflow.caldb import Caldb, CaldbError
from xrtflow.simulate.response import (
    ARF_NAME,
    CALDB_DIRS,
    RMF_NAME,
    SyntheticResponse,
    write_caldb,
    write_caldb_index,
)

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
CALIB = SHARED / "data" / "swift-xrt" / "calib"


@pytest.fixture(scope="module")
def caldb_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("caldb")
    write_caldb(root)
    return root


def test_lookup_finds_files(caldb_root):
    cal = Caldb(caldb_root)
    date = Time(55810.0, format="mjd")
    rmf = cal.rmf(datamode="PC", grades="0:12", date=date)
    assert rmf.name == RMF_NAME and rmf.is_file()
    assert cal.rmf(datamode="photon", grades="G0:12", date="2011-09-01", xrtvsub=6) == rmf
    assert cal.arf(datamode="PC", grades="0:12", date=date).name == ARF_NAME
    assert cal.psf().is_file() and cal.vignetting().is_file()
    assert "swxpsf" in cal.psf().name and "swxvign" in cal.vignetting().name


def test_lookup_errors(caldb_root, tmp_path, monkeypatch):
    cal = Caldb(caldb_root)
    with pytest.raises(CaldbError, match=r"MATRIX.*WINDOWED.*caldb\.indx"):
        cal.rmf(datamode="WT")
    with pytest.raises(CaldbError, match="G0:2"):
        cal.rmf(grades="0:2")
    with pytest.raises(CaldbError, match="2000-01-01"):
        cal.rmf(date="2000-01-01")
    with pytest.raises(CaldbError, match="unknown XRT data mode"):
        cal.rmf(datamode="XX")
    with pytest.raises(CaldbError, match="index not found"):
        Caldb(tmp_path)
    monkeypatch.delenv("CALDB", raising=False)
    with pytest.raises(CaldbError, match=r"\$CALDB"):
        Caldb()
    monkeypatch.setenv("CALDB", str(caldb_root))
    assert Caldb().root == caldb_root


def test_lookup_picks_latest_valid(tmp_path):
    d = CALDB_DIRS["rmf"]
    for name in ("a.rmf", "b.rmf", "c.rmf"):
        (tmp_path / d).mkdir(parents=True, exist_ok=True)
        (tmp_path / d / name).write_bytes(b"")
    cbd = ["DATAMODE(PHOTON)", "GRADE(G0:12)"]
    entries = [
        dict(dir=d, file="a.rmf", cls="CPF", cnam="MATRIX", cbd=cbd, desc="a"),
        dict(dir=d, file="b.rmf", cls="CPF", cnam="MATRIX", cbd=cbd, desc="b"),
        dict(dir=d, file="c.rmf", cls="CPF", cnam="MATRIX", cbd=["DATAMODE(WINDOWED)"], desc="c"),
    ]
    index = write_caldb_index(tmp_path, entries)
    with fits.open(index, mode="update") as hdul:
        hdul[1].data["CAL_VSD"][1] = "2010-01-01"
    cal = Caldb(tmp_path)
    assert cal.rmf(date="2009-06-01").name == "a.rmf"
    assert cal.rmf(date="2011-06-01").name == "b.rmf"
    assert cal.rmf(datamode="WT", date="2011-06-01").name == "c.rmf"


def test_demo_response_files(caldb_root):
    cal = Caldb(caldb_root)
    with fits.open(cal.rmf(), checksum=True) as rmf:
        m = rmf["MATRIX"]
        h = m.header
        assert h["HDUCLASS"] == "OGIP" and h["HDUCLAS1"] == "RESPONSE"
        assert h["HDUCLAS2"] == "RSP_MATRIX" and h["HDUVERS"] == "1.3.0"
        assert h["CHANTYPE"] == "PI" and h["DETCHANS"] == 1024 and h["TLMIN4"] == 0
        assert "SIMULATED" in h["CDES0001"] and "SIMULATED" in str(h["COMMENT"])
        assert len(m.data) == 2400
        assert m.data["ENERG_LO"][0] == 0 and m.data["ENERG_HI"][-1] == pytest.approx(12.0)
        eb = rmf["EBOUNDS"].data
        assert len(eb) == 1024 and eb["E_MIN"][100] == pytest.approx(1.0)
        sums = np.array([row.sum() for row in m.data["MATRIX"]])
        assert np.all(sums <= 1.0 + 1e-5) and np.all(sums[60:] > 0.99)
    with fits.open(cal.arf(), checksum=True) as arf:
        a = arf["SPECRESP"]
        assert a.header["HDUCLAS2"] == "SPECRESP"
        e = 0.5 * (a.data["ENERG_LO"] + a.data["ENERG_HI"])
        area = a.data["SPECRESP"]
        assert 110 <= area.max() <= 130 and 1.0 < e[np.argmax(area)] < 2.0
        assert area[np.argmin(np.abs(e - 0.3))] < area[np.argmin(np.abs(e - 0.5))]


def test_resolution_and_line_position():
    resp = SyntheticResponse.build()
    e = 0.5 * (resp.energ_lo + resp.energ_hi)
    ch = 0.5 * (resp.e_min + resp.e_max)
    for energy, fwhm in ((0.5, 0.086), (6.0, 0.152)):
        row = resp.matrix[np.argmin(np.abs(e - energy))].astype(float)
        peak = ch[np.argmax(row)]
        assert abs(peak - energy) < 0.011
        above = ch[row > row.max() / 2]
        assert above.max() - above.min() == pytest.approx(fwhm, abs=0.021)


# --- calibration formulas ----------------------------------------------------------------------
def test_psf_normalisation_and_sampling():
    r = np.linspace(0, 30, 300001)  # arcmin
    prof = calibration.psf_profile(r, 1.5, 2.0)
    total = integrate.trapezoid(2 * np.pi * r * prof, r)
    assert total == pytest.approx(calibration.psf_encircled_fraction(30, 1.5, 2.0), rel=1e-4)
    assert calibration.psf_encircled_fraction(np.inf, 1.5, 2.0) == pytest.approx(1.0)
    # mixture with a Gaussian core integrates to 1 as well
    mixed = np.array(calibration.SWIFT_XRT_PSF.table)
    mixed[0, 0], mixed[1, 0] = 0.3, 2.0
    prof = calibration.psf_profile(r, 1.0, 0.0, mixed)
    cum = integrate.cumulative_trapezoid(2 * np.pi * r * prof, r, initial=0)
    assert np.allclose(
        cum[::10000], calibration.psf_encircled_fraction(r[::10000], 1.0, 0.0, mixed), atol=1e-4
    )
    rng = np.random.default_rng(1)
    for table in (None, mixed):
        samples = calibration.sample_psf_radius(np.full(20000, 1.0), 0.0, rng, table)
        for radius in (0.1, 0.3, 1.0):
            frac = np.mean(samples < radius)
            assert frac == pytest.approx(
                calibration.psf_encircled_fraction(radius, 1.0, 0.0, table), abs=0.012
            )


def test_psf_swift_values():
    # half-energy width ~18" and ~90% within 20 pixels (47") at 1.5 keV on axis
    r = np.linspace(1, 60, 5900) / 60
    eef = calibration.psf_encircled_fraction(r, 1.5, 0.0)
    hew = 2 * r[np.searchsorted(eef, 0.5)] * 60
    assert 16 < hew < 20
    assert calibration.psf_encircled_fraction(
        20 * calibration.PIXEL_ARCMIN, 1.5, 0.0
    ) == pytest.approx(0.9, abs=0.02)


def test_vignetting():
    assert calibration.vignetting(1.5, 0.0) == 1.0
    v = calibration.vignetting(np.array([1.0, 5.0]), 10.0)
    assert 0.6 < v[1] < v[0] < 0.9
    assert np.all(calibration.vignetting(1.0, np.linspace(0, 12, 13)) <= 1)


@pytest.mark.skipif(not CALIB.is_dir(), reason="shared Swift-XRT calibration files not available")
def test_coefficients_match_real_caldb(caldb_root):
    psf = calibration.read_psf_coefficients(CALIB / "psfconst_xrt.fits")
    assert np.allclose(psf.as_array(), calibration.SWIFT_XRT_PSF.as_array(), rtol=1e-6, atol=1e-12)
    vig = calibration.read_vignetting_coefficients(CALIB / "vignconst_xrt.fits")
    ref = calibration.SWIFT_XRT_VIGNETTING
    assert (vig.par0, vig.par1, vig.par2) == pytest.approx((ref.par0, ref.par1, ref.par2), rel=1e-6)
    # formulas through the real files == through our CALDB copies
    cal = Caldb(caldb_root)
    ours = calibration.read_psf_coefficients(cal.psf())
    r = np.array([0.1, 0.33, 1.0, 2.5])
    for e, theta in ((0.5, 0.0), (1.5, 3.0), (6.0, 8.0)):
        assert np.allclose(
            calibration.psf_encircled_fraction(r, e, theta, psf),
            calibration.psf_encircled_fraction(r, e, theta, ours),
        )
        assert np.allclose(
            calibration.psf_profile(r, e, theta, psf), calibration.psf_profile(r, e, theta, ours)
        )
        assert calibration.vignetting(e, theta, vig) == pytest.approx(
            calibration.vignetting(
                e, theta, calibration.read_vignetting_coefficients(cal.vignetting())
            )
        )
