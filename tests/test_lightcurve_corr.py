"""Corrected light curves (xrtlccorr-like) against injected rates and published formulas.

Truths: exact Poisson confidence limits (chi^2 quantiles) for Gehrels (1986) eqs. 7 and 11; the
King PSF (CALDB coefficients) integrated numerically for the exposed PSF fraction; the injected
per-snapshot rates of xrtflow.simulate.lightcurve (a bad column through the source in snapshot 2).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate
from scipy.stats import chi2

from xrtflow.calibration import PIXEL_ARCMIN, psf_encircled_fraction, psf_profile
from xrtflow.products.expomap import instrument_map
from xrtflow.products.lightcurve_corr import (
    band_channels,
    combine_light_curves,
    corrected_light_curve,
    exposed_psf_fraction,
    gehrels_limits,
    light_curve_bins,
    psf_fraction_per_bin,
    snapshots,
)
from xrtflow.simulate.lightcurve import simulate_snapshots

CL = 0.8413  # Gehrels' 1-sigma confidence level


def test_gehrels_limits_match_exact_poisson():
    n = np.array([0, 1, 2, 3, 5, 10, 30, 100, 1000])
    lo, hi = gehrels_limits(n)
    exact_hi = 0.5 * chi2.ppf(CL, 2 * (n + 1))
    exact_lo = np.where(n > 0, 0.5 * chi2.ppf(1 - CL, 2 * np.maximum(n, 1)), 0.0)
    np.testing.assert_allclose(hi, exact_hi, rtol=0.015)  # Gehrels: eq. 7 within ~1.4%
    np.testing.assert_allclose(lo[1:], exact_lo[1:], rtol=0.015)
    assert lo[0] == 0.0
    # the table values of Gehrels (1986) for n = 0, 1, 10 (upper 1.841, 3.300, 14.27)
    np.testing.assert_allclose(hi[[0, 1, 5]], [1.841, 3.300, 14.27], rtol=0.015)


def test_bins_and_snapshots():
    gti = np.array([[100.0, 150.0], [160.0, 205.0], [6000.0, 6030.0]])
    np.testing.assert_array_equal(snapshots(gti), [[100.0, 205.0], [6000.0, 6030.0]])
    t = light_curve_bins(gti, "time", 20.0)
    assert t[0, 0] == 100.0 and np.all(np.diff(t, axis=1) == 20.0)
    assert [140.0, 160.0] in t.tolist() and [200.0, 220.0] in t.tolist()
    assert not any(a >= 220.0 and b <= 6000.0 for a, b in t)  # no bin in the gap
    np.testing.assert_array_equal(light_curve_bins(gti, "obsid"), [[100.0, 6030.0]])
    with pytest.raises(ValueError, match="snapshot"):
        light_curve_bins(gti, "orbit")


def test_exposed_psf_fraction_against_king_integrals():
    center, r_out = (500.3, 499.6), 30.0

    def identity(x, y):
        return x - 200.0, y - 200.0  # sky pixel -> detector pixel (a plain shift)

    def all_good(ix, iy):
        return np.ones(ix.shape, bool)

    f = exposed_psf_fraction(center, 0.0, r_out, identity, all_good)
    analytic = float(psf_encircled_fraction(r_out * PIXEL_ARCMIN, 1.5, 0.0))
    assert abs(f / analytic - 1) < 3e-3
    # a bad detector column under the source: the PSF in the strip |x - column| < 0.5 pixel
    col = int(np.floor(center[0] - 200.0 + 0.5))

    def column_bad(ix, iy):
        return ix != col

    f_bad = exposed_psf_fraction(center, 0.0, r_out, identity, column_bad)
    x0 = col - 0.5 - (center[0] - 200.0)

    def strip_density(y, x):
        return psf_profile(np.hypot(x, y) * PIXEL_ARCMIN, 1.5, 0.0) * PIXEL_ARCMIN**2

    lost, _ = integrate.dblquad(strip_density, x0, x0 + 1.0, -r_out, r_out, epsabs=1e-7)
    assert abs((f - f_bad) / lost - 1) < 0.03


@pytest.fixture(scope="module")
def sim():
    return simulate_snapshots([3.0, 2.0, 1.5], [1500, 1500, 1500], np.random.default_rng(5))


def _light_curve(sim, mode, binsize=250.0, obsid="00012345001"):
    ev = sim.events
    r = np.hypot(ev["X"] - sim.center[0], ev["Y"] - sim.center[1])
    r_out = 30.0
    src, bkg = r < r_out, (r >= 60) & (r < 140)
    gx, gy = np.meshgrid(np.arange(300, 701), np.arange(300, 701), indexing="ij")
    rp = np.hypot(gx - sim.center[0], gy - sim.center[1])
    ratio = (rp < r_out).sum() / ((rp >= 60) & (rp < 140)).sum()
    rec = np.zeros(sim.bad_columns.size, dtype=[("RAWX", "i4"), ("RAWY", "i4"), ("YEXTENT", "i4")])
    rec["RAWX"], rec["YEXTENT"] = sim.bad_columns, 600
    imap = instrument_map(rec, apply_vignetting=False)
    bins = light_curve_bins(sim.gti, mode, binsize)
    att = sim.attitude
    f = psf_fraction_per_bin(
        bins,
        sim.gti,
        att["TIME"],
        att["RA"],
        att["DEC"],
        att["ROLL"],
        sim.wcs,
        sim.center,
        imap,
        0.0,
        r_out,
    )
    return corrected_light_curve(
        ev["TIME"], ev["PI"], src, bkg, sim.gti, ratio, bins, f, obsid=obsid
    )


def _z(rate, lo, hi, truth):
    return np.where(rate > truth, (rate - truth) / lo, (rate - truth) / hi)


BANDS = (("0.3-10", 0.3, 10.0), ("0.3-1.5", 0.3, 1.5), ("1.5-10", 1.5, 10.0))


def test_snapshot_rates_recover_injected(sim):
    lc = _light_curve(sim, "snapshot")
    assert len(lc) == 3 and sim.bad_columns.size == 1
    # the bad column crosses the source in snapshot 2 only: a larger correction there
    assert lc["CORR"][1] > 1.12 * max(lc["CORR"][0], lc["CORR"][2])
    for name, lo, hi in BANDS:
        truth = sim.band_rates(*band_channels(lo, hi))
        rate = lc[f"RATE_{name}"]
        z = _z(rate, lc[f"ERR_LO_{name}"], lc[f"ERR_HI_{name}"], truth)
        assert np.all(np.abs(z) < 3), (name, rate, truth, z)
    # without the correction, snapshot 2 of the full band falls far below the truth
    truth = sim.band_rates(30, 999)
    raw = lc["RATE_0.3-10"] / lc["CORR"]
    assert (truth[1] - raw[1]) / lc["ERR_HI_0.3-10"][1] * lc["CORR"][1] > 4


def test_time_binned_rates_and_hardness(sim):
    lc = _light_curve(sim, "time", 250.0)
    snap = np.searchsorted(sim.gti[:, 0], lc["TIME"], side="right") - 1
    for name, lo, hi in BANDS:
        truth = sim.band_rates(*band_channels(lo, hi))[snap]
        z = _z(lc[f"RATE_{name}"], lc[f"ERR_LO_{name}"], lc[f"ERR_HI_{name}"], truth)
        assert chi2.sf(np.sum(z**2), z.size) > 1e-3, (name, np.sum(z**2), z.size)
    whole = _light_curve(sim, "obsid")
    hr_truth = sim.band_rates(150, 999)[0] / sim.band_rates(30, 149)[0]
    hr = whole["HR"][0]
    err = whole["HR_ERR_LO"][0] if hr > hr_truth else whole["HR_ERR_HI"][0]
    assert abs(hr - hr_truth) < 3 * err


def test_light_curves_across_obsids(sim):
    a = _light_curve(sim, "snapshot", obsid="00012345001")
    later = simulate_snapshots([1.0], [800], np.random.default_rng(9), bad_column_snapshots=())
    later.gti = later.gti + 1e6
    later.attitude["TIME"] = later.attitude["TIME"] + 1e6
    later.events["TIME"] = later.events["TIME"] + 1e6
    b = _light_curve(later, "snapshot", obsid="00012345002")
    both = combine_light_curves([b, a])
    assert list(both["OBSID"]) == ["00012345001"] * 3 + ["00012345002"]
    assert np.all(np.diff(both["TIME"]) > 0)
    z = _z(
        both["RATE_0.3-10"][3],
        both["ERR_LO_0.3-10"][3],
        both["ERR_HI_0.3-10"][3],
        later.band_rates(30, 999)[0],
    )
    assert abs(z) < 3
