"""A SIMULATED archive of Windowed Timing (WT) observations in the real archive layout.

Per ObsID it writes ``archive/<obsid>/xrt/event/sw<obsid>xwtw2po_cl.evt.gz`` (level-2 WT events),
the attitude (``auxil/sw<obsid>pat.fits.gz``) and XRT header housekeeping, plus ``catalog.ecsv``
(``xrt_expo_wt`` holds the exposure), ``truth.ecsv`` and a CALDB with the synthetic WT grade 0-2
response (``swxwt0to2s6_20010101v900.rmf``/``.arf``, labelled SIMULATED).

What the events hold, following the WT read-out (Swift XRT Data Reduction Guide, sec. 2.2.2, and
``xrttimetag``):

* a 200-column window (``RAWX`` 200-399) whose rows are summed on the CCD: an event has a column
  and a frame time (1.766 ms frames) only; ``RAWY`` is the source's row, as ``xrttimetag`` assigns
  it, so it is one constant per ObsID, and ``DETX = RAWX + 1``, ``DETY = RAWY + 1``;
* sky ``X``/``Y`` are the positions of the event's column at the source row: a one-dimensional
  strip through the source. Its direction in the sky grid is ``PA_PNT - 90`` degrees from the
  ``+X`` axis (measured counter-clockwise), as in the UKSSDC WT products of ``../shared`` (their
  background weighted maps are elongated along that direction);
* source photons: a power-law spectrum absorbed by TBabs folded through the synthetic response
  and vignetting; column offsets from the Gaussian + King PSF (projected on the row direction);
  photons of one frame in the same or adjacent columns are merged (pile-up, grades 0-2 kept) by
  :func:`xrtflow.simulate.pileup.pile_up` with ``mode="WT"``;
* background: uniform in the window's columns; one or two bad columns (``BADPIX``) far from the
  source, whose events are removed as ``xrtpipeline`` screens them.

Deterministic: the same :class:`WTArchiveConfig` gives byte-identical files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import numpy as np
from astropy.io import fits
from astropy.table import Table

from xrtflow import calibration, naming
from xrtflow.simulate.archive import _apply, _common_keywords, catalog_table, event_hdulist
from xrtflow.simulate.attitude import (
    Pointing,
    attitude_hdu,
    hk_header_hdu,
    offset_position,
    tan_project,
)
from xrtflow.simulate.config import T_PYX_DEC, T_PYX_RA
from xrtflow.simulate.events import (
    GAIN,
    SKY_CENTER,
    SimulatedObservation,
    _background_channels,
    expected_source_spectrum,
    met_from_mjd,
    mjd_from_met,
)
from xrtflow.simulate.fitsio import fits_date, write_fits
from xrtflow.simulate.pileup import pile_up
from xrtflow.simulate.response import SyntheticResponse, write_caldb
from xrtflow.simulate.spectrum import model_photon_flux
from xrtflow.simulate.wt import WT_FRAME_TIME, WT_GRADE_PROBABILITIES

__all__ = [
    "WINDOW_FIRST_COLUMN",
    "WINDOW_COLUMNS",
    "WTObservationSpec",
    "WTArchiveConfig",
    "strip_angle_deg",
    "simulate_wt_observation",
    "make_wt_archive",
]

#: The WT window: 200 columns centred on the CCD (RAWX 200..399).
WINDOW_FIRST_COLUMN = 200
WINDOW_COLUMNS = 200
#: Detector rows summed into one WT frame row (the full CCD height).
WINDOW_ROWS = 600


def strip_angle_deg(pa_pnt: float) -> float:
    """Direction of the WT strip in the sky grid (deg from ``+X``, counter-clockwise)."""
    return float((pa_pnt - 90.0) % 360.0)


@dataclass(frozen=True)
class WTObservationSpec:
    """One simulated WT ObsID: start (days after discovery), exposure (s), power-law norm."""

    obsid: str
    day: float
    exposure: float
    norm: float  # photons/keV/cm^2/s at 1 keV
    role: str = "window"
    offset_arcmin: float = 0.3
    offset_pa_deg: float = 0.0
    roll_deg: float = 0.0
    n_snapshots: int = 1


def _default_observations() -> tuple[WTObservationSpec, ...]:
    # ~10 and ~16 count/s (below the WT pile-up threshold) and ~200 count/s (piled up)
    return (
        WTObservationSpec("00031941001", 142.2, 500.0, 0.08, roll_deg=35.0, offset_pa_deg=40.0),
        WTObservationSpec("00031941002", 143.6, 400.0, 0.12, roll_deg=118.0, offset_pa_deg=200.0),
        WTObservationSpec(
            "00031941003", 145.1, 120.0, 1.5, roll_deg=250.0, offset_pa_deg=300.0, n_snapshots=2
        ),
    )


@dataclass(frozen=True)
class WTArchiveConfig:
    """Everything that defines a WT archive (``tbabs*powerlaw`` source; norms per ObsID)."""

    seed: int = 20110415
    target: str = "T Pyx"
    ra: float = T_PYX_RA
    dec: float = T_PYX_DEC
    discovery_mjd: float = 55665.0
    model: str = "tbabs*powerlaw"
    nH: float = 0.2
    photon_index: float = 1.9
    observations: tuple[WTObservationSpec, ...] = field(default_factory=_default_observations)
    background_rate: float = 2.0e-3  # count/s/arcmin^2 over the CCD rows summed per column
    jitter_arcsec: float = 1.0
    snapshot_scatter_arcsec: float = 3.0
    bad_column_min_distance: float = 30.0  # columns from the source


def _gtis(spec: WTObservationSpec, start_mjd: float, rng: np.random.Generator) -> np.ndarray:
    """Snapshots of whole WT frames, one orbit apart, adding up to the exposure."""
    n = max(1, int(spec.n_snapshots))
    frames_total = max(1, int(round(spec.exposure / WT_FRAME_TIME)))
    frames = np.full(n, frames_total // n)
    frames[0] += frames_total - frames.sum()
    t0 = round(met_from_mjd(start_mjd), 3)
    starts = np.round(
        t0 + 5760.0 * np.arange(n) + rng.uniform(-300.0, 300.0, n) * (np.arange(n) > 0), 3
    )
    return np.stack([starts, np.round(starts + frames * WT_FRAME_TIME, 6)], axis=1)


def _target_offset_pix(config: WTArchiveConfig, pra, pdec) -> tuple[np.ndarray, np.ndarray]:
    """Sky-grid offset (pixels, +X/+Y) of the target from the pointing direction(s)."""
    xi, eta = tan_project(config.ra, config.dec, pra, pdec)
    return -np.asarray(xi) / calibration.PIXEL_DEG, np.asarray(eta) / calibration.PIXEL_DEG


def simulate_wt_observation(
    spec: WTObservationSpec,
    config: WTArchiveConfig,
    response: SyntheticResponse,
    rng: np.random.Generator,
) -> SimulatedObservation:
    """Simulate the level-2 WT events of one ObsID (see the module notes)."""
    gtis = _gtis(spec, config.discovery_mjd + spec.day, rng)
    exposure = round(float(np.sum(gtis[:, 1] - gtis[:, 0])), 6)
    ra_pnt, dec_pnt = (
        float(v)
        for v in offset_position(
            config.ra, config.dec, spec.offset_arcmin / 60.0, spec.offset_pa_deg
        )
    )
    pointing = Pointing.random(
        ra_pnt,
        dec_pnt,
        spec.roll_deg,
        gtis[:, 0],
        rng,
        config.jitter_arcsec,
        config.snapshot_scatter_arcsec,
    )
    phi = np.radians(strip_angle_deg(spec.roll_deg))
    cphi, sphi = np.cos(phi), np.sin(phi)
    centre = WINDOW_FIRST_COLUMN + (WINDOW_COLUMNS - 1) / 2.0
    flux = np.asarray(
        model_photon_flux(config.model, [config.nH, config.photon_index, spec.norm])(
            response.energy_edges
        ),
        float,
    )
    e_lo, e_hi = response.energ_lo, response.energ_hi
    # the source's row (constant: xrttimetag assigns the source row to every event)
    dx0, dy0 = _target_offset_pix(config, ra_pnt, dec_pnt)
    row = int(np.floor(centre + float(-dx0 * sphi + dy0 * cphi) + 0.5))
    parts, expected, offaxes = [], 0.0, []
    for k, (t0, t1) in enumerate(gtis):
        n_frames = int(round((t1 - t0) / WT_FRAME_TIME))
        sra, sdec = pointing.snapshot_direction(k)
        xi, eta = tan_project(config.ra, config.dec, sra, sdec)
        theta = float(np.hypot(xi, eta) * 60.0)
        offaxes.append(theta)
        mu = expected_source_spectrum(flux, response, theta, t1 - t0)
        total = float(mu.sum())
        expected += total
        n = int(rng.poisson(total))
        cdf = np.cumsum(mu)
        ebin = np.minimum(np.searchsorted(cdf, rng.random(n) * total, side="right"), mu.size - 1)
        energy = e_lo[ebin] + rng.random(n) * (e_hi[ebin] - e_lo[ebin])
        r_pix = calibration.sample_psf_radius(energy, theta, rng) / calibration.PIXEL_ARCMIN
        du = r_pix * np.cos(rng.uniform(0.0, 2.0 * np.pi, n))
        n_bkg = int(
            rng.poisson(
                config.background_rate
                * WINDOW_COLUMNS
                * WINDOW_ROWS
                * calibration.PIXEL_ARCMIN**2
                * (t1 - t0)
            )
        )
        frame = rng.integers(0, n_frames, n + n_bkg)
        time = t0 + (frame + 0.5) * WT_FRAME_TIME
        pra, pdec = pointing.at(time)
        dx, dy = _target_offset_pix(config, pra, pdec)
        src_col = centre + dx * cphi + dy * sphi  # continuous column of the source at each time
        col = np.concatenate(
            [
                np.floor(src_col[:n] + du + 0.5),
                rng.integers(WINDOW_FIRST_COLUMN, WINDOW_FIRST_COLUMN + WINDOW_COLUMNS, n_bkg),
            ]
        ).astype(np.int64)
        parts.append(
            {
                "TIME": time,
                "RAWX": col,
                "RAWY": np.full(n + n_bkg, row, np.int64),
                "PI": np.concatenate(
                    [response.draw_channels(ebin, rng), _background_channels(n_bkg, rng)]
                ),
                "GRADE": rng.choice(3, n + n_bkg, p=WT_GRADE_PROBABILITIES),
                "SRC_COL": src_col,
                "IS_SOURCE": np.arange(n + n_bkg) < n,
            }
        )
    photons = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
    # photons the RMF puts in no channel (PI -1) are not detected
    inside = (
        (photons["RAWX"] >= WINDOW_FIRST_COLUMN)
        & (photons["RAWX"] < WINDOW_FIRST_COLUMN + WINDOW_COLUMNS)
        & (photons["PI"] >= 0)
    )
    photons = {k: v[inside] for k, v in photons.items()}
    events, stats = pile_up(photons, rng, max_grade=2, mode="WT")

    # bad columns far from the source, screened out as xrtpipeline does
    src_mean = (
        float(np.mean(photons["SRC_COL"][photons["IS_SOURCE"]]))
        if photons["IS_SOURCE"].any()
        else centre
    )
    cols = np.arange(WINDOW_FIRST_COLUMN + 5, WINDOW_FIRST_COLUMN + WINDOW_COLUMNS - 5)
    allowed = cols[np.abs(cols - src_mean) > config.bad_column_min_distance]
    bad = np.sort(rng.choice(allowed, 2, replace=False))
    keep = ~np.isin(events["RAWX"], bad)
    events = {k: v[keep] for k, v in events.items()}

    # sky position of the event's column at the source row (xrttimetag), on the nominal TAN grid
    u = events["RAWX"] - events["SRC_COL"] + rng.uniform(-0.5, 0.5, events["RAWX"].size)
    xs0, ys0 = _target_offset_pix(config, ra_pnt, dec_pnt)
    x = np.floor(SKY_CENTER + float(xs0) + u * cphi + 0.5).astype(np.int16)
    y = np.floor(SKY_CENTER + float(ys0) + u * sphi + 0.5).astype(np.int16)
    n_ev = x.size
    pi = events["PI"].astype(np.int32)
    pha = np.clip(
        np.floor((pi + rng.random(n_ev)) * GAIN + rng.normal(0.0, 3.0, n_ev) + 0.5), 0, 4095
    ).astype(np.int32)
    out = {
        "TIME": events["TIME"],
        "X": x,
        "Y": y,
        "RAWX": events["RAWX"].astype(np.int16),
        "RAWY": events["RAWY"].astype(np.int16),
        "DETX": (events["RAWX"] + 1).astype(np.int16),
        "DETY": (events["RAWY"] + 1).astype(np.int16),
        "PHA": pha,
        "PI": pi,
        "GRADE": events["GRADE"].astype(np.int16),
    }
    is_src = events["IS_SOURCE"]
    theta_mean = float(np.average(offaxes, weights=gtis[:, 1] - gtis[:, 0]))
    rate_ch = response.fold(expected_source_spectrum(flux, response, theta_mean, 1.0))
    params = {"nH": config.nH, "PhoIndex": config.photon_index, "norm": spec.norm}
    obs_spec = SimpleNamespace(obsid=spec.obsid, role=spec.role, day=spec.day)
    return SimulatedObservation(
        spec=obs_spec,
        gtis=gtis,
        pointing=pointing,
        events=out,
        bad_columns=bad,
        parameters=params,
        offaxis_arcmin=theta_mean,
        exposure=exposure,
        expected_source=expected,
        expected_rate_03_7=float(rate_ch[30:700].sum()),
        n_source=int(is_src.sum()),
        n_background=int((~is_src).sum()),
        extra={
            "is_source": is_src,
            "row": row,
            "source_column": src_mean,
            "rate_all": float(rate_ch.sum()),
            "pileup": stats,
            "n_photons_source": int(photons["IS_SOURCE"].sum()),
        },
    )


def _wt_event_hdulist(obs: SimulatedObservation, config: WTArchiveConfig):
    hdul = event_hdulist(obs, config)
    for hdu in hdul:
        hdu.header["DATAMODE"] = ("WINDOWED", "Instrument data mode")
    h = hdul["EVENTS"].header
    h["TIMEDEL"] = (WT_FRAME_TIME, "[s] WT frame time")
    for n in range(1, 4):
        if h.get(f"DSTYP{n}") == "GRADE":
            h[f"DSVAL{n}"] = ("0:2", "Data subspace descriptor: value")
    names = hdul["EVENTS"].columns.names
    i = names.index("GRADE") + 1
    h[f"TLMAX{i}"] = 2
    i = names.index("RAWX") + 1
    h[f"TLMIN{i}"], h[f"TLMAX{i}"] = 0, 599
    h["WHALFWD"] = (WINDOW_COLUMNS // 2, "WT window half width (columns)")
    h["COMMENT"] = (
        f"SIMULATED WT: window RAWX {WINDOW_FIRST_COLUMN}-"
        f"{WINDOW_FIRST_COLUMN + WINDOW_COLUMNS - 1}, RAWY = source row {obs.extra['row']}"
    )
    return hdul


def _truth(observations: list[SimulatedObservation], config: WTArchiveConfig) -> Table:
    t = Table()
    t["obsid"] = [o.spec.obsid for o in observations]
    t["day"] = [o.spec.day for o in observations]
    t["exposure"] = [o.exposure for o in observations]
    t["pa_pnt"] = [o.pointing.roll for o in observations]
    t["strip_angle"] = [strip_angle_deg(o.pointing.roll) for o in observations]
    t["offaxis_arcmin"] = [o.offaxis_arcmin for o in observations]
    for name in ("nH", "PhoIndex", "norm"):
        t[name] = [o.parameters[name] for o in observations]
    t["expected_rate"] = [o.extra["rate_all"] for o in observations]  # all PI, no pile-up
    t["expected_rate_03_7"] = [o.expected_rate_03_7 for o in observations]
    t["expected_source"] = [o.expected_source for o in observations]
    t["n_source_photons"] = [o.extra["n_photons_source"] for o in observations]
    t["n_source"] = [o.n_source for o in observations]
    t["n_background"] = [o.n_background for o in observations]
    t["source_column"] = [o.extra["source_column"] for o in observations]
    t["n_merged"] = [o.extra["pileup"].n_merged_events for o in observations]
    t["bad_columns"] = [" ".join(str(c) for c in o.bad_columns) for o in observations]
    for k, unit in {
        "day": "d",
        "exposure": "s",
        "pa_pnt": "deg",
        "strip_angle": "deg",
        "offaxis_arcmin": "arcmin",
        "expected_rate": "ct / s",
        "expected_rate_03_7": "ct / s",
        "source_column": "pixel",
    }.items():
        t[k].unit = unit
    t.meta.update(
        {
            "description": "Injected (true) parameters of a SIMULATED xrtflow WT archive",
            "mode": "WT",
            "model": config.model,
            "parameter_order": ["nH", "PhoIndex", "norm"],
            "abund": "wilm",
            "xsect": "vern",
            "seed": config.seed,
            "target": config.target,
            "ra": config.ra,
            "dec": config.dec,
        }
    )
    return t


def make_wt_archive(outdir: str | Path, config: WTArchiveConfig | None = None) -> Table:
    """Write a SIMULATED WT archive (events, attitude, HK, catalog, truth, CALDB) under ``outdir``.

    Returns
    -------
    astropy.table.Table
        The catalog (``outdir/catalog.ecsv``; ``xrt_expo_wt`` is the exposure, ``xrt_expo_pc`` 0).
    """
    config = config or WTArchiveConfig()
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    response = SyntheticResponse.build()
    write_caldb(outdir / "caldb", response, wt=True)
    observations = []
    for spec in sorted(config.observations, key=lambda s: s.day):
        rng = np.random.default_rng([config.seed, int(spec.obsid)])
        obs = simulate_wt_observation(spec, config, response, rng)
        base = outdir / "archive" / spec.obsid
        date = fits_date(float(mjd_from_met(obs.tstop)) + 0.25)
        write_fits(
            _wt_event_hdulist(obs, config), base / naming.archive_event(spec.obsid, "WT"), date
        )
        common = _common_keywords(obs, config)
        common["DATAMODE"] = ("WINDOWED", "Instrument data mode")
        att = attitude_hdu(obs.pointing, obs.gtis, {})
        _apply(att.header, common)
        att.header["ATTFLAG"] = ("110", "Attitude corrected (pat)")
        write_fits(
            fits.HDUList([_primary_with(common), att]),
            base / naming.archive_attitude(spec.obsid),
            date,
        )
        hk = hk_header_hdu(obs.pointing, obs.gtis, {}, rng)
        _apply(hk.header, common)
        write_fits(
            fits.HDUList([_primary_with(common), hk]),
            base / naming.archive_hk_header(spec.obsid),
            date,
        )
        observations.append(obs)
    catalog = catalog_table(observations, config)
    catalog["xrt_expo_wt"] = catalog["xrt_expo_pc"]
    catalog["xrt_expo_pc"] = 0.0
    catalog.meta["description"] = "SIMULATED swiftmastr-like catalog of WT observations (xrtflow)"
    catalog.write(outdir / "catalog.ecsv", format="ascii.ecsv", overwrite=True)
    _truth(observations, config).write(outdir / "truth.ecsv", format="ascii.ecsv", overwrite=True)
    return catalog


def _primary_with(common: dict) -> fits.PrimaryHDU:
    prim = fits.PrimaryHDU()
    _apply(prim.header, common)
    return prim
