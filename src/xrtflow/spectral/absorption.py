"""Photoelectric absorption cross-sections (per H atom) for phabs, wabs and their relatives.

Each follows XSPEC 12.9.1's own per-bin convention (they differ): ``phabs`` with ``xsect bcmc`` /
``obcm`` evaluates the BCMC fits at the bin's arithmetic midpoint (a bin straddling an edge
averages the pieces' ln(sigma E^3)); with ``xsect vern`` each element's cross-section is the mean
of the Verner values at the two bin edges; ``wabs`` integrates the transmission over the bin with
the trapezoidal rule on pieces split at the Morrison & McCammon range boundaries. Redshifted
versions evaluate on the rest-frame edges ``E (1 + z)``. TBabs is in :mod:`xrtflow.spectral.tbabs`.

Cross-sections depend only on the energy grid and the abundance / cross-section tables, so they
are cached per grid; fits then only pay for ``exp(-nH * sigma)``.
"""

from __future__ import annotations

import csv
from functools import cache
from pathlib import Path

import numpy as np

__all__ = [
    "ABUNDANCE_TABLES",
    "XSECT_TABLES",
    "abundances",
    "phabs_sigma",
    "tbabs_sigma",
    "verner_sigma",
    "wabs_sigma",
    "wabs_transmission",
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


# ---------------------------------------------------------------------------------------------
# Verner et al. (1996) / Verner & Yakovlev (1995) analytic fits for neutral atoms (phfit2 logic)

# inner-shell count and total shell count of the ground state, by number of electrons (= Z here)
_NINN = (0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 3, 3, 3, 3, 3, 3, 3, 3, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5)
_NTOT = (1, 1, 2, 2, 3, 3, 3, 3, 3, 3, 4, 4, 5, 5, 5, 5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 7, 7)
# orbital angular momentum of shells 1s 2s 2p 3s 3p 3d 4s
_SHELL_L = (0, 0, 1, 0, 1, 2, 0)


@cache
def _verner_tables() -> tuple[
    dict[int, dict[int, tuple[float, ...]]], dict[int, tuple[float, ...]]
]:
    ph1: dict[int, dict[int, tuple[float, ...]]] = {}
    for row in _data_rows("verner_ph1_neutral.csv"):
        keys = ("e_th_eV", "e0_eV", "sigma0_Mb", "ya", "p", "yw")
        ph1.setdefault(int(row["Z"]), {})[int(row["shell"])] = tuple(float(row[k]) for k in keys)
    ph2 = {
        int(row["Z"]): tuple(
            float(row[k]) for k in ("e0_eV", "sigma0_Mb", "ya", "p", "yw", "y0", "y1")
        )
        for row in _data_rows("verner_ph2_neutral.csv")
    }
    return ph1, ph2


def verner_sigma(z: int, ev: np.ndarray) -> np.ndarray:
    """Photoionisation cross-section (cm^2) of the neutral atom ``z``, summed over its shells.

    Inner shells use the Verner & Yakovlev (1995) subshell fits; below the innermost-shell
    threshold the outer shell uses the Verner et al. (1996) ground-state fit, exactly as
    D. Verner's ``phfit2`` (which XSPEC's TBabs and ``xsect vern`` call) selects them.

    Parameters
    ----------
    z : int
        Atomic number (one of the elements tabulated in ``verner_ph1_neutral.csv``).
    ev : ndarray
        Photon energies in eV.

    Returns
    -------
    ndarray
        Cross-section in cm^2.
    """
    ph1, ph2 = _verner_tables()
    if z not in ph1:
        raise ValueError(f"no Verner fit tabulated for Z={z}")
    e = np.asarray(ev, dtype=float)
    nint = _NINN[z - 1]
    nout = 7 if z > 18 else _NTOT[z - 1]
    if z in (15, 17, 19) or (z > 20 and z != 26):
        einn = 0.0
    elif z < 3:
        einn = 1e30
    else:
        einn = ph1[z][nint][0]
    total = np.zeros_like(e)
    for shell, (eth, e0, s0, ya, p, yw) in ph1[z].items():
        if shell > nout:
            continue
        on = e >= eth
        if nint < shell < nout:
            on &= e >= einn
        if not on.any():
            continue
        y = e / e0
        sig = s0 * ((y - 1.0) ** 2 + yw**2) * y ** (0.5 * p - _SHELL_L[shell - 1] - 5.5)
        sig *= (1.0 + np.sqrt(y / ya)) ** (-p)
        if shell == nout and shell > nint and z in ph2:
            e0b, s0b, yab, pb, ywb, y0b, y1b = ph2[z]
            x = e / e0b - y0b
            zz = np.sqrt(x * x + y1b**2)
            outer = s0b * ((x - 1.0) ** 2 + ywb**2) * zz ** (0.5 * pb - 5.5)
            outer *= (1.0 + np.sqrt(zz / yab)) ** (-pb)
            sig = np.where(e >= einn, sig, outer)
        total += np.where(on, sig, 0.0)
    return total * 1e-18


def _verner_edges_mean(z: int, e1: np.ndarray, e2: np.ndarray) -> np.ndarray:
    """Verner cross-section (cm^2) of a bin as XSPEC's ``gphoto`` gives it (``xsect vern``):
    the mean of the values at the two bin edges."""
    return 0.5 * (verner_sigma(z, e1) + verner_sigma(z, e2))


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


# the 18 elements of XSPEC's phabs (the same set as TBabs)
_PHABS_Z = (1, 2, 6, 7, 8, 10, 11, 12, 13, 14, 16, 17, 18, 20, 24, 26, 27, 28)


# XSPEC's xszvab: transmission 1 where a bin's (rest-frame) lower edge is below the Lyman limit
# or above 100 keV
_LYMAN_KEV = 0.0135984


def phabs_sigma(
    edges_kev: np.ndarray, abund: str = "angr", xsect: str = "bcmc", redshift: float = 0.0
) -> np.ndarray:
    """Cross-section per H atom (units of 1e-22 cm^2) in each bin for XSPEC's phabs / zphabs.

    Parameters
    ----------
    edges_kev : ndarray
        Bin edges in keV (observed frame).
    abund : str
        Abundance table.
    xsect : str
        ``bcmc`` (BCMC 1992 with the Yan et al. 1998 He), ``obcm`` (BCMC with the old He), or
        ``vern`` (Verner et al. 1996 / Verner & Yakovlev 1995 fits for every element, H and He
        included, averaged over the two bin edges).
    redshift : float
        Absorber redshift (zphabs, zpcfabs): the edges are multiplied by ``1 + redshift``.

    Returns
    -------
    ndarray
        sigma per bin such that transmission = exp(-nH[1e22] * sigma).
    """
    edges = np.ascontiguousarray(edges_kev, dtype=float)
    xs = xsect.lower()
    if xs not in XSECT_TABLES:
        raise ValueError(f"unknown cross-section table {xsect!r}; known: {', '.join(XSECT_TABLES)}")
    ab = abundances(abund)

    def compute() -> np.ndarray:
        rest = edges * (1.0 + redshift)
        e1, e2 = rest[:-1] * 1000.0, rest[1:] * 1000.0
        if xs == "vern":
            total = np.zeros(e1.size)
            for z in _PHABS_Z:
                total = total + ab[z] * _verner_edges_mean(z, e1, e2)
        else:
            total = _bcmc_he(e1, e2, xs) * ab[2]
            for z in _bcmc_table():
                total = total + ab[z] * _bcmc_element(z, e1, e2)
        off = (rest[:-1] < _LYMAN_KEV) | (rest[:-1] > 100.0)
        return np.where(off, 0.0, total * 1e22)

    key = ("phabs", abund.lower(), xs, float(redshift), *_grid_key(edges))
    return _cached(key, compute)


@cache
def _mm83() -> tuple[np.ndarray, np.ndarray]:
    rows = _data_rows("wabs_mm83.csv")
    elo = np.array([float(r["e_lo_keV"]) for r in rows])
    coeffs = np.array([[float(r["c0"]), float(r["c1"]), float(r["c2"])] for r in rows])
    return elo, coeffs


def _mm83_sigma(e_kev: np.ndarray, rng: np.ndarray, lyman: float | None = None) -> np.ndarray:
    """MM83 sigma (1e-22 cm^2) at ``e_kev`` using the coefficients of range index ``rng``."""
    elo, coeffs = _mm83()
    c = coeffs[rng]
    sigma = (c[:, 0] + c[:, 1] * e_kev + c[:, 2] * e_kev * e_kev) / e_kev**3 * 1e-2
    # no absorption below the H ionisation limit (wabs: first row's lower bound; zwabs 13.6 eV)
    return np.where(e_kev < (elo[0] if lyman is None else lyman), 0.0, sigma)


def _wabs_pieces(edges: np.ndarray, lyman: float | None = None) -> np.ndarray:
    """Split every bin at the MM83 range boundaries (cached per grid).

    Returns the bin index, width and MM83 sigma at the left and right end of every piece, each
    end evaluated with the coefficients of the piece's own range (XSPEC's ``xsabsw``).
    """

    def compute() -> np.ndarray:
        elo, _ = _mm83()
        breaks = elo[1:]
        lo, hi = edges[:-1], edges[1:]
        inner = [(i, b) for b in breaks for i in np.flatnonzero((lo < b) & (hi > b))]
        bins = np.arange(lo.size)
        if inner:
            extra = np.array(inner)
            allbins = np.concatenate([bins, extra[:, 0].astype(int)])
            allpts = np.concatenate([lo, extra[:, 1]])
        else:
            allbins, allpts = bins, lo
        # pieces: sort each bin's start points, each piece ends at the next start or bin top
        order = np.lexsort((allpts, allbins))
        pb, pl = allbins[order], allpts[order]
        nxt = np.append(pl[1:], np.nan)
        last = np.append(pb[1:] != pb[:-1], True)
        pr = np.where(last, hi[pb], nxt)
        rng = np.clip(np.searchsorted(elo, pl, side="right") - 1, 0, len(elo) - 1)
        return np.column_stack(
            [pb, pr - pl, _mm83_sigma(pl, rng, lyman), _mm83_sigma(pr, rng, lyman)]
        )

    return _cached(("wabs-pieces", lyman, *_grid_key(edges)), compute)


def wabs_transmission(
    edges_kev: np.ndarray, nh: float, redshift: float = 0.0, lyman: float | None = None
) -> np.ndarray:
    """Bin-averaged wabs (zwabs) transmission, as XSPEC's ``xsabsw`` (``xszabs``) computes it.

    The transmission exp(-nH sigma) is integrated over each bin with the trapezoidal rule on
    pieces split at the Morrison & McCammon (1983) range boundaries (absorption edges), each
    piece using the fit of its own range at both of its ends.

    Parameters
    ----------
    edges_kev : ndarray
        Bin edges in keV.
    nh : float
        Column density in 1e22 cm^-2.
    redshift : float
        zwabs: the rest-frame edges ``E (1 + z)`` are integrated over.
    lyman : float, optional
        No absorption below this rest-frame energy (keV); default wabs's 0.0135984 (zwabs
        uses 0.0136).

    Returns
    -------
    ndarray
        Transmission per bin.
    """
    edges = np.ascontiguousarray(edges_kev, dtype=float)
    if redshift != 0.0:
        edges = edges * (1.0 + redshift)
    pieces = _wabs_pieces(edges, lyman)
    idx = pieces[:, 0].astype(np.intp)
    trap = pieces[:, 1] * 0.5 * (np.exp(-nh * pieces[:, 2]) + np.exp(-nh * pieces[:, 3]))
    width = np.diff(edges)
    out = np.bincount(idx, weights=trap, minlength=width.size)
    return np.divide(out, width, out=np.zeros_like(width), where=width > 0)


def wabs_sigma(edges_kev: np.ndarray) -> np.ndarray:
    """Morrison & McCammon (1983) cross-section per H atom (1e-22 cm^2) at each bin's midpoint.

    For display only: the model itself (`wabs_transmission`) averages the transmission over
    the bin, which differs from exp(-nH sigma_mid) in bins that contain an edge.

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
        elo, _ = _mm83()
        rng = np.clip(np.searchsorted(elo, e, side="right") - 1, 0, len(elo) - 1)
        return _mm83_sigma(e, rng)

    return _cached(("wabs", *_grid_key(edges)), compute)


def tbabs_sigma(
    edges_kev: np.ndarray, abund: str = "wilm", redshift: float = 0.0, grains: bool = True
) -> np.ndarray:
    """TBabs cross-section per H atom; see :func:`xrtflow.spectral.tbabs.tbabs_sigma`."""
    from xrtflow.spectral.tbabs import tbabs_sigma as _tbabs_sigma

    return _tbabs_sigma(edges_kev, abund, redshift, grains)
