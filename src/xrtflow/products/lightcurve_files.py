"""Corrected light curves from a cleaned event file, its regions and attitude (``*_corr.lc``).

Glue between the files of one ObsID and :mod:`xrtflow.products.lightcurve_corr`: events selected
by the source and background regions (DS9 fk5 circle or annulus), the region area ratio from the
sky pixels inside each region (``extractor``'s BACKSCAL convention), the bad pixels/columns from
the event file's ``BADPIX`` extension, the attitude file for the per-bin PSF/bad-column factor.
"""

from __future__ import annotations

from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.table import Table

from xrtflow.calibration import PIXEL_ARCMIN

from .events import read_events
from .expomap import instrument_map, read_attitude
from .lightcurve_corr import (
    DEFAULT_BANDS,
    corrected_light_curve,
    light_curve_bins,
    psf_fraction_per_bin,
)
from .regions import events_in_region, read_region, region_pixel_mask, region_radii_arcmin

__all__ = ["corrected_light_curve_files", "write_corrected_light_curve"]


def corrected_light_curve_files(
    event_path: str | Path,
    src_region_path: str | Path,
    bkg_region_path: str | Path,
    attitude_path: str | Path,
    mode: str = "time",
    binsize: float = 10.0,
    bands=DEFAULT_BANDS,
    max_grade: int = 12,
    hardness: tuple[str, str] | None = ("0.3-1.5", "1.5-10"),
    events=None,  # noqa: ANN001 (an EventList already read from event_path)
    vignetting: bool = False,
) -> Table:
    """Corrected light curve (:func:`~xrtflow.products.lightcurve_corr.corrected_light_curve`)
    of one ObsID from its files; ``mode`` is ``time`` (``binsize`` s), ``snapshot`` or ``obsid``.
    With ``vignetting`` the correction also undoes the vignetting at 1.5 keV (as ``xrtlccorr``
    with a vignetted instrument map: the rate of the source on axis).
    """
    events = events if events is not None else read_events(event_path)
    src = read_region(src_region_path)
    bkg = read_region(bkg_region_path)
    good = events.grade <= max_grade
    in_src = events_in_region(src, events.wcs, events.x, events.y) & good
    in_bkg = events_in_region(bkg, events.wcs, events.x, events.y) & good
    shape = events.image_shape
    for region, path, what in (
        (src, src_region_path, "source"),
        (bkg, bkg_region_path, "background"),
    ):
        px, py = events.wcs.world_to_pixel(region.center)
        if not (np.isfinite(px) and np.isfinite(py) and 0 <= px < shape[1] and 0 <= py < shape[0]):
            raise ValueError(
                f"ObsID {events.obsid}: the {what} region ({path}) is centred outside the sky "
                f"image of {event_path}, so it covers no sky pixel: check its coordinates"
            )
    n_src = region_pixel_mask(src, events.wcs, shape).sum()
    n_bkg = region_pixel_mask(bkg, events.wcs, shape).sum()
    if n_src == 0 or n_bkg == 0:
        raise ValueError(
            f"ObsID {events.obsid}: the {'source' if n_src == 0 else 'background'} region "
            f"({src_region_path if n_src == 0 else bkg_region_path}) covers no sky pixel of "
            f'{event_path}: check its centre and radii (with units, e.g. 180")'
        )
    center_sky = SkyCoord(src.center.ra, src.center.dec, frame=src.center.frame)
    sx, sy = events.wcs.world_to_pixel(center_sky)
    center = (float(sx) + 1.0, float(sy) + 1.0)
    r_in, r_out = (r / PIXEL_ARCMIN for r in region_radii_arcmin(src))
    att_t, att_ra, att_dec, att_roll = read_attitude(attitude_path)
    in_gti = np.zeros(att_t.size, bool)
    for g0, g1 in events.gti:
        in_gti |= (att_t >= g0) & (att_t < g1)
    pnt = SkyCoord(att_ra[in_gti] * u.deg, att_dec[in_gti] * u.deg, frame="icrs")
    offaxis = float(np.mean(pnt.separation(center_sky.icrs).to_value(u.arcmin)))
    inst = instrument_map(events.badpix, apply_vignetting=vignetting)
    bins = light_curve_bins(events.gti, mode, binsize)
    frac = psf_fraction_per_bin(
        bins,
        events.gti,
        att_t,
        att_ra,
        att_dec,
        att_roll,
        events.wcs,
        center,
        inst,
        r_in,
        r_out,
        offaxis_arcmin=offaxis,
    )
    table = corrected_light_curve(
        events.time,
        events.pi,
        in_src,
        in_bkg,
        events.gti,
        float(n_src) / float(n_bkg),
        bins,
        frac,
        bands,
        obsid=events.obsid,
        hardness=hardness,
    )
    h = events.header
    table.meta.update(
        {
            "OFFAXIS": offaxis,
            "BINMODE": mode,
            "TIMEDEL": float(binsize) if mode == "time" else 0.0,
            "MJDREFI": int(h.get("MJDREFI", 51910)),
            "MJDREFF": float(h.get("MJDREFF", 7.4287037e-4)),
            "VIGNAPP": bool(vignetting),
            "PSFRIN": float(r_in),
            "PSFROUT": float(r_out),
        }
    )
    return table


def write_corrected_light_curve(table: Table, path: str | Path) -> Path:
    """Write a corrected light curve as a FITS table (extension ``RATE``; times in MET)."""
    hdu = fits.table_to_hdu(table)
    hdu.name = "RATE"
    h = hdu.header
    h["HDUCLASS"] = ("OGIP", "format conforms to OGIP standard")
    h["HDUCLAS1"] = ("LIGHTCURVE", "light curve dataset (OGIP/93-003)")
    h["HDUCLAS2"] = ("NET", "background-subtracted, PSF/bad-column corrected")
    h["TIMEUNIT"] = "s"
    h["CREATOR"] = "xrtflow.products.lightcurve_files"
    h["COMMENT"] = "RATE_<band>: net count/s x CORR (1 / exposed PSF fraction); ERR_*: Gehrels"
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(path, overwrite=True)
    return path
