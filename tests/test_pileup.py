"""Pile-up: the simulator's frame merging, the excision radius and the recovered rate.

Truths: hand-built frames for the merging rules; the injected count rate of simulated piled-up
sources (xrtflow.simulate.pileup) for the excision and the correction; the King profile with the
CALDB coefficients (Moretti et al. 2005) for the annulus ARF factor.
"""

from __future__ import annotations

import numpy as np
import pytest

from xrtflow.products.pileup import (
    PILEUP_THRESHOLD,
    annulus_arf_factor,
    assess_pileup,
    excision_radius,
    radial_profile,
)
from xrtflow.simulate.pileup import pile_up, simulate_piled_source


def test_pile_up_rules_hand_built_frames():
    rows = [
        # (time, x, y, pi, grade)
        (1.0, 10, 10, 100, 0),  # + the next: side by side -> one event, PI 150, grade 5-8
        (1.0, 11, 10, 50, 0),
        (1.0, 30, 30, 80, 0),  # + the next: same pixel -> PI 100, grade kept (2)
        (1.0, 30, 30, 20, 2),
        (1.0, 50, 50, 60, 0),  # + the next: corners touch -> grade 1-4
        (1.0, 51, 51, 70, 0),
        (1.0, 70, 70, 10, 0),  # three in a row: larger than 2x2 -> grade > 12, rejected
        (1.0, 71, 70, 10, 0),
        (1.0, 72, 70, 10, 0),
        (1.0, 90, 90, 40, 0),  # two pixels apart: not merged
        (1.0, 92, 90, 40, 0),
        (1.0, 110, 110, 900, 0),  # sum 1400 > 1023: rejected
        (1.0, 110, 111, 500, 0),
        (3.5, 11, 11, 33, 0),  # next frame, next to (10, 10): not merged
    ]
    t, x, y, pi, g = (np.array(c) for c in zip(*rows, strict=True))
    events = {"TIME": t, "RAWX": x, "RAWY": y, "PI": pi, "GRADE": g, "ID": np.arange(t.size)}
    out, stats = pile_up(events, np.random.default_rng(0))
    got = {
        int(i): (int(p), int(gr))
        for i, p, gr in zip(out["ID"], out["PI"], out["GRADE"], strict=True)
    }
    assert set(got) == {0, 2, 5, 9, 10, 13}  # the brightest photon carries a merged event
    assert got[0][0] == 150 and 5 <= got[0][1] <= 8
    assert got[2] == (100, 2)
    assert got[5][0] == 130 and 1 <= got[5][1] <= 4
    assert got[9] == (40, 0) and got[10] == (40, 0) and got[13] == (33, 0)
    assert stats.n_photons == 14 and stats.n_events == 6
    assert stats.n_merged_events == 5 and stats.n_photons_merged == 11
    assert stats.n_rejected_grade == 1 and stats.n_rejected_pi == 1
    assert np.all(np.diff(out["TIME"]) >= 0)


def test_piled_source_loses_and_hardens_the_core():
    s = simulate_piled_source(4.0, 2000, np.random.default_rng(3))
    assert s.stats.n_events < 0.85 * s.stats.n_photons  # ~25% lost at 4 count/s
    assert s.events["GRADE"].max() <= 12
    core = np.hypot(s.events["X"] - s.center[0], s.events["Y"] - s.center[1]) < 2
    core_ph = np.hypot(s.photons["X"] - s.center[0], s.photons["Y"] - s.center[1]) < 2
    assert s.events["PI"][core].mean() > 1.2 * s.photons["PI"][core_ph].mean()
    # the wings are untouched (beyond 12 pixels the same events)
    far = np.hypot(s.events["X"] - s.center[0], s.events["Y"] - s.center[1]) >= 12
    far_ph = np.hypot(s.photons["X"] - s.center[0], s.photons["Y"] - s.center[1]) >= 12
    assert abs(far.sum() - far_ph.sum()) <= 0.005 * far_ph.sum()


def _band(ev):
    return (ev["PI"] >= 30) & (ev["PI"] <= 999)


def test_excision_radius_and_recovered_rate():
    """4 count/s (UKSSDC would excise): the annulus rate recovers the injected rate."""
    inside, rows = 0, []
    for seed in range(21, 27):  # seeds not used to choose the excision settings (1-14)
        s = simulate_piled_source(4.0, 3000, np.random.default_rng(seed))
        b = _band(s.events)
        a = assess_pileup(s.events["X"][b], s.events["Y"][b], s.center, s.exposure)
        truth = s.injected_rate_band
        lo, hi = a.corrected_rate_interval
        rows.append((seed, a.r_in, a.corrected_rate, lo, hi, truth))
        assert a.piled and a.measured_rate > PILEUP_THRESHOLD["PC"]
        assert 3 <= a.r_in <= 12  # pixels (7-28"): the core is excised, the wings are kept
        assert abs(a.corrected_rate / truth - 1) < 0.05
        assert abs(a.profile_rate / truth - 1) < 0.05
        inside += lo <= truth <= hi
        # without the excision the measured rate is far below the truth (pile-up matters)
        c = assess_pileup(
            s.events["X"][b], s.events["Y"][b], s.center, s.exposure, threshold=np.inf
        )
        assert c.r_in == 0 and c.corrected_rate_interval[1] < 0.85 * truth
        # the same photons without pile-up: nothing to excise
        p = _band(s.photons)
        prof = radial_profile(s.photons["X"][p], s.photons["Y"][p], s.center, s.exposure)
        assert excision_radius(prof)[0].r_in <= 1
    assert inside >= 5, rows  # 90% intervals: 5 or 6 of 6


def test_faint_source_is_not_excised():
    s = simulate_piled_source(0.3, 3000, np.random.default_rng(5))
    b = _band(s.events)
    a = assess_pileup(s.events["X"][b], s.events["Y"][b], s.center, s.exposure)
    assert not a.piled and a.r_in == 0 and a.measured_rate < 0.6
    lo, hi = a.corrected_rate_interval
    assert lo <= s.injected_rate_band <= hi
    wt = assess_pileup(s.events["X"][b], s.events["Y"][b], s.center, s.exposure, mode="WT")
    assert wt.threshold == 100.0
    with pytest.raises(ValueError, match="PC and WT"):
        assess_pileup(s.events["X"], s.events["Y"], s.center, s.exposure, mode="PD")


def test_annulus_arf_factor_is_the_king_annulus():
    # King profile, CALDB swxpsf20010101v004 at 1.5 keV on axis (rc in 2.357" pixels)
    rc = (2.34732 - 8.40089e-04 * 1.5) * 2.357 / 60
    beta = 1.52877 - 2.94131e-04 * 1.5

    def enclosed(r):
        return 1 - (1 + (r / rc) ** 2) ** (1 - beta)

    r_in, r_out = 6 * 2.357 / 60, 30 * 2.357 / 60
    expected = (enclosed(r_out) - enclosed(r_in)) / enclosed(r_out)
    got = annulus_arf_factor(np.array([1.5]), r_in, r_out, 0.0)
    np.testing.assert_allclose(got, expected, rtol=2e-4)
    np.testing.assert_allclose(annulus_arf_factor(np.array([1.0, 5.0]), 0.0, r_out, 0.0), 1.0)


SHARED = __import__("pathlib").Path(__file__).resolve().parents[1].parent / "shared"


@pytest.mark.parametrize("obsid", ["00031940101", "00031940102", "00031940103"])
def test_no_excision_without_pile_up_on_reference_event_files(obsid):
    """HEASoft reference simulations (T Pyx-like, ~0.6-0.7 count/s, no pile-up simulated, with
    attitude jitter, roll and off-axis PSF): above or near the threshold, but nothing to excise."""
    from xrtflow.products.events import read_events
    from xrtflow.products.pileup import assess_pileup_events, excision_region

    path = SHARED / "reference" / "heasoft-products" / obsid / f"sw{obsid}xpcw3po_cl.evt.gz"
    if not path.is_file():
        pytest.skip("../shared is not available")
    ra, dec = 136.17292778, -32.37986565
    offaxis = {"00031940101": 1.0, "00031940102": 5.0, "00031940103": 8.0}[obsid]
    a = assess_pileup_events(read_events(path), ra, dec, offaxis_arcmin=offaxis)
    assert a.mode == "PC" and 0.5 < a.measured_rate < 0.8
    assert a.r_in == 0.0
    assert excision_region(ra, dec, a).strip().endswith('circle(136.17292778,-32.37986565,180.00")')
    # forced analysis: the zone test (10% one-sided) may excise a few pixels on a fluctuation
    # (obsid ...103: rings 1-4 px 2 sigma low), but without pile-up the flux does not change
    forced = assess_pileup_events(read_events(path), ra, dec, offaxis_arcmin=offaxis, threshold=0)
    assert forced.piled and forced.r_in <= 4.0
    lo, hi = forced.corrected_rate_interval
    assert lo <= a.corrected_rate <= hi


def test_write_excised_arf(tmp_path):
    from astropy.io import fits

    from xrtflow.calibration import psf_encircled_fraction
    from xrtflow.products.pileup import write_excised_arf
    from xrtflow.simulate.response import SyntheticResponse, write_arf

    circle = write_arf(SyntheticResponse.build(), tmp_path / "circle.arf")
    r_in, r_out = 14.14 / 60, 70.7 / 60  # arcmin
    out = write_excised_arf(circle, tmp_path / "annulus.arf", r_in, r_out, 2.0)
    with fits.open(circle) as a, fits.open(out) as b:
        e = 0.5 * (a["SPECRESP"].data["ENERG_LO"] + a["SPECRESP"].data["ENERG_HI"])
        ratio = b["SPECRESP"].data["SPECRESP"] / np.where(
            a["SPECRESP"].data["SPECRESP"] > 0, a["SPECRESP"].data["SPECRESP"], np.nan
        )
        # King profile: (F(r_out) - F(r_in)) / F(r_out) at every energy
        f_in, f_out = psf_encircled_fraction(r_in, e, 2.0), psf_encircled_fraction(r_out, e, 2.0)
        ok = np.isfinite(ratio)
        np.testing.assert_allclose(ratio[ok], ((f_out - f_in) / f_out)[ok], rtol=1e-5)
        assert (
            b["SPECRESP"].header["PILEUP"] and abs(b["SPECRESP"].header["EXCL_RIN"] - 14.14) < 1e-9
        )
