"""Snapshots of a point source whose rate changes, with a bad column crossing it (light-curve truth).

Each snapshot has its own pointing, so the source falls on a different detector position; in the
snapshots listed in ``bad_column_snapshots`` a bad CCD column runs through the source's detector
position (the events on it are lost, as on the real XRT, whose cleaned event files lack the bad
columns). The attitude jitters around each snapshot's pointing. The detector <-> sky transform is
:func:`xrtflow.products.expomap.sky_to_detector`, the one the native products use.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from astropy.wcs import WCS

from xrtflow import calibration
from xrtflow.simulate.pileup import draw_power_law, power_law_band_fraction

__all__ = ["SnapshotSimulation", "simulate_snapshots"]


@dataclass
class SnapshotSimulation:
    """Events, GTIs, attitude and truth of :func:`simulate_snapshots`."""

    events: dict[str, np.ndarray]  # TIME, X, Y, DETX, DETY, PI, IS_SOURCE
    gti: np.ndarray
    attitude: dict[str, np.ndarray]  # TIME, RA, DEC, ROLL
    wcs: WCS
    center: tuple[float, float]  # source sky pixel (1-based, the X/Y convention)
    bad_columns: np.ndarray  # RAWX (0-based) of the bad columns
    rates: np.ndarray  # injected source count rate per snapshot (all channels, whole PSF)
    photon_index: float
    response: object = field(repr=False, default=None)

    def band_rates(self, first: int, last: int) -> np.ndarray:
        """Injected rate per snapshot in PI channels ``first..last``."""
        frac = power_law_band_fraction(self.response, self.photon_index, first, last)
        return self.rates * frac


def _wcs(ra0: float, dec0: float) -> WCS:
    w = WCS(naxis=2)
    w.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    w.wcs.crpix = [500.5, 500.5]
    w.wcs.crval = [ra0, dec0]
    w.wcs.cdelt = [-calibration.PIXEL_DEG, calibration.PIXEL_DEG]
    return w


def simulate_snapshots(
    rates,
    exposures,
    rng: np.random.Generator,
    *,
    det_offsets=None,
    bad_column_snapshots=(1,),
    photon_index: float = 2.0,
    background_rate: float = 1.5e-3,
    jitter_pix: float = 0.3,
    orbit: float = 5760.0,
    response=None,
) -> SnapshotSimulation:
    """Simulate snapshots with injected source rates ``rates`` (count/s) and ``exposures`` (s).

    ``det_offsets`` are the source's detector offsets (pixels) from the optical axis per snapshot
    (default: a few pixels to tens of pixels apart); a bad column is placed at the source's
    detector column in the snapshots ``bad_column_snapshots``.
    """
    from xrtflow.products.expomap import OPTICAL_AXIS, sky_to_detector
    from xrtflow.simulate.response import SyntheticResponse

    response = response or SyntheticResponse.build()
    rates = np.asarray(rates, float)
    exposures = np.asarray(exposures, float)
    n_snap = rates.size
    if det_offsets is None:
        det_offsets = [(-20.0 + 17.3 * k, 12.0 - 9.1 * k) for k in range(n_snap)]
    det_offsets = np.asarray(det_offsets, float)
    ra0, dec0 = 136.17, -32.38
    wcs = _wcs(ra0, dec0)
    sx0, sy0 = wcs.world_to_pixel_values(ra0, dec0)
    center = (float(sx0) + 1.0, float(sy0) + 1.0)
    t0 = 2.0e8
    starts = t0 + orbit * np.arange(n_snap)
    gti = np.column_stack([starts, starts + exposures])
    att_t, att_ra, att_dec = [], [], []
    bad = []
    ev = {k: [] for k in ("TIME", "X", "Y", "DETX", "DETY", "PI", "IS_SOURCE")}
    side = 301
    for k in range(n_snap):
        # pointing (0-based sky pixel) that puts the source at OPTICAL_AXIS + offset, roll 0
        ppx = center[0] - 1.0 - det_offsets[k, 0]
        ppy = center[1] - 1.0 - det_offsets[k, 1]
        t = np.arange(gti[k, 0], gti[k, 1], 1.0)
        jx = ppx + rng.normal(0.0, jitter_pix, t.size)
        jy = ppy + rng.normal(0.0, jitter_pix, t.size)
        ra, dec = wcs.pixel_to_world_values(jx, jy)
        att_t.append(t)
        att_ra.append(np.asarray(ra))
        att_dec.append(np.asarray(dec))
        if k in bad_column_snapshots:
            bad.append(int(np.floor(OPTICAL_AXIS[0] + det_offsets[k, 0] + 0.5)) - 1)
        n_src = int(rng.poisson(rates[k] * exposures[k]))
        energy, pi = draw_power_law(n_src, response, photon_index, rng)
        r = calibration.sample_psf_radius(energy, 0.0, rng) / calibration.PIXEL_ARCMIN
        phi = rng.uniform(0.0, 2.0 * np.pi, n_src)
        xs = center[0] + r * np.cos(phi)
        ys = center[1] + r * np.sin(phi)
        area = side * side * calibration.PIXEL_ARCMIN**2
        n_bkg = int(rng.poisson(background_rate * area * exposures[k]))
        xb = np.floor(center[0] + 0.5) - 150 + rng.uniform(-0.5, side - 0.5, n_bkg)
        yb = np.floor(center[1] + 0.5) - 150 + rng.uniform(-0.5, side - 0.5, n_bkg)
        pib = np.floor(rng.uniform(0.2, 10.0, n_bkg) / 0.01).astype(np.int64)
        x = np.concatenate([xs, xb])
        y = np.concatenate([ys, yb])
        times = rng.uniform(gti[k, 0], gti[k, 1], x.size)
        idx = np.clip(np.searchsorted(t, times, side="right") - 1, 0, t.size - 1)
        pra, pdec = wcs.pixel_to_world_values(jx[idx], jy[idx])
        detx = np.empty(x.size)
        dety = np.empty(x.size)
        for i in np.unique(idx):  # one transform per attitude sample
            m = idx == i
            detx[m], dety[m] = sky_to_detector(x[m], y[m], pra[m][0], pdec[m][0], 0.0, wcs)
        ev["TIME"].append(times)
        ev["X"].append(np.floor(x + 0.5).astype(np.int64))
        ev["Y"].append(np.floor(y + 0.5).astype(np.int64))
        ev["DETX"].append(np.floor(detx + 0.5).astype(np.int64))
        ev["DETY"].append(np.floor(dety + 0.5).astype(np.int64))
        ev["PI"].append(np.concatenate([pi, pib]))
        ev["IS_SOURCE"].append(np.concatenate([np.ones(n_src, bool), np.zeros(n_bkg, bool)]))
    events = {k: np.concatenate(v) for k, v in ev.items()}
    bad = np.unique(np.asarray(bad, np.int64))
    keep = (events["PI"] >= 0) & ~np.isin(events["DETX"] - 1, bad)
    order = np.argsort(events["TIME"][keep], kind="stable")
    events = {k: v[keep][order] for k, v in events.items()}
    attitude = {
        "TIME": np.concatenate(att_t),
        "RA": np.concatenate(att_ra),
        "DEC": np.concatenate(att_dec),
        "ROLL": np.zeros(sum(a.size for a in att_t)),
    }
    return SnapshotSimulation(
        events=events,
        gti=gti,
        attitude=attitude,
        wcs=wcs,
        center=center,
        bad_columns=bad,
        rates=rates,
        photon_index=photon_index,
        response=response,
    )
