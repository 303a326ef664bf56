"""The native spectral fitter: joint fits of OGIP spectra with iminuit (MINUIT2).

Typical use::

    from xrtflow.spectral.ogip import read_spectrum
    from xrtflow.spectral.fit import FitSetup, fit

    spectra = [read_spectrum(p, rmf=r, arf=a, background=b) for p, r, a, b in files]
    result = fit(FitSetup(spectra=spectra, model="tbabs*(bb+brems)", tied=["nH"],
                          statistic="cstat", ignore="**-0.3 10.0-**"))
    print(result.table())

Each spectrum is a data group (XSPEC ``data 1:1 a.pha 2:2 b.pha``).  As in XSPEC joint fitting
every parameter is tied across data groups unless ``tied`` lists the ones to tie (the others
are then free per group) or ``per_group`` lists the ones to untie.

Speed: the response of every spectrum is reduced once to the noticed (grouped) channels; spectra
sharing an RMF are folded together with one matrix product (a dense BLAS product when the matrix
is dense-ish, as the Swift-XRT RMFs are; sparse otherwise).  The model is evaluated once per
distinct parameter set per spectrum, so finite-difference gradients only re-evaluate the spectra
a parameter touches; the gradient is handed to MINUIT.  90% errors are MINOS intervals for
``Delta stat = 2.706``, the profile-likelihood interval XSPEC's ``error`` command computes.

Fits with at most one parameter tied across data groups go through
:mod:`xrtflow.spectral.profile`: each data group is first fitted alone (multi-start,
normalizations first), the joint fit is a 1-D profile over the tied parameter with independent
small fits per group, and intervals are exact joint profile-likelihood intervals.  Intervals
that cannot be computed are NaN (never None) with an explanation in ``FitResult.messages``.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from xrtflow.spectral.ogip import Spectrum
from xrtflow.spectral.stats import statistic_per_bin

if TYPE_CHECKING:  # astropy.table costs ~0.5 s to import; only the table methods need it
    from astropy.table import Table

__all__ = ["FitSetup", "FitResult", "ParameterResult", "fit", "resolve_parameter", "DELTA_90"]

#: Delta statistic for a 90% interval on one parameter (XSPEC ``error`` default).
DELTA_90 = 2.705543454095404
#: keV -> erg as XSPEC's ``flux`` command converts (its integration kernel multiplies the photon
#: flux of a bin by (E_lo + E_hi) x 0.801096e-9, i.e. the bin midpoint x 1.602192e-9; CODATA's
#: 1.602176634e-9 is 1e-5 lower)
KEV_TO_ERG = 1.602192e-9
#: Component names treated as (Galactic/intrinsic) absorbers for unabsorbed fluxes.
ABSORBERS = {"tbabs", "phabs", "wabs", "ztbabs", "zphabs", "zwabs", "tbnew", "tbgrain", "tbvarabs"}


#: Columns of :meth:`FitResult.table` (the same for the native and the PyXspec backends).
PARAMETER_COLUMNS = (
    "obsid",
    "group",
    "index",
    "component",
    "parameter",
    "unit",
    "value",
    "err_lo",
    "err_hi",
    "frozen",
    "tied_to",
)
PARAMETER_DTYPES = ("U32", int, int, "U24", "U24", "U24", float, float, float, bool, "U24")


# --------------------------------------------------------------------------------------------
# setup and results
# --------------------------------------------------------------------------------------------
@dataclass
class FitSetup:
    """Everything a fit needs (the native and the PyXspec backends take the same object).

    Attributes
    ----------
    spectra : list of Spectrum
        One data group per spectrum, in order.
    model : str or model object
        XSPEC expression (parsed with :func:`xrtflow.spectral.models.parse_model`) or an object
        with ``.parameters`` and ``.evaluate(edges, values, abund=, xsect=)``.
    start : mapping
        Start values, ``{parameter: value}``; keys are 1-based XSPEC indices or names
        (``"nH"``, ``"bbody.kT"``).  Applies to every data group.
    frozen : sequence
        Parameters to freeze (besides those frozen by default in the model).
    thawed : sequence
        Parameters frozen by default to thaw.
    tied : sequence or None
        Parameters tied across data groups; the others are free per data group.  None means
        XSPEC's default (all tied) unless ``per_group`` is given.
    per_group : sequence or None
        Parameters free per data group (the others tied).  Ignored when ``tied`` is given.
    statistic : str
        ``cstat`` (W-statistic with background), ``chi`` or ``pchi``.
    ignore : str
        XSPEC ignore string in keV, e.g. ``"**-0.3 10.0-**"``.
    ignore_bad : bool
        Drop QUALITY != 0 channels from their groups (XSPEC ``ignore bad``).
    abund, xsect : str
        Abundance table and photo-ionization cross-sections.
    flux_band : tuple of float
        Energy band (keV) for fluxes.
    n_starts : int
        Number of (deterministic) starting points run through MIGRAD; the best wins.
    errors : bool or sequence
        Compute 90% intervals for all free parameters (True) or the listed ones.
    flux_samples : int
        Draws from the covariance matrix for the flux intervals (0: no flux errors).
    n_sims : int
        Simulations for the goodness of fit (0: skip).
    seed : int
        Seed for flux sampling and goodness simulations.
    obsids : sequence of str, optional
        Labels of the data groups (default: OBS_ID header, else file stem).
    """

    spectra: Sequence[Spectrum]
    model: Any
    start: Mapping[int | str, float] = field(default_factory=dict)
    frozen: Sequence[int | str] = ()
    thawed: Sequence[int | str] = ()
    tied: Sequence[int | str] | None = None
    per_group: Sequence[int | str] | None = None
    statistic: str = "cstat"
    ignore: str | None = "**-0.3 10.0-**"
    ignore_bad: bool = True
    abund: str = "wilm"
    xsect: str = "vern"
    flux_band: tuple[float, float] = (0.3, 10.0)
    n_starts: int = 3
    errors: bool | Sequence[int | str] = True
    flux_samples: int = 300
    n_sims: int = 0
    seed: int = 20240601
    obsids: Sequence[str] | None = None


@dataclass
class ParameterResult:
    """One parameter of one data group."""

    group: int
    obsid: str
    index: int
    component: str
    name: str
    unit: str
    value: float
    err_lo: float
    err_hi: float
    frozen: bool
    tied_to: str
    free_index: int | None


@dataclass
class FitResult:
    """Result of :func:`fit`.

    Attributes
    ----------
    parameters : list of ParameterResult
    statistic : str
    stat : float
    dof : int
    n_bins : int
    fluxes : list of dict
        Per data group: ``flux``, ``flux_lo``, ``flux_hi`` (absorbed) and ``unabs_flux``,
        ``unabs_flux_lo``, ``unabs_flux_hi`` in erg/cm^2/s, for ``flux_band``.
    goodness : float or None
        Fraction of simulations with a statistic below the observed one.
    covariance : numpy.ndarray
    valid : bool
    elapsed : float
    """

    parameters: list[ParameterResult]
    statistic: str
    stat: float
    dof: int
    n_bins: int
    model: str
    flux_band: tuple[float, float]
    fluxes: list[dict]
    goodness: float | None
    covariance: np.ndarray
    valid: bool
    elapsed: float
    abund: str = "wilm"
    xsect: str = "vern"
    messages: list[str] = field(default_factory=list)

    @property
    def reduced_stat(self) -> float:
        """Statistic per degree of freedom."""
        return self.stat / self.dof if self.dof > 0 else math.nan

    def value(self, parameter: int | str, group: int = 1) -> float:
        """Best-fit value of a parameter (index or name) in a data group (1-based)."""
        return self._find(parameter, group).value

    def interval(self, parameter: int | str, group: int = 1) -> tuple[float, float]:
        """90% interval (absolute bounds) of a parameter in a data group."""
        p = self._find(parameter, group)
        return p.err_lo, p.err_hi

    def _find(self, parameter: int | str, group: int) -> ParameterResult:
        for p in self.parameters:
            if p.group != group:
                continue
            if isinstance(parameter, int | np.integer):
                if p.index == parameter:
                    return p
            else:
                key = str(parameter).lower()
                if key in (p.name.lower(), f"{p.component}.{p.name}".lower()):
                    return p
        raise KeyError(f"no parameter {parameter!r} in data group {group}")

    def table(self) -> Table:
        """One row per (data group, parameter), with the fit summary in ``meta``."""
        from astropy.table import Table

        rows = [
            (
                p.obsid,
                p.group,
                p.index,
                p.component,
                p.name,
                p.unit,
                p.value,
                p.err_lo,
                p.err_hi,
                p.frozen,
                p.tied_to,
            )
            for p in self.parameters
        ]
        table = Table(rows=rows, names=PARAMETER_COLUMNS, dtype=PARAMETER_DTYPES)
        table.meta.update(self.summary())
        return table

    def fluxes_table(self) -> Table:
        """One row per data group with absorbed/unabsorbed fluxes and 90% bounds."""
        from astropy.table import Table

        table = Table(rows=[tuple(f.values()) for f in self.fluxes], names=list(self.fluxes[0]))
        for name in table.colnames:
            if "flux" in name:
                table[name].unit = "erg / (cm2 s)"
        table.meta["flux_band_keV"] = list(self.flux_band)
        return table

    def summary(self) -> dict:
        """Statistic, dof, fluxes and settings as plain Python types."""
        return {
            "model": self.model,
            "statistic": self.statistic,
            "stat": float(self.stat),
            "dof": int(self.dof),
            "n_bins": int(self.n_bins),
            "reduced_stat": float(self.reduced_stat),
            "goodness": self.goodness,
            "valid": bool(self.valid),
            "abund": self.abund,
            "xsect": self.xsect,
            "flux_band_keV": list(self.flux_band),
            "fluxes": self.fluxes,
            "elapsed_s": float(self.elapsed),
        }

    def to_dict(self) -> dict:
        """JSON-ready dictionary."""
        out = self.summary()
        out["parameters"] = [
            {
                "obsid": p.obsid,
                "group": p.group,
                "index": p.index,
                "component": p.component,
                "parameter": p.name,
                "unit": p.unit,
                # an interval that could not be computed stays NaN (see ``messages``), never None
                "value": float(p.value),
                "err_lo": float(p.err_lo),
                "err_hi": float(p.err_hi),
                "frozen": p.frozen,
                "tied_to": p.tied_to,
            }
            for p in self.parameters
        ]
        out["messages"] = list(self.messages)
        return out

    def to_json(self, path: str | os.PathLike) -> Path:
        """Write :meth:`to_dict` as JSON."""
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), indent=1, default=_jsonable))
        return path

    def to_ecsv(self, path: str | os.PathLike) -> Path:
        """Write :meth:`table` as ECSV (summary in the header meta)."""
        path = Path(path)
        table = self.table()
        table.meta = json.loads(json.dumps(dict(table.meta), default=_jsonable))
        table.write(path, format="ascii.ecsv", overwrite=True)
        return path


def _jsonable(x):
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


# --------------------------------------------------------------------------------------------
# parameter bookkeeping
# --------------------------------------------------------------------------------------------
def resolve_parameter(parameters: Sequence[Any], key: int | str) -> int:
    """0-based position of a parameter given its 1-based index, name or ``component.name``."""
    if isinstance(key, int | np.integer) or (isinstance(key, str) and key.strip().isdigit()):
        idx = int(key)
        for i, p in enumerate(parameters):
            if int(p.index) == idx:
                return i
        raise KeyError(f"no parameter with index {idx}")
    text = str(key).strip().lower()
    hits = [
        i
        for i, p in enumerate(parameters)
        if text in (str(p.name).lower(), f"{p.component}.{p.name}".lower())
    ]
    if len(hits) != 1:
        raise KeyError(
            f"parameter {key!r} is {'ambiguous' if hits else 'unknown'}; "
            f"use an index or component.name"
        )
    return hits[0]


def _load_model(model):
    if isinstance(model, str):
        from xrtflow.spectral.models import parse_model

        return parse_model(model)
    return model


def _model_name(model, given) -> str:
    if isinstance(given, str):
        return given
    return str(getattr(model, "expression", getattr(model, "name", type(model).__name__)))


# --------------------------------------------------------------------------------------------
# the objective
# --------------------------------------------------------------------------------------------
def _fold_matrix(rmf, cols: np.ndarray):  # noqa: ANN001, ANN202 (RmfElements or scipy.sparse)
    """The RMF's channels ``cols`` as a ``(len(cols), n_energy)`` folding matrix: dense (numpy
    only, from the elements as read) when it is dense-ish, as the Swift-XRT RMFs are;
    ``scipy.sparse`` CSR otherwise."""
    n_energy = rmf.shape[0]
    if hasattr(rmf, "channel_rows"):  # RmfElements
        if len(cols) == 0 or rmf.nnz > 0.1 * n_energy * rmf.shape[1]:
            return rmf.channel_rows(cols)
        rmf = rmf.csr()
    import scipy.sparse as sp

    sub = sp.csr_matrix(rmf.T)[cols]  # (n_used, n_energy)
    density = sub.nnz / max(1, sub.shape[0] * sub.shape[1])
    return sub.toarray() if density > 0.1 else sub.tocsr()


class _ChannelSum:
    """Sums channels into the noticed groups of a spectrum: the linear map ``channels ->
    groups`` with weights (0 for bad channels dropped by ``ignore bad``), applied with
    ``numpy.add.reduceat`` (no sparse matrix: scipy.sparse would cost ~0.2 s of start-up).

    ``channel[k]`` is a column index of the operand, ``weight[k]`` its weight, and the entries
    of group ``i`` are ``start[i]:start[i + 1]`` (never empty).
    """

    def __init__(self, channel: np.ndarray, weight: np.ndarray, start: np.ndarray, n_cols: int):
        self.channel, self.weight, self.start, self.n_cols = channel, weight, start, n_cols
        size = np.diff(np.append(start, len(channel)))
        # the k-th member of every group that has one: sums in channel order, like a CSR row
        self._members = [
            (groups, start[groups] + k)
            for k in range(1, int(size.max(initial=1)))
            for groups in [np.flatnonzero(size > k)]
        ]
        self._unit = bool(np.all(weight == 1.0))

    @classmethod
    def of(cls, grouped) -> _ChannelSum:  # noqa: ANN001 (GroupedSpectrum)
        """The noticed groups of a :class:`~xrtflow.spectral.ogip.GroupedSpectrum`."""
        group = np.asarray(grouped.group_of_channel, dtype=np.int64)
        n_ch = len(group)
        w = (
            np.ones(n_ch)
            if grouped.channel_weight is None
            else np.asarray(grouped.channel_weight, float)
        )
        noticed = np.flatnonzero(grouped.mask)
        rank = np.full(grouped.n_groups, -1, dtype=np.int64)
        rank[noticed] = np.arange(len(noticed))
        chan = np.flatnonzero(rank[group] >= 0)
        order = np.argsort(rank[group[chan]], kind="stable")
        chan = chan[order]
        start = np.searchsorted(rank[group[chan]], np.arange(len(noticed)))
        return cls(chan, w[chan], start, n_ch)

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self.start), self.n_cols)

    def used_channels(self) -> np.ndarray:
        """Columns with a non-zero weight in some group, sorted."""
        return np.unique(self.channel[self.weight != 0])

    def restricted(self, cols: np.ndarray) -> _ChannelSum:
        """The same sums over an operand holding only the columns ``cols`` (sorted; every used
        column included): unused entries keep their place with weight 0."""
        if len(cols) == 0:
            return _ChannelSum(self.channel * 0, self.weight * 0.0, self.start, 0)
        pos = np.minimum(np.searchsorted(cols, self.channel), len(cols) - 1)
        inside = cols[pos] == self.channel
        weight = np.where(inside, self.weight, 0.0)
        return _ChannelSum(np.where(inside, pos, 0), weight, self.start, len(cols))

    def __matmul__(self, x):  # noqa: ANN001, ANN204
        if hasattr(x, "tocsr"):  # a scipy.sparse operand (sparse RMFs only)
            import scipy.sparse as sp

            csr = sp.csr_matrix(
                (self.weight, (np.repeat(np.arange(len(self.start)), np.diff(
                    np.append(self.start, len(self.channel)))), self.channel)),
                shape=self.shape,
            )  # fmt: skip
            return csr @ x
        x = np.asarray(x, dtype=float)
        if len(self.start) == 0 or self.n_cols == 0:
            return np.zeros((len(self.start),) + x.shape[1:])
        # numpy.add.reduceat along the rows of a (channels x energies) matrix is slow (a
        # buffered iterator); a gather per group member is not
        out = x[self.channel[self.start]]
        if not self._unit:
            out *= self._weights(self.start, x.ndim)
        for groups, member in self._members:
            rows = x[self.channel[member]]
            if not self._unit:
                rows = rows * self._weights(member, x.ndim)
            out[groups] += rows
        return out

    def _weights(self, entries: np.ndarray, ndim: int) -> np.ndarray:
        w = self.weight[entries]
        return w if ndim == 1 else w[:, None]


@dataclass
class _Group:
    """One spectrum reduced to what the statistic needs (noticed groups only)."""

    counts: np.ndarray
    bkg: np.ndarray | None
    ts: np.ndarray
    tb: np.ndarray | None
    stat_err: np.ndarray | None
    grouping: _ChannelSum  # (n_noticed_groups, n_used_channels)
    channels: np.ndarray  # indices into the response channels that are used
    arf: np.ndarray | None
    edges: np.ndarray
    fold_key: int
    bkg_stat_err: np.ndarray | None = None


class _Objective:
    """Statistic as a function of the free-parameter vector, batched over parameter sets."""

    def __init__(self, setup: FitSetup, model, spectra: list[Spectrum]):
        self.setup = setup
        self.model = model
        self.statistic = setup.statistic.lower()
        self.groups: list[_Group] = []
        self.folds: dict[int, Any] = {}  # dense ndarray, or scipy.sparse for sparse RMFs
        self.ncalls = 0
        self.lower = self.upper = None
        fold_sources: dict[int, tuple[Any, set]] = {}
        keys: dict[Any, int] = {}
        for spec in spectra:
            if spec.response is None:
                raise ValueError(f"{spec.path}: no response; pass rmf= (and arf=)")
            if spec.response.n_channel != spec.n_channels:
                raise ValueError(
                    f"{spec.path}: {spec.n_channels} channels but its response "
                    f"{spec.response.rmf_path or ''} has {spec.response.n_channel}"
                )
            g = spec.grouped()
            mask = g.mask
            if not mask.any():
                raise ValueError(f"{spec.path}: no channels left after ignore")
            resp = spec.response
            if resp.elements is not None:  # read from a file: the bare RMF's elements
                rmf, arf = resp.elements, resp.arf
            elif resp.rmf_matrix is not None:
                rmf, arf = resp.rmf_matrix, resp.arf
            else:
                rmf, arf = resp.matrix, None
            key_id = (str(resp.rmf_path), rmf.shape, rmf.nnz) if resp.rmf_path else id(rmf)
            key = keys.setdefault(key_id, len(keys))
            gm = _ChannelSum.of(g)  # (n_noticed, n_channels)
            used = gm.used_channels()
            if key not in fold_sources:
                fold_sources[key] = (rmf, set())
            fold_sources[key][1].update(used.tolist())
            ts = spec.exposure * g.areascal[mask]
            bkg = tb = bkg_err = None
            if spec.background is not None:
                b = spec.background.copy()
                b.bad_ignored = spec.bad_ignored
                b.grouping = spec.grouping
                b.quality = spec.quality
                gb = b.grouped()
                bkg = gb.counts[mask]
                bkg_err = None if gb.stat_err is None else gb.stat_err[mask]
                tb = (
                    b.exposure
                    * gb.areascal[mask]
                    * gb.backscal[mask]
                    / np.where(g.backscal[mask] > 0, g.backscal[mask], 1.0)
                )
            self.groups.append(
                _Group(
                    counts=g.counts[mask],
                    bkg=bkg,
                    ts=ts,
                    tb=tb,
                    stat_err=None if g.stat_err is None else g.stat_err[mask],
                    grouping=gm,
                    channels=used,
                    arf=arf,
                    edges=_positive_edges(resp.energy_edges),
                    fold_key=key,
                    bkg_stat_err=bkg_err,
                )
            )
        # restrict each RMF to the channels any of its spectra uses
        for key, (rmf, used) in fold_sources.items():
            cols = np.array(sorted(used), dtype=np.int64)
            self.folds[key] = _fold_matrix(rmf, cols)
            for grp in self.groups:
                if grp.fold_key == key:
                    grp.grouping = grp.grouping.restricted(cols)
        self.n_bins = sum(len(g.counts) for g in self.groups)

    # parameters -> per-group full parameter vectors
    def configure(self, full_values: np.ndarray, free_map: np.ndarray) -> None:
        """``full_values`` (n_groups, n_par) defaults; ``free_map`` (n_groups, n_par) -> free idx."""
        self.base = np.array(full_values, dtype=float)
        self.free_map = free_map
        pars = list(self.model.parameters)
        lo = [getattr(p, "hard_min", None) for p in pars]
        hi = [getattr(p, "hard_max", None) for p in pars]
        self.lower = np.array([-np.inf if v is None else float(v) for v in lo])
        self.upper = np.array([np.inf if v is None else float(v) for v in hi])

    def full(self, x: np.ndarray) -> np.ndarray:
        """Free vectors ``x`` (k, n_free) -> full values (k, n_groups, n_par)."""
        x = np.atleast_2d(x)
        out = np.broadcast_to(self.base, (len(x), *self.base.shape)).copy()
        sel = self.free_map >= 0
        out[:, sel] = x[:, self.free_map[sel]]
        if self.lower is not None:
            np.clip(out, self.lower, self.upper, out=out)
        return out

    def model_rates(self, values: np.ndarray) -> list[np.ndarray]:
        """Predicted rates per noticed group for full values (k, n_groups, n_par)."""
        per_key: dict[int, list] = {}
        bookkeeping = []
        for gi, grp in enumerate(self.groups):
            vals = values[:, gi, :]
            uniq, inverse = np.unique(vals, axis=0, return_inverse=True)
            inverse = np.asarray(inverse).ravel()
            cols = []
            for row in uniq:
                m = np.asarray(
                    self.model.evaluate(
                        grp.edges, row, abund=self.setup.abund, xsect=self.setup.xsect
                    ),
                    dtype=float,
                )
                if not np.all(np.isfinite(m)):
                    # e.g. absorption cross-sections undefined far below the band (< 0.01 keV)
                    m = np.where(np.isfinite(m), m, 0.0)
                cols.append(m if grp.arf is None else m * grp.arf)
            block = per_key.setdefault(grp.fold_key, [])
            start = sum(c.shape[1] for c in block)
            block.append(np.column_stack(cols))
            bookkeeping.append((grp.fold_key, start, len(uniq), inverse))
        folded = {}
        for key, blocks in per_key.items():
            big = np.concatenate(blocks, axis=1)
            folded[key] = np.asarray(self.folds[key] @ big)
        rates = []
        for grp, (key, start, n, inverse) in zip(self.groups, bookkeeping, strict=True):
            chan = folded[key][:, start : start + n]
            per_group = np.asarray(grp.grouping @ chan)  # (n_noticed, n_unique)
            rates.append(per_group[:, inverse])
        return rates

    def stat_groups(self, x: np.ndarray) -> np.ndarray:
        """Statistic per data group for each row of ``x``: shape (k, n_groups)."""
        values = self.full(x)
        rates = self.model_rates(values)
        out = np.empty((values.shape[0], len(self.groups)))
        for gi, (grp, m) in enumerate(zip(self.groups, rates, strict=True)):
            per_bin = statistic_per_bin(
                self.statistic, grp.counts, m, grp.ts, grp.bkg, grp.tb, grp.stat_err,
                grp.bkg_stat_err,
            )  # fmt: skip
            out[:, gi] = per_bin.sum(axis=0)
        self.ncalls += values.shape[0]
        return out

    def __call__(self, x: np.ndarray) -> float:
        return float(self.stat_groups(np.asarray(x, float)[None, :]).sum())

    def grad(self, x: np.ndarray, steps: np.ndarray) -> np.ndarray:
        """Central finite-difference gradient, all perturbations evaluated in one batch."""
        x = np.asarray(x, float)
        n = len(x)
        h = steps
        pts = np.empty((2 * n, n))
        pts[:n] = x
        pts[n:] = x
        pts[np.arange(n), np.arange(n)] += h
        pts[n + np.arange(n), np.arange(n)] -= h
        s = self.stat_groups(pts).sum(axis=1)
        return (s[:n] - s[n:]) / (2 * h)


# --------------------------------------------------------------------------------------------
# fit
# --------------------------------------------------------------------------------------------
def _positive_edges(edges: np.ndarray) -> np.ndarray:
    """Replace a zero first energy edge (Swift RMFs start at 0 keV) by half the next edge, so
    that models singular at E = 0 (power laws with index > 1) stay finite."""
    edges = np.array(edges, dtype=float)
    if edges[0] <= 0:
        edges[0] = 0.5 * edges[1]
    return edges


def _prepare_spectra(setup: FitSetup) -> list[Spectrum]:
    spectra = []
    for spec in setup.spectra:
        s = spec.copy()
        if setup.ignore_bad:
            s.ignore("bad")
        if setup.ignore:
            s.ignore(setup.ignore)
        spectra.append(s)
    return spectra


def _build_parameters(setup: FitSetup, model, n_groups: int):
    pars = list(model.parameters)
    n_par = len(pars)
    values = np.array([float(p.value) for p in pars])
    frozen = np.array([bool(p.frozen) for p in pars])
    for key, val in setup.start.items():
        values[resolve_parameter(pars, key)] = float(val)
    for key in setup.frozen:
        frozen[resolve_parameter(pars, key)] = True
    for key in setup.thawed:
        frozen[resolve_parameter(pars, key)] = False
    if setup.tied is not None:
        tied = np.zeros(n_par, bool)
        for key in setup.tied:
            tied[resolve_parameter(pars, key)] = True
    else:
        tied = np.ones(n_par, bool)
        for key in setup.per_group or ():
            tied[resolve_parameter(pars, key)] = False
    free_map = -np.ones((n_groups, n_par), dtype=int)
    owner = []  # (group, par) for each free index
    nfree = 0
    for i in range(n_par):
        if frozen[i]:
            continue
        if tied[i]:
            free_map[:, i] = nfree
            owner.append((0, i))
            nfree += 1
        else:
            for g in range(n_groups):
                free_map[g, i] = nfree
                owner.append((g, i))
                nfree += 1
    full = np.tile(values, (n_groups, 1))
    return pars, full, free_map, owner, frozen, tied


def _limits(p) -> tuple[float | None, float | None]:
    lo = getattr(p, "hard_min", None)
    hi = getattr(p, "hard_max", None)
    lo = None if lo is None or not np.isfinite(lo) else float(lo)
    hi = None if hi is None or not np.isfinite(hi) else float(hi)
    return lo, hi


def _halton(n: int, d: int) -> np.ndarray:
    """The first ``n`` points of the unscrambled Halton sequence in ``d`` dimensions (as
    ``scipy.stats.qmc.Halton(d, scramble=False).random(n)``, without importing scipy.stats,
    which costs more than a whole fit of one spectrum)."""
    primes = []
    k = 2
    while len(primes) < d:
        if all(k % p for p in primes):
            primes.append(k)
        k += 1
    out = np.zeros((n, d))
    for j, base in enumerate(primes):
        for i in range(n):
            f, x, m = 1.0, 0.0, i
            while m > 0:  # radical inverse of i in ``base``
                f /= base
                x += f * (m % base)
                m //= base
            out[i, j] = x
    return out


def _start_points(x0, pars, owner, n_starts: int) -> list[np.ndarray]:
    """Deterministic starting points: the given start, then low-discrepancy points inside the
    soft limits for the shape parameters (normalizations keep their start values)."""
    points = [np.array(x0, float)]
    if n_starts <= 1:
        return points
    u = _halton(n_starts + 1, len(x0))[1:]
    for k in range(n_starts - 1):
        x = np.array(x0, float)
        for j, (_, i) in enumerate(owner):
            p = pars[i]
            if str(p.name).lower() in ("norm", "k", "normalization"):
                continue
            lo = float(getattr(p, "soft_min", np.nan))
            hi = float(getattr(p, "soft_max", np.nan))
            if not (np.isfinite(lo) and np.isfinite(hi)) or hi <= lo:
                continue
            # stay within a decade of the start for wide ranges
            if x0[j] > 0 and lo >= 0:
                a, b = max(lo, x0[j] / 10, 1e-6), min(hi, x0[j] * 10)
                if b > a:
                    x[j] = float(np.exp(np.log(a) + u[k, j] * (np.log(b) - np.log(a))))
            else:
                x[j] = lo + u[k, j] * (hi - lo)
        points.append(x)
    return points


def _minuit_limits(lo, hi, x0, step) -> tuple[float, float]:
    """Limits handed to MINUIT: a far-away bound (e.g. norm <= 1e24) is left out to keep the
    internal transformation well conditioned; the objective clips to it instead."""
    scale = max(abs(x0), abs(step), 1e-30)
    lo_m = -np.inf if lo is None else lo
    hi_m = np.inf if hi is None else hi
    if np.isfinite(lo_m) and np.isfinite(hi_m) and (hi_m - lo_m) > 1e3 * scale:
        if abs(hi_m - x0) > abs(x0 - lo_m):
            hi_m = np.inf
        else:
            lo_m = -np.inf
    return lo_m, hi_m


def _make_minuit(obj: _Objective, x0, names, limits, steps):
    from iminuit import Minuit

    def fcn(x):
        return obj(x)

    def grad(x):
        x = np.asarray(x, float)
        h = np.maximum(1e-6 * np.abs(x), 1e-4 * steps)
        return obj.grad(x, h)

    m = Minuit(fcn, np.asarray(x0, float), grad=grad, name=names)
    m.errordef = 1.0
    m.errors = steps
    for j, (lo, hi) in enumerate(limits):
        m.limits[j] = _minuit_limits(lo, hi, x0[j], steps[j])
    # strategy 1 recomputes full numerical Hessians (O(n^2) calls): fine for a few parameters,
    # far too slow for joint fits with dozens of free parameters
    m.strategy = 1 if len(x0) <= 10 else 0
    m.tol = 0.05
    return m


def fit(setup: FitSetup) -> FitResult:
    """Fit the spectra of ``setup`` and compute 90% errors and fluxes.

    Parameters
    ----------
    setup : FitSetup

    Returns
    -------
    FitResult
    """
    t0 = time.perf_counter()
    model = _load_model(setup.model)
    spectra = _prepare_spectra(setup)
    obj = _Objective(setup, model, spectra)
    n_groups = len(spectra)
    pars, full, free_map, owner, frozen, tied = _build_parameters(setup, model, n_groups)
    obj.configure(full, free_map)
    names = [f"p{pars[i].index}" + (f"_g{g + 1}" if not tied[i] else "") for g, i in owner]
    x0 = np.array([full[g, i] for g, i in owner])
    limits = [_limits(pars[i]) for _, i in owner]
    steps = []
    for j, (_, i) in enumerate(owner):
        d = abs(float(getattr(pars[i], "delta", 0) or 0))
        if x0[j] != 0 and (d <= 0 or d > 0.1 * abs(x0[j])):
            d = 0.1 * abs(x0[j])
        steps.append(d if d > 0 else 0.01)
    steps = np.array(steps)
    # clip the start into the limits
    for j, (lo, hi) in enumerate(limits):
        if lo is not None:
            x0[j] = max(x0[j], lo)
        if hi is not None:
            x0[j] = min(x0[j], hi)

    messages: list[str] = []
    want = _errors_wanted(setup.errors, pars, owner)
    block = None
    if len(owner):
        from xrtflow.spectral.profile import fit_blocks

        block = fit_blocks(
            obj, model, setup, pars, free_map, owner, tied, names, limits, steps, x0,
            lambda x, p, o, n=setup.n_starts: _start_points(x, p, o, n), _minuit_limits, want,
        )  # fmt: skip
    if not len(owner):
        # every parameter frozen: nothing to fit, just the statistic (XSPEC prints it too)
        xbest, lo_err, hi_err = np.zeros(0), np.zeros(0), np.zeros(0)
        cov, valid = np.zeros((0, 0)), True
        messages.append("every parameter is frozen: statistic evaluated, nothing fitted")
    elif block is not None:
        xbest, lo_err, hi_err = block.xbest, block.lo, block.hi
        cov, valid = block.cov, block.valid
        messages.extend(block.messages)
    else:
        xbest, lo_err, hi_err, cov, valid = _fit_direct(
            obj, x0, pars, owner, names, limits, steps, setup, want, messages
        )
    stat = obj(xbest)
    nfree = len(owner)
    dof = obj.n_bins - nfree

    # parameter table
    obsids = _obsids(setup, spectra)
    full_best = obj.full(xbest)[0]
    results = []
    for g in range(n_groups):
        for i, p in enumerate(pars):
            j = free_map[g, i]
            if j >= 0:
                lo, hi = lo_err[j], hi_err[j]
                g_owner = owner[j][0]
                tied_to = "" if g_owner == g else f"{g_owner + 1}:{p.index}"
            else:
                lo = hi = math.nan
                tied_to = ""
            results.append(
                ParameterResult(
                    group=g + 1,
                    obsid=obsids[g],
                    index=int(p.index),
                    component=str(p.component),
                    name=str(p.name),
                    unit=str(getattr(p, "unit", "") or ""),
                    value=float(full_best[g, i]),
                    err_lo=float(lo),
                    err_hi=float(hi),
                    frozen=bool(j < 0),
                    tied_to=tied_to,
                    free_index=None if j < 0 else int(j),
                )
            )

    fluxes = _fluxes(setup, model, obj, xbest, cov, pars, obsids)
    goodness = None
    if setup.n_sims > 0:
        goodness = _goodness(setup, obj, xbest, names, limits, steps, stat)
    return FitResult(
        parameters=results,
        statistic=setup.statistic,
        stat=float(stat),
        dof=int(dof),
        n_bins=int(obj.n_bins),
        model=_model_name(model, setup.model),
        flux_band=tuple(setup.flux_band),
        fluxes=fluxes,
        goodness=goodness,
        covariance=cov,
        valid=bool(valid),
        elapsed=time.perf_counter() - t0,
        abund=setup.abund,
        xsect=setup.xsect,
        messages=messages,
    )


def _fit_direct(obj, x0, pars, owner, names, limits, steps, setup, want, messages):
    """MIGRAD + MINOS on the full problem (used when the block structure does not apply)."""
    from xrtflow.spectral.profile import migrad_robust, minos_interval

    best = None
    for start in _start_points(x0, pars, owner, setup.n_starts):
        m = _make_minuit(obj, start, names, limits, steps)
        migrad_robust(m)
        if best is None or m.fval < best.fval - 1e-6:
            best = m
    m = best
    m.tol = 0.01
    migrad_robust(m, messages, "fit")
    m.hesse()
    if not m.valid:
        migrad_robust(m, messages, "fit")
        m.hesse()
    xbest = np.array(m.values)
    lo_err = np.full(len(owner), np.nan)
    hi_err = np.full(len(owner), np.nan)
    if want.any() and len(owner):
        m.errordef = 1.0
        for j in np.flatnonzero(want):
            lo_err[j], hi_err[j] = minos_interval(m, names[j], xbest[j], messages, names[j])
        if obj(np.array(m.values)) < obj(xbest) - 1e-6:
            messages.append("a new minimum was found while computing errors")
            xbest = np.array(m.values)
    nfree = len(owner)
    cov = np.array(m.covariance) if m.covariance is not None else np.full((nfree, nfree), np.nan)
    return xbest, lo_err, hi_err, cov, bool(m.valid)


def _errors_wanted(errors, pars, owner) -> np.ndarray:
    want = np.zeros(len(owner), bool)
    if errors is True:
        want[:] = True
    elif errors:
        idx = {resolve_parameter(pars, k) for k in errors}
        for j, (_, i) in enumerate(owner):
            want[j] = i in idx
    return want


def _obsids(setup: FitSetup, spectra: list[Spectrum]) -> list[str]:
    if setup.obsids is not None:
        return [str(o) for o in setup.obsids]
    out = []
    for s in spectra:
        o = s.obsid
        if o is None:
            o = Path(s.path).name.split(".")[0] if s.path else ""
        out.append(str(o))
    return out


def energy_flux(model, values, band, abund="wilm", xsect="vern", n_bins=400) -> float:
    """Energy flux (erg/cm^2/s) of a model in ``band`` (keV) on a fine logarithmic grid."""
    edges = np.geomspace(band[0], band[1], n_bins + 1)
    photons = np.asarray(model.evaluate(edges, values, abund=abund, xsect=xsect), float)
    emid = 0.5 * (edges[1:] + edges[:-1])
    return float(np.sum(photons * emid) * KEV_TO_ERG)


def _unabsorbed(values: np.ndarray, pars) -> np.ndarray:
    v = np.array(values, float)
    for i, p in enumerate(pars):
        if str(p.component).lower().rstrip("0123456789_") in ABSORBERS and str(p.name).lower() in (
            "nh",
        ):
            v[..., i] = 0.0
    return v


class _TermFlux:
    """Energy fluxes of a ``mul*(add+add)``-type native model from its components, each
    evaluated once per distinct parameter set: the absorbed and unabsorbed fluxes of a
    parameter vector share the additive components, and draws that share a parameter (a tied
    nH) share its component.  Same values as :func:`energy_flux` (to rounding)."""

    def __init__(self, model, pars, band, n_bins: int, abund: str, xsect: str):
        from xrtflow.spectral.profile import additive_terms

        self.terms = additive_terms(model)
        self.pars = pars
        self.edges = np.geomspace(band[0], band[1], n_bins + 1)
        self.emid = 0.5 * (self.edges[1:] + self.edges[:-1])
        self.opts = {"abund": abund, "xsect": str(xsect).lower()}
        self.cache: dict = {}

    def _part(self, comp, v: np.ndarray) -> np.ndarray:
        from xrtflow.spectral.profile import component_values

        n = len(comp.spec.pars)
        p = v[comp.first : comp.first + (n - 1 if comp.spec.kind == "add" else n)]
        key = (comp.position, p.tobytes())
        y = self.cache.get(key)
        if y is None:
            if len(self.cache) > 4096:
                self.cache.clear()
            y = self.cache[key] = component_values(comp, self.edges, p, self.opts)
        return y

    def __call__(self, v: np.ndarray) -> tuple[float, float]:
        """(absorbed, unabsorbed) energy flux (erg/cm^2/s) for full parameter values ``v``."""
        v = np.asarray(v, float)
        vu = _unabsorbed(v, self.pars)
        out = [0.0, 0.0]
        for add, muls in self.terms.values():
            norm = v[add.first + len(add.spec.pars) - 1]
            base = self._part(add, v)
            for k, vals in enumerate((v, vu)):
                y = base
                for mc in reversed(muls):
                    y = y * self._part(mc, vals)
                out[k] += norm * float(np.dot(y, self.emid))
        return out[0] * KEV_TO_ERG, out[1] * KEV_TO_ERG


def _fluxes(setup, model, obj, xbest, cov, pars, obsids) -> list[dict]:
    full = obj.full(xbest)[0]
    band = setup.flux_band
    out = []
    samples = None
    if setup.flux_samples > 0 and np.all(np.isfinite(cov)) and len(xbest):
        rng = np.random.default_rng(setup.seed)
        try:
            draws = rng.multivariate_normal(xbest, cov, size=setup.flux_samples, method="svd")
            samples = obj.full(draws)
        except np.linalg.LinAlgError:
            samples = None
    fast = _TermFlux(model, pars, band, 400, setup.abund, setup.xsect)
    fast_draws = _TermFlux(model, pars, band, 200, setup.abund, setup.xsect)
    if fast.terms is None:
        fast = fast_draws = None
    for g in range(len(obj.groups)):
        row = {"obsid": obsids[g], "group": g + 1}
        if fast is not None:
            best = fast(full[g])
            if samples is not None:
                from xrtflow.spectral.fluxdraws import draw_fluxes

                both = draw_fluxes(fast_draws, samples[:, g, :], lambda v: _unabsorbed(v, pars))
                if both is None:  # interpolation not applicable: every draw exactly
                    both = np.array([fast_draws(s) for s in samples[:, g, :]]).reshape(-1, 2)
        for k, (label, transform) in enumerate(
            (
                ("flux", lambda v: v),
                ("unabs_flux", lambda v: _unabsorbed(v, pars)),
            )
        ):
            if fast is not None:
                val = float(best[k])
            else:
                val = energy_flux(model, transform(full[g]), band, setup.abund, setup.xsect)
            lo = hi = math.nan
            if samples is not None:
                if fast is not None:
                    vals = both[:, k]
                else:
                    vals = np.array(
                        [
                            energy_flux(model, transform(s), band, setup.abund, setup.xsect, 200)
                            for s in samples[:, g, :]
                        ]
                    )
                vals = vals[np.isfinite(vals)]
                if len(vals):
                    lo, hi = np.percentile(vals, [5, 95])
            row[label] = val
            row[f"{label}_lo"] = float(lo)
            row[f"{label}_hi"] = float(hi)
        out.append(row)
    return out


def _goodness(setup, obj: _Objective, xbest, names, limits, steps, stat) -> float:
    """Fraction of simulated spectra (from the best fit) whose refitted statistic is lower."""
    rng = np.random.default_rng(setup.seed + 1)
    rates = obj.model_rates(obj.full(xbest))
    saved = [(g.counts, g.bkg) for g in obj.groups]
    lower = 0
    try:
        for _ in range(setup.n_sims):
            for grp, m in zip(obj.groups, rates, strict=True):
                m = np.maximum(m[:, 0], 0)
                if grp.bkg is not None:
                    from xrtflow.spectral.stats import wstat_background

                    f = wstat_background(grp.counts, grp.bkg, grp.ts, grp.tb, m)
                    grp.counts = rng.poisson(grp.ts * (m + f)).astype(float)
                    grp.bkg = rng.poisson(grp.tb * f).astype(float)
                else:
                    grp.counts = rng.poisson(grp.ts * m).astype(float)
            ms = _make_minuit(obj, xbest, names, limits, steps)
            ms.strategy = 0
            ms.migrad()
            lower += ms.fval < stat
    finally:
        for grp, (c, b) in zip(obj.groups, saved, strict=True):
            grp.counts, grp.bkg = c, b
    return lower / setup.n_sims
