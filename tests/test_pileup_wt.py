"""WT-mode pile-up: line-spread function, 1-D excision, recovered rate vs the injected one."""

from __future__ import annotations

import numpy as np
from scipy import integrate

from xrtflow.calibration import PIXEL_ARCMIN, psf_profile
from xrtflow.products.pileup import excision_radius
from xrtflow.products.pileup_wt import assess_pileup_wt, king_line_spread, wt_profile
from xrtflow.simulate.wt import simulate_wt_source


def test_line_spread_is_the_projected_king_psf():
    assert abs(integrate.quad(king_line_spread, -np.inf, np.inf)[0] - 1) < 1e-9
    for x in (0.0, 2.0, 10.0, 40.0):
        projected = integrate.quad(
            lambda y, x=x: psf_profile(np.hypot(x, y) * PIXEL_ARCMIN, 1.5, 0.0) * PIXEL_ARCMIN**2,
            -np.inf,
            np.inf,
        )[0]
        np.testing.assert_allclose(king_line_spread(x), projected, rtol=1e-7)


def _band(ev):
    return (ev["PI"] >= 30) & (ev["PI"] <= 999)


def test_wt_excision_recovers_injected_rate():
    inside = 0
    for seed in range(11, 17):
        s = simulate_wt_source(300.0, 200, np.random.default_rng(seed))
        assert 0.03 < 1 - s.stats.n_events / s.stats.n_photons < 0.08  # ~5% lost at 300 count/s
        b = _band(s.events)
        a = assess_pileup_wt(s.events["RAWX"][b], s.center, s.exposure)
        truth = s.injected_rate_band
        assert a.piled and a.mode == "WT" and 1 <= a.r_in <= 10
        assert abs(a.corrected_rate / truth - 1) < 0.04
        lo, hi = a.corrected_rate_interval
        inside += lo <= truth <= hi
        raw = assess_pileup_wt(s.events["RAWX"][b], s.center, s.exposure, threshold=np.inf)
        assert raw.r_in == 0 and raw.corrected_rate_interval[1] < truth  # pile-up matters
        # without pile-up the excision is small (the zone test sometimes takes a few columns
        # on the ~20000-count core; the flux is unaffected)
        p = _band(s.photons)
        prof = wt_profile(s.photons["RAWX"][p], s.center, s.exposure)
        assert excision_radius(prof, max_r_in=10)[0].r_in <= 4
    assert inside >= 4  # 90% intervals


def test_wt_below_threshold_is_not_excised():
    s = simulate_wt_source(40.0, 200, np.random.default_rng(3))
    b = _band(s.events)
    a = assess_pileup_wt(s.events["RAWX"][b], s.center, s.exposure)
    assert a.threshold == 100.0 and not a.piled and a.r_in == 0
    assert abs(a.corrected_rate / s.injected_rate_band - 1) < 0.03
