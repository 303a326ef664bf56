"""Free-free Gaunt factors and the bremss model as XSPEC 12.9.1 computes them.

Kellogg, Baldwin & Koch (1975, ApJ 199, 299) polynomial fits to the Karzas & Latter (1961)
Gaunt factors, with XSPEC's corrections, and the Kurucz low-temperature table.
"""

from __future__ import annotations

import numpy as np

__all__ = ["bremss", "gaunt"]


def _trapezoid(edges: np.ndarray, values_at_edges: np.ndarray) -> np.ndarray:
    return 0.5 * (values_at_edges[:-1] + values_at_edges[1:]) * np.diff(edges)


# Kellogg, Baldwin & Koch (1975) polynomial fits to the Karzas & Latter (1961) Gaunt factors,
# with the corrections used in XSPEC's bremss; A[n][m] -> (c0, c1, c2)
_KBK_A1 = (1.001, 1.004, 1.017, 1.036, 1.056, 1.121, 1.001, 1.005, 1.017, 1.046, 1.073, 1.115,
           .9991, 1.005, 1.03, 1.055, 1.102, 1.176, .997, 1.005, 1.035, 1.069, 1.134, 1.186,
           .9962, 1.004, 1.042, 1.1, 1.193, 1.306, .9874, .9962, 1.047, 1.156, 1.327, 1.485,
           .9681, .9755, 1.020, 1.208, 1.525, 1.965)  # fmt: skip
_KBK_A2 = (.3029, .1616, .04757, .013, .0049, -.0032, .4905, .2155, .08357, .02041, .00739,
           .00029, .654, .2833, .08057, .03257, .00759, -.00151, 1.029, .391, .1266, .05149,
           .01274, .00324, .9569, .4891, .1764, .05914, .01407, -.00024, 1.236, .7579, .326,
           .1077, .028, .00548, 1.327, 1.017, .6017, .205, .0605, .00187)  # fmt: skip
_KBK_A3 = (-1.323, -.254, -.01571, -.001, -.000184, .00008, -4.762, -.3386, -.03571, -.001786,
           -.0003, .00001, -6.349, -.4206, -.02571, -.003429, -.000234, .00005, -13.231, -.59,
           -.04571, -.005714, -.000445, -.00004, -7.672, -.6852, -.0643, -.005857, -.00042,
           .00004, -7.143, -.9947, -.12, -.01007, -.000851, -.00004, -3.175, -1.116, -.2270,
           -.01821, -.001729, .00023)  # fmt: skip
_KBK = np.stack([np.reshape(a, (7, 6)) for a in (_KBK_A1, _KBK_A2, _KBK_A3)], axis=-1)  # [m,n,k]
_GAM2 = np.array([0.7783, 1.2217, 2.6234, 4.3766, 20.0, 70.0])
_GAM3 = np.array([1.0, 1.7783, 3.0, 5.6234, 10.0, 30.0])
# Kurucz low-temperature Gaunt table YA[j,k] (7 x 12), j: log gamma^2, k: log u
_KURUCZ = np.reshape(
    (5.40, 5.25, 5.00, 4.69, 4.48, 4.16, 3.85, 4.77, 4.63, 4.40, 4.13, 3.87, 3.52, 3.27, 4.15,
     4.02, 3.80, 3.57, 3.27, 2.98, 2.70, 3.54, 3.41, 3.22, 2.97, 2.70, 2.45, 2.20, 2.94, 2.81,
     2.65, 2.44, 2.21, 2.01, 1.81, 2.41, 2.32, 2.19, 2.02, 1.84, 1.67, 1.50, 1.95, 1.90, 1.80,
     1.68, 1.52, 1.41, 1.30, 1.55, 1.56, 1.51, 1.42, 1.33, 1.25, 1.17, 1.17, 1.30, 1.32, 1.30,
     1.20, 1.15, 1.11, 0.86, 1.00, 1.15, 1.18, 1.15, 1.11, 1.08, 0.59, 0.76, 0.97, 1.09, 1.13,
     1.10, 1.08, 0.38, 0.53, 0.76, 0.96, 1.08, 1.09, 1.09),
    (12, 7),
).T  # fmt: skip


def _kurucz(u: np.ndarray, gam: float) -> np.ndarray:
    rj = 2.0 * np.log10(gam) + 3.0
    j = int(rj)
    k = np.maximum(np.trunc(2.0 * np.log10(u) + 9.0).astype(int), 1)
    if j >= 7 or j < 1:
        return np.zeros_like(u)
    t = (np.log10(gam) - (j - 3.0) / 2.0) / 0.5
    uu = (np.log10(u) - (k - 9.0) / 2.0) / 0.5
    kk = np.minimum(k, 11)
    y = _KURUCZ
    g = ((1 - t) * (1 - uu) * y[j - 1, kk - 1] + t * (1 - uu) * y[j, kk - 1]
         + t * uu * y[j, kk] + (1 - t) * uu * y[j - 1, kk])  # fmt: skip
    return np.where(k >= 12, 0.0, g)


_BORN_CACHE: dict = {}


def _born_raw(e: np.ndarray, kt: float) -> np.ndarray:
    """Born-approximation part of :func:`gaunt` (independent of the ion charge): Bessel K0
    polynomial approximations (Abramowitz & Stegun 9.8.1/9.8.5/9.8.6), each branch evaluated on
    its own energies only."""
    u1 = e * (0.5 / kt)
    u12 = 0.5 * u1
    born = np.empty_like(e)
    small = u12 <= 1.0
    if small.all():
        iS, iL = slice(None), None
    else:
        iS, iL = np.flatnonzero(small), np.flatnonzero(~small)
    us = u12[iS]
    t2 = (u1[iS] / 3.75) ** 2
    ai = 1 + t2 * (
        3.5156229
        + t2 * (3.089942 + t2 * (1.2067492 + t2 * (0.2659732 + t2 * (0.0360768 + t2 * 0.0045813))))
    )
    uu = us * us
    ak_small = (
        -np.log(us) * ai
        - 0.57721566
        + uu
        * (
            0.4227842
            + uu
            * (
                0.23069756
                + uu * (0.0348859 + uu * (0.00262698 + uu * (0.0001075 + uu * 0.0000074)))
            )
        )
    )
    born[iS] = 0.5513 * np.exp(u1[iS]) * ak_small
    if iL is not None and iL.size:
        ul = u12[iL]
        im = -1.0 / ul
        # exp(u1) / exp(2 * u12) == 1: no overflow for large u
        born[iL] = (
            0.5513
            * (
                1.25331414
                + im
                * (
                    0.07832358
                    + im
                    * (
                        0.02189568
                        + im * (0.01062446 + im * (0.00587872 + im * (0.0025154 + im * 0.00053208)))
                    )
                )
            )
            / np.sqrt(2.0 * ul)
        )
    return born


def _born(e: np.ndarray, kt: float) -> np.ndarray:
    """:func:`_born_raw`, cached for the last few (energies, kT) so that repeated Gaunt factors
    at one temperature compute it once."""
    key = (float(kt), e.shape, hash(e.tobytes()))
    out = _BORN_CACHE.get(key)
    if out is not None:
        return out
    born = _born_raw(e, kt)
    if len(_BORN_CACHE) > 8:
        _BORN_CACHE.clear()
    born.setflags(write=False)
    _BORN_CACHE[key] = born
    return born


def _gaunt_below(e: np.ndarray, kt: float, z: float, born: np.ndarray | None) -> np.ndarray:
    """Gaunt factor for energies ``e`` all below 50 kT (``born``: :func:`_born_raw` of ``e``,
    or None to compute it when needed)."""
    gam = z * z * 0.01358 / kt
    gam1 = min(gam * 1000.0, 100.0)
    if gam > 0.1:
        return _kurucz(e / kt, gam)
    if born is None:
        born = _born_raw(e, kt)
    if gam1 < 1.0:
        return born
    uc = np.maximum(e / kt, 0.003)
    n = np.searchsorted(_U_BOUNDS, uc, side="left")
    m = int(np.searchsorted(_GAM_BOUNDS, gam1, side="left"))
    p = (gam1 - _GAM3[m]) / _GAM2[m]
    c = (1 - p) * _KBK[m] + p * _KBK[m + 1]  # (6, 3) coefficients interpolated in gamma
    return (c[n, 0] + uc * (c[n, 1] + uc * c[n, 2])) * born


_U_BOUNDS = np.array([0.03, 0.30, 1.0, 5.0, 15.0])
_GAM_BOUNDS = np.array([1.773, 3.0, 5.6234, 10.0, 30.0])


def gaunt(e: np.ndarray, kt: float, z: float) -> np.ndarray:
    """Free-free Gaunt factor as in XSPEC's bremss (Kellogg, Baldwin & Koch 1975).

    Parameters
    ----------
    e : ndarray
        Photon energies (keV).
    kt : float
        Temperature (keV).
    z : float
        Ion charge.

    Returns
    -------
    ndarray
        Gaunt factor; zero where E > 50 kT.
    """
    e = np.asarray(e, dtype=float)
    out = np.zeros(e.shape)
    below = ~(e > 50 * kt)
    eb = e[below]
    if eb.size:
        gam = z * z * 0.01358 / kt
        born = _born(eb, kt) if gam <= 0.1 else None
        out[below] = _gaunt_below(eb, kt, z, born)
    return out


def _born_sorted(e: np.ndarray, kt: float) -> np.ndarray:
    """:func:`_born_raw` for increasing energies: the small-argument branch (``E <= 4 kT``) is
    then a prefix, so both branches work on slices (no index arrays; same values)."""
    u1 = e * (0.5 / kt)
    k = int(np.searchsorted(e, 4.0 * kt, side="right"))
    born = np.empty_like(e)
    if k:
        us = 0.5 * u1[:k]
        t2 = (u1[:k] / 3.75) ** 2
        ai = 1 + t2 * (
            3.5156229
            + t2
            * (3.089942 + t2 * (1.2067492 + t2 * (0.2659732 + t2 * (0.0360768 + t2 * 0.0045813))))
        )
        uu = us * us
        ak = (
            -np.log(us) * ai
            - 0.57721566
            + uu
            * (
                0.4227842
                + uu
                * (
                    0.23069756
                    + uu * (0.0348859 + uu * (0.00262698 + uu * (0.0001075 + uu * 0.0000074)))
                )
            )
        )
        born[:k] = 0.5513 * np.exp(u1[:k]) * ak
    if k < e.size:
        ul = 0.5 * u1[k:]
        im = -1.0 / ul
        born[k:] = (
            0.5513
            * (
                1.25331414
                + im
                * (
                    0.07832358
                    + im
                    * (
                        0.02189568
                        + im * (0.01062446 + im * (0.00587872 + im * (0.0025154 + im * 0.00053208)))
                    )
                )
            )
            / np.sqrt(2.0 * ul)
        )
    return born


def _gaunt_sorted(e, kt, z, born, uc, u_index) -> np.ndarray:  # noqa: ANN001
    """:func:`_gaunt_below` with the parts shared by both ions computed once (``born``,
    ``uc = max(E/kT, 0.003)`` and its interval index ``u_index``)."""
    gam = z * z * 0.01358 / kt
    if gam > 0.1:
        return _kurucz(e / kt, gam)
    if born is None:  # e.g. a NaN temperature tried by a minimizer: NaN, not an error
        born = _born_sorted(e, kt)
    gam1 = min(gam * 1000.0, 100.0)
    if gam1 < 1.0:
        return born
    m = int(np.searchsorted(_GAM_BOUNDS, gam1, side="left"))
    p = (gam1 - _GAM3[m]) / _GAM2[m]
    c = ((1 - p) * _KBK[m] + p * _KBK[m + 1])[u_index]  # (n, 3): one gather, not three
    return (c[:, 0] + uc * (c[:, 1] + uc * c[:, 2])) * born


def bremss(edges: np.ndarray, p: np.ndarray, **_) -> np.ndarray:
    # XSPEC: trapezoid between edges of (g_H + 4 (He/H) g_He) exp(-E/kT) / (E sqrt(kT)), He/H=0.085
    kt = float(p[0])
    a = np.zeros(edges.shape)
    n = int(np.searchsorted(edges, 50 * kt, side="left"))  # edges are increasing
    e = edges[:n]
    if n:
        born = _born_sorted(e, kt) if 4 * 0.01358 / kt <= 0.1 or 0.01358 / kt <= 0.1 else None
        uc = np.maximum(e / kt, 0.003)
        u_index = np.searchsorted(_U_BOUNDS, uc, side="left")
        g = _gaunt_sorted(e, kt, 1.0, born, uc, u_index) + 4 * 0.085 * _gaunt_sorted(
            e, kt, 2.0, born, uc, u_index
        )
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            a[:n] = g * np.exp(-e / kt) / (e * np.sqrt(kt))
        if not np.all(np.isfinite(a[:n])):
            a = np.nan_to_num(a)
    return _trapezoid(edges, a)
