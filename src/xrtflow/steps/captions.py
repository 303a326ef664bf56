"""Step: captions of the Snakemake report, written per run with the run's values.

Snakemake's ``report(caption=...)`` takes one RST file per output (not per wildcard value), and
renders it with jinja; so each caption file written here holds one branch per target (chosen by
``snakemake.wildcards.target``) and, for the tables, one per table. The numbers come from the
run's own tables, so the report says what the reader is looking at.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from astropy.table import Table

from .files import write_text

log = logging.getLogger(__name__)


def _interval(row, name: str) -> str:  # noqa: ANN001
    value, lo, hi = (float(row[c]) for c in (name, f"{name}_lo90", f"{name}_hi90"))
    unit = row.columns[name].unit
    unit = f" {unit}" if unit not in (None, "") else ""
    return f"{value:.4g} ({lo:.4g}-{hi:.4g}){unit}"


def _facts(target: dict, paths: dict, fit: dict, backend: str) -> dict:
    """Numbers of one target's run, as strings."""
    from ..plots.parameters import free_parameters

    results = Table.read(paths["results"], format="ascii.ecsv")
    status = Table.read(paths["status"], format="ascii.ecsv")
    selection = Table.read(paths["selection"], format="ascii.ecsv")
    lightcurve = Table.read(paths["lightcurve"], format="ascii.ecsv")
    hardness = Table.read(paths["hardness"], format="ascii.ecsv")
    joint = results[results["fit"] == "joint"]
    single = results[results["fit"] == "single"]
    # nothing fitted (no ObsID left): the captions still say what the run did
    first = joint[0] if len(joint) else (results[0] if len(results) else None)
    tied = [
        n
        for n in free_parameters(results)
        if len(joint) > 1 and np.all(np.asarray(joint[n]) == joint[n][0])
    ]
    band = "-".join(f"{e:g}" for e in results.meta.get("flux_band_keV", fit["flux_band"]))
    epoch = target.get("epoch_mjd")
    n_ok = int(np.sum(status["status"] == "ok"))
    return {
        "name": target["name"],
        "epoch": f"MJD {epoch:g}" if epoch is not None else "MJD 0",
        "model": f"``{results.meta.get('model', fit['model'])}``",
        "statistic": str(first["statistic"]) if first is not None else "none",
        "joint_stat": f"{float(first['stat_value']):.1f} for {int(first['dof'])} dof"
        if len(joint)
        else "not available",
        "tied": "; ".join(f"{n} = {_interval(first, n)}" for n in tied if first is not None)
        or "none",
        "free": ", ".join(free_parameters(results)),
        "band": f"{band} keV",
        "abund": f"{fit.get('abund', 'wilm')}/{fit.get('xsect', 'vern')}",
        "n_catalog": str(len(selection)),
        "n_selected": str(int(np.sum(selection["selected"]))),
        "n_ok": str(n_ok),
        "n_failed": str(len(status) - n_ok),
        "n_single": str(len(single)),
        "n_snapshots": str(len(lightcurve)),
        "lc_band": str(lightcurve.meta.get("band", "")),
        "lc_binning": str(lightcurve.meta.get("binning", "snapshot")),
        "hr_bands": "H: {}, S: {} keV".format(
            "-".join(f"{e:g}" for e in hardness.meta.get("hard_band_keV", ())),
            "-".join(f"{e:g}" for e in hardness.meta.get("soft_band_keV", ())),
        ),
        "last": f"{single['obsid'][-1]} (day {float(single['days_after_epoch'][-1]):.2f})"
        if len(single)
        else "the last ObsID",
        "window": str(target.get("days_after_epoch") or "all"),
        "min_exposure": f"{target.get('min_exposure', 0):g} s",
        "backend": backend,
    }


RESIDUALS = (
    "Residuals are (data-model)/sigma per display bin of at least 20 counts, sigma = "
    "sqrt(N_src + s^2 N_bkg); for a C-stat fit this is not the statistic's own contribution "
    "(the fit itself uses every group)."
)

TEMPLATES = {
    "timeline": "{name}: Swift-XRT exposure of each of the {n_catalog} catalog observations "
    "against days after {epoch}; {n_selected} selected (window {window} days, at least "
    "{min_exposure}), the others crosses.",
    "parameters": "{name}: every free parameter of {model} ({free}) and the absorbed and "
    "unabsorbed {band} fluxes against days after {epoch}, with 90% intervals (delta stat 2.706). "
    "Filled circles: the {n_single} single-ObsID fits; open squares: the joint fit's per-ObsID "
    "values; band: parameters tied in the joint fit ({tied}). Joint {statistic} = {joint_stat}; "
    "abundances/cross-sections {abund}; backend {backend}. The values are those of the results "
    "table.",
    "spectra": "{name}: joint fit of {model} to {n_ok} ObsIDs, {statistic} = {joint_stat} "
    "(tied: {tied}). Left: background-subtracted counts with the folded model (red) and the "
    "scaled background (grey, dashed); below, residuals. Right: unfolded E F(E) (XSPEC eufspec: "
    "data x model photon flux / folded model) with each additive component. " + RESIDUALS,
    "spectra_single": "{name}: each ObsID's own fit of {model} ({statistic}); panels as in the "
    "joint-fit spectra. " + RESIDUALS,
    "images": "{name}: Swift-XRT sky images (counts per pixel, one colour scale per page) around "
    "the target, RA/Dec axes, 2' scale bar, N and E arrows; source circle solid green, background "
    "annulus dashed blue; the title gives the ObsID and the day after {epoch}.",
    "image_last": "{name}: the image of the latest ObsID, {last}, with its own colour bar; "
    "regions and marks as in the image grid.",
    "lightcurve": "{name}: long-term light curve, background-subtracted count rate corrected "
    "like xrtlccorr (PSF outside the region, bad columns, exposure) in {lc_band} and the other "
    "bands, per {lc_binning} ({n_snapshots} bins of {n_ok} ObsIDs) against days after {epoch}; "
    "1-sigma errors from the Gehrels (1986) Poisson limits. Below: hardness ratio H/S per bin "
    "and per ObsID, {hr_bands}.",
}

TABLES = {
    "results": "{name}: one row per fit and ObsID (fit=joint: the joint fit, {n_ok} ObsIDs; "
    "fit=single: each ObsID's own fit). Every parameter of {model} with its 90% bounds "
    "(``<name>_lo90``, ``<name>_hi90``), statistic ({statistic}) value and dof, absorbed and "
    "unabsorbed {band} fluxes (erg/cm2/s) with 90% bounds, counts, exposure and net count rate. "
    "Joint {statistic} = {joint_stat}.",
    "status": "{name}: how far each of the {n_selected} selected ObsIDs got ({n_ok} fitted, "
    "{n_failed} failed), and where and why it stopped.",
    "selection": "{name}: all {n_catalog} catalog observations, ``selected`` and the reason for "
    "each one left out ({n_selected} selected).",
    "lightcurve": "{name}: corrected net count rate per {lc_binning} in {lc_band} and the other "
    "bands ({n_snapshots} bins), Gehrels (1986) 1-sigma errors, hardness ratio ``hr``.",
    "hardness": "{name}: hardness ratio H/S of the corrected rates per ObsID, {hr_bands}.",
}


def caption_text(name: str, facts: dict) -> str:
    """The RST text of one caption for one target."""
    if name == "tables":
        parts = [
            f'{{% if snakemake.wildcards.table == "{table}" %}}\n{text.format(**facts)}\n{{% endif %}}'
            for table, text in TABLES.items()
        ]
        return "\n".join(parts)
    text = TEMPLATES[name].format(**facts)
    if name in ("spectra", "spectra_single", "images"):
        text += " Page {{ snakemake.wildcards.page }}."
    return text


def write_captions(
    targets: Mapping[str, dict],
    inputs: Mapping[str, Sequence[str]],
    fit: dict,
    backend: str,
    names: Sequence[str],
    outputs: Sequence[str | Path],
) -> None:
    """Write one caption file per name, with a branch per target.

    Parameters
    ----------
    targets : mapping
        Target key -> its config block (in the order of the ``inputs`` lists).
    inputs : mapping
        ``results``, ``status``, ``selection``, ``lightcurve``, ``hardness``: one path per target.
    """
    keys = list(targets)
    facts = {
        key: _facts(targets[key], {k: str(v[i]) for k, v in inputs.items()}, fit, backend)
        for i, key in enumerate(keys)
    }
    for name, output in zip(names, outputs, strict=True):
        branches = [
            f'{{% if snakemake.wildcards.target == "{key}" %}}\n'
            f"{caption_text(name, facts[key])}\n{{% endif %}}"
            for key in keys
        ]
        Path(output).parent.mkdir(parents=True, exist_ok=True)
        write_text(output, "\n".join(branches) + "\n")
    log.info("%d captions for %d targets", len(names), len(keys))
