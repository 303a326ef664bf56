"""Step: the corrected light curve of one ObsID (``lightcurve`` stage, after ``products``).

Background-subtracted rates in bands, corrected like ``xrtlccorr`` for the PSF outside the
source region (or inside an excised core: annulus regions are accepted), bad columns and
exposure, with Gehrels (1986) errors and the hardness ratio (:mod:`xrtflow.products.
lightcurve_corr`). Two products per ObsID (:mod:`xrtflow.naming`):

* ``sw<obsid>xpcw3posr_corr.lc``: OGIP light curve in the style of ``xrtlccorr``, one ``RATE``
  extension per band (:mod:`xrtflow.products.lightcurve_ogip`);
* ``sw<obsid>xpcw3posr_corr_lc.ecsv``: every band and the hardness ratio, with units.

The ``native`` backend computes them from the cleaned events, the regions, the attitude and the
event file's bad pixels; the ``heasoft`` backend runs ``xrtproducts`` with ``correctlc=yes`` (so
``xrtlccorr``) once per band and rebins its 10-s corrected light curves
(:mod:`xrtflow.heasoft.lightcurve`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path

from .files import run_guarded

log = logging.getLogger(__name__)

__all__ = ["describe_table", "lightcurve_settings", "run_lightcurve", "write_products"]

#: Config ``lightcurve`` defaults (the schema holds the same).
DEFAULTS = {
    "binning": "snapshot",
    "binsize": 100.0,
    "bands": [[0.3, 10.0], [0.3, 1.5], [1.5, 10.0]],
    "vignetting": False,
}


def lightcurve_settings(lc_config: Mapping | None) -> dict:
    """Binning, bin size, bands ``(name, lo, hi)`` and hardness bands from config ``lightcurve``.

    The hardness ratio is band 3 over band 2 (default ``1.5-10 / 0.3-1.5`` keV); with fewer than
    three bands there is none.
    """
    cfg = {**DEFAULTS, **dict(lc_config or {})}
    bands = tuple((f"{lo:g}-{hi:g}", float(lo), float(hi)) for lo, hi in cfg["bands"])
    hardness = (bands[1][0], bands[2][0]) if len(bands) >= 3 else None
    return {
        "binning": str(cfg["binning"]),
        "binsize": float(cfg["binsize"]),
        "bands": bands,
        "hardness": hardness,
        "vignetting": bool(cfg["vignetting"]),
    }


def describe_table(table, bands, hardness) -> None:  # noqa: ANN001 (astropy Table, band tuples)
    """Units and descriptions of the columns of a corrected light-curve table."""
    info = {
        "OBSID": ("", "Swift ObsID"),
        "TIME": ("s", "bin centre, MET (TT)"),
        "TSTART": ("s", "bin start, MET"),
        "TSTOP": ("s", "bin end, MET"),
        "EXPOSURE": ("s", "time of the bin inside the GTIs"),
        "FRACEXP": ("", "EXPOSURE / bin width"),
        "CORR": ("", "correction factor 1/f (f: PSF fraction on good pixels of the region)"),
        "MJD": ("d", "bin centre, MJD (TT)"),
    }
    for name, lo, hi in bands:
        band = f"{lo:g}-{hi:g} keV"
        info[f"COUNTS_{name}"] = ("ct", f"counts in the source region, {band}")
        info[f"BKG_COUNTS_{name}"] = ("ct", f"counts in the background region, {band}")
        info[f"RATE_{name}"] = ("ct / s", f"net corrected count rate, {band}")
        info[f"ERR_LO_{name}"] = ("ct / s", f"lower 1-sigma error (Gehrels 1986), {band}")
        info[f"ERR_HI_{name}"] = ("ct / s", f"upper 1-sigma error (Gehrels 1986), {band}")
    if hardness:
        info["HR"] = ("", f"hardness ratio rate({hardness[1]}) / rate({hardness[0]}) keV")
        info["HR_ERR_LO"] = ("", "lower 1-sigma error of HR (propagated)")
        info["HR_ERR_HI"] = ("", "upper 1-sigma error of HR (propagated)")
    for col in table.colnames:
        unit, text = info.get(col, ("", ""))
        table[col].unit = unit or None
        table[col].description = text


def _add_mjd(table) -> None:  # noqa: ANN001
    mjdref = float(table.meta.get("MJDREFI", 51910)) + float(table.meta.get("MJDREFF", 0.0))
    table["MJD"] = mjdref + table["TIME"] / 86400.0


def native_lightcurve(
    obsid: str,
    event_file: Path,
    src_region: Path,
    bkg_region: Path,
    attitude_file: Path,
    outdir: Path,
    config: Mapping,
    settings: Mapping,
) -> dict[str, Path]:
    """The corrected light curve from the ObsID's files (pure Python)."""
    from xrtflow.products.events import read_events
    from xrtflow.products.lightcurve_files import corrected_light_curve_files

    mode = str(config.get("mode", "PC")).upper()
    events = read_events(event_file, obsid=obsid, mode=mode)
    table = corrected_light_curve_files(
        event_file,
        src_region,
        bkg_region,
        attitude_file,
        settings["binning"],
        settings["binsize"],
        settings["bands"],
        hardness=settings["hardness"],
        events=events,
        vignetting=settings["vignetting"],
    )
    return write_products(table, events, obsid, mode, outdir, settings)


def write_products(table, events, obsid, mode, outdir, settings) -> dict[str, Path]:  # noqa: ANN001
    """Write the stage's FITS light curve and ECSV table (both backends) into ``outdir``."""
    from xrtflow import naming
    from xrtflow.products.lightcurve_ogip import write_corrected_lc_fits

    outdir = Path(outdir)
    lc = write_corrected_lc_fits(
        table,
        outdir / naming.corrected_lightcurve(obsid, mode),
        events,
        settings["bands"],
        settings["binning"],
    )
    _add_mjd(table)
    describe_table(table, settings["bands"], settings["hardness"])
    table.meta["BANDS"] = [[lo, hi] for _, lo, hi in settings["bands"]]
    ecsv = outdir / naming.corrected_lightcurve_table(obsid, mode)
    table.write(ecsv, format="ascii.ecsv", overwrite=True)
    log.info(
        "ObsID %s: %d %s bins, mean correction %.3f",
        obsid,
        len(table),
        settings["binning"],
        float(table["CORR"].mean()) if len(table) else float("nan"),
    )
    return {"lc_corr": lc, "lc_corr_table": ecsv}


def run_lightcurve(
    backend: str,
    obsid: str,
    event_file,  # noqa: ANN001 (paths)
    src_region,  # noqa: ANN001
    bkg_region,  # noqa: ANN001
    stage_json,  # noqa: ANN001
    products_json,  # noqa: ANN001
    config: dict,
    lc_config: Mapping | None,
    outputs: Mapping[str, str],
    record_out,  # noqa: ANN001
    log_path,  # noqa: ANN001
) -> dict:
    """The ``lightcurve`` stage of one ObsID: ``lc_corr`` (FITS) and ``lc_corr_table`` (ECSV).

    Runs inside :func:`~xrtflow.steps.files.run_guarded` (record, placeholders on failure; a
    failed ``products`` stage is passed on).
    """
    settings = lightcurve_settings(lc_config)

    def make(scratch: Path) -> dict:
        stage = json.loads(Path(stage_json).read_text())
        args = (
            obsid,
            Path(event_file),
            Path(src_region),
            Path(bkg_region),
            Path(stage["attitude_file"]),
        )
        if backend == "heasoft":
            from xrtflow.heasoft.lightcurve import heasoft_lightcurve

            (scratch / "work").mkdir()
            return heasoft_lightcurve(
                *args,
                Path(stage["hk_file"]),
                scratch,
                config,
                settings,
                scratch / "work",
                Path(log_path) if log_path else None,
            )
        if backend != "native":
            raise ValueError(f"unknown backend {backend!r} (native or heasoft)")
        return native_lightcurve(*args, scratch, config, settings)

    return run_guarded(
        "lightcurve", obsid, {"products": products_json}, outputs, record_out, log_path, make
    )
