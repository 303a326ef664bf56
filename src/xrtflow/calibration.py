"""Swift-XRT point spread function and vignetting formulas (shared by the simulator and the ARF maker).

Both are analytic parameterisations stored in the XRT CALDB as small coefficient tables:

* **PSF** (CALDB ``swxpsf20010101v004``, extension ``PC_PSF_COEF`` or ``PSF_COEF``; Moretti et al. 2005, SPIE 5898, 360):
  a Gaussian plus a King profile,

  .. math::

      PSF(r) = P_0 \\, G(r; \\sigma=P_1) + (1 - P_0) \\, K(r; r_c=P_2, \\beta=P_3),

  where every parameter depends linearly on off-axis angle :math:`\\theta` (arcmin) and energy
  :math:`E` (keV), exactly as documented in the CALDB file's header::

      P_i = COEF0 + COEF1 * theta + COEF2 * E + COEF3 * E * theta

  :math:`\\sigma` and :math:`r_c` are in detector pixels (2.357"). With the v004 numbers the
  Gaussian weight is zero, so the PSF is a pure King profile with :math:`r_c \\approx 5.5''`,
  :math:`\\beta \\approx 1.53` (half-energy width ~18", 90% of the photons within 20 pixels).
* **Vignetting** (CALDB ``swxvign20010101v001``, extension ``VIG_COEF``):
  :math:`V(E, \\theta) = 1 - (PAR0 \\cdot PAR1^{E} + PAR2)\\, \\theta^2`, :math:`\\theta` in arcmin.

The coefficient values below are published calibration facts copied from those CALDB files; the
files themselves are *not* needed (``read_psf_coefficients`` / ``read_vignetting_coefficients``
read either the real files or the ones :mod:`xrtflow.simulate` writes).

Units of the PSF coefficients: this module (and so the simulator) reads the table with
:math:`\\theta` in arcmin and :math:`E` in keV, as the header says and as ``xrtlccorr`` does;
``xrtmkarf`` (0.6.3, HEASoft 6.20) evaluates it with :math:`\\theta / 0.1'` and
:math:`E / 0.1\\,keV` and weights the Gaussian by amplitude, not flux.
:mod:`xrtflow.products.psf` follows ``xrtmkarf`` so that the native ARF equals HEASoft's. The
extension is ``PC_PSF_COEF``/``WT_PSF_COEF`` in the CALDB files ``xrtmkarf`` reads, ``PSF_COEF``
in older and simulated ones; :func:`read_psf_coefficients` accepts both.

Normalisation: :func:`psf_profile` is a surface density normalised to unit integral over the
whole plane (per arcmin^2); :func:`psf_encircled_fraction` is its exact (closed-form) integral
within a radius, so ``psf_encircled_fraction(inf) == 1``.
"""

from __future__ import annotations

from dataclasses import dataclass
from os import PathLike

import numpy as np
from numpy.typing import ArrayLike

#: Swift-XRT sky/detector pixel size in degrees and arcsec (TCDLT of the X/Y columns).
PIXEL_DEG = 6.548089e-4
PIXEL_ARCSEC = PIXEL_DEG * 3600.0
PIXEL_ARCMIN = PIXEL_DEG * 60.0


@dataclass(frozen=True)
class PsfCoefficients:
    """PSF coefficient table: ``table[i, j]`` is ``COEFj`` of parameter ``Pi`` (4 x 4).

    Rows: P0 = Gaussian weight, P1 = Gaussian sigma (pixels), P2 = King core radius (pixels),
    P3 = King slope beta. Columns: constant, off-axis (arcmin), energy (keV), energy * off-axis.
    """

    table: tuple[tuple[float, float, float, float], ...]
    source: str = ""

    def as_array(self) -> np.ndarray:
        return np.asarray(self.table, dtype=float)


@dataclass(frozen=True)
class VignettingCoefficients:
    """Vignetting coefficients ``PAR0, PAR1, PAR2`` of ``1 - (PAR0 * PAR1**E + PAR2) * theta**2``."""

    par0: float
    par1: float
    par2: float
    source: str = ""


#: Swift-XRT CALDB swxpsf20010101v004 (PSF_COEF rows P0..P3, columns COEF0..COEF3).
SWIFT_XRT_PSF = PsfCoefficients(
    table=(
        (0.0, 0.0, 0.0, 0.0),
        (1.0, 1.0, 1.0, 1.0),
        (2.34732, -3.33966e-03, -8.40089e-04, 2.52944e-04),
        (1.52877, 7.65975e-04, -2.94131e-04, 3.72197e-05),
    ),
    source="Swift-XRT CALDB swxpsf20010101v004 (Moretti et al. 2005)",
)

#: Swift-XRT CALDB swxvign20010101v001 (VIG_COEF PAR0, PAR1, PAR2).
SWIFT_XRT_VIGNETTING = VignettingCoefficients(
    par0=1.24799e-4,
    par1=1.55219,
    par2=1.85628e-3,
    source="Swift-XRT CALDB swxvign20010101v001",
)


def psf_coefficient_table(coefficients: PsfCoefficients | ArrayLike | None) -> np.ndarray:
    """The 4 x 4 coefficient table (rows P0..P3, columns COEF0..COEF3); default v004."""
    if coefficients is None:
        coefficients = SWIFT_XRT_PSF
    if isinstance(coefficients, PsfCoefficients):
        return coefficients.as_array()
    table = np.asarray(coefficients, dtype=float)
    if table.shape != (4, 4):
        raise ValueError(
            f"PSF coefficient table must be 4x4 (P0..P3 x COEF0..3), got {table.shape}"
        )
    return table


def psf_parameters(
    energy_keV: ArrayLike,
    offaxis_arcmin: ArrayLike,
    coefficients: PsfCoefficients | ArrayLike | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Gaussian weight, Gaussian sigma, King core radius (both arcmin) and King beta.

    Parameters
    ----------
    energy_keV, offaxis_arcmin : array_like
        Photon energy (keV) and off-axis angle (arcmin); broadcast together.
    coefficients : PsfCoefficients or (4, 4) array, optional
        Defaults to :data:`SWIFT_XRT_PSF`.

    Returns
    -------
    weight, sigma_arcmin, rc_arcmin, beta : numpy.ndarray
    """
    c = psf_coefficient_table(coefficients)
    e = np.asarray(energy_keV, dtype=float)
    t = np.asarray(offaxis_arcmin, dtype=float)
    p = [c[i, 0] + c[i, 1] * t + c[i, 2] * e + c[i, 3] * e * t for i in range(4)]
    weight = np.clip(p[0], 0.0, 1.0)
    sigma = np.abs(p[1]) * PIXEL_ARCMIN
    rc = np.abs(p[2]) * PIXEL_ARCMIN
    beta = p[3]
    return weight, sigma, rc, beta


def psf_profile(
    r_arcmin: ArrayLike,
    energy_keV: ArrayLike,
    offaxis_arcmin: ArrayLike,
    coefficients: PsfCoefficients | ArrayLike | None = None,
) -> np.ndarray:
    """PSF surface density (fraction of photons per arcmin^2) at radius ``r_arcmin``.

    Normalised so that its integral over the whole plane is 1. All inputs broadcast.
    """
    r = np.asarray(r_arcmin, dtype=float)
    w, sigma, rc, beta = psf_parameters(energy_keV, offaxis_arcmin, coefficients)
    with np.errstate(divide="ignore", invalid="ignore"):
        gauss = np.where(sigma > 0, np.exp(-0.5 * (r / sigma) ** 2) / (2 * np.pi * sigma**2), 0.0)
    king = (beta - 1.0) / (np.pi * rc**2) * (1.0 + (r / rc) ** 2) ** (-beta)
    return w * gauss + (1.0 - w) * king


def psf_encircled_fraction(
    r_arcmin: ArrayLike,
    energy_keV: ArrayLike,
    offaxis_arcmin: ArrayLike,
    coefficients: PsfCoefficients | ArrayLike | None = None,
) -> np.ndarray:
    """Fraction of a point source's photons within radius ``r_arcmin`` of its position.

    Exact integral of :func:`psf_profile` (Gaussian: ``1 - exp(-r^2/2 sigma^2)``, King:
    ``1 - (1 + r^2/rc^2)^(1 - beta)``); vectorised, all inputs broadcast.
    """
    r = np.asarray(r_arcmin, dtype=float)
    w, sigma, rc, beta = psf_parameters(energy_keV, offaxis_arcmin, coefficients)
    with np.errstate(divide="ignore", invalid="ignore"):
        gauss = np.where(sigma > 0, 1.0 - np.exp(-0.5 * (r / sigma) ** 2), 1.0)
    king = 1.0 - (1.0 + (r / rc) ** 2) ** (1.0 - beta)
    return w * gauss + (1.0 - w) * king


def psf_annulus_fraction(
    r_in_arcmin: ArrayLike,
    r_out_arcmin: ArrayLike,
    energy_keV: ArrayLike,
    offaxis_arcmin: ArrayLike,
    coefficients: PsfCoefficients | ArrayLike | None = None,
) -> np.ndarray:
    """Fraction of a point source's photons between two radii (e.g. a background annulus)."""
    return psf_encircled_fraction(
        r_out_arcmin, energy_keV, offaxis_arcmin, coefficients
    ) - psf_encircled_fraction(r_in_arcmin, energy_keV, offaxis_arcmin, coefficients)


def sample_psf_radius(
    energy_keV: ArrayLike,
    offaxis_arcmin: ArrayLike,
    rng: np.random.Generator,
    coefficients: PsfCoefficients | ArrayLike | None = None,
) -> np.ndarray:
    """Draw one radial offset (arcmin) per photon from the Gaussian + King PSF (inverse CDF).

    Parameters
    ----------
    energy_keV, offaxis_arcmin : array_like
        Per-photon energy and off-axis angle (broadcast; output has the broadcast shape).
    rng : numpy.random.Generator
    coefficients : optional
        PSF coefficient table (default :data:`SWIFT_XRT_PSF`).
    """
    w, sigma, rc, beta = psf_parameters(energy_keV, offaxis_arcmin, coefficients)
    shape = np.broadcast(w, sigma, rc, beta).shape
    use_gauss = rng.random(shape) < w
    u = rng.random(shape)
    r_gauss = sigma * np.sqrt(-2.0 * np.log1p(-u))
    r_king = rc * np.sqrt((1.0 - u) ** (1.0 / (1.0 - beta)) - 1.0)
    return np.where(use_gauss, r_gauss, r_king)


def vignetting(
    energy_keV: ArrayLike,
    offaxis_arcmin: ArrayLike,
    coefficients: VignettingCoefficients | ArrayLike | None = None,
) -> np.ndarray:
    """Swift-XRT vignetting factor ``1 - (PAR0 * PAR1**E + PAR2) * theta**2`` (clipped to [0, 1]).

    Parameters
    ----------
    energy_keV, offaxis_arcmin : array_like
        Energy (keV) and off-axis angle (arcmin); broadcast together.
    coefficients : VignettingCoefficients or sequence of 3 floats, optional
        Defaults to :data:`SWIFT_XRT_VIGNETTING`.
    """
    if coefficients is None:
        coefficients = SWIFT_XRT_VIGNETTING
    if isinstance(coefficients, VignettingCoefficients):
        p0, p1, p2 = coefficients.par0, coefficients.par1, coefficients.par2
    else:
        p0, p1, p2 = (float(v) for v in np.asarray(coefficients, dtype=float).ravel()[:3])
    e = np.asarray(energy_keV, dtype=float)
    t = np.asarray(offaxis_arcmin, dtype=float)
    return np.clip(1.0 - (p0 * p1**e + p2) * t**2, 0.0, 1.0)


#: PSF coefficient extensions by read-out mode: HEASoft >= 6.11 files (``xrtmkarf`` 0.5.9 on) name
#: them ``PC_PSF_COEF``/``WT_PSF_COEF``; older files and the simulated CALDB have ``PSF_COEF``.
PSF_EXTENSIONS = {"PC": ("PC_PSF_COEF", "PSF_COEF"), "WT": ("WT_PSF_COEF", "PSF_COEF")}


def read_psf_coefficients(path: str | PathLike, mode: str = "PC") -> PsfCoefficients:
    """Read a CALDB PSF coefficient file (rows ``P0``..``P3``, columns ``COEF0``..``COEF3``).

    The extension is ``PC_PSF_COEF`` (or ``WT_PSF_COEF`` for ``mode="WT"``) as ``xrtmkarf`` reads
    it, else ``PSF_COEF``.
    """
    from astropy.io import fits

    wanted = PSF_EXTENSIONS.get(str(mode).upper(), PSF_EXTENSIONS["PC"])
    with fits.open(path) as hdul:
        names = [h.name for h in hdul]
        ext = next((e for e in wanted if e in names), None)
        if ext is None:
            raise ValueError(
                f"{path}: no PSF coefficient extension {' or '.join(wanted)} "
                f"(extensions: {names[1:]}); give a Swift-XRT CALDB PSF file"
            )
        data = hdul[ext].data
        rows_by_name = [str(p).strip().upper() for p in data["PAR"]]
        rows = []
        for i in range(4):
            try:
                k = rows_by_name.index(f"P{i}")
            except ValueError:
                raise ValueError(f"{path}: {ext} has no row P{i} (rows: {rows_by_name})") from None
            rows.append(tuple(float(data[f"COEF{j}"][k]) for j in range(4)))
        filename = hdul[ext].header.get("FILENAME", str(path))
    return PsfCoefficients(table=tuple(rows), source=str(filename))


def read_vignetting_coefficients(path: str | PathLike) -> VignettingCoefficients:
    """Read a CALDB vignetting coefficient file (extension ``VIG_COEF``, ``PAR0``..``PAR2``)."""
    from astropy.io import fits

    with fits.open(path) as hdul:
        data = hdul["VIG_COEF"].data
        filename = hdul["VIG_COEF"].header.get("FILENAME", str(path))
        return VignettingCoefficients(
            par0=float(data["PAR0"][0]),
            par1=float(data["PAR1"][0]),
            par2=float(data["PAR2"][0]),
            source=str(filename),
        )
