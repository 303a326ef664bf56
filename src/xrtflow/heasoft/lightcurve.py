"""The ``lightcurve`` stage with HEASoft: ``xrtproducts correctlc=yes`` (``xrtlccorr``) per band.

Facts used (from the HEASoft 6.20 sources of ``xrtproducts`` and ``xrtlccorr``, see
:data:`PARAMETER_SOURCES`):

* ``xrtproducts`` accepts ``phafile=NONE``, ``bkgphafile=NONE`` and ``imagefile=NONE`` (light
  curves only); with ``phafile=NONE`` it refuses ``expofile``, ``rmffile``, ``psffile``, ...;
  ``attfile``/``hdfile`` only with ``correctlc=yes``, which needs an ``lcfile``;
* with ``correctlc=yes`` it runs ``xrtlccorr`` on the source light curve and writes
  ``<stemout>sr_corr.lc``: the ``RATE`` and ``ERROR`` columns of ``<stemout>sr.lc`` multiplied
  by the correction factor of the latest correction-table time before the bin;
* ``xrtlccorr`` refuses light curves with ``TIMEDEL`` above 10 s.

So each band is extracted at <= 10 s, corrected by ``xrtlccorr``, and the 10-s bins are summed
into the configured bins here (counts from ``RATE x TIMEDEL x FRACEXP`` of the uncorrected
curves, the factor from the corrected over the uncorrected rate), with the same estimator and
Gehrels errors as the native backend (:func:`~xrtflow.products.lightcurve_corr.
aggregate_light_curve`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.table import Table, vstack

from xrtflow import naming

from .tasks import check_parameters

__all__ = [
    "PARAMETER_SOURCES",
    "extraction_binsize",
    "heasoft_lightcurve",
    "rebin_corrected_band",
    "xrtproducts_band_params",
]

PARAMETER_SOURCES = [
    "xrtproducts Perl source (HEASoft 6.20, swift/xrt/tasks/xrtproducts: GetInputParameters, "
    "RequestParameter, RunXrtLcCorr): phafile/bkgphafile/imagefile may be NONE; expofile, "
    "rmffile, psffile, vigfile, inarffile, psfflag, mirfile refused when phafile=NONE; "
    "attfile/hdfile refused unless correctlc=yes; correctlc=yes refused with lcfile=NONE; "
    "corrected light curve <outdir>/<stemout>sr_corr.lc",
    "xrtlccorr C source (swift/xrt/tasks/xrtlccorr/xrtlccorr.c 0.3.8, CorrectLCCurve): TIMEDEL "
    "> 10 s refused; RATE and ERROR multiplied by the factor; keywords VIGNAPP, XRTPSFCO, "
    "XRTPSFEN",
]

#: The largest light-curve bin ``xrtlccorr`` accepts (s).
XRTLCCORR_MAX_TIMEDEL = 10.0


def extraction_binsize(binning: str, binsize: float) -> float:
    """Bin size of the extractor light curves: <= 10 s and, for ``time`` binning, dividing
    ``binsize`` so that the fine bins sum exactly into the configured ones."""
    if binning != "time" or binsize <= XRTLCCORR_MAX_TIMEDEL:
        return float(min(binsize, XRTLCCORR_MAX_TIMEDEL)) if binning == "time" else 10.0
    return float(binsize) / int(np.ceil(binsize / XRTLCCORR_MAX_TIMEDEL - 1e-9))


def xrtproducts_band_params(
    obsid: str,
    event_file: Path,
    src_region: Path,
    bkg_region: Path,
    attitude_file: Path,
    hk_file: Path,
    outdir: Path,
    band: tuple[float, float],
    binsize: float,
    config: Mapping,
) -> dict[str, object]:
    """``xrtproducts`` parameters for the corrected light curves of one band (no spectra)."""
    mode = str(config.get("mode", "PC")).upper()
    lo, hi = band
    pilow, pihigh = int(round(lo / 0.01)), int(round(hi / 0.01)) - 1
    if not 0 <= pilow < pihigh <= 1023:
        raise ValueError(f"light-curve band {lo:g}-{hi:g} keV is outside PI 0-1023")
    if not 0 < binsize <= XRTLCCORR_MAX_TIMEDEL:
        raise ValueError(f"xrtlccorr needs light-curve bins of at most 10 s, not {binsize}")
    params = {
        "infile": Path(event_file),
        "outdir": Path(outdir),
        "stemout": naming.stem(obsid, mode),
        "regionfile": Path(src_region),
        "bkgextract": True,
        "bkgregionfile": Path(bkg_region),
        "lcfile": naming.source_lightcurve(obsid, mode),
        "bkglcfile": naming.background_lightcurve(obsid, mode),
        "phafile": "NONE",
        "bkgphafile": "NONE",
        "imagefile": "NONE",
        "pilow": pilow,
        "pihigh": pihigh,
        "binsize": float(binsize),
        "correctlc": True,
        "attfile": Path(attitude_file),
        "hdfile": Path(hk_file),
        "clobber": True,
        "chatter": int((config.get("heasoft") or {}).get("chatter", 3)),
    }
    return check_parameters("xrtproducts", params)


def _read_rate(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, fits.Header]:
    with fits.open(path) as hdul:
        h = hdul["RATE"].header
        d = hdul["RATE"].data
        delta = float(h["TIMEDEL"])
        time = np.asarray(d["TIME"], float) + float(h.get("TIMEZERO", 0.0))
        frac = np.asarray(d["FRACEXP"], float) if "FRACEXP" in d.columns.names else 1.0
        live = delta * np.broadcast_to(frac, time.shape)
        return time, np.asarray(d["RATE"], float), live, h.copy()


def rebin_corrected_band(
    src_lc: Path, corr_lc: Path, bkg_lc: Path
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Fine-bin starts, live times, source and background counts and the ``xrtlccorr`` factor.

    The factor of a bin with no source count (rate 0 in both curves) is that of the nearest bin
    with counts (``xrtlccorr``'s factor changes only with the attitude).
    """
    t, rate, live, header = _read_rate(src_lc)
    tc, rate_corr, _, _ = _read_rate(corr_lc)
    tb, rate_b, live_b, _ = _read_rate(bkg_lc)
    # TIME + TIMEZERO is the bin's centre (TIMEPIXR = 0.5, extractor); bins are TIMEDEL wide
    start = t - float(header.get("TIMEPIXR", 0.5)) * float(header["TIMEDEL"])
    if t.size != tc.size or t.size != tb.size or not np.allclose(t, tc) or not np.allclose(t, tb):
        raise ValueError(f"{src_lc}, {corr_lc} and {bkg_lc} do not have the same time bins")
    counts = np.rint(rate * live)
    bcounts = np.rint(rate_b * live_b)
    known = (rate > 0) & np.isfinite(rate_corr)
    factor = np.full(t.size, np.nan)
    factor[known] = rate_corr[known] / rate[known]
    if known.any():
        idx = np.flatnonzero(known)
        nearest = idx[np.clip(np.searchsorted(idx, np.arange(t.size)), 0, idx.size - 1)]
        factor = np.where(known, factor, factor[nearest])
    return start, live, counts, bcounts, factor


def bin_fine_light_curves(
    fine: Mapping[str, tuple],
    bins: np.ndarray,
    area_ratio: float,
    bands: Sequence[tuple[str, float, float]],
    hardness: tuple[str, str] | None,
    obsid: str,
) -> Table:
    """Sum fine (10-s) corrected light curves of every band into ``bins``.

    ``fine[name] = (start, live, counts, bkg_counts, factor)`` (:func:`rebin_corrected_band`);
    a fine bin goes to the bin it overlaps most (extractor's grid runs on across the gaps, so
    the first fine bin of a snapshot may start before it).
    """
    from xrtflow.products.lightcurve_corr import aggregate_light_curve

    first = fine[bands[0][0]]
    time, live, factor = first[0], first[1], first[4]
    bins = np.asarray(bins, float).reshape(-1, 2)
    width = float(np.median(np.diff(time))) if time.size > 1 else 1.0
    lo = np.maximum(time[:, None], bins[None, :, 0])
    hi = np.minimum(time[:, None] + width, bins[None, :, 1])
    overlap = np.clip(hi - lo, 0.0, None)
    owner = np.where(overlap.max(axis=1) > 0, overlap.argmax(axis=1), -1)
    rows = []
    for k, (start, stop) in enumerate(bins):
        sel = owner == k
        t = Table()
        t["OBSID"] = np.full(sel.sum(), obsid, dtype="U11")
        t["TSTART"], t["TSTOP"] = time[sel], time[sel]
        t["EXPOSURE"], t["CORR"] = live[sel], factor[sel]
        for name, _, _ in bands:
            t[f"COUNTS_{name}"] = fine[name][2][sel]
            t[f"BKG_COUNTS_{name}"] = fine[name][3][sel]
        t.meta["AREARAT"] = float(area_ratio)
        row = aggregate_light_curve(t, bands, hardness)
        row["TSTART"], row["TSTOP"] = [start], [stop]
        row["TIME"] = [0.5 * (start + stop)]
        row["FRACEXP"] = row["EXPOSURE"] / (stop - start)
        rows.append(row)
    out = vstack(rows, metadata_conflicts="silent")
    out.meta.update({"AREARAT": float(area_ratio), "OBS_ID": obsid})
    return out


def _area_ratio(events, src_region: Path, bkg_region: Path) -> float:  # noqa: ANN001
    """Source over background region area in sky pixels (extractor's BACKSCAL convention)."""
    from xrtflow.products.regions import read_region, region_pixel_mask

    n_src = region_pixel_mask(read_region(src_region), events.wcs, events.image_shape).sum()
    n_bkg = region_pixel_mask(read_region(bkg_region), events.wcs, events.image_shape).sum()
    if n_src == 0 or n_bkg == 0:
        raise ValueError(f"ObsID {events.obsid}: a region covers no sky pixel of the event file")
    return float(n_src) / float(n_bkg)


def heasoft_lightcurve(
    obsid: str,
    event_file: Path,
    src_region: Path,
    bkg_region: Path,
    attitude_file: Path,
    hk_file: Path,
    outdir: Path,
    config: Mapping,
    settings: Mapping,
    workdir: Path,
    log: Path | None,
) -> dict[str, Path]:
    """Run ``xrtproducts``/``xrtlccorr`` per band and write the stage's two products."""
    from xrtflow.products.events import read_events
    from xrtflow.products.lightcurve_corr import light_curve_bins
    from xrtflow.steps.lightcurves import write_products

    from .runner import run_task

    mode = str(config.get("mode", "PC")).upper()
    events = read_events(event_file, obsid=obsid, mode=mode)
    step = extraction_binsize(settings["binning"], settings["binsize"])
    fine = {}
    ratio = _area_ratio(events, src_region, bkg_region)
    for k, (name, lo, hi) in enumerate(settings["bands"]):
        band_dir = Path(workdir) / f"band{k}"
        band_dir.mkdir(parents=True, exist_ok=True)
        params = xrtproducts_band_params(
            obsid,
            Path(event_file).resolve(),
            Path(src_region).resolve(),
            Path(bkg_region).resolve(),
            Path(attitude_file).resolve(),
            Path(hk_file).resolve(),
            band_dir.resolve(),
            (lo, hi),
            step,
            config,
        )
        timeout = (config.get("heasoft") or {}).get("timeout")
        run_task(
            "xrtproducts",
            params,
            workdir=band_dir,
            log=log,
            obsid=obsid,
            timeout=None if timeout is None else float(timeout),
        )
        src = band_dir / naming.source_lightcurve(obsid, mode)
        bkg = band_dir / naming.background_lightcurve(obsid, mode)
        corr = band_dir / naming.corrected_lightcurve(obsid, mode)
        for path in (src, bkg, corr):
            if not path.is_file():
                raise FileNotFoundError(f"xrtproducts did not write {path.name} in {band_dir}")
        fine[name] = rebin_corrected_band(src, corr, bkg)
        # whether xrtlccorr's instrument map held the vignetting (its own keyword)
        vignapp = bool(fits.getheader(corr, "RATE").get("VIGNAPP", False))
    bins = light_curve_bins(events.gti, settings["binning"], settings["binsize"])
    table = bin_fine_light_curves(
        fine, bins, ratio, settings["bands"], settings["hardness"], events.obsid
    )
    table.meta.update(
        {
            "BINMODE": settings["binning"],
            "VIGNAPP": vignapp,
            "MJDREFI": int(events.header.get("MJDREFI", 51910)),
            "MJDREFF": float(events.header.get("MJDREFF", 7.4287037e-4)),
        }
    )
    return write_products(table, events, obsid, mode, outdir, settings)
