"""TBabs and zTBabs (tbvabs 2.3, Wilms, Allen & McCray 2000, ApJ 542, 914) as XSPEC 12.9.1 has them.

Cross-sections per species come from Band et al. (1990, H), Yan, Sadeghpour & Dalgarno (1998, He
and H2) and Verner et al. (1996) / Verner & Yakovlev (1995) for the metals, except near the O K,
Fe L and Ne K edges, where TBabs interpolates linearly in high-resolution tables (and uses a
power law for Fe between 745 and 795 eV). Every species' bin cross-section is the plain mean of
its values at the two bin edges (tbnew's ``photavg``); the edges are first moved to the rest
frame, ``E (1 + z)``.

The high-resolution tables are XSPEC distribution data that the package does not ship. They are
read at run time from the first of: the directory named by the environment variable
``XRTFLOW_TBABS_TABLES``, a directory set with :func:`set_table_dir`, and
``../shared/data/xspec-tbabs`` beside the repository or the working directory. Without them the
package falls back to its own resampled stand-in (``data/xspec/tbabs_edges.csv``) and logs a
warning: TBabs is then less accurate inside the edge windows (see ``data/xspec/README.md``).
"""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path

import numpy as np

from xrtflow.spectral.absorption import (
    _cached,
    _data_rows,
    _grid_key,
    _he_yan,
    abundances,
    verner_sigma,
)

__all__ = [
    "ENV_VAR",
    "edge_tables",
    "set_table_dir",
    "table_source",
    "tbabs_sigma",
]

log = logging.getLogger(__name__)

ENV_VAR = "XRTFLOW_TBABS_TABLES"
#: file names of the high-resolution tables (numbers only, energy_eV,sigma_Mbarn) by element
TABLE_FILES = {8: "o_edge.csv", 26: "fe_edge.csv", 10: "ne_edge.csv"}
_REPO_ROOT = Path(__file__).resolve().parents[3]
_SHARED_SUBDIR = Path("shared") / "data" / "xspec-tbabs"

_TB_Z = (1, 2, 6, 7, 8, 10, 11, 12, 13, 14, 16, 17, 18, 20, 24, 26, 27, 28)
_TB_WEIGHT = (1.0, 4.0, 12.0, 14.0, 16.0, 20.0, 23.0, 24.0, 27.0, 28.0, 32.0, 35.0, 40.0, 40.0,
              52.0, 56.0, 59.0, 59.0)  # fmt: skip
# gas-phase fraction per element, Wilms et al. 2000 Table 2 (tbvabs defaults)
_TB_DEPLETION = (1.0, 1.0, 0.5, 1.0, 0.6, 1.0, 0.25, 0.2, 0.02, 0.1, 0.6, 0.5, 1.0, 0.003, 0.03,
                 0.3, 0.05, 0.04)  # fmt: skip
_TB_H2 = 0.2
_TB_RHO = 1.0
_TB_AMIN = 0.025e-4
_TB_AMAX = 0.25e-4
_TB_PL = 3.5
_AMU = 1.6605655e-24

_state: dict = {"explicit": None, "tables": None, "source": None}


def set_table_dir(path: str | Path | None) -> None:
    """Use the TBabs edge tables in ``path`` (None: search again as described in the module).

    Parameters
    ----------
    path : str or Path or None
        Directory holding ``o_edge.csv``, ``fe_edge.csv`` and ``ne_edge.csv``.
    """
    _state.update(explicit=None if path is None else Path(path), tables=None, source=None)


def _candidates() -> list[tuple[Path, str]]:
    """Directories to look in, with whether they were configured ('env', 'set') or guessed."""
    out: list[tuple[Path, str]] = []
    env = os.environ.get(ENV_VAR, "").strip()
    if env:
        out.append((Path(env).expanduser(), "env"))
    if _state["explicit"] is not None:
        out.append((_state["explicit"], "set"))
    for base in (_REPO_ROOT.parent, Path.cwd().parent, Path.cwd()):
        out.append((base / _SHARED_SUBDIR, "auto"))
    return out


def _read_table(path: Path) -> tuple[np.ndarray, np.ndarray]:
    rows = [ln for ln in path.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    data = np.array([[float(x) for x in ln.split(",")[:2]] for ln in rows[1:]])
    e, s = data[:, 0], data[:, 1] * 1e-18  # Mbarn -> cm^2
    if e.size < 2 or np.any(np.diff(e) <= 0) or np.any(s < 0):
        raise ValueError(f"{path}: energies must increase and cross-sections be >= 0")
    return e, s


def _stand_in() -> dict[int, tuple[np.ndarray, np.ndarray]]:
    out: dict[int, tuple[list[float], list[float]]] = {}
    for row in _data_rows("tbabs_edges.csv"):
        e, s = out.setdefault(int(row["Z"]), ([], []))
        e.append(float(row["energy_eV"]))
        s.append(float(row["sigma_Mb"]) * 1e-18)
    return {z: (np.array(e), np.array(s)) for z, (e, s) in out.items()}


def _load() -> None:
    for folder, how in _candidates():
        missing = [name for name in TABLE_FILES.values() if not (folder / name).is_file()]
        if missing:
            if how == "env":
                raise ValueError(
                    f"{ENV_VAR}={folder} has no {', '.join(missing)}: point it at the folder "
                    "holding o_edge.csv, fe_edge.csv and ne_edge.csv, or unset it"
                )
            if how == "set":
                raise ValueError(f"TBabs table folder {folder} has no {', '.join(missing)}")
            continue
        _state["tables"] = {z: _read_table(folder / name) for z, name in TABLE_FILES.items()}
        _state["source"] = str(folder.resolve())
        return
    log.warning(
        "TBabs high-resolution O K/Fe L/Ne K tables not found (set %s to their folder); using "
        "the built-in stand-in: TBabs accuracy in the 0.49-0.58, 0.70-0.75 and 0.865-0.870 keV "
        "edge windows is reduced (up to ~1.5%% of the cross-section in bins with resonances)",
        ENV_VAR,
    )
    _state["tables"] = _stand_in()
    _state["source"] = "builtin"


def edge_tables() -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """TBabs's edge tables: Z -> (energies in eV, cross-sections in cm^2), loaded once.

    Returns
    -------
    dict
        Keys 8 (O), 10 (Ne), 26 (Fe).
    """
    if _state["tables"] is None:
        _load()
    return _state["tables"]


def table_source() -> str:
    """Folder the edge tables were read from, or ``'builtin'`` for the package's stand-in."""
    edge_tables()
    return _state["source"]


def _h_band(ev: np.ndarray) -> np.ndarray:
    """Hydrogenic 1s cross-section (cm^2), Band et al. 1990."""
    e1s = 13.599
    y = 2.0 * np.maximum(ev, e1s) / e1s
    sigma = 605.0 / (y**1.5 * (1.0 + np.sqrt(y)) ** 4) * 1e-18
    return np.where(ev < e1s, 0.0, sigma)


def _h2_yan(ev: np.ndarray) -> np.ndarray:
    """H2 cross-section (cm^2): Yan et al. 1998 (above 85 eV and below 30 eV), Wilms et al. 2000
    (30-85 eV), as in TBabs 2.3 (original Yan et al. coefficients, not the erratum)."""
    e = np.asarray(ev, dtype=float)
    x = np.maximum(e, 15.4) / 15.4
    poly = np.polynomial.polynomial.polyval
    e35 = (np.maximum(e, 1.0) / 1000.0) ** -3.5
    high = 45.57 * e35 * poly(1.0 / np.sqrt(x), (1.0, -2.003, -4.806, 50.577, -171.044, 231.608,
                                                 -81.885))  # fmt: skip
    sig = np.select(
        [e <= 15.4, e < 18.0, e < 30.0, e < 85.0],
        [
            np.zeros_like(e),
            1e8 * poly(x, (-37.895, 99.723, -87.227, 25.4)),
            2e7 * x**-0.252 * poly(1.0 / x, (0.071, -0.673, 1.977, -0.692)),
            1e6 * poly(1.0 / x, (0.664, -11.768, 78.118, -231.339, 368.053, -189.953)),
        ],
        high,
    )
    return sig * 1e-24


def _element_sigma(z: int, ev: np.ndarray) -> np.ndarray:
    """Cross-section (cm^2) of element z as TBabs 2.3 evaluates it at energies ev (eV)."""
    if z == 1:
        sig = _h_band(ev)
    elif z == 2:
        sig = _he_yan(ev)
    else:
        sig = verner_sigma(z, ev)
        if z == 26:
            # outside its table TBabs bridges Fe L to the Verner fit with a power law
            bridge = (ev >= 745.0) & (ev <= 795.0)
            sig = np.where(bridge, 1.645e-18 * (ev / 720.74) ** -3.2, sig)
        table = edge_tables().get(z)
        if table is not None:
            e_tab, s_tab = table
            inside = (ev >= e_tab[0]) & (ev <= e_tab[-1])
            sig = np.where(inside, np.interp(ev, e_tab, s_tab), sig)
    # TBabs sets every cross-section to zero at and above 100 keV
    return np.where(ev >= 100e3, 0.0, sig)


def _species_bin_sigmas(ev_edges: np.ndarray) -> dict[int, np.ndarray]:
    """Each species' bin cross-section (cm^2): the mean of its values at the two bin edges."""
    out = {}
    for z in _TB_Z:
        s = _element_sigma(z, ev_edges)
        out[z] = 0.5 * (s[:-1] + s[1:])
    h2 = np.where(ev_edges >= 100e3, 0.0, _h2_yan(ev_edges))
    out[1000] = 0.5 * (h2[:-1] + h2[1:])
    return out


#: math.erf on arrays: the only special function TBabs needs (scipy.special would add ~0.2 s to
#: the start-up of every fit)
_erf = np.frompyfunc(math.erf, 1, 1)


def _lower_gamma(a: float, x: np.ndarray) -> np.ndarray:
    """Lower incomplete gamma function for ``a = 1/2`` (TBabs' grain power law, index 3.5):
    ``gamma(1/2, x) = sqrt(pi) erf(sqrt(x))``."""
    if a != 0.5:  # pragma: no cover - the grain index is a constant of the model
        from scipy.special import gamma, gammainc

        return gammainc(a, x) * gamma(a)
    root = np.sqrt(np.asarray(x, dtype=float))
    return math.sqrt(math.pi) * _erf(root).astype(float)


def _combine(sig: dict[int, np.ndarray], abund: str, grains: bool) -> np.ndarray:
    """Cross-section per H atom (1e-22 cm^2): gas + shielded grains + H2, as tbnew sums them.

    Without grains (zTBabs sets the grain density to 0) every atom is in the gas phase.
    """
    ab = abundances(abund)
    n = sig[1].size
    siggas = np.zeros(n)
    sigavg = np.zeros(n)
    normal = 0.0
    massgrain = 0.0
    for z, weight, depl in zip(_TB_Z, _TB_WEIGHT, _TB_DEPLETION, strict=True):
        beta = 1.0 - depl if grains else 0.0
        abdust = ab[z] * beta
        abgas = ab[z] * (1.0 - beta) * ((1.0 - _TB_H2) if z == 1 else 1.0)
        massgrain += abdust * weight
        normal += abdust
        siggas += abgas * sig[z]
        sigavg += abdust * sig[z]
    sigmol = sig[1000] * ab[1] * _TB_H2 * 0.5
    if not grains or normal <= 0:
        return (siggas + sigmol) * 1e22
    massgrain *= _AMU
    meanmol = massgrain / normal
    sigavg /= normal
    pl, amin, amax = _TB_PL, _TB_AMIN, _TB_AMAX
    k = (1.0 - pl) / (amax ** (1.0 - pl) - amin ** (1.0 - pl))
    ngrains = massgrain / (_TB_RHO * 4.0 / 3.0 * np.pi * k)
    ngrains *= (4.0 - pl) / (amax ** (4.0 - pl) - amin ** (4.0 - pl))
    pmin, pmax = amin ** (3.0 - pl), amax ** (3.0 - pl)
    signorm = ngrains * np.pi * k / (pl - 3.0)
    sd = np.maximum(4.0 / 3.0 * _TB_RHO / meanmol * sigavg, 1e-300)
    siggrains = signorm * (
        pmin * -np.expm1(-sd * amin)
        - pmax * -np.expm1(-sd * amax)
        + sd ** (pl - 3.0) * (_lower_gamma(4.0 - pl, sd * amax) - _lower_gamma(4.0 - pl, sd * amin))
    )
    return (siggas + siggrains + sigmol) * 1e22


def tbabs_sigma(
    edges_kev: np.ndarray, abund: str = "wilm", redshift: float = 0.0, grains: bool = True
) -> np.ndarray:
    """Effective TBabs cross-section per H atom (1e-22 cm^2) in each bin, cached per grid.

    Parameters
    ----------
    edges_kev : ndarray
        Bin edges in keV (observed frame).
    abund : str
        Abundance table.
    redshift : float
        Absorber redshift: the edges are multiplied by ``1 + redshift``.
    grains : bool
        True for TBabs (grains with the Wilms et al. depletions); False for zTBabs, which
        XSPEC runs with no grains (all atoms in the gas phase).

    Returns
    -------
    ndarray
        sigma per bin such that transmission = exp(-nH[1e22] * sigma).
    """
    edges = np.ascontiguousarray(edges_kev, dtype=float)
    source = table_source()

    def compute() -> np.ndarray:
        return _combine(_species_bin_sigmas(edges * 1000.0 * (1.0 + redshift)), abund, grains)

    key = ("tbabs", source, abund.lower(), float(redshift), bool(grains), *_grid_key(edges))
    return _cached(key, compute)
