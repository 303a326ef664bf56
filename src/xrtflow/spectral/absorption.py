"""Photoelectric absorption cross-sections (per H atom) for phabs, wabs and TBabs.

Cross-sections depend only on the energy grid and the abundance / cross-section tables, so they
are cached per grid; fits then only pay for ``exp(-nH * sigma)``.
"""

from __future__ import annotations

import csv
from functools import cache
from pathlib import Path

import numpy as np
from scipy.special import gamma as gamma_fn
from scipy.special import gammainc

__all__ = [
    "ABUNDANCE_TABLES",
    "XSECT_TABLES",
    "abundances",
    "phabs_sigma",
    "tbabs_sigma",
    "wabs_sigma",
]

ABUNDANCE_TABLES = ("angr", "aspl", "wilm", "lodd")
XSECT_TABLES = ("bcmc", "obcm", "vern")

# ln(1e-24): the BCMC fits give ln(sigma E^3) in units of 1e-24 (barn-scaled) quantities
_LN_BARN = 55.26204
_AVOGADRO = 6.022045e23
DATA_DIR = Path(__file__).resolve().parents[1] / "data" / "xspec"


def _data_rows(name: str) -> list[dict[str, str]]:
    text = (DATA_DIR / name).read_text()
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    return list(csv.DictReader(lines))


@cache
def abundances(table: str) -> dict[int, float]:
    """Number abundances relative to H for Z = 1..30.

    Parameters
    ----------
    table : str
        One of `ABUNDANCE_TABLES` (XSPEC names).

    Returns
    -------
    dict
        Atomic number -> abundance.
    """
    key = table.lower()
    if key not in ABUNDANCE_TABLES:
        raise ValueError(f"unknown abundance table {table!r}; known: {', '.join(ABUNDANCE_TABLES)}")
    return {int(row["Z"]): float(row[key]) for row in _data_rows("abundances.csv")}


@cache
def _bcmc_table() -> dict[int, list[tuple[float, float, np.ndarray]]]:
    table: dict[int, list[tuple[float, float, np.ndarray]]] = {}
    for row in _data_rows("bcmc_coefficients.csv"):
        coeffs = np.array([float(row[f"c{i}"]) for i in range(9) if row[f"c{i}"] != ""])
        table.setdefault(int(row["Z"]), []).append((float(row["edge_eV"]), float(row["f"]), coeffs))
    return table


def _fano(ev: np.ndarray) -> np.ndarray:
    """Product of the four He autoionisation (Fano) profiles (Oza 1986; Fernley et al. 1987)."""
    q = (2.81, 2.51, 2.45, 2.44)
    nu = (1.610, 2.795, 3.817, 4.824)
    width = (2.64061e-3, 6.20116e-4, 2.56061e-4, 1.320159e-4)
    eps = ev / 13.598
    out = np.ones_like(ev)
    for qi, ni, gi in zip(q, nu, width, strict=True):
        x = 2.0 * (eps - (3.0 - 1.0 / ni**2 + 1.807317)) / gi
        out *= (x - qi) ** 2 / (1.0 + x * x)
    return out


def _he_yan(ev: np.ndarray) -> np.ndarray:
    """He photoionisation cross-section (cm^2), Yan, Sadeghpour & Dalgarno 1998, Table 4."""
    coeffs = (1.0, -4.7416, 14.8200, -30.8678, 37.3584, -23.4585, 5.9133)
    out = np.zeros_like(ev)
    ok = ev >= 24.58
    x = np.sqrt(24.58 / ev[ok])
    poly = np.polynomial.polynomial.polyval(x, coeffs)
    out[ok] = 733e-24 * (ev[ok] / 1000.0) ** -3.5 * poly * _fano(ev[ok])
    return out


def _he_marr_west(ev: np.ndarray) -> np.ndarray:
    """He cross-section (cm^2) from the Marr & West (1976) polynomial fits (xsect obcm)."""
    c1 = (-2.953607e1, 7.083061, 8.678646e-1, -1.221932, 4.052997e-2, 1.317109e-1,
          -3.265795e-2, 2.500933e-3)  # fmt: skip
    c2 = (-2.465188e1, 4.354679, -3.553024, 5.573040, -5.872938, 3.720797, -1.226919,
          1.576657e-1)  # fmt: skip
    lam = 12398.54 / ev
    x = np.log10(lam)
    y = np.where(
        lam < 46.0,
        np.polynomial.polynomial.polyval(x, c2),
        np.polynomial.polynomial.polyval(x, c1) + np.log10(_fano(ev)),
    )
    return np.where(lam > 503.97, 0.0, 10.0**y)


def _bcmc_element(z: int, e1: np.ndarray, e2: np.ndarray) -> np.ndarray:
    """Bin cross-section (cm^2) of element z from the BCMC fits, XSPEC's within-bin treatment.

    A bin without an edge uses the fit at the bin's arithmetic midpoint; a bin straddling
    edges averages ln(sigma E^3) of the pieces weighted by their widths.
    """
    ranges = _bcmc_table()[z]
    edges = np.array([r[0] for r in ranges])
    f = ranges[0][1]
    i1 = np.searchsorted(edges, e1, side="right")
    i2 = np.searchsorted(edges, e2, side="right")
    mid = 0.5 * (e1 + e2)
    x = np.empty_like(e1)
    same = i1 == i2
    for k, (_, _, coeffs) in enumerate(ranges):
        sel = same & (i1 == k)
        x[sel] = np.polynomial.polynomial.polyval(np.log(mid[sel]), coeffs)
    for j in np.flatnonzero(~same):
        lo, hi, a, b = e1[j], e2[j], i1[j], i2[j]
        bounds = [lo, *edges[a:b], hi]
        total = 0.0
        for k in range(a, b + 1):
            piece_lo, piece_hi = bounds[k - a], bounds[k - a + 1]
            value = np.polynomial.polynomial.polyval(
                np.log(0.5 * (piece_lo + piece_hi)), ranges[k][2]
            )
            total += value * (piece_hi - piece_lo)
        x[j] = total / (hi - lo)
    return np.exp(x - 3.0 * np.log(mid) - _LN_BARN) * f


def _bcmc_he(e1: np.ndarray, e2: np.ndarray, version: str) -> np.ndarray:
    ev = 0.5 * (e1 + e2)
    sigma = _he_yan(ev) if version == "bcmc" else _he_marr_west(ev)
    # XSPEC converts through cm^2/g and back with its own constants; keep that tiny factor
    return sigma * _AVOGADRO / 4.0026 * np.exp(-_LN_BARN) * 6.646


_SIGMA_CACHE: dict[tuple, np.ndarray] = {}


def _grid_key(edges: np.ndarray) -> tuple:
    return (edges.size, float(edges[0]), float(edges[-1]), hash(edges.tobytes()))


def _cached(key: tuple, compute) -> np.ndarray:
    value = _SIGMA_CACHE.get(key)
    if value is None:
        if len(_SIGMA_CACHE) > 256:
            _SIGMA_CACHE.clear()
        value = compute()
        value.setflags(write=False)
        _SIGMA_CACHE[key] = value
    return value


def phabs_sigma(edges_kev: np.ndarray, abund: str = "angr", xsect: str = "bcmc") -> np.ndarray:
    """Cross-section per H atom (units of 1e-22 cm^2) in each bin for XSPEC's phabs.

    Parameters
    ----------
    edges_kev : ndarray
        Bin edges in keV (observed frame).
    abund : str
        Abundance table.
    xsect : str
        ``bcmc`` (BCMC 1992 with the Yan et al. 1998 He), ``obcm`` (BCMC with the old He), or
        ``vern`` (Verner et al. 1996 fits not tabulated yet: raises NotImplementedError;
        `Model.evaluate` maps ``vern`` to ``bcmc``).

    Returns
    -------
    ndarray
        sigma per bin such that transmission = exp(-nH[1e22] * sigma).
    """
    edges = np.ascontiguousarray(edges_kev, dtype=float)
    xs = xsect.lower()
    if xs not in XSECT_TABLES:
        raise ValueError(f"unknown cross-section table {xsect!r}; known: {', '.join(XSECT_TABLES)}")
    if xs == "vern":
        raise NotImplementedError(
            "phabs with xsect vern needs the Verner et al. (1996) shell fits, not yet tabulated"
        )
    ab = abundances(abund)

    def compute() -> np.ndarray:
        e1, e2 = edges[:-1] * 1000.0, edges[1:] * 1000.0
        total = _bcmc_he(e1, e2, xs) * ab[2]
        for z in _bcmc_table():
            total = total + ab[z] * _bcmc_element(z, e1, e2)
        return total * 1e22

    return _cached(("phabs", abund.lower(), xs, *_grid_key(edges)), compute)


@cache
def _mm83() -> tuple[np.ndarray, np.ndarray]:
    rows = _data_rows("wabs_mm83.csv")
    elo = np.array([float(r["e_lo_keV"]) for r in rows])
    coeffs = np.array([[float(r["c0"]), float(r["c1"]), float(r["c2"])] for r in rows])
    return elo, coeffs


def wabs_sigma(edges_kev: np.ndarray) -> np.ndarray:
    """Morrison & McCammon (1983) cross-section per H atom (1e-22 cm^2) at each bin's midpoint.

    Parameters
    ----------
    edges_kev : ndarray
        Bin edges in keV.

    Returns
    -------
    ndarray
        sigma per bin.
    """
    edges = np.ascontiguousarray(edges_kev, dtype=float)

    def compute() -> np.ndarray:
        e = 0.5 * (edges[:-1] + edges[1:])
        elo, coeffs = _mm83()
        idx = np.clip(np.searchsorted(elo, e, side="right") - 1, 0, len(elo) - 1)
        c = coeffs[idx]
        sigma = (c[:, 0] + c[:, 1] * e + c[:, 2] * e * e) / e**3 * 1e-24
        # MM83 has no data below 30 eV; XSPEC treats that region as opaque
        return np.where(e < elo[0], 1e30, sigma * 1e22)

    return _cached(("wabs", *_grid_key(edges)), compute)


# ---------------------------------------------------------------------------------------------
# TBabs (Wilms, Allen & McCray 2000): gas + H2 + grains with default ISM parameters.

_TB_Z = (1, 2, 6, 7, 8, 10, 11, 12, 13, 14, 16, 17, 18, 20, 24, 26, 27, 28)
_TB_WEIGHT = (1.0, 4.0, 12.0, 14.0, 16.0, 20.0, 23.0, 24.0, 27.0, 28.0, 32.0, 35.0, 40.0, 40.0,
              52.0, 56.0, 59.0, 59.0)  # fmt: skip
# gas-phase fraction per element, Wilms et al. 2000 Table 2 (XSPEC TBabs defaults)
_TB_DEPLETION = (1.0, 1.0, 0.5, 1.0, 0.6, 1.0, 0.25, 0.2, 0.02, 0.1, 0.6, 0.5, 1.0, 0.003, 0.03,
                 0.3, 0.05, 0.04)  # fmt: skip
_TB_H2 = 0.2
_TB_RHO = 1.0
_TB_AMIN = 0.025e-4
_TB_AMAX = 0.25e-4
_TB_PL = 3.5
_AMU = 1.6605655e-24


def _h_band(ev: np.ndarray) -> np.ndarray:
    """Hydrogenic 1s cross-section (cm^2), Band et al. 1990."""
    e1s = 13.599
    y = 2.0 * np.maximum(ev, e1s) / e1s
    sigma = 605.0 / (y**1.5 * (1.0 + np.sqrt(y)) ** 4) * 1e-18
    return np.where(ev < e1s, 0.0, sigma)


def _h2_yan(ev: np.ndarray) -> np.ndarray:
    """H2 cross-section (cm^2), Yan et al. 1998 above 85 eV (the X-ray band)."""
    coeffs = (1.0, -2.003, -4.806, 50.577, -171.044, 231.608, -81.885)
    x = np.sqrt(15.4 / np.maximum(ev, 15.4))
    sigma = 45.57 * (ev / 1000.0) ** -3.5 * np.polynomial.polynomial.polyval(x, coeffs)
    return np.where(ev < 85.0, 0.0, sigma * 1e-24)


def _tb_element_sigma(z: int, ev: np.ndarray) -> np.ndarray:
    if z == 1:
        return _h_band(ev)
    if z == 2:
        return _he_yan(ev)
    # Approximation: BCMC fits stand in for the Verner et al. (1996) shell fits used by TBabs
    lo = ev * (1 - 1e-9)
    hi = ev * (1 + 1e-9)
    return _bcmc_element(z, lo, hi)


def _lower_gamma(a: float, x: np.ndarray) -> np.ndarray:
    return gammainc(a, x) * gamma_fn(a)


def tbabs_sigma(edges_kev: np.ndarray, abund: str = "wilm", redshift: float = 0.0) -> np.ndarray:
    """Effective TBabs cross-section per H atom (1e-22 cm^2) in each bin.

    Follows the structure of Wilms, Allen & McCray (2000): atomic gas, 20% of H in H2, and
    grains (rho = 1 g/cm^3, a^-3.5 sizes in 0.025-0.25 um) with the paper's depletions and
    self-shielding. Element cross-sections are averaged over the two bin edges.

    Parameters
    ----------
    edges_kev : ndarray
        Bin edges in keV (observed frame).
    abund : str
        Abundance table.
    redshift : float
        Absorber redshift (ztbabs).

    Returns
    -------
    ndarray
        sigma per bin.
    """
    edges = np.ascontiguousarray(edges_kev, dtype=float)

    def compute() -> np.ndarray:
        ab = abundances(abund)
        ev = edges * 1000.0 * (1.0 + redshift)
        sig_edges = {z: _tb_element_sigma(z, ev) for z in _TB_Z}
        sig = {z: 0.5 * (s[:-1] + s[1:]) for z, s in sig_edges.items()}
        siggas = np.zeros(edges.size - 1)
        sigavg = np.zeros(edges.size - 1)
        normal = 0.0
        massgrain = 0.0
        for z, weight, depl in zip(_TB_Z, _TB_WEIGHT, _TB_DEPLETION, strict=True):
            beta = 1.0 - depl
            abdust = ab[z] * beta
            abgas = ab[z] * (1.0 - beta) * ((1.0 - _TB_H2) if z == 1 else 1.0)
            massgrain += abdust * weight
            normal += abdust
            siggas += abgas * sig[z]
            sigavg += abdust * sig[z]
        massgrain *= _AMU
        meanmol = massgrain / normal
        sigavg /= normal
        pl, amin, amax = _TB_PL, _TB_AMIN, _TB_AMAX
        k = (1.0 - pl) / (amax ** (1.0 - pl) - amin ** (1.0 - pl))
        ngrains = massgrain / (_TB_RHO * 4.0 / 3.0 * np.pi * k)
        ngrains *= (4.0 - pl) / (amax ** (4.0 - pl) - amin ** (4.0 - pl))
        pmin, pmax = amin ** (3.0 - pl), amax ** (3.0 - pl)
        signorm = ngrains * np.pi * k / (pl - 3.0)
        sd = 4.0 / 3.0 * _TB_RHO / meanmol * sigavg
        sd = np.maximum(sd, 1e-300)
        siggrains = signorm * (
            pmin * -np.expm1(-sd * amin)
            - pmax * -np.expm1(-sd * amax)
            + sd ** (pl - 3.0)
            * (_lower_gamma(4.0 - pl, sd * amax) - _lower_gamma(4.0 - pl, sd * amin))
        )
        h2 = _h2_yan(ev)
        sigmol = 0.5 * (h2[:-1] + h2[1:]) * ab[1] * _TB_H2 * 0.5
        return (siggas + siggrains + sigmol) * 1e22

    return _cached(("tbabs", abund.lower(), float(redshift), *_grid_key(edges)), compute)
