"""XSPEC fit statistics against hand-computed values."""

import math

import numpy as np
import pytest

from xrtflow.spectral.stats import chi2_data, chi2_model, cstat, statistic_per_bin, wstat


def test_cstat_hand_values():
    # S=3, M=2: 2*(2 - 3 + 3 ln(3/2)); S=0, M=1.5: 2*1.5
    got = cstat([3, 0], [2.0, 1.5])
    assert got[0] == pytest.approx(2 * (2 - 3 + 3 * math.log(1.5)))
    assert got[1] == pytest.approx(3.0)


def test_cstat_zero_at_perfect_model_and_positive_elsewhere():
    s = np.array([1.0, 5.0, 20.0])
    assert np.allclose(cstat(s, s), 0.0)
    assert np.all(cstat(s, s * 1.3) > 0)


def test_wstat_general_case_matches_formula():
    s, b, ts, tb, m = 7.0, 4.0, 100.0, 300.0, 0.05
    t = ts + tb
    c = t * m - s - b
    d = math.sqrt(c * c + 4 * t * b * m)
    f = (s + b - t * m + d) / (2 * t)
    expect = 2 * (
        ts * m
        + t * f
        - s * math.log(ts * m + ts * f)
        - b * math.log(tb * f)
        - s * (1 - math.log(s))
        - b * (1 - math.log(b))
    )
    assert wstat(s, b, ts, tb, m) == pytest.approx(expect, rel=1e-12)


def test_wstat_special_cases():
    ts, tb, m = 100.0, 300.0, 0.05
    t = ts + tb
    # S = 0
    assert wstat(0.0, 4.0, ts, tb, m) == pytest.approx(2 * (ts * m - 4 * math.log(tb / t)))
    # B = 0, small model
    m_small = 0.001
    assert wstat(5.0, 0.0, ts, tb, m_small) == pytest.approx(
        2 * (-tb * m_small - 5 * math.log(ts / t))
    )
    # B = 0, large model
    m_big = 0.2
    assert wstat(5.0, 0.0, ts, tb, m_big) == pytest.approx(
        2 * (ts * m_big + 5 * (math.log(5) - math.log(ts * m_big) - 1))
    )


def test_wstat_is_continuous_into_special_cases():
    ts, tb, m = 100.0, 300.0, 0.05
    assert wstat(1e-9, 4.0, ts, tb, m) == pytest.approx(wstat(0.0, 4.0, ts, tb, m), abs=1e-6)
    assert wstat(5.0, 1e-9, ts, tb, 0.2) == pytest.approx(wstat(5.0, 0.0, ts, tb, 0.2), abs=1e-6)


def test_wstat_vectorized_equals_scalar():
    rng = np.random.default_rng(3)
    s = rng.poisson(3, 50).astype(float)
    b = rng.poisson(2, 50).astype(float)
    m = rng.uniform(0.001, 0.1, 50)
    vec = wstat(s, b, 100.0, 250.0, m)
    scal = [wstat(si, bi, 100.0, 250.0, mi) for si, bi, mi in zip(s, b, m, strict=True)]
    assert np.allclose(vec, scal)


def test_chi2_data_and_model_variance():
    # data rate 10/10 = 1, model 0.8: data variance 10/100
    assert chi2_data(10.0, 0.8, 10.0) == pytest.approx(0.2**2 / 0.1)
    # model variance 0.8/10
    assert chi2_model(10.0, 0.8, 10.0) == pytest.approx(0.2**2 / 0.08)
    # with background: rate 1 - 4/20 = 0.8, variance 10/100 + 4/400
    assert chi2_data(10.0, 0.5, 10.0, 4.0, 20.0) == pytest.approx(0.3**2 / 0.11)


def test_dispatch_cstat_becomes_wstat_with_background():
    s = np.array([3.0, 0.0, 6.0])
    b = np.array([1.0, 2.0, 0.0])
    m = np.array([0.02, 0.01, 0.05])
    assert np.allclose(statistic_per_bin("cstat", s, m, 100.0, b, 200.0), wstat(s, b, 100, 200, m))
    assert np.allclose(statistic_per_bin("cstat", s, m, 100.0), cstat(s, 100 * m))
    # several models at once (trailing axis)
    mm = np.stack([m, 2 * m], axis=1)
    out = statistic_per_bin("cstat", s, mm, 100.0, b, 200.0)
    assert out.shape == (3, 2)
    assert np.allclose(out[:, 1], wstat(s, b, 100, 200, 2 * m))
    with pytest.raises(ValueError):
        statistic_per_bin("nonsense", s, m, 1.0)


@pytest.mark.parametrize("shape", [(), (4,)])
def test_group_statistic_matches_per_bin_sum(shape):
    from xrtflow.spectral.stats import GroupStatistic

    rng = np.random.default_rng(3)
    n = 200
    s = rng.poisson(2.0, n).astype(float)  # includes S = 0 bins
    b = rng.poisson(0.7, n).astype(float)  # includes B = 0 bins
    ts, tb = 1500.0, rng.uniform(8000.0, 12000.0, n)
    m = rng.uniform(-1e-4, 5e-3, (n, *shape))  # includes negative rates
    fast = GroupStatistic("cstat", s, ts, b, tb)(m)
    ref = statistic_per_bin("cstat", s, m, ts, b, tb).sum(axis=0)
    np.testing.assert_allclose(fast, ref, rtol=1e-12, atol=1e-9)
    # without a background: Cash (falls back to statistic_per_bin)
    np.testing.assert_allclose(
        GroupStatistic("cstat", s, ts)(m), statistic_per_bin("cstat", s, m, ts).sum(axis=0)
    )


@pytest.mark.parametrize("case", ["wstat", "cash", "chi"])
def test_group_statistic_derivatives_match_finite_differences(case):
    """Analytic first/second derivatives w.r.t. the model rates (used by the Newton solver for
    the normalizations), including the W-stat special cases S = 0 and B = 0 on both sides of
    their branch point."""
    from xrtflow.spectral.stats import GroupStatistic

    rng = np.random.default_rng(3)
    n = 40
    s = rng.poisson(3, n).astype(float)
    b = rng.poisson(1, n).astype(float)
    s[:3], b[3:8] = 0, 0
    ts, tb = 100.0, np.full(n, 300.0)
    m = rng.uniform(0.001, 0.08, n)
    m[5] = 0.5 * s[5] / (ts + tb[5])  # B = 0, below S / t
    if case == "wstat":
        st = GroupStatistic("cstat", s, ts, b, tb)
    elif case == "cash":
        st = GroupStatistic("cstat", s + 1, ts)
    else:
        st = GroupStatistic("chi", s, ts, b, tb)
    value, d1, d2 = st.derivatives(m)
    assert value == pytest.approx(float(st(m)), rel=1e-12)
    for i in range(n):
        e = np.zeros(n)
        e[i] = 1e-6 * m[i]
        num1 = (st(m + e) - st(m - e)) / (2 * e[i])
        e *= 1e3
        num2 = (st(m + e) - 2 * st(m) + st(m - e)) / e[i] ** 2
        assert num1 == pytest.approx(d1[i], rel=1e-5, abs=1e-4)
        assert num2 == pytest.approx(d2[i], rel=1e-3, abs=1e-2)  # rounding at d2 = 0
