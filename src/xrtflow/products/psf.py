"""PSF fraction of a region on the sky-pixel grid, the way ``xrtmkarf`` (``psfflag=yes``) counts it.

These are the conventions of HEASoft's ``xrtmkarf`` 0.6.3 (HEASoft 6.20), read from its help page
and its source, and checked against its ARFs in ``../shared/reference/heasoft-products`` (equal
to 3e-6):

* **PSF model.** The CALDB coefficient table (``PC_PSF_COEF``/``WT_PSF_COEF``, rows
  ``P0..P3``) gives, for off-axis angle :math:`\\theta` and energy :math:`E`,
  :math:`c_k = COEF0_k + COEF1_k\\,t + COEF2_k\\,e + COEF3_k\\,t\\,e` with
  :math:`t = \\theta / 0.1'` and :math:`e = E / 0.1\\,keV` (``xrtmkarf``'s steps ``stoff`` and
  ``stene``; ``xrtlccorr`` instead uses arcmin and keV). The surface brightness in sky pixels is
  :math:`c_0 \\exp(-r^2 / 2c_1^2) + (1 - c_0) (1 + r^2/c_2^2)^{-c_3}` (weights on amplitudes,
  not on fluxes), whose total is :math:`2\\pi c_0 c_1^2 + \\pi c_2^2 (1-c_0)/(c_3-1)`.
* **Pixel grid.** Every sky pixel ``(X, Y)`` (integer centres) goes into the one-pixel ring
  :math:`k = \\lfloor d + 1/2 \\rfloor` by its distance :math:`d` to the source position. The
  ring weight :math:`w_k` is the sum of the region's pixels' relative exposure (exposure map
  divided by its maximum; pixels with no exposure do not count) divided by the number of
  pixels of the whole ring. The fraction is
  :math:`\\sum_k [F(k + 1/2) - F(k - 1/2)]\\, w_k / F(\\infty)`, :math:`F` the encircled flux
  (:math:`F(-1/2) = 0`). So bad columns, the CCD edge and the region's pixelisation lower the
  fraction exactly as in ``xrtmkarf``; an annulus (pile-up excision) simply has empty inner rings.
* **Off-axis angle.** From the source position to the optical axis, which is the nominal
  pointing (``RA_PNT``, ``DEC_PNT``) projected (zenithal equidistant, about the sky reference
  ``CRVAL1/2``) on the 1000 x 1000 sky grid centred at 500.5, times 2.36"/pixel (``PXL_S``).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from xrtflow.calibration import PIXEL_DEG, PsfCoefficients, psf_coefficient_table

__all__ = [
    "XRTMKARF_PIXEL_ARCSEC",
    "XRTMKARF_OFFAXIS_STEP",
    "XRTMKARF_ENERGY_STEP",
    "SKY_SIZE",
    "optical_axis_sky",
    "offaxis_arcmin",
    "ring_weights",
    "king_gauss_parameters",
    "encircled_flux",
    "ring_psf_fraction",
]

#: Pixel size (arcsec) ``xrtmkarf`` and ``xrtexpocorr`` use for off-axis angles (``PXL_S``).
XRTMKARF_PIXEL_ARCSEC = 2.36
#: Units of the off-axis angle (arcmin) and energy (keV) in ``xrtmkarf``'s PSF coefficients.
XRTMKARF_OFFAXIS_STEP = 0.1
XRTMKARF_ENERGY_STEP = 0.1
#: Sky grid size of the XRT event files (``SIZE_X``/``SIZE_Y``); its centre is 500.5.
SKY_SIZE = 1000


def optical_axis_sky(
    ra_pnt: float, dec_pnt: float, crval1: float, crval2: float, size: int = SKY_SIZE
) -> tuple[float, float]:
    """1-based sky pixel of the nominal pointing, as ``xrtmkarf`` places the optical axis.

    Zenithal-equidistant offsets of ``(ra_pnt, dec_pnt)`` from the sky reference
    ``(crval1, crval2)`` in pixels of :data:`~xrtflow.calibration.PIXEL_DEG`, X increasing
    eastwards-negative (RA decreases with X), added to the grid centre ``size / 2 + 0.5``.
    """
    d2r = np.pi / 180.0
    dra = (crval1 - ra_pnt) * d2r
    if crval1 - ra_pnt < -300.0:  # wrap at RA = 0
        dra = (crval1 + 360.0 - ra_pnt) * d2r
    dec, dec0 = dec_pnt * d2r, crval2 * d2r
    cos_rho = np.sin(dec) * np.sin(dec0) + np.cos(dec) * np.cos(dec0) * np.cos(dra)
    rho = float(np.arccos(min(cos_rho, 1.0)))
    centre = size / 2.0 + 0.5
    if rho == 0.0:
        return centre, centre
    scale = rho / np.sin(rho) / d2r / PIXEL_DEG
    dx = scale * np.cos(dec) * np.sin(dra)
    dy = scale * (np.sin(dec) * np.cos(dec0) - np.cos(dec) * np.sin(dec0) * np.cos(dra))
    return float(dx + centre), float(dy + centre)


def offaxis_arcmin(src_x: float, src_y: float, axis_x: float, axis_y: float) -> float:
    """Off-axis angle (arcmin) between two 1-based sky pixels, at ``xrtmkarf``'s 2.36"/pixel."""
    return float(np.hypot(src_x - axis_x, src_y - axis_y) * XRTMKARF_PIXEL_ARCSEC / 60.0)


def ring_weights(
    region_mask: np.ndarray, relative_exposure: np.ndarray | None, src_x: float, src_y: float
) -> np.ndarray:
    """Mean relative exposure of the region in every one-pixel ring around the source.

    Parameters
    ----------
    region_mask : (ny, nx) bool array
        Sky pixels of the region (``mask[j, i]`` is pixel ``X = i + 1``, ``Y = j + 1``).
    relative_exposure : (ny, nx) array or None
        Exposure map divided by its maximum; ``None`` for a flat map (all 1).
    src_x, src_y : float
        1-based sky pixel of the source.

    Returns
    -------
    numpy.ndarray
        ``w[k]`` for rings ``k = 0 .. kmax`` (``k = floor(d + 1/2)``): the sum of the relative
        exposure of the region's exposed pixels in ring ``k`` over the number of all pixels
        (inside the region or not) of ring ``k``.
    """
    jj, ii = np.nonzero(region_mask)
    if len(ii) == 0:
        return np.zeros(1)
    x, y = ii + 1.0, jj + 1.0
    d = np.hypot(x - src_x, y - src_y)
    ring = np.floor(d + 0.5).astype(np.int64)
    nring = int(ring.max()) + 1
    if relative_exposure is None:
        value = np.ones(len(ii))
    else:
        value = np.asarray(relative_exposure, float)[jj, ii]
    good = value > 0  # xrtmkarf counts only exposed pixels (mask > 0)
    wsum = np.bincount(ring[good], weights=value[good], minlength=nring)[:nring]
    # number of integer-centred pixels of every ring over the whole plane (not only the image)
    half = float(nring) + 1.0
    gx = np.arange(np.floor(src_x - half), np.floor(src_x + half) + 1.0)
    gy = np.arange(np.floor(src_y - half), np.floor(src_y + half) + 1.0)
    gring = np.floor(np.hypot(gx[None, :] - src_x, gy[:, None] - src_y) + 0.5).astype(np.int64)
    circ = np.bincount(gring[gring < nring], minlength=nring).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(circ > 0, wsum / circ, 0.0)


def king_gauss_parameters(
    energy_keV: ArrayLike,
    offaxis_arcmin: ArrayLike,
    coefficients: PsfCoefficients | ArrayLike | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``c0`` (Gaussian amplitude), ``c1`` (sigma, pixels), ``c2`` (King r_c, pixels), ``c3`` (beta).

    Evaluated as ``xrtmkarf`` does, with the off-axis angle in units of 0.1 arcmin and the energy
    in units of 0.1 keV (module notes).
    """
    c = psf_coefficient_table(coefficients)
    t = np.asarray(offaxis_arcmin, float) / XRTMKARF_OFFAXIS_STEP
    e = np.asarray(energy_keV, float) / XRTMKARF_ENERGY_STEP
    p = [c[k, 0] + t * c[k, 1] + e * c[k, 2] + t * e * c[k, 3] for k in range(4)]
    return p[0], p[1], p[2], p[3]


def encircled_flux(
    r_pix: ArrayLike, c0: ArrayLike, c1: ArrayLike, c2: ArrayLike, c3: ArrayLike
) -> np.ndarray:
    """Flux of ``c0 exp(-r^2/2c1^2) + (1-c0)(1+r^2/c2^2)^-c3`` within ``r_pix`` (all broadcast)."""
    r = np.asarray(r_pix, float)
    gauss = 2.0 * np.pi * c0 * c1**2 * (1.0 - np.exp(-0.5 * (r / c1) ** 2))
    king = np.pi * c2**2 * (1.0 - c0) / (1.0 - c3) * ((1.0 + (r / c2) ** 2) ** (1.0 - c3) - 1.0)
    return gauss + king


def ring_psf_fraction(
    weights: np.ndarray,
    energy_keV: ArrayLike,
    offaxis: float,
    coefficients: PsfCoefficients | ArrayLike | None = None,
) -> np.ndarray:
    """PSF fraction per energy from :func:`ring_weights` (``xrtmkarf``'s PSF correction).

    Raises
    ------
    ValueError
        The coefficients give a King slope of 1 or a zero core radius/sigma (no finite flux).
    """
    energy = np.atleast_1d(np.asarray(energy_keV, float))
    c0, c1, c2, c3 = king_gauss_parameters(energy, offaxis, coefficients)
    if np.any(c3 == 1.0) or np.any(c2 == 0.0) or np.any(c1 == 0.0):
        raise ValueError("PSF coefficients give beta = 1 or a zero radius: no finite PSF flux")
    total = 2.0 * np.pi * c0 * c1**2 + np.pi * c2**2 * (1.0 - c0) / (c3 - 1.0)
    edges = np.arange(len(weights)) + 0.5  # outer radius of every ring
    cum = encircled_flux(edges[None, :], c0[:, None], c1[:, None], c2[:, None], c3[:, None])
    ring_flux = np.diff(cum, axis=1, prepend=0.0)
    out = ring_flux @ np.asarray(weights, float) / total
    return out if np.ndim(energy_keV) else out[0]
