"""WT-mode pile-up: the one-dimensional profile of the source across the WT strip.

In Windowed Timing mode the CCD rows are summed on read-out, so a source is a one-dimensional
profile across the columns (``RAWX``): the PSF integrated along the columns, the *line-spread
function* of the King profile,

.. math::

    LSF(x) = \\frac{(\\beta - 1)\\,\\Gamma(\\beta - 1/2)}{\\sqrt{\\pi}\\,\\Gamma(\\beta)\\,r_c}
             \\left(1 + x^2 / r_c^2\\right)^{1/2 - \\beta}

(normalised to unit integral; plus the Gaussian term's normal profile when its weight is not
zero). The UK Swift Science Data Centre checks WT data for pile-up above about 100 count/s and
excises the central columns of the box region; here the excised half-width comes from the same
zone-deficit test as in PC mode (:func:`xrtflow.products.pileup.excision_radius`) applied to the
profile in column distance ``|RAWX - source column|``, and the rate is corrected by the fraction of
the line-spread function in the remaining columns.
"""

from __future__ import annotations

import numpy as np
from scipy.special import gammaln

from xrtflow.calibration import PIXEL_ARCMIN, psf_parameters

from .pileup import PILEUP_THRESHOLD, PileupAssessment, RadialProfile, excision_radius, fit_profile

__all__ = ["WT_EDGES", "assess_pileup_wt", "king_line_spread", "wt_profile"]

#: column-distance bin edges (pixels) of the WT profile (the WT window is 200 columns wide)
WT_EDGES = np.array(
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 14, 17, 20, 25, 30, 40, 50, 65, 80, 95], float
)


def king_line_spread(
    x_pix: np.ndarray, energy_keV: float = 1.5, offaxis_arcmin: float = 0.0, coefficients=None
) -> np.ndarray:
    """PSF integrated along one axis (fraction per pixel) at offset ``x_pix`` across it."""
    w, sigma, rc, beta = (
        float(np.asarray(v)) for v in psf_parameters(energy_keV, offaxis_arcmin, coefficients)
    )
    x = np.asarray(x_pix, float) * PIXEL_ARCMIN  # arcmin
    norm = np.exp(np.log(beta - 1.0) + gammaln(beta - 0.5) - gammaln(beta)) / (np.sqrt(np.pi) * rc)
    king = norm * (1.0 + (x / rc) ** 2) ** (0.5 - beta)
    gauss = np.exp(-0.5 * (x / sigma) ** 2) / (np.sqrt(2 * np.pi) * sigma) if sigma > 0 else 0.0
    return (w * gauss + (1.0 - w) * king) * PIXEL_ARCMIN


def wt_profile(
    col: np.ndarray,
    center: float,
    exposure: float,
    edges: np.ndarray | None = None,
    *,
    n_columns: int = 200,
    first_column: int = 0,
    energy_keV: float = 1.5,
    offaxis_arcmin: float = 0.0,
    oversample: int = 20,
) -> RadialProfile:
    """Counts in bins of column distance from the source with the line-spread model per bin.

    ``col`` are the events' WT columns (``first_column`` .. ``first_column + n_columns - 1``);
    ``center`` is the source's continuous column (column ``k`` covers ``[k - 0.5, k + 0.5)``).
    """
    edges = WT_EDGES if edges is None else np.asarray(edges, float)
    cols = np.arange(first_column, first_column + n_columns)
    sub = (np.arange(oversample) + 0.5) / oversample - 0.5
    x = cols[:, None] + sub[None, :] - center
    mass = king_line_spread(x, energy_keV, offaxis_arcmin).mean(axis=1)
    d = np.abs(cols - center)
    ring = np.searchsorted(edges, d, side="right") - 1
    nb = edges.size - 1
    use = (ring >= 0) & (ring < nb)
    ncol = np.bincount(ring[use], minlength=nb)[:nb].astype(float)
    psf = np.bincount(ring[use], weights=mass[use], minlength=nb)[:nb]
    ed = np.abs(np.asarray(col, float) - center)
    ering = np.searchsorted(edges, ed, side="right") - 1
    ok = (ering >= 0) & (ering < nb)
    counts = np.bincount(ering[ok], minlength=nb)[:nb].astype(float)
    return RadialProfile(edges=edges, counts=counts, npix=ncol, psf=psf, exposure=float(exposure))


def assess_pileup_wt(
    col: np.ndarray,
    center: float,
    exposure: float,
    *,
    threshold: float | None = None,
    half_length: float = 20.0,
    n_columns: int = 200,
    first_column: int = 0,
    energy_keV: float = 1.5,
    offaxis_arcmin: float = 0.0,
) -> PileupAssessment:
    """WT pile-up check and excision (``r_in``/``r_out`` are column half-widths, pixels).

    ``half_length`` is the half-length of the source box along the strip (UKSSDC-like 40-pixel
    box: 20). The rate is measured in the box; above ``threshold`` (default 100 count/s) the
    central columns are excised until the profile just outside them is the line-spread function.
    """
    from scipy.stats import chi2

    threshold = PILEUP_THRESHOLD["WT"] if threshold is None else float(threshold)
    prof = wt_profile(
        col,
        center,
        exposure,
        n_columns=n_columns,
        first_column=first_column,
        energy_keV=energy_keV,
        offaxis_arcmin=offaxis_arcmin,
    )
    full = fit_profile(prof, 0.0)
    inner = prof.edges[1:] <= half_length + 1e-9
    measured = (
        prof.counts[inner].sum() - full.background_per_pixel * prof.npix[inner].sum()
    ) / exposure
    piled = measured > threshold
    if piled:
        accepted, tried = excision_radius(prof, max_r_in=half_length / 2)
    else:
        accepted, tried = full, [full]
    r_in = accepted.r_in if piled else 0.0
    ann = (prof.edges[:-1] >= r_in - 1e-9) & inner
    n_ann = prof.counts[ann].sum()
    b_ann = accepted.background_per_pixel * prof.npix[ann].sum()
    frac = prof.psf[ann].sum()
    lo = 0.5 * chi2.ppf(0.05, 2 * n_ann) if n_ann > 0 else 0.0
    hi = 0.5 * chi2.ppf(0.95, 2 * (n_ann + 1))
    scale = 1.0 / (frac * exposure)
    return PileupAssessment(
        mode="WT",
        threshold=threshold,
        measured_rate=float(measured),
        piled=bool(piled),
        r_in=float(r_in),
        r_out=float(half_length),
        annulus_counts=float(n_ann),
        annulus_background=float(b_ann),
        annulus_psf_fraction=float(frac),
        annulus_psf_fraction_analytic=float(frac),
        corrected_rate=float((n_ann - b_ann) * scale),
        corrected_rate_interval=(float((lo - b_ann) * scale), float((hi - b_ann) * scale)),
        profile_rate=float(accepted.source_counts / exposure),
        fits=tried,
    )
