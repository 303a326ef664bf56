"""The native ARF against HEASoft 6.20's ``xrtmkarf`` on the three reference ObsIDs.

Truth: ``../shared/reference/heasoft-products/<obsid>/xrtproducts/*sr.arf``, made by ``xrtmkarf``
0.6.3 (``psfflag=yes``, ``offaxis=-99``) from the same events, regions, exposure map and
calibration files (``calib/``), which these tests feed to the native code. Skipped where
``../shared`` is absent.
"""

from __future__ import annotations

from pathlib import Path

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.io import fits

from xrtflow.calibration import PIXEL_ARCSEC, read_psf_coefficients, read_vignetting_coefficients
from xrtflow.products.arf import make_arf
from xrtflow.products.events import read_events
from xrtflow.products.regions import read_region

REPO = Path(__file__).resolve().parents[1]
REF = REPO.parent / "shared" / "reference" / "heasoft-products"
OBSIDS = ["00031940101", "00031940102", "00031940103"]  # 1', 5', 8' off axis

pytestmark = pytest.mark.skipif(not REF.is_dir(), reason="../shared reference outputs absent")


def _ref_arf(obsid: str) -> np.ndarray:
    return fits.getdata(REF / obsid / "xrtproducts" / f"sw{obsid}xpcw3posr.arf", "SPECRESP")


def _worst(native: np.ndarray, ref: np.ndarray) -> tuple[float, float]:
    """Worst ratio native/HEASoft and its energy over the bins where the ARF > 1% of its peak."""
    area = np.asarray(ref["SPECRESP"], float)
    sel = area > 0.01 * area.max()
    ratio = native[sel] / area[sel]
    k = int(np.argmax(np.abs(ratio - 1.0)))
    emid = 0.5 * (ref["ENERG_LO"] + ref["ENERG_HI"])[sel]
    return float(ratio[k]), float(emid[k])


@pytest.mark.parametrize("obsid", OBSIDS)
def test_arf_within_1_percent_of_xrtmkarf(obsid):
    calib = REF / "calib"
    events = read_events(REF / obsid / f"sw{obsid}xpcw3po_cl.evt.gz")
    with fits.open(REF / obsid / f"sw{obsid}xpcw3po_ex.img.gz") as hdul:
        expo = hdul[0].data.astype(float)
        vignapp = bool(hdul[0].header["VIGNAPP"])
    elo, ehi, arf, info = make_arf(
        calib / "swxpc0to12s6_20010101v900.arf",
        read_region(REF / obsid / "src.reg"),
        events.wcs,
        (events.header["RA_PNT"], events.header["DEC_PNT"]),
        read_psf_coefficients(calib / "swxpsf20010101v004_pc.fits"),
        read_vignetting_coefficients(calib / "swxvign20010101v001.fits"),
        expomap=expo,
        map_has_vignetting=vignapp,
        rmf=calib / "swxpc0to12s6_20010101v900.rmf",
        shape=events.image_shape,
    )
    ref = _ref_arf(obsid)
    np.testing.assert_allclose(elo, ref["ENERG_LO"], rtol=1e-6)
    np.testing.assert_allclose(ehi, ref["ENERG_HI"], rtol=1e-6)
    ratio, energy = _worst(arf, ref)
    print(f"{obsid}: worst native/xrtmkarf = {ratio:.7f} at {energy:.3f} keV")
    assert abs(ratio - 1.0) < 0.01, f"{obsid}: native/xrtmkarf = {ratio} at {energy} keV"
    # the algorithm is xrtmkarf's, so the agreement is at single-precision level, not just 1%
    assert abs(ratio - 1.0) < 1e-4, f"{obsid}: native/xrtmkarf = {ratio} at {energy} keV"
    # xrtmkarf's off-axis angle: region centre to RA_PNT/DEC_PNT, in pixels of 2.36"
    # (independently: the angular separation in 2.357" sky pixels)
    region = read_region(REF / obsid / "src.reg")
    pnt = SkyCoord(events.header["RA_PNT"] * u.deg, events.header["DEC_PNT"] * u.deg)
    pix = region.center.separation(pnt).to_value(u.arcsec) / PIXEL_ARCSEC
    assert info["offaxis"] == pytest.approx(pix * 2.36 / 60.0, abs=1e-3)
    # the source position xrtmkarf writes (XRTSX/XRTSY, truncated) is the region centre
    header = fits.getheader(REF / obsid / "xrtproducts" / f"sw{obsid}xpcw3posr.arf", "SPECRESP")
    assert (int(info["src_x"]), int(info["src_y"])) == (header["XRTSX"], header["XRTSY"])


@pytest.mark.parametrize("obsid", [OBSIDS[0], OBSIDS[2]])
def test_native_products_stage_arf_matches_xrtmkarf(obsid, tmp_path):
    """The whole native products stage (regions, CALDB look-up, RMF grid, ARF keywords)."""
    from xrtflow.backends import native

    obs = REF / obsid
    config = {
        "mode": "PC",
        "caldb": str(REF / "sim_caldb"),
        "products": {"pilow": 30, "pihigh": 1000, "lc_binsize": 10.0},
    }
    out = native.products(
        obsid,
        obs / f"sw{obsid}xpcw3po_cl.evt.gz",
        obs / "src.reg",
        obs / "bkg.reg",
        obs / f"sw{obsid}xpcw3po_ex.img.gz",
        obs / f"sw{obsid}pat.fits.gz",
        obs / f"sw{obsid}xhd.hk.gz",
        tmp_path,
        config,
        tmp_path,
        None,
    )
    with fits.open(out["arf"]) as hdul:
        arf = np.asarray(hdul["SPECRESP"].data["SPECRESP"], float)
        header = hdul["SPECRESP"].header
    ratio, energy = _worst(arf, _ref_arf(obsid))
    assert abs(ratio - 1.0) < 0.01, f"{obsid}: native/xrtmkarf = {ratio} at {energy} keV"
    assert header["RESPFILE"] == Path(out["rmf"]).name
    assert 0.9 < header["PSFFR15"] < 1.0 and header["OFFAXIS"] > 0


@pytest.mark.parametrize("obsid", OBSIDS)
def test_native_expomap_reproduces_the_reference_input(obsid, tmp_path):
    """The reference exposure maps are the native backend's own (HEASoft used them as input).

    Only self-consistency: rebuilt from the same events and attitude (ATTFLAG 110 -> pat) they
    must be identical, so the xrtmkarf comparison above keeps describing the native chain.
    """
    from xrtflow.backends import native

    obs = REF / obsid
    config = {"mode": "PC", "caldb": str(REF / "sim_caldb")}
    path = native.expomap(
        obsid,
        obs / f"sw{obsid}xpcw3po_cl.evt.gz",
        obs / f"sw{obsid}pat.fits.gz",
        obs / f"sw{obsid}xhd.hk.gz",
        tmp_path,
        config,
        tmp_path,
        None,
    )
    with fits.open(path) as new, fits.open(obs / f"sw{obsid}xpcw3po_ex.img.gz") as ref:
        np.testing.assert_array_equal(new[0].data, ref[0].data)
        assert new[0].header["VIGNAPP"] is ref[0].header["VIGNAPP"] is False
        assert new[0].header["EXPOSURE"] == ref[0].header["EXPOSURE"]
