"""OGIP table models (OGIP memo 92-009): ``atable{file}``, ``mtable{file}``, ``etable{file}``.

A table model file has a primary header (``MODLNAME``, ``ADDMODEL``, ``REDSHIFT``, optional
``LOELIMIT``/``HIELIMIT``) and three binary tables: ``PARAMETERS`` (one row per parameter: NAME,
METHOD, INITIAL, DELTA, MINIMUM, BOTTOM, TOP, MAXIMUM, NUMBVALS, VALUE; ``NINTPARM`` interpolated
and ``NADDPARM`` additional parameters), ``ENERGIES`` (ENERG_LO, ENERG_HI) and ``SPECTRA``
(PARAMVAL, INTPSPEC and one ADDSPnnn column per additional parameter), the spectra ordered with
the first parameter varying slowest.

Evaluation follows XSPEC 12.9.1 (``OGIPTable``):

- interpolation in each interpolated parameter between its two bracketing tabulated values,
  linear, or logarithmic in the parameter where METHOD = 1 (multi-linear over all of them); a
  value within 1e-6 (relative) of a tabulated one uses that spectrum;
- additional parameters add ``value * ADDSPnnn`` to the spectra before interpolating;
- energies: the table's bins are moved to the observed frame, ``E / (1 + z)``, when the file
  has a redshift parameter ``z`` (frozen at 0 by default, limits 0-5);
- additive tables hold photons cm^-2 s^-1 per table bin: each model bin gets the table bins'
  photons in proportion to their overlap (the table is flat within a bin), times ``1/(1+z)``
  (time dilation), times ``norm``; bins outside the table are 0;
- multiplicative tables: each model bin is the overlap-weighted mean of the table values;
  ``etable`` takes ``exp(-mean)`` (0 where the mean exceeds 100); bins outside the table get
  ``LOELIMIT`` below and ``HIELIMIT`` above (default 1);
- a model bin whose lower edge lies below the table's first energy is outside the table.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from xrtflow.spectral.components import ComponentSpec, ParSpec

__all__ = ["TABLE_KINDS", "TableModel", "load_table", "table_component"]

#: expression prefix -> (kind of component, whether the file must be additive, exponential)
TABLE_KINDS = {"atable": ("add", True, False), "mtable": ("mul", False, False),
               "etable": ("mul", False, True)}  # fmt: skip
_FUZZY = 1e-6
_NORM = ParSpec("norm", "", 1.0, 0.0, 0.0, 1e24, 1e24, 0.01)
_Z = ParSpec("z", "", 0.0, 0.0, 0.0, 5.0, 5.0, -0.001)


@dataclass
class TableModel:
    """A table model file read into memory.

    Attributes
    ----------
    path : Path
        The file.
    name : str
        MODLNAME.
    additive : bool
        ADDMODEL.
    pars : tuple of ParSpec
        Interpolated and additional parameters (file order), then ``z`` if REDSHIFT.
    grids : list of ndarray
        Tabulated values of each interpolated parameter.
    log_interp : list of bool
        METHOD = 1 (logarithmic interpolation) per interpolated parameter.
    interp_index, add_index : list of int
        Positions in ``pars`` of the interpolated and of the additional parameters.
    energies : ndarray
        Table bin edges (keV), ENERG_LO plus the last ENERG_HI.
    spectra : ndarray
        INTPSPEC reshaped to (N_1, ..., N_k, n_energies).
    add_spectra : list of ndarray
        ADDSPnnn, same shape, one per additional parameter.
    redshift : bool
        REDSHIFT keyword.
    low_value, high_value : float
        Value of a multiplicative table outside its energy range (LOELIMIT, HIELIMIT).
    """

    path: Path
    name: str
    additive: bool
    pars: tuple[ParSpec, ...]
    grids: list[np.ndarray]
    log_interp: list[bool]
    interp_index: list[int]
    add_index: list[int]
    energies: np.ndarray
    spectra: np.ndarray
    add_spectra: list[np.ndarray]
    redshift: bool
    low_value: float
    high_value: float

    def interpolate(self, p: np.ndarray) -> np.ndarray:
        """Spectrum on the table's energy bins for parameters ``p`` (file order, z excluded)."""
        base = self.spectra
        if self.add_index:
            base = base + sum(
                p[i] * a for i, a in zip(self.add_index, self.add_spectra, strict=True)
            )
        corners = []
        for j, grid in enumerate(self.grids):
            v = float(p[self.interp_index[j]])
            n = grid.size
            mag = abs(v) if v != 0 else 1.0
            exact = np.flatnonzero(np.abs(v - grid) / mag <= (_FUZZY if v != 0 else 0.0))
            if n == 1 or exact.size:
                corners.append(((int(exact[0]) if exact.size else 0, 1.0),))
                continue
            # outside the tabulated range: the nearest end (XSPEC refuses such values; the
            # fitter keeps parameters within the file's limits)
            k = int(np.clip(np.searchsorted(grid, v, side="right") - 1, 0, n - 2))
            v = min(max(v, grid[0]), grid[-1])
            x1, x2 = grid[k], grid[k + 1]
            if self.log_interp[j] and x1 > 0 and v > 0:
                f = np.log(v / x1) / np.log(x2 / x1)
            else:
                f = (v - x1) / (x2 - x1)
            corners.append(((k, 1.0 - f), (k + 1, f)))
        out = np.zeros(base.shape[-1])
        for combo in itertools.product(*corners):
            w = float(np.prod([c[1] for c in combo]))
            if w != 0.0:
                out += w * base[tuple(c[0] for c in combo)]
        return out

    def _weights(self, edges: np.ndarray, z: float) -> tuple:
        """Overlap of every model bin with the table bins (cached per grid and redshift)."""
        key = (float(z), edges.size, hash(edges.tobytes()))
        cache = self.__dict__.setdefault("_wcache", {})
        hit = cache.get(key)
        if hit is not None:
            return hit
        e_tab = self.energies / (1.0 + z)
        # fractional table-bin index of every model edge; a bin starting below the table is out
        t = np.interp(edges, e_tab, np.arange(e_tab.size, dtype=float))
        t_lo, t_hi = t[:-1], t[1:]
        out_low = edges[:-1] * (1.0 + _FUZZY) < e_tab[0]
        covered = (t_hi - t_lo > 0) & ~out_low
        n = e_tab.size - 1
        i0 = np.minimum(np.floor(t_lo).astype(np.intp), n - 1)
        i1 = np.minimum(np.floor(t_hi).astype(np.intp), n - 1)
        same = i0 == i1
        w_first = np.where(same, t_hi - t_lo, i0 + 1 - t_lo)
        w_last = np.where(same, 0.0, t_hi - i1)
        a, b = i0 + 1, i1
        pairs = np.column_stack([np.minimum(a, n), np.minimum(np.maximum(b, a), n)]).ravel()
        hit = (covered, out_low, t_hi - t_lo, i0, i1, w_first, w_last, pairs, b > a)
        if len(cache) > 16:
            cache.clear()
        cache[key] = hit
        return hit

    def evaluate(self, edges: np.ndarray, p: np.ndarray, exponential: bool = False) -> np.ndarray:
        """Model on the bin ``edges`` (keV): photons per bin (additive, at norm 1) or factor.

        Parameters
        ----------
        edges : ndarray
            Bin edges (keV), increasing.
        p : ndarray
            The table's parameters in order (``z`` last if the file has it; no norm).
        exponential : bool
            etable: exp(-value).

        Returns
        -------
        ndarray
            One value per bin.
        """
        p = np.asarray(p, dtype=float)
        z = float(p[-1]) if self.redshift else 0.0
        if z <= -1.0:
            raise ValueError(f"table model {self.path}: redshift z = {z} must be > -1")
        spec = self.interpolate(p)
        edges = np.asarray(edges, dtype=float)
        weights = self._weights(edges, z)
        covered, out_low, width = weights[0], weights[1], weights[2]
        summed = _overlap_sum(spec, weights[3:])
        if self.additive:
            return np.where(covered, summed, 0.0) / (1.0 + z)
        mean = np.divide(summed, width, out=np.zeros_like(summed), where=covered)
        if exponential:
            with np.errstate(over="ignore"):
                mean = np.where(mean > 100.0, 0.0, np.exp(-mean))
        outside = np.where(out_low, self.low_value, self.high_value)
        return np.where(covered, mean, outside)


def _overlap_sum(spec: np.ndarray, weights: tuple) -> np.ndarray:
    """Sum of ``spec`` over each model bin's overlap with the table bins (flat within a bin).

    Whole bins are summed segment by segment (not as differences of a running sum, which would
    lose the faint tail of a spectrum to rounding).
    """
    i0, i1, w_first, w_last, pairs, has_middle = weights
    middle = np.add.reduceat(np.append(spec, 0.0), pairs)[0::2]
    return w_first * spec[i0] + np.where(has_middle, middle, 0.0) + w_last * spec[i1]


def _col(table, name: str, path: Path, ext: str):
    try:
        return table[name]
    except KeyError:
        raise ValueError(f"table model {path}: extension {ext} has no column {name}") from None


_CACHE: dict[tuple, TableModel] = {}


def load_table(path: str | Path) -> TableModel:
    """Read an OGIP table model file (cached by path and modification time).

    Parameters
    ----------
    path : str or Path
        The FITS file.

    Returns
    -------
    TableModel

    Raises
    ------
    ValueError
        If the file is missing or is not a valid OGIP table model (the message says what).
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise ValueError(f"table model file {path} not found")
    key = (str(path.resolve()), path.stat().st_mtime_ns)
    if key in _CACHE:
        return _CACHE[key]
    from astropy.io import fits

    try:
        hdul = fits.open(path, memmap=False)
    except OSError as exc:
        raise ValueError(f"table model {path} is not a FITS file ({exc})") from None
    with hdul:
        names = [h.name for h in hdul]
        for ext in ("PARAMETERS", "ENERGIES", "SPECTRA"):
            if ext not in names:
                raise ValueError(f"table model {path} has no {ext} extension (OGIP 92-009)")
        hdr = hdul[0].header
        name = str(hdr.get("MODLNAME", path.stem)).strip() or path.stem
        additive = bool(hdr.get("ADDMODEL", False))
        redshift = bool(hdr.get("REDSHIFT", False))
        low = float(hdr.get("LOELIMIT", -1.0))
        high = float(hdr.get("HIELIMIT", -1.0))
        ptab, phdr = hdul["PARAMETERS"].data, hdul["PARAMETERS"].header
        nint, nadd = int(phdr.get("NINTPARM", len(ptab))), int(phdr.get("NADDPARM", 0))
        if nint + nadd != len(ptab) or nint < 1:
            raise ValueError(f"table model {path}: NINTPARM + NADDPARM must equal the rows of "
                             "PARAMETERS, with at least one interpolated parameter")  # fmt: skip
        cols = {c: _col(ptab, c, path, "PARAMETERS") for c in
                ("NAME", "METHOD", "INITIAL", "DELTA", "MINIMUM", "BOTTOM", "TOP", "MAXIMUM",
                 "NUMBVALS", "VALUE")}  # fmt: skip
        pars, grids, logs, iidx, aidx = [], [], [], [], []
        for i in range(len(ptab)):
            nvals = int(cols["NUMBVALS"][i])
            spec = ParSpec(
                str(cols["NAME"][i]).strip(), "", float(cols["INITIAL"][i]),
                float(cols["MINIMUM"][i]), float(cols["BOTTOM"][i]), float(cols["TOP"][i]),
                float(cols["MAXIMUM"][i]), float(cols["DELTA"][i]),
            )  # fmt: skip
            if cols["METHOD"][i] >= 0 and len(iidx) < nint and nvals > 0:
                grid = np.atleast_1d(np.asarray(cols["VALUE"][i], dtype=float))[:nvals]
                if grid.size != nvals or np.any(np.diff(grid) <= 0):
                    raise ValueError(f"table model {path}: parameter {spec.name} needs "
                                     f"{nvals} increasing VALUEs")  # fmt: skip
                grids.append(grid)
                logs.append(int(cols["METHOD"][i]) == 1)
                iidx.append(i)
            else:
                aidx.append(i)
            pars.append(spec)
        etab = hdul["ENERGIES"].data
        elo = np.asarray(_col(etab, "ENERG_LO", path, "ENERGIES"), dtype=float)
        ehi = np.asarray(_col(etab, "ENERG_HI", path, "ENERGIES"), dtype=float)
        energies = np.append(elo, ehi[-1])
        if np.any(np.diff(energies) <= 0):
            raise ValueError(f"table model {path}: ENERGIES must increase")
        stab = hdul["SPECTRA"].data
        shape = tuple(g.size for g in grids) + (elo.size,)
        nrows = int(np.prod(shape[:-1]))
        flat = np.asarray(_col(stab, "INTPSPEC", path, "SPECTRA"), dtype=float)
        if flat.shape != (nrows, elo.size):
            raise ValueError(f"table model {path}: SPECTRA INTPSPEC has shape {flat.shape}, "
                             f"expected ({nrows}, {elo.size}) from PARAMETERS and ENERGIES")  # fmt: skip
        adds = [
            np.asarray(_col(stab, f"ADDSP{k + 1:03d}", path, "SPECTRA"), float).reshape(shape)
            for k in range(len(aidx))
        ]
    if redshift:
        pars.append(_Z)
    model = TableModel(
        path=path, name=name, additive=additive, pars=tuple(pars), grids=grids, log_interp=logs,
        interp_index=iidx, add_index=aidx, energies=energies, spectra=flat.reshape(shape),
        add_spectra=adds, redshift=redshift, low_value=1.0 if low < 0 else low,
        high_value=1.0 if high < 0 else high,
    )  # fmt: skip
    _CACHE[key] = model
    return model


def table_component(kind: str, path: str | Path) -> ComponentSpec:
    """The model component for ``atable{path}`` / ``mtable{path}`` / ``etable{path}``.

    Parameters
    ----------
    kind : str
        ``atable``, ``mtable`` or ``etable``.
    path : str or Path
        The table model file.

    Returns
    -------
    ComponentSpec
        Named after MODLNAME; additive tables get a ``norm``.
    """
    kind = kind.lower()
    if kind not in TABLE_KINDS:
        raise ValueError(f"unknown table model kind {kind!r}; use atable, mtable or etable")
    comp_kind, need_add, exponential = TABLE_KINDS[kind]
    table = load_table(path)
    if table.additive != need_add:
        have = "an additive" if table.additive else "a multiplicative"
        use = "atable" if table.additive else "mtable or etable"
        raise ValueError(f"{kind}{{{path}}}: {table.path} holds {have} table model; use {use}")

    def func(edges: np.ndarray, p: np.ndarray, **_) -> np.ndarray:
        return table.evaluate(edges, p, exponential=exponential)

    pars = table.pars + ((_NORM,) if comp_kind == "add" else ())
    return ComponentSpec(table.name, comp_kind, pars, func)
