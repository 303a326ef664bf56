"""The ``native`` backend's products stage in Windowed Timing mode (``xrtproducts`` for WT data).

Called by :func:`xrtflow.backends.native.products` when ``mode: WT``. The target-level regions
(circle of ``source_radius``, annulus ``background_inner``-``background_outer``) are read as
distances *along the WT strip* and turned into per-ObsID boxes (:mod:`xrtflow.products.wt`):
the source box ``2 * source_radius`` long, two background boxes on both sides. They are written as
the ObsID's region files (``sw<obsid>xwtw2po_src.reg``/``_bkg.reg``) and every product is
extracted with them. Pile-up (:func:`xrtflow.products.pileup_wt.assess_pileup_wt`): above
``pileup.threshold_wt`` (default 100 count/s, UKSSDC) and with ``pileup.correct`` (default true)
the central columns are excised from the source box and the ARF keeps the line-spread fraction
of the remaining columns.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from xrtflow import naming
from xrtflow.logs import log_to_file

__all__ = ["products_wt", "wt_regions", "WT_PILEUP_DEFAULTS"]

logger = logging.getLogger("xrtflow.backends.native")

#: ``pileup`` settings read with these defaults (the schema section belongs to the PC helper).
WT_PILEUP_DEFAULTS = {"correct": True, "threshold_wt": 100.0}


def _pixels(region, wcs) -> tuple[float, float]:  # noqa: ANN001
    from xrtflow.products.regions import region_radii_arcmin
    from xrtflow.products.wt import _pixel_arcsec

    scale = _pixel_arcsec(wcs) / 60.0  # arcmin per pixel
    r_in, r_out = region_radii_arcmin(region)
    return r_in / scale, r_out / scale


def wt_regions(
    events,  # noqa: ANN001 (EventList)
    event_file: Path,
    src_region: Path,
    bkg_region: Path | None,
    config: Mapping,
    src_out: Path,
    bkg_out: Path | None,
) -> dict:
    """Per-ObsID WT boxes from the target-level regions, with the WT pile-up assessment.

    Writes the source boxes to ``src_out`` (the central columns excised when piled up and
    ``pileup.correct``) and the background boxes to ``bkg_out``. Both backends use it.

    Returns
    -------
    dict
        ``geometry`` (:class:`~xrtflow.products.wt.StripGeometry`), ``columns``/``sign`` (source
        ``RAWX`` per GTI, ``snapshot_exposure`` per GTI, and the column direction along the
        strip), ``assessment``
        (:class:`~xrtflow.products.pileup.PileupAssessment`), ``r_exc`` (excised half-width
        along the strip, sky pixels), ``r_col`` (the excised columns' half-width), ``src_int`` (source intervals along the strip), ``source`` (the region).
    """
    from astropy.io import fits

    from xrtflow.products.pileup_wt import assess_pileup_wt
    from xrtflow.products.regions import read_region
    from xrtflow.products.wt import snapshot_columns, strip_boxes, strip_geometry, write_boxes

    pileup_cfg = {**WT_PILEUP_DEFAULTS, **(config.get("pileup", {}) or {})}
    with fits.open(event_file, memmap=False) as hdul:
        rawx = np.asarray(hdul["EVENTS"].data["RAWX"], float)
    wcs = events.wcs
    src = read_region(src_region, wcs)
    half = _pixels(src, wcs)[1]
    geo = strip_geometry(src.center, wcs, events.header)
    along = geo.along(events.x, events.y)
    columns, index, sign = snapshot_columns(rawx, along, events.time, events.gti, half)
    columns = np.where(np.isfinite(columns), columns, np.nanmedian(columns))
    # pile-up: the profile across the columns, each event's column relative to its snapshot's
    # whole source column (so the columns stay integers, as the profile's model grid), the source
    # at the snapshots' mean sub-column position
    whole = np.round(columns)
    offset = rawx - whole[index]
    exposure = events.gti[:, 1] - events.gti[:, 0]
    sub = float(np.average(columns - whole, weights=exposure))
    first, last = int(offset.min()), int(offset.max())
    assessment = assess_pileup_wt(
        offset,
        sub,
        events.exposure,
        threshold=float(pileup_cfg["threshold_wt"]),
        half_length=half,
        n_columns=last - first + 1,
        first_column=first,
    )
    r_col = assessment.r_in if (assessment.piled and pileup_cfg["correct"]) else 0.0
    # a column's events reach its centre +- (0.5 column + 0.5 randomisation + the sky pixel's
    # half-diagonal along the strip) in the sky grid: excising that much more keeps every event of
    # an excised (piled-up) column out of the box, whose ARF then holds only unpiled columns
    a = np.radians(geo.angle)
    reach = 1.0 + 0.5 * (abs(np.cos(a)) + abs(np.sin(a)))
    r_exc = r_col + reach if r_col > 0 else 0.0
    if assessment.piled and not pileup_cfg["correct"]:
        logger.warning(
            "WT rate %.1f count/s is above %.0f but pileup.correct is false",
            assessment.measured_rate,
            assessment.threshold,
        )
    src_int = [(-half, -r_exc), (r_exc, half)] if r_exc > 0 else [(-half, half)]
    write_boxes(
        src_out,
        strip_boxes(geo, src_int),
        wcs,
        f"WT source box along the strip (PA_PNT - 90 deg); excised half-width {r_exc:.2f} px",
    )
    if bkg_region is not None and bkg_out is not None:
        b_in, b_out = _pixels(read_region(bkg_region, wcs), wcs)
        write_boxes(
            bkg_out,
            strip_boxes(geo, [(-b_out, -b_in), (b_in, b_out)]),
            wcs,
            "WT background boxes along the strip",
        )
    return {
        "geometry": geo,
        "columns": columns,
        "snapshot_exposure": exposure,
        "sign": sign,
        "assessment": assessment,
        "r_exc": float(r_exc),
        "r_col": float(r_col),
        "src_int": src_int,
        "source": src,
    }


def products_wt(
    obsid: str,
    event_file: Path,
    src_region: Path,
    bkg_region: Path | None,
    config: Mapping,
    outdir: Path,
    log: Path | None,
) -> dict[str, Path]:
    """WT image, light curves, spectra, ARF, RMF and the per-ObsID box regions.

    Returns
    -------
    dict
        Keys ``image``, ``src_lc``, ``bkg_lc``, ``src_pha``, ``bkg_pha``, ``arf``, ``rmf``,
        ``src_region``, ``bkg_region`` (no background keys without ``bkg_region``).
    """

    from xrtflow.calibration import vignetting
    from xrtflow.products.arf import read_arf, read_energy_grid, write_arf, xrtmkarf_offaxis
    from xrtflow.products.events import read_events
    from xrtflow.products.image import write_image
    from xrtflow.products.lightcurve import write_light_curve
    from xrtflow.products.spectrum import pha_counts, write_pha
    from xrtflow.products.wt import (
        boxes_contain,
        boxes_npix,
        read_boxes,
        strip_selection,
        wt_psf_fraction,
    )

    mode = "WT"
    pcfg = config.get("products", {}) or {}
    pilow, pihigh = int(pcfg.get("pilow", 30)), int(pcfg.get("pihigh", 1000))
    img_lo = int(pcfg.get("image_pilow") if pcfg.get("image_pilow") is not None else 0)
    img_hi = int(pcfg.get("image_pihigh") if pcfg.get("image_pihigh") is not None else 1023)
    binsize = float(pcfg.get("lc_binsize", 10.0))
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    out = {
        "image": outdir / naming.sky_image(obsid, mode),
        "src_lc": outdir / naming.source_lightcurve(obsid, mode),
        "bkg_lc": outdir / naming.background_lightcurve(obsid, mode),
        "src_pha": outdir / naming.source_spectrum(obsid, mode),
        "bkg_pha": outdir / naming.background_spectrum(obsid, mode),
        "arf": outdir / naming.source_arf(obsid, mode),
        "rmf": outdir / naming.source_rmf(obsid, mode),
        "src_region": outdir / naming.source_region(obsid, mode),
        "bkg_region": outdir / naming.background_region(obsid, mode),
    }
    with log_to_file(log):
        events = read_events(event_file, obsid=obsid, mode=mode)
        wcs, shape = events.wcs, events.image_shape
        geo_info = wt_regions(
            events,
            event_file,
            src_region,
            bkg_region,
            config,
            out["src_region"],
            out["bkg_region"] if bkg_region is not None else None,
        )
        geo, columns, sign = geo_info["geometry"], geo_info["columns"], geo_info["sign"]
        assessment, r_exc, src_int = geo_info["assessment"], geo_info["r_exc"], geo_info["src_int"]
        src = geo_info["source"]
        src_boxes = read_boxes(out["src_region"], wcs)  # extract with what the file says
        src_mask = boxes_contain(src_boxes, events.x, events.y)
        src_npix = boxes_npix(src_boxes, shape)
        src_bs = src_npix / float(shape[0] * shape[1])

        bkg_mask, bkg_bs, bkg_npix = None, 0.0, 0
        if bkg_region is not None:
            bkg_boxes = read_boxes(out["bkg_region"], wcs)
            bkg_mask = boxes_contain(bkg_boxes, events.x, events.y)
            bkg_npix = boxes_npix(bkg_boxes, shape)
            bkg_bs = bkg_npix / float(shape[0] * shape[1])
        else:
            for key in ("bkg_lc", "bkg_pha", "bkg_region"):
                out.pop(key)

        write_image(out["image"], events, img_lo, img_hi)
        write_light_curve(out["src_lc"], events, src_mask, binsize, pilow, pihigh, src_bs, "source")
        if bkg_mask is not None:
            write_light_curve(
                out["bkg_lc"], events, bkg_mask, binsize, pilow, pihigh, bkg_bs, "bkg"
            )
        pile = {
            "PILEUP": (bool(assessment.piled), "WT rate above the pile-up threshold"),
            "PILERATE": (assessment.measured_rate, "[ct/s] WT rate in the source box"),
            "PILETHR": (assessment.threshold, "[ct/s] WT pile-up threshold"),
            "EXCISRAD": (float(r_exc), "[pixel] excised half-width along the strip"),
            "EXCISCOL": (geo_info["r_col"], "[pixel] half-width of the excised columns"),
        }
        names = {k: v.name for k, v in out.items()}
        src_counts = pha_counts(events.pi[src_mask])
        write_pha(
            out["src_pha"],
            src_counts,
            events,
            src_bs,
            "TOTAL",
            respfile=names["rmf"],
            ancrfile=names["arf"],
            backfile=names.get("bkg_pha", "none"),
            extra={"NPIXSOU": (float(src_npix), "sky pixels in the region"), **pile},
        )
        if bkg_mask is not None:
            write_pha(
                out["bkg_pha"],
                pha_counts(events.pi[bkg_mask]),
                events,
                bkg_bs,
                "BKG",
                respfile=names["rmf"],
                extra={"NPIXSOU": (float(bkg_npix), "sky pixels in the region")},
            )

        from xrtflow.backends.native import _caldb, _coefficients, _obs_date

        date = _obs_date(events)
        caldb = _caldb(config)
        grades = "0:2"
        xrtvsub = events.header.get("XRTVSUB")
        rmf_src = caldb.rmf(datamode=mode, grades=grades, date=date, xrtvsub=xrtvsub)
        onaxis = caldb.arf(datamode=mode, grades=grades, date=date, xrtvsub=xrtvsub)
        shutil.copyfile(rmf_src, out["rmf"])
        psf, vig = _coefficients(config, date)
        a_lo, a_hi, aon = read_arf(onaxis)
        grid = read_energy_grid(out["rmf"])
        elo, ehi = grid if grid is not None else (a_lo, a_hi)
        emid = 0.5 * (elo + ehi)
        area = np.interp(emid, 0.5 * (a_lo + a_hi), aon)
        h = events.header
        theta, _ = xrtmkarf_offaxis(src.center, wcs, (float(h["RA_PNT"]), float(h["DEC_PNT"])))
        bad_cols = (
            np.asarray(events.badpix["RAWX"], float)
            if events.badpix is not None and len(events.badpix)
            else np.array([])
        )
        # the PSF over the source boxes' sky pixels (see strip_selection), with the bad columns
        # where they were in each snapshot, weighted by the snapshots' exposures
        selection = strip_selection(src_boxes, geo, max(abs(v) for iv in src_int for v in iv) + 3)
        weights = geo_info["snapshot_exposure"] / geo_info["snapshot_exposure"].sum()
        frac = sum(
            w
            * wt_psf_fraction(
                np.append(emid, 1.5), None, theta, (bad_cols - c) * sign, psf, selection
            )
            for w, c in zip(weights, columns, strict=True)
        )
        specresp = area * vignetting(emid, theta, vig) * frac[:-1]
        info = {
            "offaxis": theta,
            "src_x": geo.xs,
            "src_y": geo.ys,
            "psf_fraction_1p5keV": float(frac[-1]),
            "vignetting_1p5keV": float(vignetting(1.5, theta, vig)),
        }
        write_arf(
            out["arf"],
            elo,
            ehi,
            specresp,
            events,
            info,
            onaxis_name=Path(onaxis).name,
            rmf_name=out["rmf"].name,
        )
        logger.info(
            "ObsID %s (WT): source column %s, %d source / %d background counts; BACKSCAL "
            "%.4g / %.4g; rate %.1f ct/s, piled %s, excised +-%.1f px; PSF fraction %.4f",
            obsid,
            np.round(columns, 2).tolist(),
            src_counts.sum(),
            int(bkg_mask.sum()) if bkg_mask is not None else 0,
            src_bs,
            bkg_bs,
            assessment.measured_rate,
            assessment.piled,
            r_exc,
            frac[-1],
        )
    return out
