"""Simulation-based goodness of fit for C-stat (XSPEC ``goodness``): a wrong model is rejected."""

from __future__ import annotations

import numpy as np
import pytest

from xrtflow.spectral.fit import FitSetup, fit
from xrtflow.spectral.models import parse_model
from xrtflow.spectral.ogip import Response, Spectrum


def gaussian_response(n: int = 300) -> Response:
    """A simple response: 0.2-10 keV, 100 cm^2, Gaussian redistribution (sigma 50 eV)."""
    import scipy.sparse as sp

    edges = np.linspace(0.2, 10.0, n + 1)
    centre = 0.5 * (edges[1:] + edges[:-1])
    redistribution = np.exp(-0.5 * ((centre[:, None] - centre[None, :]) / 0.05) ** 2)
    redistribution /= redistribution.sum(axis=1, keepdims=True)
    matrix = sp.csr_matrix(100.0 * redistribution)
    return Response(matrix, edges, np.arange(n), edges[:-1], edges[1:], rmf_matrix=matrix / 100.0)


def spectrum_of(model: str, values: list[float], seed: int) -> Spectrum:
    response = gaussian_response()
    rate = response.fold(parse_model(model).evaluate(response.energy_edges, values))
    counts = np.random.default_rng(seed).poisson(rate * 5000.0)
    n = len(counts)
    return Spectrum(
        counts, 5000.0, 1.0, 1.0, np.zeros(n, int), np.ones(n, int), np.arange(n), response
    )


def goodness(spectrum: Spectrum, model: str) -> float:
    setup = FitSetup(
        [spectrum], model, statistic="cstat", ignore=None, errors=False, flux_samples=0, n_sims=40
    )
    result = fit(setup)
    assert result.goodness is not None
    return result.goodness


def test_wrong_model_has_goodness_near_one():
    # a blackbody fitted with a power law: every simulation from the fit fits better
    spectrum = spectrum_of("bbody", [0.3, 1e-3], seed=2)
    assert goodness(spectrum, "powerlaw") == pytest.approx(1.0)


def test_right_model_is_not_rejected():
    spectrum = spectrum_of("powerlaw", [1.7, 1e-2], seed=3)
    assert 0.0 <= goodness(spectrum, "powerlaw") < 0.99
