"""Pile-up: is a source piled up, how much of its core to excise, and the flux correction.

The method of the UK Swift Science Data Centre (Evans et al. 2007, A&A 469, 379; 2009, MNRAS
397, 1177; and its *XRT pile-up* thread):

* a PC-mode source whose count rate in the source region exceeds about 0.6 count/s (WT mode:
  about 100 count/s) may be piled up (:data:`PILEUP_THRESHOLD`, configurable);
* the radial profile of the source is compared with the PSF (the King profile of the CALDB,
  :mod:`xrtflow.calibration`; Moretti et al. 2005): the PSF plus a flat background is fitted to
  the profile *outside* a trial inner radius, and the radius is increased until the profile just
  outside it no longer falls below the extrapolation of the wings (:func:`excision_radius`). That
  radius (plus a one-pixel margin) is the inner radius of the extraction annulus;
* the counts in the annulus are corrected for the fraction of the PSF that the annulus holds
  (the ARF of an annulus region, :func:`annulus_arf_factor`).

The profile model integrates the PSF over each detector pixel (sub-pixel sampling), because the
inner radii are only a few pixels; the fit is a Poisson likelihood (EM iterations for the source
and background normalisations, the PSF shape fixed at the calibration); the acceptance test is a
one-sided Poisson test of the rings just outside the trial radius against the fit beyond them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from xrtflow.calibration import PIXEL_ARCMIN, psf_annulus_fraction, psf_profile

__all__ = [
    "PILEUP_THRESHOLD",
    "PileupAssessment",
    "RadialProfile",
    "annulus_arf_factor",
    "assess_pileup",
    "assess_pileup_events",
    "excision_region",
    "excision_radius",
    "fit_profile",
    "radial_profile",
    "write_excised_arf",
]

#: count/s above which a source is checked for pile-up (UKSSDC: ~0.6 PC, ~100 WT)
PILEUP_THRESHOLD = {"PC": 0.6, "WT": 100.0}

#: default radial bin edges (pixels): one-pixel rings in the core, wider in the wings
DEFAULT_EDGES = np.array(
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 14, 17, 20, 25, 30, 40, 50, 65, 80, 100, 120, 140],
    dtype=float,
)


@dataclass
class RadialProfile:
    """Counts in rings around a source with the pixel-integrated PSF model of each ring.

    Attributes
    ----------
    edges : numpy.ndarray
        Ring edges (pixels; a pixel belongs to a ring by the distance of its centre).
    counts : numpy.ndarray
        Events per ring.
    npix : numpy.ndarray
        Pixels per ring (exposed pixels, when a mask is given).
    psf : numpy.ndarray
        Fraction of the source's photons expected in each ring (PSF integrated over its pixels).
    exposure : float
        Exposure (s) of the events.
    """

    edges: np.ndarray
    counts: np.ndarray
    npix: np.ndarray
    psf: np.ndarray
    exposure: float

    @property
    def r_mid(self) -> np.ndarray:
        """Ring mid radii (pixels)."""
        return 0.5 * (self.edges[:-1] + self.edges[1:])


def _pixel_psf(
    center: tuple[float, float],
    r_max: float,
    energy_keV: float,
    offaxis_arcmin: float,
    oversample: int,
    psf_coefficients=None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Pixel x, y, centre distance and PSF fraction of every pixel within ``r_max``."""
    cx, cy = center
    half = int(np.ceil(r_max)) + 1
    ix = np.arange(int(np.floor(cx + 0.5)) - half, int(np.floor(cx + 0.5)) + half + 1)
    iy = np.arange(int(np.floor(cy + 0.5)) - half, int(np.floor(cy + 0.5)) + half + 1)
    gx, gy = np.meshgrid(ix, iy, indexing="ij")
    r = np.hypot(gx - cx, gy - cy)
    sel = r < r_max
    gx, gy, r = gx[sel], gy[sel], r[sel]
    # sub-pixel centres: the PSF is steep within the central pixels; in the wings the mean over
    # a pixel differs from the centre value by ~ n^2 / (24 r^2) for a profile r^-n (King: n ~ 3),
    # so the wings (most of the pixels) are sampled coarser: 2 x 2 samples from 12 pixels, the
    # centre alone from 30; the rings' PSF fractions change by < 4e-4 (and the core not at all)
    mass = np.empty(gx.size)
    chunk = 20000
    for r_lo, r_hi, n_sub in ((0.0, 12.0, oversample), (12.0, 30.0, 2), (30.0, np.inf, 1)):
        n_sub = min(n_sub, oversample)
        sub = (np.arange(n_sub) + 0.5) / n_sub - 0.5
        sx, sy = (a.ravel() for a in np.meshgrid(sub, sub, indexing="ij"))
        zone = np.flatnonzero((r >= r_lo) & (r < r_hi))
        for a in range(0, zone.size, chunk):
            idx = zone[a : a + chunk]
            dx = gx[idx, None] + sx[None, :] - cx
            dy = gy[idx, None] + sy[None, :] - cy
            rr = np.hypot(dx, dy) * PIXEL_ARCMIN
            dens = psf_profile(rr, energy_keV, offaxis_arcmin, psf_coefficients)
            mass[idx] = dens.mean(axis=1) * PIXEL_ARCMIN**2
    return gx, gy, r, mass


def radial_profile(
    x: np.ndarray,
    y: np.ndarray,
    center: tuple[float, float],
    exposure: float,
    edges: np.ndarray | None = None,
    *,
    energy_keV: float = 1.5,
    offaxis_arcmin: float = 0.0,
    exposed: np.ndarray | None = None,
    oversample: int = 8,
    psf_coefficients=None,
) -> RadialProfile:
    """Radial profile of events (integer pixel ``x``, ``y``) around ``center`` with its PSF model.

    Parameters
    ----------
    x, y : numpy.ndarray
        Event pixel coordinates (sky pixels; pixel ``k`` covers ``[k - 0.5, k + 0.5)``).
    center : (float, float)
        Source position in the same pixel coordinates.
    exposure : float
        Exposure (s).
    edges : numpy.ndarray, optional
        Ring edges in pixels (default :data:`DEFAULT_EDGES`).
    energy_keV, offaxis_arcmin : float
        Where the PSF is evaluated (the XRT PSF barely changes with energy).
    exposed : callable, optional
        ``exposed(px, py) -> bool array``: pixels to use (e.g. not on a bad column); others are
        left out of both the counts and the model.
    """
    edges = DEFAULT_EDGES if edges is None else np.asarray(edges, float)
    gx, gy, r, mass = _pixel_psf(
        center, edges[-1], energy_keV, offaxis_arcmin, oversample, psf_coefficients
    )
    ok = np.ones(gx.size, bool) if exposed is None else np.asarray(exposed(gx, gy), bool)
    ring = np.searchsorted(edges, r, side="right") - 1
    nb = edges.size - 1
    use = ok & (ring >= 0) & (ring < nb)
    npix = np.bincount(ring[use], minlength=nb)[:nb].astype(float)
    psf = np.bincount(ring[use], weights=mass[use], minlength=nb)[:nb]
    x = np.asarray(x)
    y = np.asarray(y)
    er = np.hypot(x - center[0], y - center[1])
    eok = np.ones(x.size, bool) if exposed is None else np.asarray(exposed(x, y), bool)
    ering = np.searchsorted(edges, er, side="right") - 1
    euse = eok & (ering >= 0) & (ering < nb)
    counts = np.bincount(ering[euse], minlength=nb)[:nb].astype(float)
    return RadialProfile(edges=edges, counts=counts, npix=npix, psf=psf, exposure=float(exposure))


@dataclass(frozen=True)
class ProfileFit:
    """PSF + flat background fitted to the rings outside ``r_in``."""

    r_in: float
    source_counts: float  # total source counts (whole PSF) the wings imply
    background_per_pixel: float
    deviance: float
    dof: int
    p_value: float


def fit_profile(profile: RadialProfile, r_in: float = 0.0, n_iter: int = 500) -> ProfileFit:
    """Poisson fit of ``S * psf + B * npix`` to the rings with inner edge >= ``r_in``.

    EM iterations (each ring's counts shared between source and background in proportion to the
    current model) converge to the maximum-likelihood ``S, B >= 0``.
    """
    from scipy.special import chdtrc  # chi^2 survival function (scipy.stats costs ~1 s to import)

    use = (profile.edges[:-1] >= r_in - 1e-9) & (profile.npix > 0)
    n, m, a = profile.counts[use], profile.psf[use], profile.npix[use]
    if n.size < 3:
        raise ValueError(f"too few radial bins outside r_in = {r_in} pixels to fit the PSF")
    s = max(n.sum() * 0.5 / max(m.sum(), 1e-12), 1e-9)
    b = max(n.sum() * 0.5 / a.sum(), 1e-12)
    for _ in range(n_iter):
        mu = s * m + b * a
        ratio = np.where(mu > 0, n / mu, 0.0)
        s_new = s * np.sum(ratio * m) / np.sum(m)
        b_new = b * np.sum(ratio * a) / np.sum(a)
        done = abs(s_new - s) <= 1e-10 * s + 1e-12 and abs(b_new - b) <= 1e-10 * b + 1e-15
        s, b = s_new, b_new
        if done:
            break
    mu = s * m + b * a
    with np.errstate(divide="ignore", invalid="ignore"):
        dev = 2.0 * np.sum(mu - n + np.where(n > 0, n * np.log(n / mu), 0.0))
    dof = int(n.size - 2)
    return ProfileFit(float(r_in), float(s), float(b), float(dev), dof, float(chdtrc(dof, dev)))


def _inner_deficit_p(profile: RadialProfile, r_in: float, width: float) -> float:
    """One-sided Poisson probability of the counts in ``[r_in, r_in + width)`` or fewer, given
    the PSF + background fitted outside that zone (small = the zone is piled up)."""
    from scipy.special import pdtr  # Poisson CDF

    lo = profile.edges[:-1]
    zone = (lo >= r_in - 1e-9) & (lo < r_in + width - 1e-9)
    try:
        outer = fit_profile(profile, r_in + width)
    except ValueError:
        return 1.0
    mu = outer.source_counts * profile.psf[zone].sum() + outer.background_per_pixel * (
        profile.npix[zone].sum()
    )
    return float(pdtr(profile.counts[zone].sum(), mu))


def excision_radius(
    profile: RadialProfile,
    p_min: float = 0.0,
    max_r_in: float = 20.0,
    zone_width: float = 3.0,
    deficit_p_min: float = 0.1,
    margin: float = 1.0,
) -> tuple[ProfileFit, list[ProfileFit]]:
    """Smallest ring edge ``r_in`` outside which the profile is the PSF's.

    From ``r_in = 0`` outwards, the first radius where the rings just outside ``r_in`` (a zone
    ``zone_width`` pixels wide, where residual pile-up would be) hold no significant deficit
    against the PSF + background fitted to the rings beyond them (one-sided Poisson
    ``p >= deficit_p_min``) and, optionally, the fit to every ring outside ``r_in`` is acceptable
    (deviance ``p >= p_min``). The zone test is what keeps the excised radius from stopping where
    pile-up is still a few per cent (a global fit is diluted by the many wing rings); the global
    test is off by default (``p_min = 0``) because a small mismatch of the PSF shape in the wings
    (attitude blur, the PSF's energy dependence) would otherwise excise the core of a source that
    is not piled up (seen on the HEASoft reference simulations, 0.7 count/s, no pile-up: global
    p ~ 0.04 at every radius); on the piled-up simulations both choices give the same radii. The excised radius is then the
    first ring edge at least ``margin`` pixels further out (when anything is excised): on simulations (``xrtflow.simulate.
    pileup``, 2-8 count/s, seeds 1-14) the first radius passing both tests still leaves a ~1%
    loss in the annulus (the ring just outside it is piled up by a few per cent, below the tests'
    sensitivity); one more pixel removes it (mean bias -0.2% on seeds not used to choose it).

    Returns the fit outside the excised radius and every fit tried.
    """
    tried = []
    for r_in in profile.edges[:-1]:
        if r_in > max_r_in:
            break
        fit = fit_profile(profile, r_in)
        tried.append(fit)
        if fit.p_value >= p_min and _inner_deficit_p(profile, r_in, zone_width) >= deficit_p_min:
            if margin > 0 and r_in > 0:  # nothing excised: no margin either
                edges = profile.edges[:-1]
                r_final = edges[np.searchsorted(edges, r_in + margin - 1e-9)]
                fit = fit_profile(profile, r_final)
                tried.append(fit)
            return fit, tried
    raise ValueError(
        f"the PSF does not fit the radial profile outside any radius up to {max_r_in} pixels "
        f"(last p = {tried[-1].p_value:.2g}): not a point source, or a wrong source position?"
    )


def annulus_arf_factor(
    energy_keV: np.ndarray,
    r_in_arcmin: float,
    r_out_arcmin: float,
    offaxis_arcmin: float,
    psf_coefficients=None,
) -> np.ndarray:
    """Factor from a circle's ARF (radius ``r_out``) to the annulus ``r_in``-``r_out`` ARF.

    The analytic King-profile fractions of :mod:`xrtflow.calibration`; a pixel-integrated PSF
    fraction can replace them where the inner radius is only a few pixels.
    """
    ann = psf_annulus_fraction(
        r_in_arcmin, r_out_arcmin, energy_keV, offaxis_arcmin, psf_coefficients
    )
    circ = psf_annulus_fraction(0.0, r_out_arcmin, energy_keV, offaxis_arcmin, psf_coefficients)
    return np.where(circ > 0, ann / circ, 0.0)


@dataclass
class PileupAssessment:
    """Whether a source is piled up and how to extract it (radii in pixels)."""

    mode: str
    threshold: float
    measured_rate: float  # background-subtracted count/s in the source circle, as observed
    piled: bool
    r_in: float  # excised core radius (0 when not piled)
    r_out: float
    annulus_counts: float
    annulus_background: float
    annulus_psf_fraction: float  # pixel-integrated
    annulus_psf_fraction_analytic: float  # King profile, exact annulus (what an ARF uses)
    corrected_rate: float  # (annulus counts - background) / (PSF fraction x exposure)
    corrected_rate_interval: tuple[float, float]  # 90%
    profile_rate: float  # source counts of the accepted profile fit / exposure
    fits: list[ProfileFit] = field(default_factory=list)

    @property
    def r_in_arcsec(self) -> float:
        return self.r_in * PIXEL_ARCMIN * 60.0


def assess_pileup(
    x: np.ndarray,
    y: np.ndarray,
    center: tuple[float, float],
    exposure: float,
    *,
    mode: str = "PC",
    threshold: float | None = None,
    r_out: float = 30.0,
    energy_keV: float = 1.5,
    offaxis_arcmin: float = 0.0,
    p_min: float = 0.0,
    edges: np.ndarray | None = None,
    exposed=None,
) -> PileupAssessment:
    """Check a source for pile-up and, when piled up, find the annulus and correct its rate.

    Parameters
    ----------
    x, y : numpy.ndarray
        Event pixel coordinates (already filtered in energy and grade as for the products).
    center : (float, float)
        Source position (pixels).
    exposure : float
        Exposure (s).
    mode : {"PC", "WT"}
        Sets the default threshold (:data:`PILEUP_THRESHOLD`).
    threshold : float, optional
        Count rate (count/s) above which the profile is analysed (``pileup.threshold``).
    r_out : float
        Outer radius of the source region (pixels).
    """
    from scipy.special import chdtri  # inverse chi^2 survival function: ppf(q) = chdtri(k, 1-q)

    mode = mode.upper()
    if threshold is None:
        if mode not in PILEUP_THRESHOLD:
            raise ValueError(f"mode {mode!r}: pile-up thresholds are known for PC and WT only")
        threshold = PILEUP_THRESHOLD[mode]
    prof = radial_profile(
        x,
        y,
        center,
        exposure,
        edges,
        energy_keV=energy_keV,
        offaxis_arcmin=offaxis_arcmin,
        exposed=exposed,
    )
    full = fit_profile(prof, 0.0)  # background level from the wings, whatever the core does
    inner = prof.edges[1:] <= r_out + 1e-9
    src_counts = prof.counts[inner].sum() - full.background_per_pixel * prof.npix[inner].sum()
    measured = src_counts / exposure
    piled = measured > threshold
    if piled:
        accepted, tried = excision_radius(prof, p_min=p_min)
        r_in = accepted.r_in
    else:
        accepted, tried, r_in = full, [full], 0.0
    ann = (prof.edges[:-1] >= r_in - 1e-9) & inner
    n_ann = prof.counts[ann].sum()
    b_ann = accepted.background_per_pixel * prof.npix[ann].sum()
    frac = prof.psf[ann].sum()
    frac_an = float(
        psf_annulus_fraction(r_in * PIXEL_ARCMIN, r_out * PIXEL_ARCMIN, energy_keV, offaxis_arcmin)
    )
    net = n_ann - b_ann
    # 90% interval of the Poisson mean of the annulus counts (chi^2 form, Gehrels 1986 exact)
    lo = 0.5 * chdtri(2 * n_ann, 0.95) if n_ann > 0 else 0.0
    hi = 0.5 * chdtri(2 * (n_ann + 1), 0.05)
    scale = 1.0 / (frac * exposure)
    return PileupAssessment(
        mode=mode,
        threshold=float(threshold),
        measured_rate=float(measured),
        piled=bool(piled),
        r_in=float(r_in),
        r_out=float(r_out),
        annulus_counts=float(n_ann),
        annulus_background=float(b_ann),
        annulus_psf_fraction=float(frac),
        annulus_psf_fraction_analytic=frac_an,
        corrected_rate=float(net * scale),
        corrected_rate_interval=(float((lo - b_ann) * scale), float((hi - b_ann) * scale)),
        profile_rate=float(accepted.source_counts / exposure),
        fits=tried,
    )


def assess_pileup_events(
    events,
    ra: float,
    dec: float,
    *,
    mode: str | None = None,
    threshold: float | None = None,
    r_out_arcsec: float = 180.0,
    pilow: int = 30,
    pihigh: int = 1000,
    max_grade: int = 12,
    exposure_map: np.ndarray | None = None,
    offaxis_arcmin: float = 0.0,
    p_min: float = 0.0,
) -> PileupAssessment:
    """:func:`assess_pileup` on a cleaned event file (an :class:`~xrtflow.products.events.EventList`).

    Events are selected as for the products (``pilow <= PI <= pihigh``, ``GRADE <= max_grade``);
    the source position comes from ``ra``/``dec`` through the events' sky WCS; the mode from the
    ``DATAMODE`` keyword (``PHOTON`` = PC, ``WINDOWED`` = WT) unless given. With an exposure map
    (sky image, seconds) the pixels it does not expose (bad columns, the field edge) are left out
    of the profile and of its PSF model.
    """
    if mode is None:
        datamode = str(events.header.get("DATAMODE", "PHOTON")).upper()
        mode = "WT" if datamode.startswith("WINDOW") else "PC"
    sx, sy = events.wcs.world_to_pixel_values(ra, dec)
    center = (float(sx) + 1.0, float(sy) + 1.0)  # X/Y columns are 1-based sky pixels
    sel = (events.pi >= pilow) & (events.pi <= pihigh) & (events.grade <= max_grade)
    exposed = None
    if exposure_map is not None:
        emap = np.asarray(exposure_map, float)

        def exposed(px, py):
            ix, iy = np.asarray(px, np.int64) - 1, np.asarray(py, np.int64) - 1
            ok = (ix >= 0) & (iy >= 0) & (ix < emap.shape[1]) & (iy < emap.shape[0])
            out = np.zeros(ix.shape, bool)
            out[ok] = emap[iy[ok], ix[ok]] > 0
            return out

    r_out = r_out_arcsec / 60.0 / PIXEL_ARCMIN
    edges = DEFAULT_EDGES if r_out <= DEFAULT_EDGES[-1] else np.append(DEFAULT_EDGES, 1.5 * r_out)
    return assess_pileup(
        events.x[sel],
        events.y[sel],
        center,
        events.exposure,
        mode=mode,
        threshold=threshold,
        r_out=r_out,
        offaxis_arcmin=offaxis_arcmin,
        p_min=p_min,
        edges=edges,
        exposed=exposed,
    )


def excision_region(ra: float, dec: float, assessment: PileupAssessment) -> str:
    """DS9 fk5 source region for the assessment: a circle, or the annulus when piled up.

    Sizes carry units (arcsec): CFITSIO reads unit-less sizes in fk5 regions as pixels.
    """
    r_out = assessment.r_out * PIXEL_ARCMIN * 60.0
    head = "# Region file format: DS9\nfk5\n"
    if assessment.r_in > 0:
        return head + f'annulus({ra:.8f},{dec:.8f},{assessment.r_in_arcsec:.2f}",{r_out:.2f}")\n'
    return head + f'circle({ra:.8f},{dec:.8f},{r_out:.2f}")\n'


def write_excised_arf(
    arf_in: str | Path,
    arf_out: str | Path,
    r_in_arcmin: float,
    r_out_arcmin: float,
    offaxis_arcmin: float,
) -> Path:
    """Copy the ARF of a circle (radius ``r_out``) as the ARF of the annulus ``r_in``-``r_out``.

    ``SPECRESP`` is multiplied by :func:`annulus_arf_factor` at each bin's mean energy (the
    excised core's PSF fraction is removed; everything else -- vignetting, bad pixels -- kept).
    """
    from astropy.io import fits

    with fits.open(arf_in, memmap=False) as hdul:
        hdul = fits.HDUList([h.copy() for h in hdul])
    hdu = hdul["SPECRESP"] if "SPECRESP" in hdul else hdul[1]
    d = hdu.data
    e_mid = 0.5 * (np.asarray(d["ENERG_LO"], float) + np.asarray(d["ENERG_HI"], float))
    d["SPECRESP"] = d["SPECRESP"] * annulus_arf_factor(
        e_mid, r_in_arcmin, r_out_arcmin, offaxis_arcmin
    )
    hdu.header["PILEUP"] = (True, "core excised against pile-up")
    hdu.header["EXCL_RIN"] = (r_in_arcmin * 60.0, "[arcsec] excised core radius")
    hdu.header.add_history(
        f"xrtflow.products.pileup: annulus {r_in_arcmin * 60:.2f}-{r_out_arcmin * 60:.2f} arcsec"
    )
    arf_out = Path(arf_out)
    hdul.writeto(arf_out, overwrite=True)
    return arf_out
