"""Flux of a piled-up simulated source from the annulus spectrum with the annulus ARF.

Truth: the injected power law (photon index 2, normalisation set by the injected 4 count/s) of
xrtflow.simulate.pileup; the recovered values must lie inside the fit's 90% intervals, and the
un-excised circle must not (pile-up loses counts and hardens the spectrum).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from xrtflow.calibration import PIXEL_ARCMIN, psf_annulus_fraction
from xrtflow.products.pileup import assess_pileup
from xrtflow.simulate.pileup import simulate_piled_source
from xrtflow.simulate.response import SyntheticResponse, write_arf, write_rmf
from xrtflow.spectral.fit import FitSetup, fit
from xrtflow.spectral.ogip import read_spectrum, write_spectrum

RATE, INDEX = 4.0, 2.0


@pytest.fixture(scope="module")
def response():
    return SyntheticResponse.build()


def _fit_region(tmp, s, resp, rmf, r_in, r_out, label):
    e_mid = 0.5 * (resp.energ_lo + resp.energ_hi)
    ev = s.events
    r = np.hypot(ev["X"] - s.center[0], ev["Y"] - s.center[1])
    gx, gy = np.meshgrid(np.arange(300, 701), np.arange(300, 701), indexing="ij")
    rp = np.hypot(gx - s.center[0], gy - s.center[1])
    src_pix = ((rp >= r_in) & (rp < r_out)).sum()
    bkg_pix = ((rp >= 60) & (rp < 140)).sum()
    sel, bsel = (r >= r_in) & (r < r_out), (r >= 60) & (r < 140)
    # the ARF of the extraction region: on-axis area x the PSF fraction of the annulus
    frac = psf_annulus_fraction(r_in * PIXEL_ARCMIN, r_out * PIXEL_ARCMIN, e_mid, 0.0)
    arf_resp = dataclasses.replace(resp, specresp=(resp.specresp * frac).astype(np.float32))
    arf = write_arf(arf_resp, tmp / f"{label}.arf")
    src = write_spectrum(
        tmp / f"{label}.pha",
        np.bincount(ev["PI"][sel], minlength=1024),
        s.exposure,
        backscal=float(src_pix),
    )
    bkg = write_spectrum(
        tmp / f"{label}_bkg.pha",
        np.bincount(ev["PI"][bsel], minlength=1024),
        s.exposure,
        backscal=float(bkg_pix),
    )
    spec = read_spectrum(src, rmf=rmf, arf=arf, background=bkg, use_header=False)
    return fit(FitSetup(spectra=[spec], model="powerlaw", statistic="cstat", flux_samples=0))


@pytest.mark.parametrize("seed", [21, 22])
def test_annulus_spectrum_recovers_injected_flux(tmp_path, response, seed):
    rmf = write_rmf(response, tmp_path / "s.rmf")
    s = simulate_piled_source(RATE, 3000, np.random.default_rng(seed), response=response)
    e_mid = 0.5 * (response.energ_lo + response.energ_hi)
    with np.errstate(divide="ignore"):
        shape = np.where(e_mid > 0, e_mid**-INDEX, 0.0)
    norm_true = RATE / np.sum(shape * (response.energ_hi - response.energ_lo) * response.specresp)
    b = (s.events["PI"] >= 30) & (s.events["PI"] <= 999)
    a = assess_pileup(s.events["X"][b], s.events["Y"][b], s.center, s.exposure)
    assert a.piled and a.r_in >= 3
    ann = _fit_region(tmp_path, s, response, rmf, a.r_in, a.r_out, "annulus")
    lo, hi = ann.interval("norm")
    assert lo <= norm_true <= hi, (ann.value("norm"), lo, hi, norm_true)
    lo, hi = ann.interval("PhoIndex")
    assert lo <= INDEX <= hi
    # the whole circle: flux far too low and spectrum too hard
    circ = _fit_region(tmp_path, s, response, rmf, 0.0, a.r_out, "circle")
    assert circ.interval("norm")[1] < 0.85 * norm_true
    assert circ.interval("PhoIndex")[1] < INDEX - 0.1
