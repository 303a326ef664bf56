"""Unit tests of the xrtmkarf-like PSF fraction and ARF (xrtflow.products.psf / .arf).

Independent truths: the King profile integrated numerically from the CALDB v004 coefficients
(in ``xrtmkarf``'s 0.1' / 0.1 keV units), geometry (half-exposed plane, circle = inner circle +
annulus), astropy's angular separations, and linear interpolation.
"""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.wcs import WCS
from regions import CircleAnnulusSkyRegion, CircleSkyRegion

from xrtflow.calibration import PIXEL_ARCSEC, PIXEL_DEG, SWIFT_XRT_PSF, SWIFT_XRT_VIGNETTING
from xrtflow.products.arf import make_arf, psf_fraction, xrtmkarf_offaxis
from xrtflow.products.psf import optical_axis_sky

RA0, DEC0 = 136.0, -32.0
SHAPE = (1000, 1000)


def _wcs() -> WCS:
    w = WCS(naxis=2)
    w.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    w.wcs.crval = [RA0, DEC0]
    w.wcs.crpix = [500.5, 500.5]
    w.wcs.cdelt = [-PIXEL_DEG, PIXEL_DEG]
    return w


def _source(dx_pix: float, dy_pix: float) -> SkyCoord:
    return _wcs().pixel_to_world(499.5 + dx_pix, 499.5 + dy_pix)


def _king_fraction(r_in_pix: float, r_out_pix: float, energy: float, theta: float) -> float:
    """Numerical integral of the v004 King profile (xrtmkarf units) between two radii."""
    c = SWIFT_XRT_PSF.as_array()
    t, e = theta / 0.1, energy / 0.1
    rc = c[2, 0] + c[2, 1] * t + c[2, 2] * e + c[2, 3] * t * e
    beta = c[3, 0] + c[3, 1] * t + c[3, 2] * e + c[3, 3] * t * e
    r = np.linspace(0.0, 20000.0, 2_000_001)
    prof = (1 + (r / rc) ** 2) ** (-beta) * 2 * np.pi * r
    total = np.pi * rc**2 / (beta - 1)
    inside = (r >= r_in_pix) & (r <= r_out_pix)
    return float(np.trapezoid(np.where(inside, prof, 0.0), r) / total)


def test_large_circle_flat_map_is_the_encircled_king_fraction():
    wcs, src = _wcs(), _source(0.3, -0.2)
    radius_pix = 76.36
    region = CircleSkyRegion(src, radius=radius_pix * PIXEL_ARCSEC * u.arcsec)
    for energy, theta in ((1.5, 1.0), (6.0, 8.0), (9.0, 9.5)):
        got = psf_fraction(region, wcs, SHAPE, energy, theta)
        # the one-pixel rings blur the edge: ~1e-3 of the fraction
        assert got == pytest.approx(_king_fraction(0, radius_pix, energy, theta), rel=2e-3)
    # xrtmkarf's units: at 9.5' and 9 keV the PSF is much narrower than in arcmin/keV units
    assert psf_fraction(region, wcs, SHAPE, 9.0, 9.5) > psf_fraction(region, wcs, SHAPE, 9.0, 0.0)


def test_half_exposed_region_counts_half_the_psf():
    # source on the boundary between two pixel columns: the plane splits into mirror halves
    wcs, src = _wcs(), _source(0.0, 0.11)
    region = CircleSkyRegion(src, radius=180 * u.arcsec)
    expo = np.full(SHAPE, 1000.0)
    sx, _ = wcs.world_to_pixel(src)
    cut = int(round(float(sx) + 0.5))
    expo[:, :cut] = 0.0  # columns left of the source: no exposure
    energies = np.array([0.5, 1.5, 5.0])
    full = psf_fraction(region, wcs, SHAPE, energies, 5.0)
    half = psf_fraction(region, wcs, SHAPE, energies, 5.0, expomap=expo)
    np.testing.assert_allclose(half / full, 0.5, rtol=1e-5)
    # a bad column next to the source costs ~15% (half of the two innermost rings), and the
    # weights are relative to the map maximum (a scaled map gives the same fraction)
    expo = np.full(SHAPE, 1000.0)
    expo[:, cut] = 0.0
    col = psf_fraction(region, wcs, SHAPE, 1.5, 5.0, expomap=expo)
    assert 0.75 * full[1] < col < 0.95 * full[1]
    assert psf_fraction(region, wcs, SHAPE, 1.5, 5.0, expomap=0.5 * expo) == pytest.approx(col)


def test_circle_is_inner_circle_plus_annulus():
    wcs, src = _wcs(), _source(-0.41, 0.23)
    expo = np.full(SHAPE, 500.0)
    expo[480:520, 450:470] = 0.0  # a hole near the core
    outer = CircleSkyRegion(src, radius=180 * u.arcsec)
    inner = CircleSkyRegion(src, radius=20 * u.arcsec)
    annulus = CircleAnnulusSkyRegion(src, inner_radius=20 * u.arcsec, outer_radius=180 * u.arcsec)
    e = np.array([1.0, 3.0, 7.0])
    parts = [psf_fraction(r, wcs, SHAPE, e, 3.0, expomap=expo) for r in (inner, annulus, outer)]
    np.testing.assert_allclose(parts[0] + parts[1], parts[2], rtol=1e-12)
    # the annulus of a pile-up excision: close to the analytic King fraction between the radii
    flat = psf_fraction(annulus, wcs, SHAPE, 1.5, 3.0)
    r1, r2 = 20 / PIXEL_ARCSEC, 180 / PIXEL_ARCSEC
    assert flat == pytest.approx(_king_fraction(r1, r2, 1.5, 3.0), rel=1e-2)


def test_offaxis_from_nominal_pointing():
    wcs = _wcs()
    assert optical_axis_sky(RA0, DEC0, RA0, DEC0) == (500.5, 500.5)
    src = _source(120.0, -170.0)
    pnt = (RA0 + 0.02, DEC0 - 0.03)
    theta, axis = xrtmkarf_offaxis(src, wcs, pnt)
    # the optical axis pixel is the pointing through the (TAN) sky WCS to ~0.01 pixel
    ax, ay = wcs.world_to_pixel(SkyCoord(pnt[0] * u.deg, pnt[1] * u.deg))
    assert axis == pytest.approx((float(ax) + 1, float(ay) + 1), abs=0.01)
    sep = src.separation(SkyCoord(pnt[0] * u.deg, pnt[1] * u.deg)).to_value(u.arcsec)
    assert theta == pytest.approx(sep / PIXEL_ARCSEC * 2.36 / 60, rel=1e-4)


def _arf_file(path, elo, ehi, area):
    cols = [
        fits.Column("ENERG_LO", "E", array=elo),
        fits.Column("ENERG_HI", "E", array=ehi),
        fits.Column("SPECRESP", "E", array=area),
    ]
    fits.HDUList([fits.PrimaryHDU(), fits.BinTableHDU.from_columns(cols, name="SPECRESP")]).writeto(
        path
    )
    return path


def test_make_arf_grid_vignetting_and_vignapp(tmp_path):
    e = np.linspace(0.2, 10.0, 99)
    elo, ehi = e[:-1], e[1:]
    area = 100.0 + 10.0 * np.arange(len(elo))
    onaxis = _arf_file(tmp_path / "on.arf", elo, ehi, area)
    # RMF grid shifted by half a bin: linear interpolation gives the mean of the neighbours
    shift = 0.5 * (e[1] - e[0])
    rmf_lo, rmf_hi = elo[:-1] + shift, ehi[:-1] + shift
    cols = [fits.Column("ENERG_LO", "E", array=rmf_lo), fits.Column("ENERG_HI", "E", array=rmf_hi)]
    rmf = tmp_path / "x.rmf"
    fits.HDUList([fits.PrimaryHDU(), fits.BinTableHDU.from_columns(cols, name="MATRIX")]).writeto(
        rmf
    )
    wcs, src = _wcs(), _source(150.0, 60.0)
    region = CircleSkyRegion(src, radius=180 * u.arcsec)
    pnt = (RA0, DEC0)
    lo, hi, arf, info = make_arf(onaxis, region, wcs, pnt, rmf=rmf, shape=SHAPE)
    np.testing.assert_allclose(lo, rmf_lo)
    emid = 0.5 * (lo + hi)
    theta = info["offaxis"]
    v = SWIFT_XRT_VIGNETTING
    vig = 1 - (v.par0 * v.par1**emid + v.par2) * theta**2
    psf = psf_fraction(region, wcs, SHAPE, emid, theta)
    expected_area = 0.5 * (area[:-1] + area[1:])
    np.testing.assert_allclose(arf, expected_area * vig * psf, rtol=1e-5)
    # a vignetted exposure map (VIGNAPP = T): the vignetting is not applied a second time
    _, _, arf_v, _ = make_arf(
        onaxis, region, wcs, pnt, expomap=np.ones(SHAPE), map_has_vignetting=True, rmf=rmf
    )
    np.testing.assert_allclose(arf_v, expected_area * psf, rtol=1e-5)
    assert info["bad_pixel_correction"] == pytest.approx(1.0)


def test_region_off_the_grid_is_a_clear_error():
    far = SkyCoord((RA0 + 5.0) * u.deg, DEC0 * u.deg)
    with pytest.raises(ValueError, match="holds no sky pixel"):
        psf_fraction(CircleSkyRegion(far, radius=180 * u.arcsec), _wcs(), SHAPE, 1.5, 1.0)
