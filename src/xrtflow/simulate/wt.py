"""A bright point source in Windowed Timing mode, with pile-up (one-dimensional, 1.766 ms frames).

WT mode reads a 200-column window with the rows summed on the CCD: each event has a column and a
frame time only. Photons of one frame in the same or adjacent columns merge (summed PI; grades:
0 one column, 1-2 two adjacent columns, wider patterns rejected -- WT keeps grades 0-2), through
:func:`xrtflow.simulate.pileup.pile_up` with ``mode="WT"``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from xrtflow import calibration
from xrtflow.simulate.pileup import PileupStats, draw_power_law, pile_up, power_law_band_fraction

__all__ = ["WT_FRAME_TIME", "WT_GRADE_PROBABILITIES", "WTSource", "simulate_wt_source"]

#: WT frame time (s) of Swift-XRT (1.766 ms)
WT_FRAME_TIME = 1.766e-3
#: single-photon grade mix in WT mode (0 single column, 1-2 split to a neighbour)
WT_GRADE_PROBABILITIES = (0.8, 0.1, 0.1)


@dataclass
class WTSource:
    """Photons and detected events of :func:`simulate_wt_source` with the injected truth."""

    photons: dict[str, np.ndarray]
    events: dict[str, np.ndarray]
    stats: PileupStats
    center: float  # source column (continuous)
    exposure: float
    injected_rate: float  # photons/s detected without pile-up (all channels, whole PSF)
    injected_rate_band: float  # the same in PI 30-999


def simulate_wt_source(
    count_rate: float,
    exposure: float,
    rng: np.random.Generator,
    *,
    center: float = 99.7,
    n_columns: int = 200,
    photon_index: float = 2.0,
    background_per_column: float = 0.01,
    frame_time: float = WT_FRAME_TIME,
    response=None,
) -> WTSource:
    """Simulate WT events of a source of ``count_rate`` (count/s, no pile-up) for ``exposure`` s.

    Columns run 0..``n_columns - 1``; ``background_per_column`` is in count/s per column.
    """
    from xrtflow.simulate.response import SyntheticResponse

    response = response or SyntheticResponse.build()
    n_frames = max(1, int(round(exposure / frame_time)))
    exposure = n_frames * frame_time
    n_src = int(rng.poisson(count_rate * exposure))
    energy, pi = draw_power_law(n_src, response, photon_index, rng)
    r_pix = calibration.sample_psf_radius(energy, 0.0, rng) / calibration.PIXEL_ARCMIN
    dx = r_pix * np.cos(rng.uniform(0.0, 2.0 * np.pi, n_src))
    col = np.floor(center + dx + 0.5).astype(np.int64)
    n_bkg = int(rng.poisson(background_per_column * n_columns * exposure))
    bcol = rng.integers(0, n_columns, n_bkg)
    bpi = np.floor(rng.uniform(0.2, 10.0, n_bkg) / 0.01).astype(np.int64)
    frame = rng.integers(0, n_frames, n_src + n_bkg)
    photons = {
        "TIME": 3.0e8 + (frame + 0.5) * frame_time,
        "RAWX": np.concatenate([col, bcol]),
        "RAWY": np.zeros(n_src + n_bkg, np.int64),
        "PI": np.concatenate([pi, bpi]),
        "GRADE": rng.choice(3, n_src + n_bkg, p=WT_GRADE_PROBABILITIES),
        "IS_SOURCE": np.concatenate([np.ones(n_src, bool), np.zeros(n_bkg, bool)]),
    }
    keep = (photons["PI"] >= 0) & (photons["RAWX"] >= 0) & (photons["RAWX"] < n_columns)
    photons = {k: v[keep] for k, v in photons.items()}
    events, stats = pile_up(photons, rng, max_grade=2, mode="WT")
    return WTSource(
        photons=photons,
        events=events,
        stats=stats,
        center=center,
        exposure=exposure,
        injected_rate=count_rate,
        injected_rate_band=count_rate * power_law_band_fraction(response, photon_index, 30, 999),
    )
