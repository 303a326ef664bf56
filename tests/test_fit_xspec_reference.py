"""Native fits of the real Swift-XRT spectra against XSPEC 12.9.1 (``../shared/reference``)."""

import json
import warnings
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
REF = SHARED / "reference" / "xspec_fits.json"

pytestmark = pytest.mark.skipif(not REF.exists(), reason="../shared reference data not present")


def _cases():
    if not REF.exists():
        return []
    return sorted(json.loads(REF.read_text()).items())


@pytest.mark.parametrize("case", [c for c, _ in _cases()])
def test_matches_xspec(case):
    from xrtflow.spectral.fit import FitSetup, fit
    from xrtflow.spectral.ogip import read_spectrum

    ref = dict(_cases())[case]
    st, res = ref["setup"], ref["result"]
    base = SHARED.parent / st["dir"]
    spec = read_spectrum(
        base / st["src"],
        rmf=base / st["rmf"],
        arf=base / st["arf"],
        background=base / st["bkg"] if st["bkg"] else None,
        use_header=False,
    )
    setup = FitSetup(
        [spec],
        st["model"],
        start={i + 1: float(v) for i, v in enumerate(st["pars"])},
        statistic=st["stat"],
        ignore=st["ignore"],
        abund=st["abund"],
        xsect=st["xsect"],
        flux_samples=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        out = fit(setup)
    assert out.dof == res["dof"]
    assert out.stat == pytest.approx(res["stat"], abs=0.1)
    for i in st["free"]:
        x, (lo, hi) = res[f"par{i}"], res[f"err{i}_90"]
        v = out.value(i)
        vlo, vhi = out.interval(i)
        half = (hi - lo) / 2
        assert abs(v - x) < 0.1 * half, f"par{i}: {v} vs XSPEC {x}"
        assert (v - vlo) == pytest.approx(x - lo, rel=0.05), f"par{i} lower"
        assert (vhi - v) == pytest.approx(hi - x, rel=0.05), f"par{i} upper"
