"""Synthetic Swift-XRT-like response (RMF + on-axis ARF) and a small CALDB-like tree.

Everything written here is labelled SIMULATED in its headers and carries CALDB-style names with
version ``v900`` (``swxpc0to12s6_20010101v900.rmf``), which no real CALDB file uses.

* Energy grid: 2400 bins of 5 eV from 0 to 12 keV (as the real PC RMFs).
* Channels: 1024 PI channels of 10 eV (``E_MIN = 0.01 * channel`` keV).
* Redistribution: a Gaussian with FWHM = 80 eV + 12 eV/keV * E (84 eV at 0.3 keV, 152 eV at
  6 keV) plus a low-energy shoulder (exponential tail below the line holding 3-13% of the events,
  largest at low energy). Stored as one group per row, entries < 1e-6 dropped.
* Effective area: a smooth log-log curve through anchor points resembling the on-axis XRT area
  (mirror x filter x CCD QE) with the C-K (0.284 keV), O-K (0.543 keV), Si-K (1.839 keV) and
  Au-M (2.206 keV) edges; peak ~120 cm^2 near 1.5 keV.
* PSF and vignetting files carry the real Swift-XRT coefficients (see :mod:`xrtflow.calibration`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
from astropy.io import fits
from scipy.special import ndtr

from xrtflow import calibration
from xrtflow.simulate.fitsio import SIMULATED_NOTE, write_fits

N_ENERGY = 2400
ENERGY_MAX_KEV = 12.0
N_CHANNELS = 1024
CHANNEL_KEV = 0.01
MATRIX_THRESHOLD = 1e-6

#: Validity start of every file we write, and their (never real) CALDB version.
CALDB_VSD = "2001-01-01"
CALDB_VERSION = 900

RMF_NAME = f"swxpc0to12s6_20010101v{CALDB_VERSION}.rmf"
ARF_NAME = f"swxpc0to12s6_20010101v{CALDB_VERSION}.arf"
PSF_NAME = f"swxpsf20010101v{CALDB_VERSION}.fits"
VIGN_NAME = f"swxvign20010101v{CALDB_VERSION}.fits"
CALDB_DATE = "2001-01-01T00:00:00"

#: (energy keV, area cm^2) anchors of the synthetic on-axis area; repeated energies are edges.
_AREA_ANCHORS = (
    (0.08, 0.5),
    (0.10, 2.0),
    (0.15, 12.0),
    (0.20, 38.0),
    (0.25, 52.0),
    (0.284, 56.0),
    (0.284, 14.0),  # C K edge (filter / CCD dead layers)
    (0.32, 22.0),
    (0.40, 45.0),
    (0.50, 68.0),
    (0.543, 72.0),
    (0.543, 60.0),  # O K edge
    (0.60, 68.0),
    (0.70, 82.0),
    (0.80, 95.0),
    (1.00, 110.0),
    (1.30, 118.0),
    (1.50, 120.0),
    (1.70, 119.0),
    (1.839, 117.0),
    (1.839, 108.0),  # Si K edge
    (2.00, 108.0),
    (2.206, 104.0),
    (2.206, 88.0),  # Au M5 edge (mirror)
    (2.50, 84.0),
    (3.00, 86.0),
    (4.00, 90.0),
    (5.00, 90.0),
    (6.00, 85.0),
    (7.00, 75.0),
    (8.00, 55.0),
    (9.00, 35.0),
    (10.0, 19.0),
    (11.0, 10.0),
    (12.0, 5.0),
)


def effective_area(energy_keV: np.ndarray) -> np.ndarray:
    """Synthetic on-axis effective area (cm^2) at ``energy_keV`` (0 below 0.08 keV)."""
    e = np.asarray(energy_keV, dtype=float)
    anchors = np.array(_AREA_ANCHORS)
    x = np.log(anchors[:, 0])
    # separate the two points of each edge by a tiny step so np.interp sees increasing x
    x = x + np.arange(len(x)) * 1e-9
    y = np.log(anchors[:, 1])
    with np.errstate(divide="ignore"):
        le = np.log(np.where(e > 0, e, 1e-30))
    area = np.exp(np.interp(le, x, y))
    return np.where(e >= anchors[0, 0], area, 0.0)


def resolution_fwhm(energy_keV: np.ndarray) -> np.ndarray:
    """FWHM (keV) of the synthetic Gaussian redistribution."""
    return 0.080 + 0.012 * np.asarray(energy_keV, dtype=float)


def _shoulder_fraction(e: np.ndarray) -> np.ndarray:
    return 0.03 + 0.10 * np.exp(-e / 0.4)


def _shoulder_scale(e: np.ndarray) -> np.ndarray:
    return 0.10 + 0.05 * e


def _build_matrix(e_lo: np.ndarray, e_hi: np.ndarray, ch_edges: np.ndarray) -> np.ndarray:
    """Dense (n_energy, n_channel) redistribution probabilities, thresholded, float32."""
    e = 0.5 * (e_lo + e_hi)[:, None]
    sigma = resolution_fwhm(e) / (2.0 * np.sqrt(2.0 * np.log(2.0)))
    cdf_g = ndtr((ch_edges[None, :] - e) / sigma)
    gauss = np.diff(cdf_g, axis=1)
    lam = _shoulder_scale(e)
    xe = np.clip(ch_edges[None, :], 0.0, e)
    cdf_s = np.exp((xe - e) / lam)
    shoulder = np.diff(cdf_s, axis=1)
    shoulder /= np.maximum(shoulder.sum(axis=1, keepdims=True), 1e-300)
    gauss /= np.maximum(gauss.sum(axis=1, keepdims=True), 1e-300)
    f = _shoulder_fraction(e)
    matrix = (1.0 - f) * gauss + f * shoulder
    matrix[matrix < MATRIX_THRESHOLD] = 0.0
    return matrix.astype(np.float32)


@dataclass
class SyntheticResponse:
    """The synthetic PC-mode response: energy grid, on-axis area and redistribution matrix.

    Attributes
    ----------
    energ_lo, energ_hi : numpy.ndarray
        Energy bin edges (keV), 2400 bins.
    specresp : numpy.ndarray
        On-axis effective area (cm^2) per energy bin (float32 as written to the ARF).
    matrix : numpy.ndarray
        (2400, 1024) float32 redistribution probabilities (as written to the RMF).
    e_min, e_max : numpy.ndarray
        Channel boundaries (keV).
    """

    energ_lo: np.ndarray
    energ_hi: np.ndarray
    specresp: np.ndarray
    matrix: np.ndarray
    e_min: np.ndarray
    e_max: np.ndarray
    meta: dict = field(default_factory=dict)

    @classmethod
    def build(cls) -> SyntheticResponse:
        """Compute the default synthetic response (deterministic)."""
        edges = np.linspace(0.0, ENERGY_MAX_KEV, N_ENERGY + 1)
        e_lo = edges[:-1].astype(np.float32).astype(float)
        e_hi = edges[1:].astype(np.float32).astype(float)
        ch_edges = np.arange(N_CHANNELS + 1) * CHANNEL_KEV
        matrix = _build_matrix(e_lo, e_hi, ch_edges)
        area = effective_area(0.5 * (e_lo + e_hi)).astype(np.float32)
        return cls(
            energ_lo=e_lo,
            energ_hi=e_hi,
            specresp=area,
            matrix=matrix,
            e_min=ch_edges[:-1].astype(np.float32).astype(float),
            e_max=ch_edges[1:].astype(np.float32).astype(float),
        )

    @property
    def energy_edges(self) -> np.ndarray:
        """Energy bin edges (n_energy + 1,) in keV."""
        return np.append(self.energ_lo, self.energ_hi[-1])

    @cached_property
    def row_cdf(self) -> np.ndarray:
        """Cumulative redistribution probability per energy bin (float64)."""
        return np.cumsum(self.matrix.astype(float), axis=1)

    def fold(self, photons_per_bin: np.ndarray) -> np.ndarray:
        """Expected counts per channel for ``photons_per_bin`` already multiplied by the area."""
        return np.asarray(photons_per_bin, dtype=float) @ self.matrix.astype(float)

    def draw_channels(
        self, energy_bin: np.ndarray, rng: np.random.Generator, chunk: int = 20000
    ) -> np.ndarray:
        """Draw a PI channel for each photon in ``energy_bin``; -1 where the photon is lost."""
        energy_bin = np.asarray(energy_bin, dtype=int)
        out = np.empty(energy_bin.size, dtype=np.int64)
        cdf = self.row_cdf
        u = rng.random(energy_bin.size)
        for start in range(0, energy_bin.size, chunk):
            sl = slice(start, start + chunk)
            rows = cdf[energy_bin[sl]]
            ch = (rows < u[sl, None]).sum(axis=1)
            out[sl] = np.where(ch >= N_CHANNELS, -1, ch)
        return out


_COMMON_CBD = ("DATAMODE(PHOTON)", "GRADE(G0:12)", "XRTVSUB(6)")
#: CALDB boundaries of the WT grade 0-2 response (as the real ``swxwt0to2s6_*`` files).
WT_CBD = ("DATAMODE(WINDOWED)", "GRADE(G0:2)", "XRTVSUB(6)")
WT_RMF_NAME = f"swxwt0to2s6_20010101v{CALDB_VERSION}.rmf"
WT_ARF_NAME = f"swxwt0to2s6_20010101v{CALDB_VERSION}.arf"


def _cal_keywords(
    header: fits.Header, cnam: str, cbd: tuple[str, ...], desc: str, cls: str
) -> None:
    header["CCLS0001"] = (cls, "Dataset is a Calibration Product File")
    header["CDTP0001"] = ("DATA", "Calibration file contains data")
    header["CCNM0001"] = (cnam, "Type of Calibration data")
    for i, b in enumerate(cbd, start=1):
        header[f"CBD{i}0001"] = (b, "Parameter Boundary")
    header["CVSD0001"] = (CALDB_VSD, "UTC date when file should first be used")
    header["CVST0001"] = ("00:00:00", "UTC time when file should first be used")
    header["CDES0001"] = (desc, "Description")


def _mission_keywords(header: fits.Header) -> None:
    header["TELESCOP"] = ("SWIFT", "Telescope (mission) name")
    header["INSTRUME"] = ("XRT", "Instrument name")
    header["SIMULATD"] = (True, "Synthetic file written by xrtflow.simulate")
    header["COMMENT"] = SIMULATED_NOTE


def _primary() -> fits.PrimaryHDU:
    hdu = fits.PrimaryHDU()
    _mission_keywords(hdu.header)
    return hdu


def write_rmf(
    response: SyntheticResponse, path: str | Path, common_cbd: tuple[str, ...] = _COMMON_CBD
) -> Path:
    """Write the OGIP RMF (``MATRIX`` with one group per row + ``EBOUNDS``).

    ``common_cbd`` are the mode/grade boundaries (PC grades 0-12 by default, :data:`WT_CBD`).
    """
    m = response.matrix
    nz = m > 0
    has = nz.any(axis=1)
    first = np.where(has, nz.argmax(axis=1), 0)
    last = np.where(has, m.shape[1] - 1 - nz[:, ::-1].argmax(axis=1), -1)
    n_chan = np.where(has, last - first + 1, 0)
    rows = [m[i, first[i] : first[i] + n_chan[i]] for i in range(m.shape[0])]
    cols = [
        fits.Column("ENERG_LO", "E", unit="keV", array=response.energ_lo),
        fits.Column("ENERG_HI", "E", unit="keV", array=response.energ_hi),
        fits.Column("N_GRP", "I", array=has.astype(np.int16)),
        fits.Column("F_CHAN", "I", array=first.astype(np.int16)),
        fits.Column("N_CHAN", "I", array=n_chan.astype(np.int16)),
        fits.Column("MATRIX", "PE()", array=np.array(rows, dtype=object)),
    ]
    matrix = fits.BinTableHDU.from_columns(cols, name="MATRIX")
    h = matrix.header
    _mission_keywords(h)
    h["FILTER"] = ("NONE", "Filter")
    h["FILENAME"] = (Path(path).name, "File name")
    h["CONTENT"] = ("XRT Response Matrix (SIMULATED)", "File content")
    h["HDUCLASS"] = ("OGIP", "Format conforms to OGIP/GSFC conventions")
    h["HDUCLAS1"] = ("RESPONSE", "Extension contains response data")
    h["HDUCLAS2"] = ("RSP_MATRIX", "Extension contains RMF")
    h["HDUCLAS3"] = ("REDIST", "Redistribution only (no effective area)")
    h["HDUVERS"] = ("1.3.0", "Version of file format")
    h["HDUDOC"] = ("OGIP CAL/GEN/92-002 & 92-002a", "Documents describing the format")
    h["CHANTYPE"] = ("PI", "Channel type")
    h["DETCHANS"] = (N_CHANNELS, "Total number of detector channels")
    h["TLMIN4"] = (0, "First channel in the response")
    h["TLMAX4"] = (N_CHANNELS - 1, "Last channel in the response")
    h["LO_THRES"] = (MATRIX_THRESHOLD, "Lower threshold for stored matrix")
    h["EFFAREA"] = (1.0, "Effective area scaling (1: pure redistribution)")
    cbd = (*common_cbd, "DETCHANS(1024)", "CHANTYPE(PI)")
    desc = "SIMULATED xrtflow demo RMF (synthetic)"
    _cal_keywords(h, "MATRIX", cbd, desc, "CPF")

    eb = fits.BinTableHDU.from_columns(
        [
            fits.Column("CHANNEL", "I", array=np.arange(N_CHANNELS, dtype=np.int16)),
            fits.Column("E_MIN", "E", unit="keV", array=response.e_min),
            fits.Column("E_MAX", "E", unit="keV", array=response.e_max),
        ],
        name="EBOUNDS",
    )
    h = eb.header
    _mission_keywords(h)
    h["FILTER"] = ("NONE", "Filter")
    h["FILENAME"] = (Path(path).name, "File name")
    h["HDUCLASS"] = ("OGIP", "Format conforms to OGIP/GSFC conventions")
    h["HDUCLAS1"] = ("RESPONSE", "Extension contains response data")
    h["HDUCLAS2"] = ("EBOUNDS", "Extension contains EBOUNDS")
    h["HDUVERS"] = ("1.2.0", "Version of file format")
    h["CHANTYPE"] = ("PI", "Channel type")
    h["DETCHANS"] = (N_CHANNELS, "Total number of detector channels")
    h["TLMIN1"] = (0, "First channel")
    h["TLMAX1"] = (N_CHANNELS - 1, "Last channel")
    _cal_keywords(h, "EBOUNDS", cbd, "SIMULATED xrtflow demo channel boundaries", "CPF")
    return write_fits(fits.HDUList([_primary(), matrix, eb]), path, CALDB_DATE)


def write_arf(
    response: SyntheticResponse,
    path: str | Path,
    rmf_name: str = RMF_NAME,
    common_cbd: tuple[str, ...] = _COMMON_CBD,
) -> Path:
    """Write the on-axis OGIP ARF (``SPECRESP``); ``common_cbd`` as in :func:`write_rmf`."""
    arf = fits.BinTableHDU.from_columns(
        [
            fits.Column("ENERG_LO", "E", unit="keV", array=response.energ_lo),
            fits.Column("ENERG_HI", "E", unit="keV", array=response.energ_hi),
            fits.Column("SPECRESP", "E", unit="cm**2", array=response.specresp),
        ],
        name="SPECRESP",
    )
    h = arf.header
    _mission_keywords(h)
    h["FILTER"] = ("NONE", "Filter")
    h["FILENAME"] = (Path(path).name, "File name")
    h["CONTENT"] = ("XRT on-axis effective area (SIMULATED)", "File content")
    h["HDUCLASS"] = ("OGIP", "File conforms to OGIP/GSFC conventions")
    h["HDUCLAS1"] = ("RESPONSE", "File relates to response of instrument")
    h["HDUCLAS2"] = ("SPECRESP", "Effective area data is stored")
    h["HDUVERS"] = ("1.1.0", "Version of format (OGIP memo CAL/GEN/92-002a)")
    h["RESPFILE"] = (rmf_name, "RMF file defining the energy grid")
    h["ARFVERS"] = ("ONAXIS", "On-axis area, full PSF, no vignetting")
    _cal_keywords(h, "SPECRESP", common_cbd, "SIMULATED xrtflow demo on-axis ARF", "CPF")
    return write_fits(fits.HDUList([_primary(), arf]), path, CALDB_DATE)


def write_psf_file(
    path: str | Path, coefficients: calibration.PsfCoefficients = calibration.SWIFT_XRT_PSF
) -> Path:
    """Write a CALDB-format PSF coefficient file (``PSF_COEF``, rows P0..P3)."""
    table = coefficients.as_array()
    hdu = fits.BinTableHDU.from_columns(
        [fits.Column("PAR", "2A", array=np.array(["P0", "P1", "P2", "P3"]))]
        + [fits.Column(f"COEF{j}", "E", array=table[:, j]) for j in range(4)],
        name="PSF_COEF",
    )
    h = hdu.header
    _mission_keywords(h)
    h["FILENAME"] = (Path(path).name, "File name")
    h["CONTENT"] = ("XRT PSF Coefficients", "File content")
    h["COEFSRC"] = coefficients.source[:68]
    for line in (
        "The PSF is described by a King + Gauss profile:",
        "  PSF = P0 * Gauss(sigma=P1) + (1 - P0) * King(rc=P2, beta=P3)",
        "Each parameter P_i depends on energy (keV) and off-axis angle (arcmin):",
        "  P_i = COEF0 + COEF1*offaxis + COEF2*energy + COEF3*energy*offaxis",
        "sigma and rc in detector pixels (2.357 arcsec).",
    ):
        h["COMMENT"] = line
    _cal_keywords(h, "PSF", (), "XRT PSF Coefficients (xrtflow copy)", "BCF")
    return write_fits(fits.HDUList([_primary(), hdu]), path, CALDB_DATE)


def write_vignetting_file(
    path: str | Path,
    coefficients: calibration.VignettingCoefficients = calibration.SWIFT_XRT_VIGNETTING,
) -> Path:
    """Write a CALDB-format vignetting coefficient file (``VIG_COEF``, PAR0..PAR2)."""
    c = coefficients
    hdu = fits.BinTableHDU.from_columns(
        [
            fits.Column(f"PAR{i}", "E", array=np.array([v]))
            for i, v in enumerate((c.par0, c.par1, c.par2))
        ],
        name="VIG_COEF",
    )
    h = hdu.header
    _mission_keywords(h)
    h["FILENAME"] = (Path(path).name, "File name")
    h["CONTENT"] = ("Vignetting", "Vignetting coefficients")
    h["HDUCLASS"] = ("OGIP", "Format conforms to OGIP standard")
    h["COEFSRC"] = c.source[:68]
    h["COMMENT"] = "V(E, theta) = 1 - (PAR0 * PAR1**E + PAR2) * theta**2, theta in arcmin"
    _cal_keywords(h, "VIGNET", (), "XRT vignetting coefficients (xrtflow copy)", "BCF")
    return write_fits(fits.HDUList([_primary(), hdu]), path, CALDB_DATE)


#: CALDB sub-directories (relative to the CALDB root) for each kind of file.
CALDB_DIRS = {
    "rmf": "data/swift/xrt/cpf/rmf",
    "arf": "data/swift/xrt/cpf/arf",
    "psf": "data/swift/xrt/bcf/psf",
    "vign": "data/swift/xrt/bcf/vign",
}
INDEX_PATH = "data/swift/xrt/index/caldb.indx"


def write_caldb_index(root: str | Path, entries: list[dict]) -> Path:
    """Write an OGIP CALDB index (``caldb.indx``, extension ``CIF``) under ``root``.

    Each entry is a dict with keys ``dir``, ``file``, ``cls``, ``cnam``, ``cbd`` (list of up to
    nine boundary strings) and ``desc``.
    """
    n = len(entries)
    cbd = np.full((n, 9), "NONE", dtype="U70")
    for i, e in enumerate(entries):
        for j, b in enumerate(e.get("cbd", ())):
            cbd[i, j] = b
    ref_time = 51910.0  # MJD of CALDB_VSD 2001-01-01
    cols = [
        fits.Column("TELESCOP", "10A", array=np.array(["SWIFT"] * n)),
        fits.Column("INSTRUME", "10A", array=np.array(["XRT"] * n)),
        fits.Column("DETNAM", "20A", array=np.array(["NONE"] * n)),
        fits.Column("FILTER", "10A", array=np.array(["NONE"] * n)),
        fits.Column("CAL_DEV", "20A", array=np.array(["ONLINE"] * n)),
        fits.Column("CAL_DIR", "70A", array=np.array([e["dir"] for e in entries])),
        fits.Column("CAL_FILE", "40A", array=np.array([e["file"] for e in entries])),
        fits.Column("CAL_CLASS", "3A", array=np.array([e["cls"] for e in entries])),
        fits.Column("CAL_DTYP", "4A", array=np.array(["DATA"] * n)),
        fits.Column("CAL_CNAM", "20A", array=np.array([e["cnam"] for e in entries])),
        fits.Column("CAL_CBD", "630A", dim="(70,9)", array=cbd),
        fits.Column("CAL_XNO", "I", array=np.ones(n, dtype=np.int16)),
        fits.Column("CAL_VSD", "10A", array=np.array([CALDB_VSD] * n)),
        fits.Column("CAL_VST", "8A", array=np.array(["00:00:00"] * n)),
        fits.Column("REF_TIME", "D", array=np.full(n, ref_time)),
        fits.Column("CAL_QUAL", "I", array=np.zeros(n, dtype=np.int16)),
        fits.Column("CAL_DATE", "8A", array=np.array(["01/01/01"] * n)),
        fits.Column("CAL_DESC", "70A", array=np.array([e["desc"] for e in entries])),
    ]
    hdu = fits.BinTableHDU.from_columns(cols, name="CIF")
    h = hdu.header
    _mission_keywords(h)
    h["CIFVERSN"] = ("1992a", "Version of CIF format")
    path = Path(root) / INDEX_PATH
    return write_fits(fits.HDUList([_primary(), hdu]), path, CALDB_DATE)


def write_caldb(
    root: str | Path, response: SyntheticResponse | None = None, wt: bool = False
) -> dict[str, Path]:
    """Write the demo CALDB tree (RMF, on-axis ARF, PSF, vignetting + ``caldb.indx``) under ``root``.

    With ``wt`` the WT grade 0-2 RMF and on-axis ARF (``swxwt0to2s6_20010101v900.*``, boundaries
    ``DATAMODE(WINDOWED)``, ``GRADE(G0:2)`` as the real CALDB files) are added. They hold the same
    synthetic matrix and area as the PC files: a SIMULATED stand-in, not the real WT response.

    Returns
    -------
    dict
        ``{"rmf": path, "arf": path, "psf": path, "vign": path, "index": path}``.
    """
    root = Path(root)
    response = response or SyntheticResponse.build()
    paths = {
        "rmf": write_rmf(response, root / CALDB_DIRS["rmf"] / RMF_NAME),
        "arf": write_arf(response, root / CALDB_DIRS["arf"] / ARF_NAME),
        "psf": write_psf_file(root / CALDB_DIRS["psf"] / PSF_NAME),
        "vign": write_vignetting_file(root / CALDB_DIRS["vign"] / VIGN_NAME),
    }
    rmf_cbd = [*_COMMON_CBD, "DETCHANS(1024)", "CHANTYPE(PI)"]
    entries = [
        dict(
            dir=CALDB_DIRS["rmf"],
            file=RMF_NAME,
            cls="CPF",
            cnam="MATRIX",
            cbd=rmf_cbd,
            desc="SIMULATED xrtflow demo PC grade 0-12 RMF",
        ),
        dict(
            dir=CALDB_DIRS["rmf"],
            file=RMF_NAME,
            cls="CPF",
            cnam="EBOUNDS",
            cbd=rmf_cbd,
            desc="SIMULATED xrtflow demo PC channel boundaries",
        ),
        dict(
            dir=CALDB_DIRS["arf"],
            file=ARF_NAME,
            cls="CPF",
            cnam="SPECRESP",
            cbd=list(_COMMON_CBD),
            desc="SIMULATED xrtflow demo PC on-axis ARF",
        ),
        dict(
            dir=CALDB_DIRS["psf"],
            file=PSF_NAME,
            cls="BCF",
            cnam="PSF",
            cbd=[],
            desc="XRT PSF coefficients (values of swxpsf20010101v004)",
        ),
        dict(
            dir=CALDB_DIRS["vign"],
            file=VIGN_NAME,
            cls="BCF",
            cnam="VIGNET",
            cbd=[],
            desc="XRT vignetting coefficients (values of swxvign20010101v001)",
        ),
    ]
    if wt:
        paths["wt_rmf"] = write_rmf(response, root / CALDB_DIRS["rmf"] / WT_RMF_NAME, WT_CBD)
        paths["wt_arf"] = write_arf(
            response, root / CALDB_DIRS["arf"] / WT_ARF_NAME, WT_RMF_NAME, WT_CBD
        )
        wt_rmf_cbd = [*WT_CBD, "DETCHANS(1024)", "CHANTYPE(PI)"]
        for cnam, cbd, file, what in (
            ("MATRIX", wt_rmf_cbd, WT_RMF_NAME, "WT grade 0-2 RMF"),
            ("EBOUNDS", wt_rmf_cbd, WT_RMF_NAME, "WT channel boundaries"),
            ("SPECRESP", list(WT_CBD), WT_ARF_NAME, "WT on-axis ARF"),
        ):
            kind = "arf" if cnam == "SPECRESP" else "rmf"
            entries.append(
                dict(
                    dir=CALDB_DIRS[kind],
                    file=file,
                    cls="CPF",
                    cnam=cnam,
                    cbd=cbd,
                    desc=f"SIMULATED xrtflow demo {what}",
                )
            )
    paths["index"] = write_caldb_index(root, entries)
    return paths
