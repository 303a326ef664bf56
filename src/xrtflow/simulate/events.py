"""Simulation of one ObsID: GTIs, pointing, source + background events (all vectorised)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from astropy.time import Time

from xrtflow import calibration
from xrtflow.simulate.attitude import Pointing, offset_position, tan_deproject, tan_project
from xrtflow.simulate.config import (
    PC_FRAME_TIME,
    PC_GRADE_PROBABILITIES,
    DemoConfig,
    ObservationSpec,
)
from xrtflow.simulate.response import N_CHANNELS, SyntheticResponse
from xrtflow.simulate.spectrum import PhotonFluxFn

#: Swift MET reference (TT): MJDREFI + MJDREFF.
MJDREFI = 51910
MJDREFF = 7.4287037e-4
#: Swift orbit (s): snapshots of one ObsID are about one orbit apart.
ORBIT = 5760.0
#: Detector: 600 x 600 pixels, optical axis at the centre; sky images 1000 x 1000 pixels.
DET_SIZE = 600
DET_CENTER = 300.5
SKY_CENTER = 500.5
SKY_SIZE = 1000
#: Mean PHA per PI channel (PHA ~ GAIN * PI with scatter).
GAIN = 3.86


def met_from_mjd(mjd_utc: float) -> float:
    """Swift mission elapsed time (s, TT since MJDREF) of a UTC MJD."""
    tt = Time(mjd_utc, format="mjd", scale="utc").tt.mjd
    return (tt - MJDREFI - MJDREFF) * 86400.0


def mjd_from_met(met: float | np.ndarray) -> np.ndarray:
    """UTC MJD of a Swift MET."""
    t = Time(MJDREFI + MJDREFF + np.asarray(met) / 86400.0, format="mjd", scale="tt")
    return t.utc.mjd


@dataclass
class SimulatedObservation:
    """Everything simulated for one ObsID (inputs to the file writers and truth table)."""

    spec: ObservationSpec
    gtis: np.ndarray  # (n, 2) MET
    pointing: Pointing
    events: dict[str, np.ndarray]
    bad_columns: np.ndarray  # RAWX values
    parameters: dict[str, float]
    offaxis_arcmin: float
    exposure: float
    expected_source: float  # expected source events before detector-edge / bad-column cuts
    expected_rate_03_7: float  # expected source count/s in PI 30-699 (0.3-7 keV), full PSF
    n_source: int
    n_background: int
    extra: dict = field(default_factory=dict)

    @property
    def tstart(self) -> float:
        return float(self.gtis[0, 0])

    @property
    def tstop(self) -> float:
        return float(self.gtis[-1, 1])


def make_gtis(spec: ObservationSpec, start_mjd: float, rng: np.random.Generator) -> np.ndarray:
    """Snapshots of whole PC frames, about one orbit apart, adding up to ``spec.exposure``."""
    n = max(1, int(spec.n_snapshots))
    frames_total = max(1, int(round(spec.exposure / PC_FRAME_TIME)))
    weights = rng.uniform(0.8, 1.2, n)
    frames = np.floor(frames_total * weights / weights.sum()).astype(int)
    frames[0] += frames_total - frames.sum()
    t0 = round(met_from_mjd(start_mjd), 3)
    starts = t0 + np.concatenate([[0.0], np.cumsum(ORBIT + rng.uniform(-400.0, 400.0, n - 1))])
    starts = np.round(starts, 3)
    return np.stack([starts, np.round(starts + frames * PC_FRAME_TIME, 4)], axis=1)


def _frame_times(gti: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    n_frames = int(round((gti[1] - gti[0]) / PC_FRAME_TIME))
    return gti[0] + (rng.integers(0, n_frames, n) + 0.5) * PC_FRAME_TIME


def _sky_to_det(ra, dec, pra, pdec, roll_deg):
    """Continuous DETX/DETY of sky positions seen from pointing (pra, pdec) with roll."""
    xi, eta = tan_project(ra, dec, pra, pdec)
    dxs = -xi / calibration.PIXEL_DEG
    dys = eta / calibration.PIXEL_DEG
    c, s = np.cos(np.radians(roll_deg)), np.sin(np.radians(roll_deg))
    return DET_CENTER + c * dxs + s * dys, DET_CENTER - s * dxs + c * dys


def _det_to_sky(detx, dety, pra, pdec, roll_deg):
    u, v = detx - DET_CENTER, dety - DET_CENTER
    c, s = np.cos(np.radians(roll_deg)), np.sin(np.radians(roll_deg))
    dxs = c * u - s * v
    dys = s * u + c * v
    return tan_deproject(-dxs * calibration.PIXEL_DEG, dys * calibration.PIXEL_DEG, pra, pdec)


def _background_channels(n: int, rng: np.random.Generator) -> np.ndarray:
    """Particle-like background spectrum: 60% flat 0.2-10 keV, 40% soft exponential."""
    flat = rng.uniform(0.2, 10.0, n)
    soft = 0.2 + rng.exponential(0.8, n)
    e = np.where(rng.random(n) < 0.6, flat, soft)
    return np.clip(np.floor(e / 0.01), 0, N_CHANNELS - 1).astype(np.int64)


def expected_source_spectrum(
    flux_per_bin: np.ndarray, response: SyntheticResponse, offaxis_arcmin: float, exposure: float
) -> np.ndarray:
    """Expected source photons per response energy bin (area x vignetting x exposure)."""
    e_mid = 0.5 * (response.energ_lo + response.energ_hi)
    vig = calibration.vignetting(e_mid, offaxis_arcmin)
    return flux_per_bin * response.specresp * vig * exposure


def simulate_observation(
    spec: ObservationSpec,
    config: DemoConfig,
    response: SyntheticResponse,
    photon_flux: PhotonFluxFn,
    rng: np.random.Generator,
) -> SimulatedObservation:
    """Simulate the events of one ObsID.

    Source photons: for each snapshot k, N_k ~ Poisson(sum_i F_i A_i V(E_i, theta_k) T_k) with F the
    photon flux per response energy bin, A the on-axis area, V the vignetting at the snapshot's
    off-axis angle; energies are drawn from those weights, PI channels through the RMF rows, sky
    offsets from the Gaussian+King PSF at (E, theta_k) plus a small residual attitude error.
    Background: uniform over the 600 x 600 detector, ``config.background_rate`` per arcmin^2.
    DET/RAW coordinates follow the time-dependent pointing (jitter) and the roll.
    """
    start_mjd = config.discovery_mjd + spec.day
    gtis = make_gtis(spec, start_mjd, rng)
    exposure = round(float(np.sum(gtis[:, 1] - gtis[:, 0])), 4)
    ra_pnt, dec_pnt = offset_position(
        config.ra, config.dec, spec.offset_arcmin / 60.0, spec.offset_pa_deg
    )
    ra_pnt, dec_pnt = float(ra_pnt), float(dec_pnt)
    pointing = Pointing.random(
        ra_pnt,
        dec_pnt,
        spec.roll_deg,
        gtis[:, 0],
        rng,
        config.jitter_arcsec,
        config.snapshot_scatter_arcsec,
    )
    params = config.parameters_at(spec.day)
    flux = np.asarray(photon_flux(response.energy_edges), dtype=float)
    if spec.flux_scale != 1.0:
        flux = flux * float(spec.flux_scale)
        params = {k: v * spec.flux_scale if k.endswith("norm") else v for k, v in params.items()}
    e_lo, e_hi = response.energ_lo, response.energ_hi

    src_parts: list[dict[str, np.ndarray]] = []
    bkg_parts: list[dict[str, np.ndarray]] = []
    expected_total = 0.0
    offaxes = []
    det_area_arcmin2 = (DET_SIZE * calibration.PIXEL_ARCMIN) ** 2
    for k, gti in enumerate(gtis):
        t_k = gti[1] - gti[0]
        sra, sdec = pointing.snapshot_direction(k)
        xi, eta = tan_project(config.ra, config.dec, sra, sdec)
        theta = float(np.hypot(xi, eta) * 60.0)
        offaxes.append(theta)
        mu = expected_source_spectrum(flux, response, theta, t_k)
        total = float(mu.sum())
        expected_total += total
        n = int(rng.poisson(total)) if total > 0 else 0
        cdf = np.cumsum(mu)
        ebin = np.minimum(np.searchsorted(cdf, rng.random(n) * total, side="right"), mu.size - 1)
        energy = e_lo[ebin] + rng.random(n) * (e_hi[ebin] - e_lo[ebin])
        time = _frame_times(gti, n, rng)
        r = calibration.sample_psf_radius(energy, theta, rng) * 60.0  # arcsec
        phi = rng.uniform(0.0, 2 * np.pi, n)
        dxi = r * np.sin(phi) + rng.normal(0.0, config.residual_arcsec, n)
        deta = r * np.cos(phi) + rng.normal(0.0, config.residual_arcsec, n)
        ra, dec = tan_deproject(dxi / 3600.0, deta / 3600.0, config.ra, config.dec)
        pi = response.draw_channels(ebin, rng)
        src_parts.append(dict(time=time, ra=ra, dec=dec, pi=pi))

        nb = int(rng.poisson(config.background_rate * det_area_arcmin2 * t_k))
        tb = _frame_times(gti, nb, rng)
        detx = rng.uniform(0.5, DET_SIZE + 0.5, nb)
        dety = rng.uniform(0.5, DET_SIZE + 0.5, nb)
        pra, pdec = pointing.at(tb)
        bra, bdec = _det_to_sky(detx, dety, pra, pdec, pointing.roll)
        bkg_parts.append(dict(time=tb, ra=bra, dec=bdec, pi=_background_channels(nb, rng)))

    def cat(parts: list[dict[str, np.ndarray]], key: str) -> np.ndarray:
        return np.concatenate([p[key] for p in parts])

    n_src_drawn = sum(p["time"].size for p in src_parts)
    time = np.concatenate([cat(src_parts, "time"), cat(bkg_parts, "time")])
    ra = np.concatenate([cat(src_parts, "ra"), cat(bkg_parts, "ra")])
    dec = np.concatenate([cat(src_parts, "dec"), cat(bkg_parts, "dec")])
    pi = np.concatenate([cat(src_parts, "pi"), cat(bkg_parts, "pi")])
    is_src = np.zeros(time.size, dtype=bool)
    is_src[:n_src_drawn] = True

    # detector coordinates through the jittering pointing
    pra, pdec = pointing.at(time)
    detx_c, dety_c = _sky_to_det(ra, dec, pra, pdec, pointing.roll)
    detx = np.floor(detx_c + 0.5).astype(np.int64)
    dety = np.floor(dety_c + 0.5).astype(np.int64)
    # sky pixels through the file's TAN WCS (reference = nominal pointing)
    xi, eta = tan_project(ra, dec, ra_pnt, dec_pnt)
    x = np.floor(SKY_CENTER - xi / calibration.PIXEL_DEG + 0.5).astype(np.int64)
    y = np.floor(SKY_CENTER + eta / calibration.PIXEL_DEG + 0.5).astype(np.int64)

    # two bad columns far (> 180 pixels) from the source
    src_detx, _ = _sky_to_det(config.ra, config.dec, ra_pnt, dec_pnt, pointing.roll)
    cols = np.arange(20, DET_SIZE - 20)
    allowed = cols[np.abs(cols + 1 - src_detx) > 180]
    bad = np.sort(rng.choice(allowed, 2, replace=False))
    if spec.bad_column_through_source:  # the column (RAWX = DETX - 1) under the source
        bad = np.sort(np.array([int(np.floor(src_detx + 0.5)) - 1, bad[0]]))

    grade = None
    pileup_stats = None
    if config.pileup:  # on the CCD, before the ground cuts (bad columns, field edge)
        time, x, y, detx, dety, pi, is_src, grade, pileup_stats = _pile_up(
            time, x, y, detx, dety, pi, is_src, rng
        )
    keep = (
        (pi >= 0)
        & (detx >= 1)
        & (detx <= DET_SIZE)
        & (dety >= 1)
        & (dety <= DET_SIZE)
        & (x >= 1)
        & (x <= SKY_SIZE)
        & (y >= 1)
        & (y <= SKY_SIZE)
    )
    keep &= ~np.isin(detx - 1, bad)
    time, x, y, detx, dety, pi, is_src = (a[keep] for a in (time, x, y, detx, dety, pi, is_src))

    n_ev = time.size
    pha = np.clip(
        np.floor((pi + rng.random(n_ev)) * GAIN + rng.normal(0.0, 3.0, n_ev) + 0.5), 0, 4095
    ).astype(np.int32)
    if grade is None:
        grade = rng.choice(len(PC_GRADE_PROBABILITIES), size=n_ev, p=PC_GRADE_PROBABILITIES)
    else:
        grade = grade[keep]
    order = np.argsort(time, kind="stable")
    events = {
        "TIME": time[order],
        "X": x[order].astype(np.int16),
        "Y": y[order].astype(np.int16),
        "RAWX": (detx[order] - 1).astype(np.int16),
        "RAWY": (dety[order] - 1).astype(np.int16),
        "DETX": detx[order].astype(np.int16),
        "DETY": dety[order].astype(np.int16),
        "PHA": pha[order],
        "PI": pi[order].astype(np.int32),
        "GRADE": grade[order].astype(np.int16),
    }
    is_src = is_src[order]

    theta_mean = float(np.average(offaxes, weights=gtis[:, 1] - gtis[:, 0]))
    mu_full = expected_source_spectrum(flux, response, theta_mean, 1.0)
    rate_ch = response.fold(mu_full)
    return SimulatedObservation(
        spec=spec,
        gtis=gtis,
        pointing=pointing,
        events=events,
        bad_columns=bad,
        parameters=params,
        offaxis_arcmin=theta_mean,
        exposure=exposure,
        expected_source=expected_total,
        expected_rate_03_7=float(rate_ch[30:700].sum()),
        n_source=int(is_src.sum()),
        n_background=int((~is_src).sum()),
        extra={"is_source": is_src, "pileup": pileup_stats},
    )


def _pile_up(time, x, y, detx, dety, pi, is_src, rng):  # noqa: ANN001, ANN202 (event columns)
    """Merge the photons of each frame as the CCD does (:func:`xrtflow.simulate.pileup.pile_up`).

    The grades of the photons are drawn first (the demo's PC distribution); the merged events
    get the migrated grade. Lost photons (PI -1) never reach the CCD's event recognition.
    """
    from xrtflow.simulate.pileup import pile_up

    ok = pi >= 0
    photons = {
        "TIME": time[ok],
        "DETX": detx[ok],
        "DETY": dety[ok],
        "X": x[ok],
        "Y": y[ok],
        "PI": pi[ok],
        "GRADE": rng.choice(len(PC_GRADE_PROBABILITIES), int(ok.sum()), p=PC_GRADE_PROBABILITIES),
        "IS_SOURCE": is_src[ok],
    }
    ev, stats = pile_up(photons, rng, x="DETX", y="DETY", pi_max=N_CHANNELS - 1)
    return (
        ev["TIME"],
        ev["X"],
        ev["Y"],
        ev["DETX"],
        ev["DETY"],
        ev["PI"],
        ev["IS_SOURCE"],
        ev["GRADE"],
        stats,
    )
