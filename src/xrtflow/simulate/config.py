"""Configuration of the demo archive: :class:`DemoConfig` and per-ObsID :class:`ObservationSpec`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

#: T Pyx (J2000): 09h04m41.5s -32d22m47.5s.
T_PYX_RA = 136.1729167
T_PYX_DEC = -32.3798611
#: Discovery of the 2011 outburst of T Pyx: 2011-04-14 = MJD 55665.
T_PYX_DISCOVERY_MJD = 55665.0
#: Swift target ID used for the demo ObsIDs (000319400NN).
T_PYX_TARGET_ID = 31940

#: Injected parameters, XSPEC order of ``tbabs*(bb+brems)``: nH (1e22), bb kT (keV), bb norm
#: (L39/D10^2), brems kT (keV), brems norm. The norms give ~0.5 (bb) + ~0.2 (brems) count/s in
#: 0.3-7 keV through the synthetic on-axis response.
DEFAULT_PARAMETERS = MappingProxyType(
    {"nH": 0.136, "bb_kT": 0.047, "bb_norm": 6.0e-3, "brems_kT": 1.43, "brems_norm": 2.8e-3}
)

#: PC-mode grade distribution used for source and background events (grades 0..12).
PC_GRADE_PROBABILITIES = (
    0.70,
    0.06,
    0.06,
    0.05,
    0.05,
    0.01,
    0.01,
    0.01,
    0.01,
    0.01,
    0.01,
    0.01,
    0.01,
)

#: Read-out time of one PC-mode frame (s).
PC_FRAME_TIME = 2.5073


@dataclass(frozen=True)
class ObservationSpec:
    """One simulated ObsID.

    Attributes
    ----------
    obsid : str
        11-digit ObsID.
    day : float
        Start, days after the discovery epoch.
    exposure : float
        Requested exposure (s); the written EXPOSURE is a whole number of PC frames.
    role : str
        ``"window"`` (inside the selection window), ``"early"``, ``"late"`` or ``"short"``.
    offset_arcmin, offset_pa_deg : float
        Pointing offset from the target and its position angle.
    roll_deg : float
        Spacecraft roll (PA_PNT).
    n_snapshots : int
        Number of snapshots (GTIs).
    bad_column_through_source : bool
        Put one of the two bad CCD columns through the source's detector position (the events
        on it are lost, as on the real XRT): the light-curve correction's test case.
    flux_scale : float
        Factor on the source's photon flux in this ObsID (e.g. a bright, piled-up ObsID among
        faint ones; the truth table's norms are the scaled ones).
    """

    obsid: str
    day: float
    exposure: float
    role: str = "window"
    offset_arcmin: float = 2.0
    offset_pa_deg: float = 0.0
    roll_deg: float = 0.0
    n_snapshots: int = 1
    bad_column_through_source: bool = False
    flux_scale: float = 1.0


@dataclass(frozen=True)
class DemoConfig:
    """Everything that defines a demo archive; the same config gives byte-identical files.

    Attributes
    ----------
    seed : int
        Master random seed (each ObsID uses its own stream derived from it).
    n_obs : int
        Number of ObsIDs inside the selection window.
    target, ra, dec : str, float, float
        Target name and J2000 position (deg).
    target_id : int
        Swift target ID (ObsIDs are ``f"{target_id:08d}{segment:03d}"``).
    discovery_mjd : float
        Reference epoch (days after it define the window).
    window_days : (float, float)
        Observation days (after discovery) of the in-window ObsIDs.
    include_outliers : bool
        Add one earlier, one later and one too-short ObsID (for selection to drop).
    outlier_days : (float, float)
        Days of the early and late extra ObsIDs.
    short_exposure : float
        Exposure (s) of the too-short ObsID.
    exposure_range : (float, float)
        Exposures of the regular ObsIDs are uniform in this range (s).
    snapshot_max : float
        Longest snapshot (s): an ObsID of exposure T has ceil(T / snapshot_max) GTIs.
    model : str
        XSPEC expression of the source spectrum.
    parameters : mapping
        Injected parameter values in XSPEC order (names are labels for ``truth.ecsv``).
    drift : mapping
        Linear drift per day (same names) about ``drift_reference_day``.
    drift_reference_day : float
    photon_flux : callable, optional
        Overrides ``model``: ``photon_flux(energy_edges_keV)`` -> photons/cm^2/s per bin.
    background_rate : float
        Uniform background, counts/s/arcmin^2 (1.5e-3 gives ~300 counts in a 240-390" annulus
        in 2.5 ks).
    offset_range : (float, float)
        Pointing offset from the target (arcmin), uniform in this range.
    jitter_arcsec : float
        Amplitude of the pointing wander within a snapshot (in the attitude file and DET coords).
    snapshot_scatter_arcsec : float
        RMS re-pointing scatter between snapshots.
    residual_arcsec : float
        RMS sky-position error left after attitude correction.
    observations : tuple of ObservationSpec, optional
        Explicit ObsIDs (overrides n_obs/window/outliers).
    pileup : bool
        Record the events as the CCD does for a bright source: photons of one frame that fall
        within a 3 x 3 pixel neighbourhood on the detector become one event (energies summed,
        grade migration, grades > 12 rejected; :func:`xrtflow.simulate.pileup.pile_up`). Off by
        default (the faint demo source barely piles up, and the default archive stays the same).
    """

    seed: int = 20110414
    n_obs: int = 8
    target: str = "T Pyx"
    ra: float = T_PYX_RA
    dec: float = T_PYX_DEC
    target_id: int = T_PYX_TARGET_ID
    discovery_mjd: float = T_PYX_DISCOVERY_MJD
    window_days: tuple[float, float] = (142.0, 149.0)
    include_outliers: bool = True
    outlier_days: tuple[float, float] = (128.3, 163.6)
    short_exposure: float = 300.0
    exposure_range: tuple[float, float] = (1500.0, 4000.0)
    snapshot_max: float = 1800.0
    model: str = "tbabs*(bb+brems)"
    parameters: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_PARAMETERS))
    drift: Mapping[str, float] = field(default_factory=dict)
    drift_reference_day: float = 145.5
    photon_flux: Callable[[np.ndarray], np.ndarray] | None = None
    background_rate: float = 1.5e-3
    offset_range: tuple[float, float] = (1.0, 4.0)
    jitter_arcsec: float = 2.0
    snapshot_scatter_arcsec: float = 10.0
    residual_arcsec: float = 0.5
    observations: tuple[ObservationSpec, ...] | None = None
    pileup: bool = False

    def parameters_at(self, day: float) -> dict[str, float]:
        """Injected parameter values at ``day`` (after discovery), including the linear drift."""
        unknown = set(self.drift) - set(self.parameters)
        if unknown:
            raise ValueError(f"drift given for unknown parameters {sorted(unknown)}")
        dt = day - self.drift_reference_day
        return {
            k: float(v) + float(self.drift.get(k, 0.0)) * dt for k, v in self.parameters.items()
        }

    def obsid(self, segment: int) -> str:
        return f"{self.target_id:08d}{segment:03d}"

    def observation_specs(self) -> list[ObservationSpec]:
        """The ObsIDs of the archive, sorted by time (ObsID segments follow time order)."""
        if self.observations is not None:
            return sorted(self.observations, key=lambda s: s.day)
        rng = np.random.default_rng([self.seed, 0])
        lo, hi = self.window_days
        n = int(self.n_obs)
        if n < 1:
            raise ValueError("n_obs must be >= 1")
        step = (hi - lo) / n
        days = lo + step * (np.arange(n) + rng.uniform(0.15, 0.85, n))
        exps = rng.uniform(*self.exposure_range, n)
        roles = ["window"] * n
        if self.include_outliers:
            short_day = lo + (hi - lo) * rng.uniform(0.3, 0.7)
            days = np.concatenate([days, [self.outlier_days[0], self.outlier_days[1], short_day]])
            exps = np.concatenate(
                [exps, rng.uniform(*self.exposure_range, 2), [self.short_exposure]]
            )
            roles += ["early", "late", "short"]
        m = days.size
        offsets = rng.uniform(*self.offset_range, m)
        pas = rng.uniform(0.0, 360.0, m)
        base_roll = rng.uniform(0.0, 360.0)
        rolls = (base_roll + rng.normal(0.0, 3.0, m) + 0.98 * (days - lo)) % 360.0
        order = np.argsort(days, kind="stable")
        specs = []
        for seg, i in enumerate(order, start=1):
            specs.append(
                ObservationSpec(
                    obsid=self.obsid(seg),
                    day=round(float(days[i]), 5),
                    exposure=round(float(exps[i]), 1),
                    role=roles[i],
                    offset_arcmin=round(float(offsets[i]), 3),
                    offset_pa_deg=round(float(pas[i]), 2),
                    roll_deg=round(float(rolls[i]), 2),
                    n_snapshots=max(1, int(np.ceil(exps[i] / self.snapshot_max))),
                )
            )
        return specs
