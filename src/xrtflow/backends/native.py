"""The ``native`` backend: pure-Python stand-ins for xrtpipeline, xrtexpomap, xrtproducts and
ftgrouppha, with the same stage signatures as :mod:`xrtflow.backends.heasoft`.

Every stage reads and writes the file names of :mod:`xrtflow.naming`, so downstream rules never
know which backend ran. See :mod:`xrtflow.products` for what each product holds and where it
differs from HEASoft.
"""

from __future__ import annotations

import gzip
import logging
import shutil
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from xrtflow import naming
from xrtflow.logs import log_to_file

# Each stage imports only the product modules it uses (inside the function): one Snakemake job
# runs one stage, and e.g. the grouping job must not pay for regions/matplotlib/coordinates.
if TYPE_CHECKING:
    from astropy.coordinates import SkyCoord

    from xrtflow.products.expomap import AttitudePositions

__all__ = ["pipeline", "expomap", "products", "group", "GRADES"]

logger = logging.getLogger("xrtflow.backends.native")

#: Grade selection of the cleaned PC events and of the response (xrtpipeline's default).
GRADES = {"PC": "0:12", "WT": "0:2"}


# --- helpers -----------------------------------------------------------------------------------
def _mode(config: Mapping) -> str:
    return str(config.get("mode", "PC")).upper()


def _products_cfg(config: Mapping) -> Mapping:
    return config.get("products", {}) or {}


def _caldb(config: Mapping):
    """``caldb`` path or URL, else ``$CALDB``, else HEASARC over HTTPS (cached, see caldb.py)."""
    from xrtflow.caldb import open_caldb

    return open_caldb(config.get("caldb"), config.get("caldb_cache"))


def _coefficients(config: Mapping, date) -> tuple[object, object]:
    """PSF and vignetting coefficients from the CALDB; built-in CALDB values if unavailable."""
    from xrtflow.calibration import (
        SWIFT_XRT_PSF,
        SWIFT_XRT_VIGNETTING,
        read_psf_coefficients,
        read_vignetting_coefficients,
    )

    try:
        cal = _caldb(config)
        psf = read_psf_coefficients(cal.psf(date), _mode(config))
        vig = read_vignetting_coefficients(cal.vignetting(date))
    except Exception as exc:  # no CALDB configured/readable: the constants are the CALDB's
        logger.warning("PSF/vignetting from built-in CALDB constants (%s)", exc)
        psf, vig = SWIFT_XRT_PSF, SWIFT_XRT_VIGNETTING
    return psf, vig


def _positions(attitude_file: Path | None, events) -> AttitudePositions:
    """Attitude bins over the GTIs; the file-average pointing if the attitude is unusable."""
    from xrtflow.products.expomap import AttitudePositions, bin_attitude, read_attitude

    positions = None
    if attitude_file is not None and Path(attitude_file).is_file():
        try:
            t, ra, dec, roll = read_attitude(attitude_file)
            positions = bin_attitude(t, ra, dec, roll, events.gti, events.wcs)
        except Exception as exc:
            logger.warning("attitude file %s unusable (%s)", attitude_file, exc)
    if positions is None:
        h = events.header
        logger.warning("using RA_PNT/DEC_PNT/PA_PNT as the only attitude position")
        positions = AttitudePositions(
            float(h["RA_PNT"]), float(h["DEC_PNT"]), float(h.get("PA_PNT", 0.0)), 1.0
        )
    return positions


def _obs_date(events):
    from xrtflow.products.events import mission_time_to_time

    return mission_time_to_time(float(events.header.get("TSTART", events.gti[0, 0])), events.header)


# --- stages ------------------------------------------------------------------------------------
def pipeline(
    obsid: str,
    archive_obs_dir: Path,
    outdir: Path,
    target: SkyCoord,
    config: dict,
    workdir: Path,
    log: Path | None,
) -> Path:
    """Stage 3 of ``xrtpipeline`` for archive data: check and copy the level-2 cleaned events.

    The archive already holds the cleaned events (``xrt/event/sw<obsid>xpcw3po_cl.evt.gz``); they
    are checked (``EVENTS``/``GTI`` present, ``OBS_ID``, ``DATAMODE``) and written uncompressed,
    byte for byte, to ``outdir / naming.cleaned_events(obsid)``.

    Raises
    ------
    EventFileError
        Missing or corrupt file; the message names the ObsID and the file.
    """
    from xrtflow.products.events import EventFileError, read_events

    obsid = naming.check_obsid(obsid)
    mode = _mode(config)
    src = Path(archive_obs_dir) / naming.archive_event(obsid, mode)
    if not src.exists() and src.with_suffix("").exists():  # already uncompressed
        src = src.with_suffix("")
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    dest = outdir / naming.cleaned_events(obsid, mode)
    with log_to_file(log):
        if not src.is_file():
            raise EventFileError(f"ObsID {obsid}: cleaned event file {src} does not exist")
        try:
            raw = gzip.decompress(src.read_bytes()) if src.suffix == ".gz" else src.read_bytes()
        except (OSError, EOFError, zlib.error) as exc:
            raise EventFileError(
                f"ObsID {obsid}: event file {src} is corrupt (gzip: {exc})"
            ) from exc
        tmp = dest.with_name(dest.name + ".part")
        tmp.write_bytes(raw)
        try:
            events = read_events(tmp, obsid=obsid, mode=mode)
        except EventFileError as exc:
            tmp.unlink(missing_ok=True)
            raise EventFileError(str(exc).replace(str(tmp), str(src))) from None
        tmp.replace(dest)
        logger.info(
            "ObsID %s: %d events, exposure %.1f s -> %s",
            obsid,
            len(events.time),
            events.exposure,
            dest,
        )
    return dest


def expomap(
    obsid: str,
    event_file: Path,
    attitude_file: Path,
    hk_file: Path,
    outdir: Path,
    config: dict,
    workdir: Path,
    log: Path | None,
) -> Path:
    """Sky exposure map like ``xrtexpomap`` (see :mod:`xrtflow.products.expomap`).

    ``hk_file`` is accepted for signature compatibility; the native map does not need the
    frame-by-frame housekeeping (the attitude is binned by position instead).
    """
    from xrtflow.products.events import read_events
    from xrtflow.products.expomap import (
        REFERENCE_ENERGY_KEV,
        choose_attitude_file,
        instrument_map,
        make_exposure_map,
        write_exposure_map,
    )

    obsid = naming.check_obsid(obsid)
    mode = _mode(config)
    outdir = Path(outdir)
    dest = outdir / naming.exposure_map(obsid, mode)
    with log_to_file(log):
        events = read_events(event_file, obsid=obsid, mode=mode)
        _, vig = _coefficients(config, _obs_date(events))
        attitude_file = choose_attitude_file(events.header, attitude_file)
        positions = _positions(attitude_file, events)
        # xrtexpomap's vigflag defaults to no: xrtmkarf applies the vignetting itself.
        pcfg = _products_cfg(config)
        apply_vignetting = bool(pcfg.get("expomap_vignetting", False))
        energy = float(pcfg.get("expomap_energy", REFERENCE_ENERGY_KEV))
        inst = instrument_map(events.badpix, energy, vig, apply_vignetting=apply_vignetting)
        image = make_exposure_map(events, positions, inst)
        write_exposure_map(
            dest, image, events, len(positions), energy, vignetting_applied=apply_vignetting
        )
        logger.info(
            "ObsID %s: exposure map from %d attitude bins -> %s", obsid, len(positions), dest
        )
    return dest


def products(
    obsid: str,
    event_file: Path,
    src_region: Path,
    bkg_region: Path | None,
    expomap_file: Path | None,
    attitude_file: Path,
    hk_file: Path,
    outdir: Path,
    config: dict,
    workdir: Path,
    log: Path | None,
) -> dict[str, Path]:
    """Image, light curves, spectra, ARF and RMF like ``xrtproducts`` (+ ``xrtmkarf``).

    The regions used are written next to the products (``src_region``/``bkg_region``): in PC
    mode copies of the given files, in WT mode (:mod:`xrtflow.backends.native_wt`) the
    per-ObsID boxes along the WT strip.

    Returns
    -------
    dict
        Keys ``image``, ``src_lc``, ``bkg_lc``, ``src_pha``, ``bkg_pha``, ``arf``, ``rmf``,
        ``src_region``, ``bkg_region``.
    """
    if _mode(config) == "WT":
        from xrtflow.backends.native_wt import products_wt

        return products_wt(
            naming.check_obsid(obsid), event_file, src_region, bkg_region, config, outdir, log
        )
    from astropy.io import fits

    from xrtflow.products.arf import make_arf, write_arf
    from xrtflow.products.events import read_events
    from xrtflow.products.image import write_image
    from xrtflow.products.lightcurve import write_light_curve
    from xrtflow.products.regions import events_in_region, read_region
    from xrtflow.products.spectrum import pha_counts, region_backscal, write_pha

    obsid = naming.check_obsid(obsid)
    mode = _mode(config)
    pcfg = _products_cfg(config)
    pilow, pihigh = int(pcfg.get("pilow", 30)), int(pcfg.get("pihigh", 1000))
    # xrtproducts' image uses every PI channel; pilow/pihigh select the light curves only.
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
    for given, key in ((src_region, "src_region"), (bkg_region, "bkg_region")):
        if given is not None and Path(given).resolve() != out[key].resolve():
            shutil.copyfile(given, out[key])
    with log_to_file(log):
        events = read_events(event_file, obsid=obsid, mode=mode)
        date = _obs_date(events)
        # bare sizes are sky pixels of this file's WCS (CFITSIO); no background region: no
        # background files (``xrtflow extract`` without --background)
        src_reg = read_region(src_region, events.wcs)
        bkg_reg = read_region(bkg_region, events.wcs) if bkg_region is not None else None
        if bkg_reg is None:
            out.pop("bkg_lc")
            out.pop("bkg_pha")
            out.pop("bkg_region")
        index = (events.pixel_index(), events.image_shape)  # one pass over X/Y for all
        src_mask = events_in_region(src_reg, events.wcs, events.x, events.y, index)
        bkg_mask = (
            events_in_region(bkg_reg, events.wcs, events.x, events.y, index)
            if bkg_reg is not None
            else None
        )

        expo = expo_exposure = None
        map_has_vig = True
        if expomap_file is not None and Path(expomap_file).is_file():
            with fits.open(expomap_file, memmap=False) as hdul:
                expo = hdul[0].data.astype(float)
                expo_exposure = float(hdul[0].header.get("EXPOSURE", events.exposure))
                map_has_vig = bool(hdul[0].header.get("VIGNAPP", True))
            if expo.shape != events.image_shape:
                logger.warning("exposure map shape %s != sky grid; ignored", expo.shape)
                expo = None
        # xrtproducts passes expofile to xrtmkarf only: BACKSCAL stays geometric (README).
        use_expo = expo if pcfg.get("backscal_expomap", False) else None
        src_bs, src_npix = region_backscal(
            src_reg, events.wcs, events.image_shape, use_expo, expo_exposure
        )
        bkg_bs, bkg_npix = (
            region_backscal(bkg_reg, events.wcs, events.image_shape, use_expo, expo_exposure)
            if bkg_reg is not None
            else (0.0, 0.0)
        )

        write_image(out["image"], events, img_lo, img_hi)
        write_light_curve(out["src_lc"], events, src_mask, binsize, pilow, pihigh, src_bs, "source")
        if bkg_reg is not None:
            write_light_curve(
                out["bkg_lc"], events, bkg_mask, binsize, pilow, pihigh, bkg_bs, "bkg"
            )

        names = {k: v.name for k, v in out.items()}
        src_counts = pha_counts(events.pi[src_mask])
        bkg_counts = pha_counts(events.pi[bkg_mask] if bkg_reg is not None else events.pi[:0])
        write_pha(
            out["src_pha"],
            src_counts,
            events,
            src_bs,
            "TOTAL",
            respfile=names["rmf"],
            ancrfile=names["arf"],
            backfile=names.get("bkg_pha", "none"),
            extra={"NPIXSOU": (src_npix, "sky pixels in the region")},
            region=src_reg,
            mask=src_mask,
        )
        if bkg_reg is not None:
            write_pha(
                out["bkg_pha"],
                bkg_counts,
                events,
                bkg_bs,
                "BKG",
                respfile=names["rmf"],
                ancrfile="none",
                backfile="none",
                extra={"NPIXSOU": (bkg_npix, "sky pixels in the region")},
                region=bkg_reg,
                mask=bkg_mask,
            )

        cal = _caldb(config)
        grades = GRADES.get(mode, "0:12")
        xrtvsub = events.header.get("XRTVSUB")
        rmf_src = cal.rmf(datamode=mode, grades=grades, date=date, xrtvsub=xrtvsub)
        onaxis = cal.arf(datamode=mode, grades=grades, date=date, xrtvsub=xrtvsub)
        shutil.copyfile(rmf_src, out["rmf"])
        logger.info("RMF %s -> %s; on-axis ARF %s", rmf_src, out["rmf"], onaxis)

        psf, vig = _coefficients(config, date)
        h = events.header
        # xrtmkarf's optical axis is the nominal pointing; the attitude only if it is missing
        pointing = (
            (float(h["RA_PNT"]), float(h["DEC_PNT"]))
            if "RA_PNT" in h and "DEC_PNT" in h
            else _positions(attitude_file, events)
        )
        elo, ehi, specresp, info = make_arf(
            onaxis,
            src_reg,
            events.wcs,
            pointing,
            psf,
            vig,
            expomap=expo,
            map_has_vignetting=map_has_vig,
            rmf=out["rmf"],
            shape=events.image_shape,
        )
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
            "ObsID %s: %d source / %d background counts; BACKSCAL %.4g / %.4g; ARF %s",
            obsid,
            src_counts.sum(),
            bkg_counts.sum(),
            src_bs,
            bkg_bs,
            info,
        )
    return out


def group(
    obsid: str,
    src_pha: Path,
    bkg_pha: Path,
    rmf: Path,
    outfile: Path,
    config: dict,
    workdir: Path,
    log: Path | None,
) -> Path:
    """Group the source spectrum like ``ftgrouppha grouptype=<type> groupscale=<scale>``.

    ``opt``/``optmin`` read the RMF (``respfile``), ``snmin`` the background (``backfile``).
    """
    from xrtflow.products.grouping import group_spectrum

    obsid = naming.check_obsid(obsid)
    gcfg = config.get("grouping", {}) or {}
    gtype = str(gcfg.get("type", "min"))
    with log_to_file(log):
        path = group_spectrum(
            src_pha,
            outfile,
            minimum=float(gcfg.get("scale", 1)),
            grouptype=gtype,
            backfile=Path(bkg_pha).name if bkg_pha else None,
            respfile=Path(rmf).name if rmf else None,
            rmf=Path(rmf) if rmf and gtype.lower() in ("opt", "optmin") else None,
            background=Path(bkg_pha) if bkg_pha and gtype.lower() == "snmin" else None,
            minchannel=gcfg.get("minchannel"),
            maxchannel=gcfg.get("maxchannel"),
        )
        logger.info("ObsID %s: grouped spectrum -> %s", obsid, path)
    return path
