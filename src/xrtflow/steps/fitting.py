"""Step: fit grouped spectra (one ObsID, or all jointly) and write the result and plot data."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from astropy.table import Table

from ..spectral.fit import PARAMETER_COLUMNS, PARAMETER_DTYPES, FitResult, FitSetup
from ..spectral.models import parse_model
from ..spectral.ogip import Spectrum, read_spectrum
from .files import write_table, write_text

log = logging.getLogger(__name__)

#: Minimum counts per plotted bin (display only, like XSPEC ``setplot rebin``; fits use all groups).
PLOT_MIN_COUNTS = 20
#: Columns of the plot table (per display bin).
PLOT_COLUMNS = (
    "obsid",
    "e_lo",
    "e_hi",
    "rate",
    "rate_err",
    "model",
    "bkg_rate",
    "counts",
    "model_photon_flux",
)


def _as_list(value) -> list[str]:  # noqa: ANN001 (str or Snakemake file list)
    if value is None:
        return []
    return [str(value)] if isinstance(value, str | Path) else [str(v) for v in value]


def build_setup(
    spectra: list[Spectrum], settings: dict, obsids: list[str], joint: bool
) -> FitSetup:
    """A :class:`FitSetup` from the ``fit`` block of the workflow config."""
    return FitSetup(
        spectra=spectra,
        model=settings["model"],
        start=dict(settings.get("start", {})),
        frozen=list(settings.get("frozen", [])),
        tied=list(settings.get("tied", [])) if joint else None,
        statistic=settings.get("statistic", "cstat"),
        ignore=settings.get("ignore", "**-0.3 7.0-**"),
        abund=settings.get("abund", "wilm"),
        xsect=settings.get("xsect", "vern"),
        flux_band=tuple(settings.get("flux_band", (0.3, 10.0))),
        n_starts=int(settings.get("n_starts", 4)),
        errors=bool(settings.get("errors", True)),
        obsids=obsids,
    )


def run_fit(backend: str, setup: FitSetup, log_path: str | Path | None = None) -> FitResult:
    """Fit with the native fitter or, for the ``heasoft`` backend, with PyXspec.

    PyXspec's own output goes to ``<log_path>.xspec`` beside the rule's log (bounded in size by
    :func:`xrtflow.heasoft.xspec_fit.fit`), never to the console.
    """
    if backend == "heasoft":
        from ..heasoft.xspec_fit import fit as xspec_fit

        return xspec_fit(setup, log=f"{log_path}.xspec" if log_path else None)
    from ..spectral.fit import fit as native_fit

    return native_fit(setup)


def fit_observations(
    backend: str,
    spectra: Sequence[str] | str,
    backgrounds: Sequence[str] | str | None,
    rmfs: Sequence[str] | str,
    arfs: Sequence[str] | str,
    settings: dict,
    json_out: str | Path,
    table_out: str | Path,
    plot_out: str | Path,
    joint: bool | None = None,
    upstream: dict | None = None,
    log_path: str | Path | None = None,
) -> FitResult | None:
    """Fit one or more grouped spectra; write JSON, ECSV and the plot table (atomically).

    A fit that fails (or does not converge, or has fewer fit bins than free parameters) is
    recorded (``status: failed`` in the JSON, empty tables) instead of raised, so that one bad
    spectrum never stops the others; so is an upstream failure given as ``upstream`` records.
    """
    from .files import failed_upstream

    obsid_guess = "joint" if joint else _obsid_from_path(_as_list(spectra))
    failure = failed_upstream(upstream or {})
    if failure is not None:
        _write_failed(obsid_guess, failure, json_out, table_out, plot_out)
        return None
    try:
        paths = _as_list(spectra)
        # no background files given: each spectrum's BACKFILE keyword decides
        background_files = _as_list(backgrounds) or [None] * len(paths)
        files = list(zip(paths, background_files, _as_list(rmfs), _as_list(arfs), strict=True))
        joint = len(files) > 1 if joint is None else joint
        loaded = [read_spectrum(p, rmf=r, arf=a, background=b) for p, b, r, a in files]
        obsids = [s.obsid or Path(p).name[2:13] for s, p in zip(loaded, paths, strict=True)]
        setup = build_setup(loaded, settings, obsids, joint)
        log.info(
            "fitting %s to %d spectra (%s): %s", setup.model, len(files), backend, " ".join(obsids)
        )
        result = run_fit(backend, setup, log_path)
        _check_result(result, obsids, joint)
    except Exception as err:
        log.exception("fit of %s failed", obsid_guess)
        reason = str(err) if isinstance(err, FitFailure) else f"{type(err).__name__}: {err}"
        failure = {
            "status": "failed",
            "failed_at": "fit_joint" if joint else "fit",
            "message": reason,
            "log": str(log_path or ""),
        }
        _write_failed(obsid_guess, failure, json_out, table_out, plot_out)
        return None
    # The run time goes to the log, not to the outputs: the same inputs give the same files.
    log.info("fit took %.2f s", result.elapsed)
    info = result.to_dict()
    info.pop("elapsed_s", None)
    info.update(status="ok", obsid=obsids[0] if not joint else "joint", backend=backend)
    # counts in the noticed band (additive field: the results table reads it)
    info["spectra"] = spectrum_counts(setup)
    info["ignore"] = setup.ignore
    table = result.table()
    table.meta = json.loads(json.dumps(dict(table.meta), default=float))
    table.meta.pop("elapsed_s", None)
    write_table(table, table_out)
    write_table(plot_table(result, setup), plot_out)
    write_text(json_out, json.dumps(info, indent=1, default=float) + "\n")
    for row in result.table():
        log.info(
            "%s %s.%s = %.5g [%.5g, %.5g]",
            row["obsid"],
            row["component"],
            row["parameter"],
            row["value"],
            row["err_lo"],
            row["err_hi"],
        )
    log.info("%s = %.2f for %d dof", result.statistic, result.stat, result.dof)
    return result


class FitFailure(RuntimeError):
    """A fit whose result cannot be used (did not converge, too few bins)."""


def _obsid_from_path(paths: list[str]) -> str:
    name = Path(paths[0]).name if paths else ""
    return name[2:13] if name.startswith("sw") else name


def _check_result(result: FitResult, obsids: list[str], joint: bool) -> None:
    what = "joint fit" if joint else f"fit of ObsID {obsids[0]}"
    if result.dof <= 0:
        free = sum(1 for p in result.parameters if not p.frozen and not p.tied_to)
        raise FitFailure(
            f"{what}: too few counts ({result.n_bins} fit bins for {free} free parameters): "
            "freeze parameters or exclude the ObsID"
        )
    if not result.valid or not np.isfinite(result.stat):
        raise FitFailure(
            f"{what} did not converge (statistic {result.stat:.4g}, minimiser: invalid "
            "minimum): try other fit.start values or freeze parameters"
        )


def _write_failed(obsid, failure: dict, json_out, table_out, plot_out) -> None:  # noqa: ANN001
    write_table(Table(names=PARAMETER_COLUMNS, dtype=PARAMETER_DTYPES), table_out)
    write_table(
        Table(
            names=PLOT_COLUMNS,
            dtype=("U11",) + (float,) * (len(PLOT_COLUMNS) - 1),
        ),
        plot_out,
    )
    write_text(json_out, json.dumps({"obsid": obsid, **failure}, indent=1) + "\n")


def group_values(result: FitResult, group: int) -> np.ndarray:
    """Best-fit parameter values of one data group, in XSPEC order."""
    rows = sorted((p for p in result.parameters if p.group == group), key=lambda p: p.index)
    return np.array([p.value for p in rows])


def plot_table(result: FitResult, setup: FitSetup) -> Table:
    """Background-subtracted rates and the folded best-fit model per plotted bin (counts/s/keV).

    Groups are merged for display until each plotted bin has at least ``PLOT_MIN_COUNTS``
    counts, as XSPEC's ``setplot rebin`` does; the model is folded through each spectrum's own
    response with the parameters of its data group.
    """
    model = parse_model(setup.model) if isinstance(setup.model, str) else setup.model
    columns: dict[str, list] = {k: [] for k in PLOT_COLUMNS}
    for group, (spectrum, obsid) in enumerate(zip(setup.spectra, setup.obsids, strict=True), 1):
        spectrum = spectrum.copy()
        if setup.ignore:
            spectrum.ignore(setup.ignore)
        spectrum.ignore("bad")
        grouped = spectrum.grouped()
        response = spectrum.response
        values = group_values(result, group)
        flux = model.evaluate(response.energy_edges, values, abund=setup.abund, xsect=setup.xsect)
        per_channel = response.fold(flux) * spectrum.areascal
        matrix = grouped.group_matrix()
        model_counts = (matrix @ per_channel) * spectrum.exposure
        counts = grouped.counts
        background = np.zeros_like(counts)
        scale = np.zeros_like(counts)
        if spectrum.background is not None:
            bkg = spectrum.background
            bkg_grouped = matrix @ (bkg.counts * spectrum.good_channels())
            bkg_backscal = matrix @ (bkg.backscal * spectrum.good_channels())
            src_backscal = matrix @ (spectrum.backscal * spectrum.good_channels())
            ratio = np.divide(
                src_backscal, bkg_backscal, out=np.zeros_like(counts), where=bkg_backscal > 0
            )
            scale = ratio * spectrum.exposure / bkg.exposure
            background = bkg_grouped
        keep = np.flatnonzero(grouped.mask)
        bins = _display_bins(counts[keep], PLOT_MIN_COUNTS)
        for members in bins:
            index = keep[members]
            e_lo, e_hi = grouped.e_min[index].min(), grouped.e_max[index].max()
            width = e_hi - e_lo
            total = counts[index].sum()
            bkg_scaled = (scale[index] * background[index]).sum()
            variance = total + (scale[index] ** 2 * background[index]).sum()
            columns["obsid"].append(obsid)
            columns["e_lo"].append(e_lo)
            columns["e_hi"].append(e_hi)
            columns["rate"].append((total - bkg_scaled) / spectrum.exposure / width)
            columns["rate_err"].append(np.sqrt(max(variance, 1.0)) / spectrum.exposure / width)
            columns["model"].append(model_counts[index].sum() / spectrum.exposure / width)
            columns["bkg_rate"].append(bkg_scaled / spectrum.exposure / width)
            columns["counts"].append(total)
        # unfolded model (photons/cm2/s/keV) averaged over each display bin, for XSPEC-like
        # unfolded spectra: data x model photon flux / folded model
        n_new = len(bins)
        lo = np.asarray(columns["e_lo"][-n_new:])
        hi = np.asarray(columns["e_hi"][-n_new:])
        columns["model_photon_flux"] += list(_bin_photon_flux(model, values, lo, hi, setup))
    table = Table(columns)
    for name in ("e_lo", "e_hi"):
        table[name].unit = "keV"
    for name in ("rate", "rate_err", "model", "bkg_rate"):
        table[name].unit = "1 / (keV s)"
    table["model_photon_flux"].unit = "1 / (keV s cm2)"
    table["counts"].unit = "ct"
    table.meta["statistic"] = result.statistic
    table.meta["min_counts_per_bin"] = PLOT_MIN_COUNTS
    return table


def _bin_photon_flux(model, values, lo, hi, setup) -> np.ndarray:  # noqa: ANN001
    """Model photons/cm2/s/keV averaged over [lo, hi] (bins may be non-contiguous)."""
    if not len(lo):
        return np.zeros(0)
    edges = np.unique(np.concatenate([lo, hi]))
    edges = edges[edges > 0]
    per_bin = model.evaluate(edges, values, abund=setup.abund, xsect=setup.xsect)
    cumulative = np.concatenate([[0.0], np.cumsum(per_bin)])
    total = np.interp(hi, edges, cumulative) - np.interp(lo, edges, cumulative)
    return total / (hi - lo)


def spectrum_counts(setup: FitSetup) -> list[dict]:
    """Counts, background and exposure of each spectrum in the noticed band (for the tables)."""
    out = []
    for spectrum, obsid in zip(setup.spectra, setup.obsids, strict=True):
        spectrum = spectrum.copy()
        if setup.ignore:
            spectrum.ignore(setup.ignore)
        spectrum.ignore("bad")
        good = spectrum.good_channels() & spectrum.noticed
        counts = float(np.sum(spectrum.counts * good))
        bkg_counts = scale = 0.0
        if spectrum.background is not None:
            bkg = spectrum.background
            bkg_counts = float(np.sum(bkg.counts * good))
            # mean BACKSCAL ratio over noticed channels (BACKSCAL is usually one number)
            ratio = np.sum(spectrum.backscal * good) / max(np.sum(bkg.backscal * good), 1e-30)
            scale = float(ratio * spectrum.exposure / bkg.exposure)
        net = counts - scale * bkg_counts
        out.append(
            {
                "obsid": obsid,
                "exposure": float(spectrum.exposure),
                "src_counts": counts,
                "bkg_counts": bkg_counts,
                "bkg_scale": scale,
                "net_counts": net,
                "net_rate": net / spectrum.exposure,
                "net_rate_err": float(np.sqrt(counts + scale**2 * bkg_counts)) / spectrum.exposure,
            }
        )
    return out


def _display_bins(counts: np.ndarray, min_counts: float) -> list[np.ndarray]:
    """Consecutive runs of indices with at least ``min_counts`` counts (last run merged back)."""
    bins, current, total = [], [], 0.0
    for i, c in enumerate(counts):
        current.append(i)
        total += c
        if total >= min_counts:
            bins.append(np.array(current))
            current, total = [], 0.0
    if current:
        if bins:
            bins[-1] = np.concatenate([bins[-1], current])
        else:
            bins.append(np.array(current))
    return bins


def fit_joint(
    backend: str,
    summaries: Sequence[str | Path],
    settings: dict,
    json_out: str | Path,
    table_out: str | Path,
    plot_out: str | Path,
    log_path: str | Path | None = None,
) -> FitResult | None:
    """Joint fit of every ObsID that succeeded (failed ObsIDs are left out, and logged).

    With no ObsID left the fit is recorded as failed ("nothing to fit"), with empty tables.
    """
    from .summary import read_summaries, with_products

    everything = read_summaries(summaries)
    usable = with_products(everything)
    for skipped in everything:
        if not skipped.get("has_products"):
            log.warning(
                "ObsID %s left out of the joint fit: failed at %s (%s)",
                skipped["obsid"],
                skipped["failed_at"],
                skipped["message"],
            )
    if not usable:
        message = (
            f"nothing to fit: none of the {len(everything)} selected ObsIDs has a fitted spectrum "
            "(see tables/status.ecsv)"
            if everything
            else "nothing to fit: no ObsID passed the selection (see catalog/selection.ecsv)"
        )
        log.warning("%s", message)
        failure = {"status": "failed", "failed_at": "fit_joint", "message": message, "log": ""}
        _write_failed("joint", failure, json_out, table_out, plot_out)
        return None
    products = [s["products"] for s in usable]
    return fit_observations(
        backend=backend,
        spectra=[p["grouped"] for p in products],
        backgrounds=[p["bkg_pha"] for p in products],
        rmfs=[p["rmf"] for p in products],
        arfs=[p["arf"] for p in products],
        settings=settings,
        json_out=json_out,
        table_out=table_out,
        plot_out=plot_out,
        joint=True,
        log_path=log_path,
    )
