"""A piled-up point source for the simulator: photons merged within a CCD frame, as the XRT does.

Pile-up (UK Swift Science Data Centre, *XRT pile-up* thread): when several photons land within a
few pixels of each other in one CCD frame, their charge clouds overlap and the on-board event
recognition sees one event whose energy is the sum of theirs; when the merged charge pattern is
not that of an X-ray (PC grades above 12) the event is rejected, so the core of a bright source
loses counts and its spectrum hardens.

The model here (vectorised; one frame = one ``TIME`` value, since the simulator stamps every event
with its frame's centre time):

* photons of one frame whose pixels touch (within each other's 3 x 3 neighbourhood, chained) form
  one event; its position is that of the most energetic photon, its ``PI`` (and ``PHA``) the sum;
* grade migration from the footprint of the merged pixels (a simplified reading of the Swift-XRT
  PC grade patterns, which are defined on the 3 x 3 island around the central pixel: 0 single,
  1-12 split patterns inside a 2 x 2 corner of it, 13-32 larger patterns): all photons in one
  pixel keep the highest constituent grade (energy pile-up only); two pixels touching at a corner
  give a grade in 1-4, two side by side 5-8, three or four pixels within a 2 x 2 square 9-12;
  anything larger gets a grade above 12 and is rejected (``max_grade``); the merged grade is never
  lower than the highest constituent grade;
* merged events above the last PI channel are rejected (out of the event range).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from xrtflow import calibration
from xrtflow.simulate.config import PC_FRAME_TIME, PC_GRADE_PROBABILITIES

__all__ = [
    "PileupStats",
    "PiledSource",
    "draw_power_law",
    "pile_up",
    "power_law_band_fraction",
    "simulate_piled_source",
]

#: PC mode: grades 0-12 are X-ray events.
MAX_PC_GRADE = 12


@dataclass(frozen=True)
class PileupStats:
    """What :func:`pile_up` did: photons in, events out, merged and rejected."""

    n_photons: int
    n_events: int
    n_merged_events: int  # events made of two or more photons (kept or rejected)
    n_photons_merged: int
    n_rejected_grade: int
    n_rejected_pi: int


def _clusters(frame: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Cluster label per photon: same frame and chained 3 x 3 pixel neighbourhoods."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    x0, y0 = x - x.min() + 1, y - y.min() + 1
    w, h = int(x0.max()) + 2, int(y0.max()) + 2
    key = (frame.astype(np.int64) * w + x0) * h + y0
    ukey, pix = np.unique(key, return_inverse=True)
    rows, cols = [np.arange(ukey.size)], [np.arange(ukey.size)]
    for dx, dy in ((1, -1), (1, 0), (1, 1), (0, 1)):  # half of the 8 neighbours (undirected)
        nk = ukey + dx * h + dy
        pos = np.minimum(np.searchsorted(ukey, nk), ukey.size - 1)
        hit = ukey[pos] == nk
        rows.append(np.flatnonzero(hit))
        cols.append(pos[hit])
    r, c = np.concatenate(rows), np.concatenate(cols)
    graph = coo_matrix((np.ones(r.size), (r, c)), shape=(ukey.size, ukey.size))
    _, label = connected_components(graph, directed=False)
    return label[pix]


def pile_up(
    events: Mapping[str, np.ndarray],
    rng: np.random.Generator,
    *,
    x: str = "RAWX",
    y: str = "RAWY",
    max_grade: int = MAX_PC_GRADE,
    pi_max: int = 1023,
    mode: str = "PC",
) -> tuple[dict[str, np.ndarray], PileupStats]:
    """Merge the photons of each frame that fall within a 3 x 3 pixel neighbourhood.

    Parameters
    ----------
    events : mapping of column name -> array
        One row per *photon*: ``TIME`` (the frame's time stamp), ``PI``, ``GRADE``, the pixel
        columns ``x``/``y`` (detector pixels) and any other columns (carried from the brightest
        photon of a merged event; ``PHA`` is summed when present).
    rng : numpy.random.Generator
        Picks the grade within a grade band.
    x, y : str
        Pixel columns that define neighbourhoods (``RAWX``/``RAWY``: pile-up happens on the CCD).
    max_grade : int
        Highest grade kept (12 in PC mode).
    pi_max : int
        Highest PI channel; merged events above it are rejected.
    mode : {"PC", "WT"}
        Grade bands: PC as in the module notes; WT (one-dimensional: ``y`` is constant, the rows
        are summed on the CCD) keeps grade 0 for one column, gives 1-2 to two adjacent columns and
        3 (rejected with ``max_grade = 2``) to anything wider.

    Returns
    -------
    events : dict
        The detected events (time ordered), same columns.
    stats : PileupStats
    """
    t = np.asarray(events["TIME"], float)
    n = t.size
    if n == 0:
        return {k: np.asarray(v)[:0] for k, v in events.items()}, PileupStats(0, 0, 0, 0, 0, 0)
    px = np.asarray(events[x], np.int64)
    py = np.asarray(events[y], np.int64)
    pi = np.asarray(events["PI"], np.int64)
    grade = np.asarray(events["GRADE"], np.int64)
    _, frame = np.unique(np.round(t * 1000.0).astype(np.int64), return_inverse=True)
    label = _clusters(frame, px, py)
    n_c = int(label.max()) + 1
    size = np.bincount(label, minlength=n_c)
    # brightest photon of each cluster: sort by (label, PI) and take the last of each label
    order = np.lexsort((pi, label))
    last = np.cumsum(size) - 1
    lead = order[last]
    pi_sum = np.bincount(label, weights=pi, minlength=n_c).astype(np.int64)
    g_max = np.zeros(n_c, np.int64)
    np.maximum.at(g_max, label, grade)
    # footprint: distinct pixels and their bounding box
    lab = label.astype(np.int64)
    _, first_pix = np.unique((lab << 40) + (px << 20) + py, return_index=True)
    n_pix = np.bincount(label[first_pix], minlength=n_c)
    xmin = np.full(n_c, np.iinfo(np.int64).max)
    ymin = xmin.copy()
    xmax = np.full(n_c, np.iinfo(np.int64).min)
    ymax = xmax.copy()
    np.minimum.at(xmin, label, px)
    np.minimum.at(ymin, label, py)
    np.maximum.at(xmax, label, px)
    np.maximum.at(ymax, label, py)
    ex, ey = xmax - xmin, ymax - ymin
    in_2x2 = (ex <= 1) & (ey <= 1)
    band_lo = np.select(
        [n_pix == 1, in_2x2 & (n_pix == 2) & (ex + ey == 2), in_2x2 & (n_pix == 2), in_2x2],
        [0, 1, 5, 9],
        default=13,
    )
    pattern = np.where(band_lo == 0, 0, band_lo + rng.integers(0, 4, n_c))
    if mode.upper() == "WT":
        pattern = np.select(
            [n_pix == 1, (n_pix == 2) & (ex == 1)], [0, 1 + rng.integers(0, 2, n_c)], default=3
        )
    merged = size > 1
    new_grade = np.where(merged, np.maximum(pattern, g_max), grade[lead])
    keep = (new_grade <= max_grade) & (pi_sum <= pi_max)
    out = {}
    for name, col in events.items():
        arr = np.asarray(col)
        if name == "PI":
            val = pi_sum.astype(arr.dtype)
        elif name == "PHA":
            val = np.bincount(label, weights=arr, minlength=n_c).astype(arr.dtype)
        elif name == "GRADE":
            val = new_grade.astype(arr.dtype)
        else:
            val = arr[lead]
        out[name] = val[keep]
    tord = np.argsort(out["TIME"], kind="stable")
    out = {k: v[tord] for k, v in out.items()}
    stats = PileupStats(
        n_photons=n,
        n_events=int(keep.sum()),
        n_merged_events=int(merged.sum()),
        n_photons_merged=int(size[merged].sum()),
        n_rejected_grade=int((new_grade > max_grade).sum()),
        n_rejected_pi=int(((new_grade <= max_grade) & (pi_sum > pi_max)).sum()),
    )
    return out, stats


def _power_law_weights(response, photon_index: float) -> np.ndarray:
    """Detected-photon probability per response energy bin of a power law (area-weighted)."""
    e_mid = 0.5 * (response.energ_lo + response.energ_hi)
    width = response.energ_hi - response.energ_lo
    with np.errstate(divide="ignore"):
        shape = np.where(e_mid > 0, e_mid**-photon_index, 0.0) * width * response.specresp
    return shape / shape.sum()


def draw_power_law(
    n: int, response, photon_index: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Energies (keV) and PI channels (-1: lost) of ``n`` detected photons of a power law."""
    weights = _power_law_weights(response, photon_index)
    ebin = np.minimum(np.searchsorted(np.cumsum(weights), rng.random(n)), weights.size - 1)
    width = response.energ_hi - response.energ_lo
    energy = response.energ_lo[ebin] + rng.random(n) * width[ebin]
    return energy, response.draw_channels(ebin, rng)


def power_law_band_fraction(response, photon_index: float, first: int, last: int) -> float:
    """Expected fraction of a power law's detected photons in PI channels ``first..last``."""
    return float(response.fold(_power_law_weights(response, photon_index))[first : last + 1].sum())


@dataclass
class PiledSource:
    """A simulated bright point source with and without pile-up (same photons)."""

    photons: dict[str, np.ndarray]  # every photon, as a perfect (pile-up free) detector sees it
    events: dict[str, np.ndarray]  # what the CCD records
    stats: PileupStats
    center: tuple[float, float]  # source position in (continuous) pixel coordinates
    exposure: float
    frame_time: float
    injected_rate: float  # expected source photons/s detected without pile-up (all channels)
    injected_rate_band: float  # the same in PI 30-999 (0.3-10 keV)
    n_source_photons: int
    background_per_pixel: float  # expected background counts per pixel over the exposure
    truth: dict = field(default_factory=dict)


def simulate_piled_source(
    count_rate: float,
    exposure: float,
    rng: np.random.Generator,
    *,
    photon_index: float = 2.0,
    center: tuple[float, float] = (500.3, 499.8),
    background_rate: float = 1.5e-3,
    half_size: int = 150,
    frame_time: float = PC_FRAME_TIME,
    offaxis_arcmin: float = 0.0,
    response=None,
) -> PiledSource:
    """Simulate a PC-mode observation of a bright point source, with pile-up.

    Parameters
    ----------
    count_rate : float
        Expected source count rate (count/s, all channels, whole PSF) *without* pile-up: the
        injected truth.
    exposure : float
        Exposure (s); rounded to whole frames.
    rng : numpy.random.Generator
    photon_index : float
        Power-law photon index of the spectrum folded through the synthetic on-axis response.
    center : (float, float)
        Source position in pixel coordinates (the pixel ``k`` covers ``[k - 0.5, k + 0.5)``);
        sky and detector pixels coincide (no attitude motion).
    background_rate : float
        Uniform background, count/s/arcmin^2, over a square of ``2 * half_size + 1`` pixels.
    frame_time : float
        CCD frame time (s); PC mode 2.5073 s.
    offaxis_arcmin : float
        Off-axis angle of the PSF.
    response : xrtflow.simulate.response.SyntheticResponse, optional
        Default: the simulator's synthetic response.
    """
    from xrtflow.simulate.response import SyntheticResponse

    response = response or SyntheticResponse.build()
    n_frames = max(1, int(round(exposure / frame_time)))
    exposure = n_frames * frame_time
    t0 = 1.0e8
    n_src = int(rng.poisson(count_rate * exposure))
    energy, pi = draw_power_law(n_src, response, photon_index, rng)
    band = power_law_band_fraction(response, photon_index, 30, 999)
    r_pix = calibration.sample_psf_radius(energy, offaxis_arcmin, rng) / calibration.PIXEL_ARCMIN
    phi = rng.uniform(0.0, 2.0 * np.pi, n_src)
    sx = np.floor(center[0] + r_pix * np.cos(phi) + 0.5).astype(np.int64)
    sy = np.floor(center[1] + r_pix * np.sin(phi) + 0.5).astype(np.int64)
    side = 2 * half_size + 1
    pix_area = calibration.PIXEL_ARCMIN**2
    bkg_per_pixel = background_rate * pix_area * exposure
    n_bkg = int(rng.poisson(bkg_per_pixel * side * side))
    cx, cy = int(np.floor(center[0] + 0.5)), int(np.floor(center[1] + 0.5))
    bx = cx - half_size + rng.integers(0, side, n_bkg)
    by = cy - half_size + rng.integers(0, side, n_bkg)
    bpi = np.clip(np.floor(rng.uniform(0.2, 10.0, n_bkg) / 0.01), 0, 1023).astype(np.int64)
    x = np.concatenate([sx, bx])
    y = np.concatenate([sy, by])
    frame = rng.integers(0, n_frames, n_src + n_bkg)
    photons = {
        "TIME": t0 + (frame + 0.5) * frame_time,
        "X": x,
        "Y": y,
        "RAWX": x,
        "RAWY": y,
        "PI": np.concatenate([pi, bpi]),
        "GRADE": rng.choice(len(PC_GRADE_PROBABILITIES), n_src + n_bkg, p=PC_GRADE_PROBABILITIES),
        "IS_SOURCE": np.concatenate([np.ones(n_src, bool), np.zeros(n_bkg, bool)]),
    }
    inside = (photons["PI"] >= 0) & (np.abs(x - cx) <= half_size) & (np.abs(y - cy) <= half_size)
    photons = {k: v[inside] for k, v in photons.items()}
    events, stats = pile_up(photons, rng)
    return PiledSource(
        photons=photons,
        events=events,
        stats=stats,
        center=center,
        exposure=exposure,
        frame_time=frame_time,
        injected_rate=count_rate,
        injected_rate_band=count_rate * float(band),
        n_source_photons=n_src,
        background_per_pixel=bkg_per_pixel,
        truth={"photon_index": photon_index, "offaxis_arcmin": offaxis_arcmin},
    )
