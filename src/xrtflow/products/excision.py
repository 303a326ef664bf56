"""The source region of one ObsID: the configured circle, or an annulus around a piled-up core.

What the UK Swift Science Data Centre does before extracting a PC-mode spectrum (Evans et al.
2009, MNRAS 397, 1177; the *XRT pile-up* thread): measure the count rate in the source region;
above the threshold (``pileup.threshold_pc``, 0.6 count/s) compare the source's radial profile with
the PSF and excise the core where the profile falls below the PSF fitted to the wings
(:func:`xrtflow.products.pileup.assess_pileup_events`). The spectrum and light curve are then
extracted from the annulus and the ARF made for the annulus (``xrtmkarf`` with ``psfflag=yes``, or
the native ARF, both integrate the PSF over the region), which corrects the flux for the excised
core. Both backends call this, so the HEASoft tasks get the same per-ObsID region file.

Above the threshold the excision is decided by the profile alone (its zone test, 10% one-sided,
:func:`xrtflow.products.pileup.excision_radius`): a source that is not piled up keeps its circle
unless its core fluctuates low, and then loses a few pixels at no cost to its flux (the ARF is
the annulus's); a stricter detection test (1%) would miss the mild pile-up of ~1 count/s sources
(4-7% of the flux lost on simulations), which biases the flux.

The rate that is compared with the threshold is the background-subtracted count rate in the
configured source circle, in the products' PI range (``products.pilow``-``pihigh``) and the cleaned
events' grades (0-12 PC): the source counts minus the background region's counts scaled by the
ratio of the region areas (sky pixels whose centres are inside, as ``extractor``'s ``BACKSCAL``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

import numpy as np

__all__ = ["DEFAULTS", "choose_source_region", "region_text"]

log = logging.getLogger(__name__)

#: ``pileup`` config defaults (the schema's).
DEFAULTS = {"correct": True, "threshold_pc": 0.6, "threshold_wt": 100.0}


def region_text(ra: float, dec: float, r_out_arcsec: float, r_in_arcsec: float = 0.0) -> str:
    """DS9 fk5 source region, sizes in arcsec with the unit (CFITSIO reads bare sizes as pixels).

    A circle when ``r_in_arcsec`` is 0, else ``annulus(ra,dec,r_in",r_out")``.
    """
    head = "# Region file format: DS9 version 4.1\nfk5\n"
    if r_in_arcsec > 0:
        return head + f'annulus({ra:.8f},{dec:.8f},{r_in_arcsec:.3f}",{r_out_arcsec:.3f}")\n'
    return head + f'circle({ra:.8f},{dec:.8f},{r_out_arcsec:.3f}")\n'


def _exposure_map(path: Path | None, shape: tuple[int, int]) -> np.ndarray | None:
    if path is None or not Path(path).is_file() or Path(path).stat().st_size == 0:
        return None
    from astropy.io import fits

    with fits.open(path, memmap=False) as hdul:
        image = np.asarray(hdul[0].data, float)
    return image if image.shape == tuple(shape) else None


def _offaxis_arcmin(header: Mapping, ra: float, dec: float) -> float:
    """Angle between the source and the nominal pointing (``xrtmkarf``'s optical axis)."""
    if "RA_PNT" not in header or "DEC_PNT" not in header:
        return 0.0
    from astropy.coordinates import SkyCoord

    pnt = SkyCoord(float(header["RA_PNT"]), float(header["DEC_PNT"]), unit="deg")
    return float(pnt.separation(SkyCoord(ra, dec, unit="deg")).arcmin)


def choose_source_region(
    event_file: str | Path,
    src_region: str | Path,
    bkg_region: str | Path | None,
    expomap_file: str | Path | None,
    config: Mapping,
) -> tuple[str, dict]:
    """The source region to extract one ObsID from, and the pile-up assessment behind it.

    Parameters
    ----------
    event_file : path
        Cleaned events of the ObsID.
    src_region, bkg_region : path
        The configured source circle and background region (DS9 fk5).
    expomap_file : path, optional
        Exposure map: unexposed pixels (bad columns, field edge) are left out of the profile.
    config : mapping
        Processing config (``mode``, ``products.pilow``/``pihigh``, ``pileup``).

    Returns
    -------
    text : str
        The region file to use (the circle, or the annulus when the core is excised).
    info : dict
        ``mode``, ``src_rate`` and ``src_rate_err`` (count/s), ``threshold`` (count/s),
        ``above_threshold``, ``correct``, ``piled_up`` (core excised), ``excision_radius_arcsec``,
        ``excision_radius_pix``, ``source_radius_arcsec``, ``psf_fraction`` (fraction of the
        circle's PSF counts the annulus keeps, 1.5 keV) and, when the profile was analysed,
        ``profile_rate``, ``corrected_rate`` and its 90% interval (count/s, whole PSF).
    """
    import astropy.units as u
    from regions import CircleSkyRegion

    from xrtflow.calibration import PIXEL_ARCMIN, psf_annulus_fraction
    from xrtflow.products.events import read_events
    from xrtflow.products.regions import events_in_region, read_region, region_pixel_mask

    mode = str(config.get("mode", "PC")).upper()
    configured = Path(src_region).read_text()  # kept as it is when nothing is excised
    if mode != "PC":
        # WT regions (boxes along the window) and WT excision (products/pileup_wt.py, columns
        # around the source) belong to the WT products; the region passes unchanged
        return configured, {"mode": mode, "assessed": False, "reason": "WT: not an annulus"}
    pcfg = {**DEFAULTS, **(config.get("pileup") or {})}
    prod = config.get("products") or {}
    pilow, pihigh = int(prod.get("pilow", 30)), int(prod.get("pihigh", 1000))
    events = read_events(event_file)
    src = read_region(src_region, events.wcs)
    center = src.center.fk5
    ra, dec = float(center.ra.deg), float(center.dec.deg)
    if not isinstance(src, CircleSkyRegion):  # a region of the user's own: used as it is
        return configured, {"mode": mode, "assessed": False, "reason": "not a circle"}
    r_out_arcsec = float(src.radius.to_value(u.arcsec))

    band = (events.pi >= pilow) & (events.pi <= pihigh)
    index = (events.pixel_index(), events.image_shape)
    n_src = int(np.sum(band & events_in_region(src, events.wcs, events.x, events.y, index)))
    scale, n_bkg = 0.0, 0
    if bkg_region is not None:
        bkg = read_region(bkg_region, events.wcs)
        n_bkg = int(np.sum(band & events_in_region(bkg, events.wcs, events.x, events.y, index)))
        a_src = region_pixel_mask(src, events.wcs, events.image_shape).sum()
        a_bkg = region_pixel_mask(bkg, events.wcs, events.image_shape).sum()
        scale = float(a_src / a_bkg) if a_bkg > 0 else 0.0
    exposure = float(events.exposure)
    rate = (n_src - scale * n_bkg) / exposure if exposure > 0 else 0.0
    rate_err = np.sqrt(n_src + scale**2 * n_bkg) / exposure if exposure > 0 else 0.0
    threshold = float(pcfg["threshold_pc"])
    above = bool(rate > threshold)
    info = {
        "mode": mode,
        "assessed": True,
        "src_rate": float(rate),
        "src_rate_err": float(rate_err),
        "threshold": threshold,
        "above_threshold": above,
        "correct": bool(pcfg["correct"]),
        "piled_up": False,
        "excision_radius_arcsec": 0.0,
        "excision_radius_pix": 0.0,
        "source_radius_arcsec": r_out_arcsec,
        "psf_fraction": 1.0,
    }
    if not (above and pcfg["correct"]):
        return configured, info

    from xrtflow.products.pileup import assess_pileup_events

    offaxis = _offaxis_arcmin(events.header, ra, dec)
    try:
        a = assess_pileup_events(
            events,
            ra,
            dec,
            mode="PC",
            threshold=0.0,  # the decision is made above, on the source-region rate
            r_out_arcsec=r_out_arcsec,
            pilow=pilow,
            pihigh=pihigh,
            exposure_map=_exposure_map(expomap_file, events.image_shape),
            offaxis_arcmin=offaxis,
        )
    except ValueError as err:  # no radius where the profile is the PSF's: say what to do
        raise ValueError(
            f"pile-up check ({rate:.3g} count/s > pileup.threshold_pc = "
            f"{threshold:g}): {err}; if the source is extended or not at the target position, "
            "set pileup.correct: false to extract from the circle"
        ) from None
    r_in_arcsec = a.r_in * PIXEL_ARCMIN * 60.0
    fraction = 1.0
    if a.r_in == 0:  # above the threshold, but the profile is the PSF's: nothing to excise
        return configured, info
    if a.r_in > 0:
        r_out_arcmin = r_out_arcsec / 60.0
        kept = psf_annulus_fraction(a.r_in * PIXEL_ARCMIN, r_out_arcmin, 1.5, offaxis)
        fraction = float(kept / psf_annulus_fraction(0.0, r_out_arcmin, 1.5, offaxis))
    lo, hi = a.corrected_rate_interval
    info.update(
        piled_up=bool(a.r_in > 0),
        excision_radius_arcsec=float(round(r_in_arcsec, 3)),
        excision_radius_pix=float(a.r_in),
        psf_fraction=fraction,
        offaxis_arcmin=offaxis,
        profile_rate=float(a.profile_rate),
        corrected_rate=float(a.corrected_rate),
        corrected_rate_lo90=float(lo),
        corrected_rate_hi90=float(hi),
    )
    log.info(
        "pile-up: %.3g count/s > %.3g: excision radius %.1f pixels (%.2f arcsec), the annulus "
        "keeps %.3f of the circle's PSF",
        rate,
        threshold,
        a.r_in,
        r_in_arcsec,
        fraction,
    )
    return region_text(ra, dec, r_out_arcsec, round(r_in_arcsec, 3)), info
