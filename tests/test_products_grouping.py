"""ftgrouppha-like minimum-counts grouping (xrtflow.products.grouping)."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits

from xrtflow.products.grouping import group_min_counts, group_spectrum


def _reference(counts, minimum):
    """Straightforward transcription of heasp grouping::loadMin + pha::setGrouping."""
    n = len(counts)
    flag = [0] * n
    ingroup, istart, total = False, 0, 0
    for i in range(n):
        total += counts[i]
        if not ingroup:
            flag[i], istart, total = 1, i, counts[i]
            if total < minimum:
                ingroup = True
        elif total >= minimum:
            flag[i], ingroup = -1, False
        else:
            flag[i] = -1
    if ingroup and total < minimum:
        for i in range(istart, n):
            flag[i] = 0
    grouping = np.array([1 if f == 0 else f for f in flag])
    bad = np.array([f == 0 for f in flag])
    return grouping, bad


@pytest.mark.parametrize("minimum", [1, 3, 20])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_reference(minimum, seed):
    rng = np.random.default_rng(seed)
    counts = rng.poisson(rng.uniform(0, 2.0), 1024)
    grouping, bad = group_min_counts(counts, minimum)
    ref_grouping, ref_bad = _reference(list(counts), minimum)
    np.testing.assert_array_equal(grouping, ref_grouping)
    np.testing.assert_array_equal(bad, ref_bad)
    # every good group reaches the minimum; the channels are all covered
    starts = np.flatnonzero((grouping == 1) & ~bad)
    sums = np.add.reduceat(np.where(bad, 0, counts), starts)
    assert np.all(sums >= minimum)
    assert sums.sum() + counts[bad].sum() == counts.sum()


def test_trailing_group_is_bad():
    counts = np.array([2, 0, 1, 1, 0, 0, 1])
    grouping, bad = group_min_counts(counts, 2)
    np.testing.assert_array_equal(grouping, [1, 1, -1, -1, 1, 1, 1])
    np.testing.assert_array_equal(bad, [0, 0, 0, 0, 1, 1, 1])


def test_group_spectrum_file(tmp_path):
    counts = np.random.default_rng(3).poisson(0.4, 1024).astype(np.int32)
    spec = fits.BinTableHDU.from_columns(
        [
            fits.Column("CHANNEL", "J", array=np.arange(1024)),
            fits.Column("COUNTS", "J", array=counts),
            fits.Column("QUALITY", "I", array=np.zeros(1024)),
            fits.Column("GROUPING", "I", array=np.ones(1024)),
        ],
        name="SPECTRUM",
    )
    spec.header.update(
        {
            "EXPOSURE": 100.0,
            "BACKSCAL": 0.01,
            "RESPFILE": "a.rmf",
            "ANCRFILE": "a.arf",
            "BACKFILE": "b.pha",
            "HDUCLAS2": "TOTAL",
            "TLMIN1": 0,
            "TLMAX1": 1023,
        }
    )
    src = tmp_path / "src.pha"
    fits.HDUList([fits.PrimaryHDU(), spec]).writeto(src)
    out = group_spectrum(src, tmp_path / "grp.pha", minimum=5)
    with fits.open(out) as hdul:
        d, h = hdul["SPECTRUM"].data, hdul["SPECTRUM"].header
        ref_grouping, ref_bad = _reference(list(counts), 5)
        np.testing.assert_array_equal(d["GROUPING"], ref_grouping)
        np.testing.assert_array_equal(d["QUALITY"] == 2, ref_bad)
        np.testing.assert_array_equal(d["COUNTS"], counts)
        for key in ("RESPFILE", "ANCRFILE", "BACKFILE", "EXPOSURE", "BACKSCAL", "TLMAX1"):
            assert h[key] == spec.header[key]
    out2 = group_spectrum(src, tmp_path / "grp2.pha", minimum=5, backfile="x.pha")
    assert fits.getheader(out2, "SPECTRUM")["BACKFILE"] == "x.pha"
    with pytest.raises(ValueError, match="grouptype"):
        group_spectrum(src, tmp_path / "g3.pha", grouptype="snr")
