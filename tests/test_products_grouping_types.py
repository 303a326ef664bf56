"""ftgrouppha grouping types snmin, opt, optmin against their published definitions.

Truths: hand-computed cases; for ``opt`` the optimal bin width of Kaastra & Bleeker (2016, A&A
587, A151): delta/FWHM = 1 for x <= 2.119, else (0.08 + 7.0/x + 1.8/x^2) / (1 + 5.9/x), with
x = ln[N_r (1 + 0.2 ln R)], N_r the counts per resolution element and R the number of
resolution elements; and the synthetic RMF's own analytic FWHM (simulate.response).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from astropy.io import fits

from xrtflow.products.grouping import (
    compute_grouping,
    estimated_fwhm_per_channel,
    group_optimal,
    group_optimal_min,
    group_snmin,
    group_spectrum,
    optimal_bin_widths,
)


def _kb_delta_over_fwhm(n_r: float, r: float) -> float:
    """Kaastra & Bleeker (2016) optimal bin size in units of the FWHM (their eq. for delta)."""
    x = math.log(n_r * (1.0 + 0.2 * math.log(r)))
    if x <= 2.119:
        return 1.0
    return (0.08 + 7.0 / x + 1.8 / x**2) / (1.0 + 5.9 / x)


def _groups(grouping):
    starts = np.flatnonzero(np.asarray(grouping) == 1)
    return np.diff(np.append(starts, len(grouping)))


def test_snmin_without_background_hand_computed():
    # S/N = sqrt(S) >= 2 means 4 counts: [4] [0 9] [1 1 1 1]
    counts = np.array([4, 0, 9, 1, 1, 1, 1])
    grouping, bad = group_snmin(counts, 2.0)
    np.testing.assert_array_equal(grouping, [1, 1, -1, 1, -1, -1, -1])
    assert not bad.any()
    # one more count-less channel: a trailing group that never reaches S/N 2 is bad
    grouping, bad = group_snmin(np.append(counts, [1]), 2.0)
    np.testing.assert_array_equal(bad, [0] * 7 + [1])


def test_snmin_with_background_hand_computed():
    # r = 0.5; ch0: (10-2)/sqrt(10+1) = 2.41 < 2.5; ch0-1: (15-4)/sqrt(15+2) = 2.67 -> close;
    # ch2: 5/sqrt(5) = 2.24; ch2-3: 7/sqrt(7) = 2.65 -> close; ch4: 1/1 -> trailing, bad
    s = np.array([10, 5, 5, 2, 1])
    b = np.array([4, 4, 0, 0, 0])
    grouping, bad = group_snmin(s, 2.5, background=b, ratio=0.5)
    np.testing.assert_array_equal(grouping, [1, -1, 1, -1, 1])
    np.testing.assert_array_equal(bad, [0, 0, 0, 0, 1])
    # without the background subtraction ch0 alone has S/N sqrt(10) = 3.16 >= 2.5
    grouping, _ = group_snmin(s, 2.5)
    assert grouping[1] == 1


@pytest.mark.parametrize(
    ("per_channel", "expected_width"),
    [
        # FWHM 10 channels, 1000 channels: R = 1 + 1000/10 = 101; an interior channel's FWHM
        # window [i-5, i+5] holds 11 channels, N_r = 1.314 * 11 * c.
        # c = 100: x = ln(1445.4 * 1.923) = 7.93, delta/FWHM = 0.568 -> 5 channels
        (100.0, 5),
        # c = 1000: x = 10.23, delta/FWHM = 0.496 -> 4 channels
        (1000.0, 4),
        # c = 0.05: x = 0.33 <= 2.119 -> one FWHM, 10 channels
        (0.05, 10),
    ],
)
def test_opt_widths_follow_kaastra_bleeker(per_channel, expected_width):
    n, fwhm = 1000, 10.0
    counts = np.full(n, per_channel)
    n_r = 1.314 * 11 * per_channel
    delta = _kb_delta_over_fwhm(n_r, 1 + n / fwhm) * fwhm
    assert int(delta) == expected_width  # the hand computation above
    widths = optimal_bin_widths(np.full(n, fwhm), counts)
    assert np.all(widths[10:-10] == expected_width)
    sizes = _groups(group_optimal(np.full(n, fwhm), counts))
    assert np.all(sizes[1:-1] == expected_width)
    assert sizes.sum() == n and sizes[-1] <= expected_width + 1


def test_opt_varying_resolution_against_paper_formula():
    """Each group is no wider than the K&B width of any channel in it, and as wide as allowed."""
    rng = np.random.default_rng(4)
    n = 600
    fwhm = np.linspace(8.0, 30.0, n)  # a resolution degrading with channel, as for a CCD
    counts = rng.poisson(np.interp(np.arange(n), [0, 150, 600], [5, 400, 2])).astype(float)
    r = 1 + np.sum(1 / fwhm)
    widths = np.empty(n, dtype=int)
    for i in range(n):
        lo = max(0, math.floor(i - fwhm[i] / 2 + 0.5))
        hi = min(n - 1, math.floor(i + fwhm[i] / 2 + 0.5))
        n_r = 1.314 * counts[lo : hi + 1].sum()
        d = _kb_delta_over_fwhm(n_r, r) if n_r > 0 else 1.0
        widths[i] = max(1, int(d * fwhm[i]))
    np.testing.assert_array_equal(optimal_bin_widths(fwhm, counts), widths)
    grouping = group_optimal(fwhm, counts)
    starts = np.flatnonzero(grouping == 1)
    ends = np.append(starts[1:], n) - 1
    for s, e in zip(starts, ends, strict=True):
        k = np.arange(s, e + 1)
        allowed = min(n - 1, int(np.min(k + widths[k] - 1)))
        assert e == allowed  # greedy: as wide as every member channel permits


def test_optmin_hand_computed():
    # FWHM 10 and few counts: opt groups of 10 channels with 1, 1, 2, 0 counts;
    # optmin with 2 counts merges the first two, keeps the third, and the empty last one is bad
    counts = np.zeros(40)
    counts[[5, 15]] = 1
    counts[25] = 2
    fwhm = np.full(40, 10.0)
    np.testing.assert_array_equal(_groups(group_optimal(fwhm, counts)), [10, 10, 10, 10])
    grouping, bad = group_optimal_min(fwhm, counts, 2)
    expected = -np.ones(40, int)
    expected[[0, 20]] = 1
    expected[30:] = 1
    np.testing.assert_array_equal(grouping, expected)
    np.testing.assert_array_equal(bad, np.arange(40) >= 30)
    # every good group satisfies both the opt width (a union of opt groups) and the minimum
    g2, b2 = compute_grouping(counts, "optmin", 2, fwhm=fwhm)
    np.testing.assert_array_equal(g2, grouping)


def test_fwhm_estimate_matches_synthetic_rmf():
    """heasp's half-maximum walk on the simulator's RMF gives its analytic FWHM (+0..2 channels)."""
    import tempfile
    from pathlib import Path

    from xrtflow.simulate.response import CHANNEL_KEV, SyntheticResponse, resolution_fwhm, write_rmf

    with tempfile.TemporaryDirectory() as tmp:
        path = write_rmf(SyntheticResponse.build(), Path(tmp) / "s.rmf")
        est = estimated_fwhm_per_channel(path)
    centre = (np.arange(1024) + 0.5) * CHANNEL_KEV
    true = resolution_fwhm(centre) / CHANNEL_KEV
    band = (centre > 0.3) & (centre < 10.0)
    diff = est[band] - true[band]
    # heasp counts from the first channel at or below half maximum on each side: FWHM .. FWHM+2
    assert diff.min() >= -0.5 and diff.max() <= 2.5, (diff.min(), diff.max())


def _pha(path, counts, **keys):
    n = len(counts)
    hdu = fits.BinTableHDU.from_columns(
        [
            fits.Column("CHANNEL", "J", array=np.arange(n)),
            fits.Column("COUNTS", "J", array=np.asarray(counts, np.int32)),
            fits.Column("QUALITY", "I", array=np.zeros(n)),
        ],
        name="SPECTRUM",
    )
    hdu.header.update({"EXPOSURE": 1000.0, "BACKSCAL": 1.0, "AREASCAL": 1.0, **keys})
    fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(path)
    return path


def test_group_spectrum_opt_and_snmin_files(tmp_path):
    from xrtflow.simulate.response import SyntheticResponse, write_rmf

    rmf = write_rmf(SyntheticResponse.build(), tmp_path / "s.rmf")
    rng = np.random.default_rng(7)
    counts = rng.poisson(np.interp(np.arange(1024), [0, 50, 200, 1023], [0, 30, 20, 0.1]))
    src = _pha(tmp_path / "src.pha", counts, BACKSCAL=0.01)
    bkg_counts = rng.poisson(0.5, 1024)
    bkg = _pha(tmp_path / "bkg.pha", bkg_counts, BACKSCAL=0.1)
    out = group_spectrum(src, tmp_path / "opt.pha", None, "opt", rmf=rmf)
    with fits.open(out) as hdul:
        d, h = hdul["SPECTRUM"].data, hdul["SPECTRUM"].header
        assert h["GROUPTYP"] == "OPT" and "GROUPSCL" not in h
        np.testing.assert_array_equal(
            d["GROUPING"], group_optimal(estimated_fwhm_per_channel(rmf), counts)
        )
        assert np.all(d["QUALITY"] == 0)
    out = group_spectrum(src, tmp_path / "sn.pha", 3.0, "snmin", background=bkg)
    with fits.open(out) as hdul:
        d = hdul["SPECTRUM"].data
        g, b = group_snmin(counts, 3.0, bkg_counts, ratio=0.1)  # 0.01 / 0.1, same exposure
        np.testing.assert_array_equal(d["GROUPING"], g)
        np.testing.assert_array_equal(d["QUALITY"] == 2, b)
    with pytest.raises(ValueError, match="needs the response"):
        group_spectrum(src, tmp_path / "x.pha", None, "opt")
    with pytest.raises(ValueError, match="one of"):
        group_spectrum(src, tmp_path / "x.pha", 1, "bmin")
    with pytest.raises(FileNotFoundError, match="snmin"):
        group_spectrum(src, tmp_path / "x.pha", 3, "snmin", background=tmp_path / "nope.pha")


SHARED = __import__("pathlib").Path(__file__).resolve().parents[1].parent / "shared"


@pytest.mark.parametrize(
    ("folder", "grouped", "source"),
    [
        ("pc_grb070110", "interval0pc.pi", "interval0pcsource.pi"),
        ("wt_00684098000", "interval0wt.pi", "interval0wtsource.pi"),
    ],
)
def test_reproduces_ukssdc_grouped_spectra(tmp_path, folder, grouped, source):
    """The UK Swift Science Data Centre's grouped spectra (grppha 'bad 0-29', 'group min 1')."""
    base = SHARED / "data" / "swift-xrt" / folder
    if not (base / grouped).is_file():
        pytest.skip("../shared is not available")
    out = group_spectrum(base / source, tmp_path / "g.pi", 1, "min", bad_channels="0-29")
    with fits.open(base / grouped) as ref, fits.open(out) as mine:
        r, m = ref["SPECTRUM"].data, mine["SPECTRUM"].data
        np.testing.assert_array_equal(m["COUNTS"], r["COUNTS"])
        np.testing.assert_array_equal(m["GROUPING"], r["GROUPING"])
        np.testing.assert_array_equal(m["QUALITY"], r["QUALITY"])
        assert set(np.unique(r["QUALITY"])) == {0, 2, 5}  # both kinds of bad channel occur


def test_bad_channels_split_groups():
    # channel 3 bad: [0-2] and [4-7] are grouped on their own (min 2); a trailing group of a
    # segment below the minimum is bad (QUALITY 2) while the user-bad channel stays single
    counts = np.array([1, 1, 1, 5, 1, 0, 1, 0])
    bad_mask = np.zeros(8, bool)
    bad_mask[3] = True
    grouping, trailing = compute_grouping(counts, "min", 2, bad_channels=bad_mask)
    np.testing.assert_array_equal(grouping, [1, -1, 1, 1, 1, -1, -1, 1])
    np.testing.assert_array_equal(trailing, [0, 0, 1, 0, 0, 0, 0, 1])
    g, t = compute_grouping(counts, "optmin", 2, fwhm=np.full(8, 1.0), bad_channels=bad_mask)
    np.testing.assert_array_equal(g, grouping)  # FWHM of one channel: opt groups are channels
    np.testing.assert_array_equal(t, trailing)


@pytest.mark.parametrize(("gtype", "scale"), [("opt", 1), ("optmin", 20), ("snmin", 3)])
def test_native_backend_group_step(tmp_path, gtype, scale):
    """The workflow's native group step passes the RMF (opt*) and background (snmin) through."""
    from xrtflow.backends import native
    from xrtflow.simulate.response import SyntheticResponse, write_rmf

    rmf = write_rmf(SyntheticResponse.build(), tmp_path / "sr.rmf")
    rng = np.random.default_rng(11)
    counts = rng.poisson(np.interp(np.arange(1024), [0, 60, 300, 1023], [0, 40, 5, 0.05]))
    bkg_counts = rng.poisson(0.3, 1024)
    src = _pha(tmp_path / "sr.pha", counts, BACKSCAL=0.02)
    bkg = _pha(tmp_path / "bkg.pha", bkg_counts, BACKSCAL=0.2)
    cfg = {"grouping": {"type": gtype, "scale": scale, "minchannel": -1, "maxchannel": -1}}
    out = native.group("00012345001", src, bkg, rmf, tmp_path / "sr_grp.pha", cfg, tmp_path, None)
    fwhm = estimated_fwhm_per_channel(rmf)
    expected, bad = compute_grouping(
        counts, gtype, scale, fwhm=fwhm, background=bkg_counts, ratio=0.1
    )
    with fits.open(out) as hdul:
        d, h = hdul["SPECTRUM"].data, hdul["SPECTRUM"].header
        np.testing.assert_array_equal(d["GROUPING"], expected)
        np.testing.assert_array_equal(d["QUALITY"] == 2, bad)
        assert h["GROUPTYP"] == gtype.upper() and h["BACKFILE"] == "bkg.pha"
