"""Photon spectra for the simulator: the ``photon_flux(energy_edges_keV)`` function boundary.

The simulator only ever calls a ``PhotonFlux`` -- a callable returning photons/cm^2/s in each bin
of the given energy edges (keV). :func:`model_photon_flux` builds one from an XSPEC expression
through :func:`xrtflow.spectral.models.parse_model`; when that module is unavailable (it is built
separately) it falls back to a small built-in evaluator for ``tbabs*(bb+brems)`` with an
*approximate* absorption cross-section, and says so through ``PhotonFlux.exact = False``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

PhotonFluxFn = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class PhotonFlux:
    """A photon spectrum: ``flux(edges)`` -> photons/cm^2/s per bin.

    Attributes
    ----------
    function : callable
        ``function(energy_edges_keV) -> ndarray`` (one value per bin).
    description : str
        What the spectrum is (model expression and values).
    exact : bool
        False if a built-in approximation replaced :mod:`xrtflow.spectral.models`.
    """

    function: PhotonFluxFn
    description: str = "custom"
    exact: bool = True

    def __call__(self, energy_edges_keV: np.ndarray) -> np.ndarray:
        edges = np.asarray(energy_edges_keV, dtype=float)
        with np.errstate(all="ignore"):
            flux = np.asarray(self.function(edges), dtype=float)
        if flux.shape != (edges.size - 1,):
            raise ValueError(
                f"photon_flux returned shape {flux.shape}, expected ({edges.size - 1},)"
            )
        return np.where(np.isfinite(flux) & (flux > 0), flux, 0.0)


def powerlaw_flux(index: float, norm: float) -> PhotonFlux:
    """Power law ``norm * E**-index`` photons/cm^2/s/keV, integrated exactly over each bin."""

    def f(edges: np.ndarray) -> np.ndarray:
        e = np.clip(edges, 1e-6, None)
        if abs(index - 1.0) < 1e-12:
            return norm * np.diff(np.log(e))
        return norm * np.diff(e ** (1.0 - index)) / (1.0 - index)

    return PhotonFlux(f, f"powerlaw PhoIndex={index} norm={norm}")


# --- built-in fallback for tbabs*(bb+brems) ---------------------------------------------------
def _bbody(e: np.ndarray, kt: float, norm: float) -> np.ndarray:
    """XSPEC bbody photon spectrum (photons/cm^2/s/keV); norm = L39 / D10^2."""
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        val = 8.0525 * norm * e**2 / (kt**4 * np.expm1(e / kt))
    return np.where(e > 0, val, 0.0)


def _bremss(e: np.ndarray, kt: float, norm: float) -> np.ndarray:
    """Thermal bremsstrahlung photon spectrum with an approximate Gaunt factor (XSPEC norm)."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        x = e / kt
        gaunt = np.maximum(1.0, np.sqrt(3.0) / np.pi * np.log(2.246 / np.maximum(x, 1e-6)))
        val = norm * gaunt * np.exp(-x) / (e * np.sqrt(kt))
    return np.where(e > 0, val, 0.0)


def _approx_absorption(e: np.ndarray, nh: float) -> np.ndarray:
    """exp(-nH sigma(E)) with sigma ~ 2.0e-22 E^-8/3 cm^2 (rough ISM cross-section, not tbabs)."""
    with np.errstate(divide="ignore", over="ignore"):
        tau = nh * 1e22 * 2.0e-22 * np.power(np.maximum(e, 1e-3), -8.0 / 3.0)
    return np.exp(-tau)


def _fallback_tbabs_bb_brems(values: Sequence[float]) -> PhotonFluxFn:
    nh, bb_kt, bb_norm, br_kt, br_norm = (float(v) for v in values)

    def f(edges: np.ndarray) -> np.ndarray:
        # Simpson's rule on each bin (bins are narrow: 5 eV on the response grid)
        lo, hi = edges[:-1], edges[1:]
        mid = 0.5 * (lo + hi)

        def dens(e: np.ndarray) -> np.ndarray:
            return _approx_absorption(e, nh) * (
                _bbody(e, bb_kt, bb_norm) + _bremss(e, br_kt, br_norm)
            )

        return (hi - lo) / 6.0 * (dens(lo) + 4.0 * dens(mid) + dens(hi))

    return f


def _normalise_expression(expr: str) -> str:
    return expr.replace(" ", "").lower()


def model_photon_flux(
    expression: str, values: Sequence[float], abund: str = "wilm", xsect: str = "vern"
) -> PhotonFlux:
    """Photon spectrum of an XSPEC model expression with parameter ``values`` (XSPEC order).

    Uses :func:`xrtflow.spectral.models.parse_model` if it can be imported; otherwise only
    ``tbabs*(bb+brems)`` is supported, with an approximate absorption (a warning is issued).
    """
    values = [float(v) for v in values]
    desc = f"{expression} {values} abund={abund} xsect={xsect}"
    try:
        from xrtflow.spectral.models import parse_model
    except ImportError:
        parse_model = None
    if parse_model is not None:
        model = parse_model(expression)

        def f(edges: np.ndarray) -> np.ndarray:
            with np.errstate(all="ignore"):  # the 0-keV edge of the response grid
                return np.asarray(
                    model.evaluate(edges, values, abund=abund, xsect=xsect), dtype=float
                )

        return PhotonFlux(f, desc, exact=True)
    if _normalise_expression(expression) not in {"tbabs*(bb+brems)", "tbabs*(bbody+bremss)"}:
        raise ImportError(
            f"xrtflow.spectral.models is not available and the built-in fallback only knows "
            f"'tbabs*(bb+brems)', not {expression!r}"
        )
    warnings.warn(
        "xrtflow.spectral.models not importable: using an approximate built-in tbabs*(bb+brems)",
        RuntimeWarning,
        stacklevel=2,
    )
    return PhotonFlux(
        _fallback_tbabs_bb_brems(values), desc + " (approximate fallback)", exact=False
    )
