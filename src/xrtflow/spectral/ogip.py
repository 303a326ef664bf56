"""Readers for OGIP spectral files: type-I PHA spectra, RMF (compressed matrix) and ARF.

The objects returned here are what :mod:`xrtflow.spectral.fit` works on:

* :class:`Response` -- the redistribution matrix (energy x channel: the elements as read, and a
  ``scipy.sparse`` CSR built when asked for) already multiplied by the ARF, its energy grid and the channel bounds (``EBOUNDS``);
* :class:`Spectrum` -- counts per channel with exposure, BACKSCAL/AREASCAL, QUALITY, GROUPING,
  its response and (optionally) its background spectrum, plus XSPEC-like ``notice``/``ignore``;
* :class:`GroupedSpectrum` -- the per-group view used by the fit statistics.

Channel selection follows XSPEC: ``ignore("**-0.3 10.0-**")`` takes energies in keV and ignores
every (grouped) channel whose ``E_MIN < hi`` and ``E_MAX >= lo`` -- the channels that *contain*
the range limits are ignored too, as XSPEC does (for Swift-XRT PI channels, ``**-0.3 10.0-**``
leaves channels 30-998 noticed).  ``ignore("bad")`` ignores channels with QUALITY != 0.
"""

from __future__ import annotations

import io
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from astropy.io import fits

__all__ = [
    "Response",
    "Spectrum",
    "GroupedSpectrum",
    "read_spectrum",
    "read_response",
    "read_arf",
    "write_spectrum",
    "parse_channel_ranges",
]

_NONE_NAMES = {"", "none", "NONE", "None"}


# --------------------------------------------------------------------------------------------
# Response
# --------------------------------------------------------------------------------------------
class RmfElements:
    """The non-zero elements of an RMF as ``(row, column, value)`` arrays.

    What the readers produce: a fit builds its dense folding matrix from these directly (numpy
    only), and ``scipy.sparse`` -- about 0.2 s of start-up -- is imported only where a sparse
    matrix is asked for (:attr:`Response.matrix`).  Duplicate ``(row, column)`` pairs add up.
    """

    __slots__ = ("rows", "columns", "values", "shape")

    def __init__(self, rows, columns, values, shape: tuple[int, int]):
        self.rows = np.asarray(rows, dtype=np.int64)
        self.columns = np.asarray(columns, dtype=np.int64)
        self.values = np.asarray(values, dtype=float)
        self.shape = (int(shape[0]), int(shape[1]))

    @property
    def nnz(self) -> int:
        """Number of stored elements."""
        return len(self.values)

    def channel_rows(self, channels: np.ndarray) -> np.ndarray:
        """Dense ``(len(channels), n_energy)``: the matrix's columns ``channels``, transposed."""
        n_e, n_ch = self.shape
        channels = np.asarray(channels, dtype=np.int64)
        position = np.full(n_ch, -1, dtype=np.int64)
        position[channels] = np.arange(len(channels))
        where = position[self.columns]
        keep = where >= 0
        flat = np.bincount(
            where[keep] * n_e + self.rows[keep],
            weights=self.values[keep],
            minlength=len(channels) * n_e,
        )
        return flat.reshape(len(channels), n_e)

    def csr(self):  # noqa: ANN201 (scipy.sparse.csr_matrix)
        """The matrix as ``scipy.sparse.csr_matrix`` (duplicates summed)."""
        import scipy.sparse as sp

        out = sp.csr_matrix((self.values, (self.rows, self.columns)), shape=self.shape)
        out.sum_duplicates()
        return out


class Response:
    """An OGIP response: RMF matrix (times ARF) on an energy grid, with channel bounds.

    Parameters and attributes
    -------------------------
    matrix : scipy.sparse.csr_matrix
        Shape ``(n_energy, n_channel)``; element ``[i, j]`` is the effective area (cm^2, when
        an ARF is applied; otherwise the RMF probability) of energy bin ``i`` into channel ``j``.
        Built on first access when the response was read from files (``elements``).
    energy_edges : numpy.ndarray
        ``n_energy + 1`` energy bin edges in keV (``ENERG_LO`` + last ``ENERG_HI``).
    channel : numpy.ndarray
        Channel numbers from ``EBOUNDS``.
    e_min, e_max : numpy.ndarray
        Channel energy bounds (keV) from ``EBOUNDS``.
    rmf_path, arf_path : pathlib.Path or None
        Source files.
    arf : numpy.ndarray or None
        The ARF (cm^2 per energy bin) that was applied.
    rmf_matrix : scipy.sparse.csr_matrix or None
        The bare RMF (built on first access from ``elements``).
    elements : RmfElements or None
        The bare RMF's elements, as read (keyword only).
    """

    def __init__(
        self,
        matrix=None,  # noqa: ANN001 (scipy.sparse matrix)
        energy_edges: np.ndarray | None = None,
        channel: np.ndarray | None = None,
        e_min: np.ndarray | None = None,
        e_max: np.ndarray | None = None,
        rmf_path: Path | None = None,
        arf_path: Path | None = None,
        arf: np.ndarray | None = None,
        rmf_matrix=None,  # noqa: ANN001
        *,
        elements: RmfElements | None = None,
    ):
        if matrix is None and elements is None:
            raise ValueError("Response needs a matrix or the RMF elements")
        self._matrix = matrix
        self._rmf_matrix = rmf_matrix
        self.elements = elements
        self.energy_edges = energy_edges
        self.channel = channel
        self.e_min = e_min
        self.e_max = e_max
        self.rmf_path = rmf_path
        self.arf_path = arf_path
        self.arf = arf

    def __repr__(self) -> str:
        return (
            f"Response(n_energy={self.n_energy}, n_channel={self.n_channel}, "
            f"rmf_path={self.rmf_path!r}, arf_path={self.arf_path!r})"
        )

    @property
    def matrix(self):  # noqa: ANN201 (scipy.sparse.csr_matrix)
        """The response (RMF times ARF), ``(n_energy, n_channel)`` CSR."""
        if self._matrix is None:
            base = self.rmf_matrix
            if self.arf is None:
                self._matrix = base
            else:
                import scipy.sparse as sp

                self._matrix = sp.csr_matrix(sp.diags(np.asarray(self.arf, float)) @ base)
        return self._matrix

    @property
    def rmf_matrix(self):  # noqa: ANN201 (scipy.sparse.csr_matrix or None)
        """The bare RMF as CSR (None when only the product with an ARF is known)."""
        if self._rmf_matrix is None and self.elements is not None:
            self._rmf_matrix = self.elements.csr()
        return self._rmf_matrix

    @property
    def shape(self) -> tuple[int, int]:
        """``(n_energy, n_channel)``."""
        if self.elements is not None:
            return self.elements.shape
        return tuple(self._matrix.shape)

    @property
    def nnz(self) -> int:
        """Stored elements of the bare RMF (or of the matrix)."""
        if self.elements is not None:
            return self.elements.nnz
        base = self._rmf_matrix if self._rmf_matrix is not None else self._matrix
        return int(base.nnz)

    @property
    def n_energy(self) -> int:
        """Number of energy bins."""
        return self.shape[0]

    @property
    def n_channel(self) -> int:
        """Number of channels."""
        return self.shape[1]

    @property
    def energy_lo(self) -> np.ndarray:
        """Lower energy bin edges (keV)."""
        return self.energy_edges[:-1]

    @property
    def energy_hi(self) -> np.ndarray:
        """Upper energy bin edges (keV)."""
        return self.energy_edges[1:]

    def fold(self, model_per_energy_bin: np.ndarray) -> np.ndarray:
        """Fold a model (photons/cm^2/s per energy bin) into counts/s per channel.

        Parameters
        ----------
        model_per_energy_bin : numpy.ndarray
            Shape ``(n_energy,)`` or ``(n_energy, k)`` for ``k`` models at once.

        Returns
        -------
        numpy.ndarray
            Shape ``(n_channel,)`` or ``(n_channel, k)``.
        """
        model = np.asarray(model_per_energy_bin, dtype=float)
        return np.asarray(self.matrix.T @ model)

    def with_arf(self, arf: np.ndarray | None, arf_path: Path | None = None) -> Response:
        """Return a copy with a (different) ARF applied to the bare RMF."""
        arf = None if arf is None else np.asarray(arf, float)
        if self.elements is not None:
            return Response(
                None, self.energy_edges, self.channel, self.e_min, self.e_max,
                self.rmf_path, arf_path, arf, self._rmf_matrix, elements=self.elements,
            )  # fmt: skip
        base = self.rmf_matrix if self.rmf_matrix is not None else self.matrix
        if arf is None:
            matrix = base
        else:
            import scipy.sparse as sp

            matrix = sp.csr_matrix(sp.diags(arf) @ base)
        return Response(
            matrix, self.energy_edges, self.channel, self.e_min, self.e_max,
            self.rmf_path, arf_path, arf, base,
        )  # fmt: skip


def _matrix_hdu(hdul: fits.HDUList) -> fits.BinTableHDU:
    for name in ("MATRIX", "SPECRESP MATRIX"):
        if name in hdul:
            return hdul[name]
    for hdu in hdul[1:]:
        if str(hdu.header.get("HDUCLAS1", "")).upper() == "RESPONSE" and str(
            hdu.header.get("HDUCLAS2", "")
        ).upper() in ("RSP_MATRIX", ""):
            return hdu
    raise ValueError("no MATRIX or SPECRESP MATRIX extension found")


def _as_rows(column, n_rows: int) -> list[np.ndarray]:
    """Turn a fixed-width or variable-length FITS column into a list of 1-d arrays."""
    if isinstance(column, np.ndarray) and column.dtype != object:
        arr = column.reshape(n_rows, -1) if column.ndim == 1 else column
        return [np.atleast_1d(r) for r in arr]
    return [np.atleast_1d(np.asarray(r)) for r in column]


#: Responses already read, by (resolved path, mtime, size): a joint fit of many spectra that
#: share one RMF/ARF reads each file once (the Swift-XRT PC RMF costs ~0.2 s to decompress and
#: unpack).  The arrays are never modified in place (``with_arf`` builds new matrices).
_FILE_CACHE: dict[tuple, object] = {}
_FILE_CACHE_MAX = 32


def _file_key(kind: str, path: Path) -> tuple:
    st = path.stat()
    return (kind, str(path.resolve()), st.st_mtime_ns, st.st_size)


def _cached(kind: str, path: Path, reader):
    """``reader(path)``, memoized on the file's identity and modification time."""
    try:
        key = _file_key(kind, path)
    except OSError:  # missing file: let the reader raise its own error
        return reader(path)
    hit = _FILE_CACHE.get(key)
    if hit is None:
        if len(_FILE_CACHE) >= _FILE_CACHE_MAX:
            _FILE_CACHE.clear()
        hit = _FILE_CACHE[key] = reader(path)
    return hit


def read_rmf(rmf_path: str | os.PathLike) -> Response:
    """Read an OGIP RMF (compressed matrix) into a :class:`Response` without ARF.

    Each file is read once per process (cached by path and modification time).
    """
    return _cached("rmf", Path(rmf_path), _read_rmf)


def _flat_groups(column, n_e: int, n_grp: np.ndarray) -> np.ndarray:
    """The first ``n_grp[i]`` entries of each row of F_CHAN / N_CHAN, concatenated."""
    if isinstance(column, np.ndarray) and column.dtype != object:
        arr = column.reshape(n_e, -1)
        return arr[np.arange(arr.shape[1])[None, :] < n_grp[:, None]].astype(int)
    rows = _as_rows(column, n_e)
    return np.concatenate([np.asarray(r[:k], int) for r, k in zip(rows, n_grp, strict=True)])


def _matrix_triplets(data, n_e: int, n_grp: np.ndarray, offset: int):
    """(row, column, value) of every matrix element, vectorized over the energy rows."""
    n_grp = np.maximum(n_grp, 0)
    first = _flat_groups(data["F_CHAN"], n_e, n_grp) - offset
    count = np.maximum(_flat_groups(data["N_CHAN"], n_e, n_grp), 0)
    row_of_group = np.repeat(np.arange(n_e), n_grp)
    length = np.bincount(row_of_group, weights=count, minlength=n_e).astype(int)
    column = data["MATRIX"]
    if isinstance(column, np.ndarray) and column.dtype != object:
        arr = np.asarray(column, dtype=float).reshape(n_e, -1)
        if np.any(length > arr.shape[1]):
            raise ValueError("MATRIX rows shorter than their N_CHAN")
        values = arr[np.arange(arr.shape[1])[None, :] < length[:, None]]
    else:
        rows = _as_rows(column, n_e)
        if any(len(m) < k for m, k in zip(rows, length, strict=True)):
            raise ValueError("MATRIX rows shorter than their N_CHAN")
        values = np.concatenate(
            [np.asarray(m[:k], dtype=float) for m, k in zip(rows, length, strict=True)]
        )
    total = int(count.sum())
    start = np.cumsum(count) - count  # position of each group's first element
    within = np.arange(total) - np.repeat(start, count)
    cols = np.repeat(first, count) + within
    rows_out = np.repeat(row_of_group, count)
    return rows_out, cols, values


def _read_rmf(rmf_path: Path) -> Response:
    with _open_fits(rmf_path, "RMF") as hdul:
        try:
            mhdu = _matrix_hdu(hdul)
        except ValueError as err:
            raise ValueError(f"{rmf_path}: not an RMF ({err})") from None
        if "EBOUNDS" not in hdul:
            raise ValueError(f"{rmf_path}: not an RMF (no EBOUNDS extension)")
        data = mhdu.data
        hdr = mhdu.header
        n_e = len(data)
        elo = np.asarray(data["ENERG_LO"], dtype=float)
        ehi = np.asarray(data["ENERG_HI"], dtype=float)
        ebounds = hdul["EBOUNDS"].data
        channel = np.asarray(ebounds["CHANNEL"], dtype=int)
        e_min = np.asarray(ebounds["E_MIN"], dtype=float)
        e_max = np.asarray(ebounds["E_MAX"], dtype=float)
        colnames = [c.upper() for c in data.columns.names]
        fchan_col = colnames.index("F_CHAN") + 1
        tlmin = hdr.get(f"TLMIN{fchan_col}")
        if tlmin is None:
            tlmin = int(channel[0]) if len(channel) else 1
        offset = int(tlmin)
        n_grp = np.asarray(data["N_GRP"], dtype=int)
        r, c, v = _matrix_triplets(data, n_e, n_grp, offset)
    n_ch = len(channel)
    keep = (v != 0) & (c >= 0) & (c < n_ch)
    elements = RmfElements(r[keep], c[keep], v[keep], (n_e, n_ch))
    edges = np.append(elo, ehi[-1])
    return Response(
        elements=elements,
        energy_edges=edges,
        channel=channel,
        e_min=e_min,
        e_max=e_max,
        rmf_path=rmf_path,
    )


def read_arf(arf_path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Read an ARF; returns ``(energy_edges_keV, specresp_cm2)`` (cached like :func:`read_rmf`)."""
    edges, area = _cached("arf", Path(arf_path), _read_arf)
    return edges.copy(), area.copy()


def _read_arf(arf_path: Path) -> tuple[np.ndarray, np.ndarray]:
    with _open_fits(arf_path, "ARF") as hdul:
        hdu = hdul["SPECRESP"] if "SPECRESP" in hdul else (hdul[1] if len(hdul) > 1 else None)
        if hdu is None or hdu.data is None or "SPECRESP" not in hdu.columns.names:
            raise ValueError(f"{arf_path}: not an ARF (no SPECRESP column)")
        d = hdu.data
        elo = np.asarray(d["ENERG_LO"], dtype=float).ravel()
        ehi = np.asarray(d["ENERG_HI"], dtype=float).ravel()
        area = np.asarray(d["SPECRESP"], dtype=float).ravel()
    return np.append(elo, ehi[-1]), area


def read_response(
    rmf_path: str | os.PathLike, arf_path: str | os.PathLike | None = None
) -> Response:
    """Read an RMF and (optionally) an ARF into a :class:`Response`.

    Parameters
    ----------
    rmf_path : path-like
        OGIP RMF (``MATRIX`` or ``SPECRESP MATRIX`` extension + ``EBOUNDS``); gzip is fine.
    arf_path : path-like, optional
        OGIP ARF; its ``SPECRESP`` multiplies each energy row of the matrix.

    Returns
    -------
    Response
    """
    resp = read_rmf(rmf_path)
    if arf_path is None:
        return resp
    rmf_path, arf_path = Path(rmf_path), Path(arf_path)
    try:
        key = ("rsp", _file_key("rmf", rmf_path), _file_key("arf", arf_path))
    except OSError:
        key = None
    hit = _FILE_CACHE.get(key) if key is not None else None
    if hit is not None:
        return hit
    edges, area = read_arf(arf_path)
    if len(area) != resp.n_energy:
        raise ValueError(
            f"ARF {arf_path} has {len(area)} energy bins but RMF {rmf_path} has {resp.n_energy}"
        )
    out = resp.with_arf(area, arf_path)
    if key is not None:
        _FILE_CACHE[key] = out
    return out


# --------------------------------------------------------------------------------------------
# Spectrum
# --------------------------------------------------------------------------------------------
@dataclass
class GroupedSpectrum:
    """Per-group view of a :class:`Spectrum` (what the statistics see).

    Attributes
    ----------
    counts : numpy.ndarray
        Counts summed per group (all groups, noticed or not).
    group_of_channel : numpy.ndarray
        Group index of each channel.
    mask : numpy.ndarray
        Boolean per group: noticed (True) or ignored.
    e_min, e_max : numpy.ndarray or None
        Group energy bounds (keV) from the response's EBOUNDS.
    backscal, areascal : numpy.ndarray
        Mean BACKSCAL / AREASCAL per group.
    stat_err : numpy.ndarray or None
        Quadrature-summed STAT_ERR per group (counts), when the file has no Poisson errors.
    channel_weight : numpy.ndarray or None
        1 for channels that count in their group, 0 for bad channels dropped by ``ignore bad``.
    """

    counts: np.ndarray
    group_of_channel: np.ndarray
    mask: np.ndarray
    e_min: np.ndarray | None
    e_max: np.ndarray | None
    backscal: np.ndarray
    areascal: np.ndarray
    stat_err: np.ndarray | None = None
    channel_weight: np.ndarray | None = None

    @property
    def n_groups(self) -> int:
        """Number of groups."""
        return len(self.counts)

    def group_matrix(self):  # noqa: ANN201 (scipy.sparse.csr_matrix)
        """Sparse ``(n_groups, n_channels)`` matrix summing channels into groups."""
        import scipy.sparse as sp

        n_ch = len(self.group_of_channel)
        w = np.ones(n_ch) if self.channel_weight is None else self.channel_weight
        return sp.csr_matrix(
            (w, (self.group_of_channel, np.arange(n_ch))),
            shape=(self.n_groups, n_ch),
        )


def _per_channel(value, n: int, dtype=float) -> np.ndarray:
    arr = np.asarray(value, dtype=dtype)
    if arr.ndim == 0:
        return np.full(n, arr.item(), dtype=dtype)
    return arr.astype(dtype)


@dataclass
class Spectrum:
    """A type-I OGIP spectrum with its response and background.

    Attributes
    ----------
    counts : numpy.ndarray
        Counts per channel (float; ``RATE`` files are converted with the exposure).
    exposure : float
        EXPOSURE in seconds.
    backscal, areascal : numpy.ndarray
        Per-channel BACKSCAL and AREASCAL (from columns or keywords).
    quality : numpy.ndarray
        Per-channel QUALITY (0 = good).
    grouping : numpy.ndarray
        Per-channel GROUPING (1 = start of a group, -1 = continuation; 0 treated as 1).
    channel : numpy.ndarray
        Channel numbers.
    response : Response or None
    background : Spectrum or None
    path : pathlib.Path or None
    stat_err : numpy.ndarray or None
        STAT_ERR in counts when ``poisserr`` is False.
    poisserr : bool
    use_grouping : bool
        Whether :meth:`grouped` applies GROUPING (XSPEC does).
    noticed : numpy.ndarray
        Per-channel notice flags, changed by :meth:`notice` / :meth:`ignore`.
    bad_ignored : bool
        Set by ``ignore("bad")``: channels with QUALITY != 0 leave their groups.
    """

    counts: np.ndarray
    exposure: float
    backscal: np.ndarray
    areascal: np.ndarray
    quality: np.ndarray
    grouping: np.ndarray
    channel: np.ndarray
    response: Response | None = None
    background: Spectrum | None = None
    path: Path | None = None
    stat_err: np.ndarray | None = None
    poisserr: bool = True
    use_grouping: bool = True
    noticed: np.ndarray | None = None
    bad_ignored: bool = False
    header: dict = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        n = len(self.counts)
        self.counts = np.asarray(self.counts, dtype=float)
        self.backscal = _per_channel(self.backscal, n)
        self.areascal = _per_channel(self.areascal, n)
        self.quality = _per_channel(self.quality, n, int)
        self.grouping = _per_channel(self.grouping, n, int)
        self.channel = np.asarray(self.channel, dtype=int)
        if self.noticed is None:
            self.noticed = np.ones(n, dtype=bool)

    # ---- views ---------------------------------------------------------------------------
    @property
    def n_channels(self) -> int:
        """Number of channels."""
        return len(self.counts)

    @property
    def obsid(self) -> str | None:
        """OBS_ID from the header, if any."""
        value = self.header.get("OBS_ID")
        return None if value is None else str(value)

    def group_index(self) -> np.ndarray:
        """Group index of each channel (0-based), following GROUPING when used."""
        if not self.use_grouping:
            return np.arange(self.n_channels)
        starts = self.grouping != -1
        starts[0] = True
        return np.cumsum(starts) - 1

    def _channel_energy(self) -> tuple[np.ndarray, np.ndarray]:
        if self.response is None:
            raise ValueError("energy ranges need a response (EBOUNDS); give ranges as channels")
        resp_ch = self.response.channel
        idx = np.searchsorted(resp_ch, self.channel)
        idx = np.clip(idx, 0, len(resp_ch) - 1)
        return self.response.e_min[idx], self.response.e_max[idx]

    def good_channels(self) -> np.ndarray:
        """Channels that take part in groups: all, or QUALITY == 0 after ``ignore("bad")``."""
        if self.bad_ignored:
            return self.quality == 0
        return np.ones(self.n_channels, dtype=bool)

    def _group_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Group energy bounds from the good channels of each group (XSPEC)."""
        gidx = self.group_index()
        n_g = int(gidx[-1]) + 1
        emn, emx = self._channel_energy()
        good = self.good_channels()
        e_min = np.full(n_g, np.inf)
        e_max = np.full(n_g, -np.inf)
        np.minimum.at(e_min, gidx[good], emn[good])
        np.maximum.at(e_max, gidx[good], emx[good])
        return e_min, e_max

    def grouped(self) -> GroupedSpectrum:
        """Per-group counts, bounds and notice mask (XSPEC semantics).

        Groups follow GROUPING.  After ``ignore("bad")`` channels with QUALITY != 0 drop out of
        their groups (a group keeps its good channels, as in XSPEC).  A group is noticed when
        it has at least one good channel and all its good channels are noticed.
        """
        gidx = self.group_index()
        n_g = int(gidx[-1]) + 1 if len(gidx) else 0
        good = self.good_channels()
        w = good.astype(float)
        counts = np.bincount(gidx, weights=self.counts * w, minlength=n_g)
        n_good = np.bincount(gidx, weights=w, minlength=n_g)
        ignored = np.bincount(gidx, weights=((~self.noticed) & good).astype(float), minlength=n_g)
        mask = (ignored == 0) & (n_good > 0)
        safe = np.where(n_good > 0, n_good, 1.0)
        backscal = np.bincount(gidx, weights=self.backscal * w, minlength=n_g) / safe
        areascal = np.bincount(gidx, weights=self.areascal * w, minlength=n_g) / safe
        backscal[n_good == 0] = 1.0
        areascal[n_good == 0] = 1.0
        e_min = e_max = None
        if self.response is not None:
            e_min, e_max = self._group_bounds()
        stat_err = None
        if self.stat_err is not None and not self.poisserr:
            stat_err = np.sqrt(np.bincount(gidx, weights=w * self.stat_err**2, minlength=n_g))
        return GroupedSpectrum(
            counts=counts,
            group_of_channel=gidx,
            mask=mask,
            e_min=e_min,
            e_max=e_max,
            backscal=backscal,
            areascal=areascal,
            stat_err=stat_err,
            channel_weight=w,
        )

    # ---- notice / ignore -----------------------------------------------------------------
    def _select(self, spec: str) -> np.ndarray:
        """Boolean per channel selected by an XSPEC range string (keV or ``bad``)."""
        sel = np.zeros(self.n_channels, dtype=bool)
        gidx = self.group_index()
        for token in spec.replace(",", " ").split():
            if token.lower() == "bad":
                continue
            lo, hi = parse_channel_ranges(token)
            is_energy = "." in token
            if is_energy:
                g_lo, g_hi = self._group_bounds()
                hit = (g_hi >= lo) & (g_lo < hi)
                sel |= hit[gidx]
            else:
                # channel (group) numbers, 1-based like XSPEC
                number = gidx + 1
                sel |= (number >= lo) & (number <= hi)
        return sel

    def ignore(self, spec: str) -> Spectrum:
        """Ignore channels like XSPEC ``ignore`` (e.g. ``"**-0.3 10.0-**"``, ``"bad"``)."""
        if "bad" in spec.lower().replace(",", " ").split():
            self.bad_ignored = True
        self.noticed = self.noticed & ~self._select(spec)
        return self

    def notice(self, spec: str) -> Spectrum:
        """Notice channels like XSPEC ``notice`` (``"all"`` notices everything)."""
        if spec.strip().lower() == "all":
            self.noticed = np.ones(self.n_channels, dtype=bool)
            self.bad_ignored = False
        else:
            self.noticed = self.noticed | self._select(spec)
        return self

    def copy(self) -> Spectrum:
        """Shallow copy with independent notice flags."""
        import copy

        new = copy.copy(self)
        new.noticed = self.noticed.copy()
        return new


def parse_channel_ranges(token: str) -> tuple[float, float]:
    """Parse one XSPEC range token ``"a-b"``, ``"**-b"``, ``"a-**"`` or ``"a"``."""
    token = token.strip()
    m = re.fullmatch(r"(\*\*|[-+]?[\d.eE+]+)(?:-(\*\*|[\d.eE+]+))?", token)
    if not m:
        raise ValueError(f"cannot parse range {token!r}")
    a, b = m.group(1), m.group(2)
    lo = -np.inf if a == "**" else float(a)
    if b is None:
        hi = lo
    else:
        hi = np.inf if b == "**" else float(b)
    return lo, hi


def _open_fits(path: Path, label: str) -> fits.HDUList:
    """``fits.open`` of the file read into memory, with a one-line error for files that are
    not FITS."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
        if raw[:2] == b"\x1f\x8b":
            # gzipped (CALDB RMFs): decompress in one go -- astropy's seeks in a gzip stream
            # re-decompress from the start, which costs more than the rest of the reading
            import gzip

            raw = gzip.decompress(raw)

        hdul = fits.open(io.BytesIO(raw), memmap=False)
        _ = len(hdul)  # astropy reads lazily: force the headers, so corruption shows here
    except FileNotFoundError:
        raise
    except (OSError, ValueError, TypeError, IndexError, EOFError) as err:
        raise ValueError(f"{path}: not a readable FITS {label} file ({err})") from None
    return hdul


def _spectrum_hdu(hdul: fits.HDUList, path: Path):
    """The SPECTRUM extension, or the first table with COUNTS or RATE (OGIP type I)."""
    if "SPECTRUM" in hdul:
        hdu = hdul["SPECTRUM"]
    else:
        hdu = next(
            (
                h
                for h in hdul[1:]
                if isinstance(h, fits.BinTableHDU)
                and {"COUNTS", "RATE"} & {c.upper() for c in h.columns.names}
            ),
            None,
        )
    if not isinstance(hdu, fits.BinTableHDU) or hdu.data is None:
        raise ValueError(
            f"{path}: not an OGIP spectrum (no SPECTRUM extension with COUNTS or RATE)"
        )
    cols = {c.upper(): c for c in hdu.columns.names}
    if not {"COUNTS", "RATE"} & set(cols):
        raise ValueError(f"{path}: not an OGIP spectrum (no COUNTS or RATE column)")
    counts = hdu.data[cols.get("COUNTS", cols.get("RATE"))]
    if np.ndim(counts) != 1:
        raise ValueError(f"{path}: a type-II (multi-spectrum) file; extract one spectrum first")
    return hdu


def _header_file(header, keyword: str, pha_path: Path, explicit, label: str) -> Path | None:
    if explicit is not None:
        return Path(explicit)
    value = str(header.get(keyword, "") or "").strip()
    if value in _NONE_NAMES:
        return None
    value = re.sub(r"\{\d+\}$", "", value)  # row specifier for type-II files
    from xrtflow.paths import safe_join

    try:  # a header keyword is not trusted to name a file outside the spectrum's directory
        candidate = safe_join(pha_path.parent, value, what=f"{keyword} in {pha_path.name}")
    except ValueError as err:
        raise FileNotFoundError(f"{pha_path}: {err}; pass the {label} file explicitly") from None
    if not candidate.exists():
        gz = candidate.with_name(candidate.name + ".gz")
        if gz.exists():
            return gz
        raise FileNotFoundError(
            f"{pha_path}: header keyword {keyword} names {label} file {value!r}, "
            f"but {candidate} does not exist; pass the {label} file explicitly"
        )
    return candidate


def _column_or_key(data, header, name: str, default, n: int, dtype=float):
    if data is not None and name in [c.upper() for c in data.columns.names]:
        return np.asarray(data[name], dtype=dtype)
    value = header.get(name, default)
    if value is None:
        value = default
    return np.full(n, value, dtype=dtype)


def read_spectrum(
    pha_path: str | os.PathLike,
    rmf: str | os.PathLike | Response | None = None,
    arf: str | os.PathLike | None = None,
    background: str | os.PathLike | Spectrum | None = None,
    use_header: bool = True,
) -> Spectrum:
    """Read a type-I OGIP PHA file with its response and background.

    Parameters
    ----------
    pha_path : path-like
        The spectrum (``SPECTRUM`` extension, COUNTS or RATE); ``.gz`` is read transparently.
    rmf, arf, background : path-like, optional
        Explicit files; when None and ``use_header`` is True, RESPFILE / ANCRFILE / BACKFILE
        from the header are used (relative to the PHA's directory; ``none`` means none).
        ``rmf`` may also be an already-read :class:`Response` (its ARF is replaced by ``arf``).
    use_header : bool
        Follow header keywords for files not given explicitly.

    Returns
    -------
    Spectrum

    Raises
    ------
    FileNotFoundError
        When a header keyword names a file that does not exist.
    """
    pha_path = Path(pha_path)
    with _open_fits(pha_path, "spectrum") as hdul:
        hdu = _spectrum_hdu(hdul, pha_path)
        hdr = hdu.header
        data = hdu.data
        cols = [c.upper() for c in data.columns.names]
        n = len(data)
        exposure = float(hdr.get("EXPOSURE", 1.0) or 1.0)
        channel = (
            np.asarray(data["CHANNEL"], dtype=int)
            if "CHANNEL" in cols
            else np.arange(n) + int(hdr.get("TLMIN1", 1))
        )
        if "COUNTS" in cols:
            counts = np.asarray(data["COUNTS"], dtype=float)
            rate = False
        elif "RATE" in cols:
            counts = np.asarray(data["RATE"], dtype=float) * exposure
            rate = True
        else:
            raise ValueError(f"{pha_path}: no COUNTS or RATE column")
        poisserr = bool(hdr.get("POISSERR", "STAT_ERR" not in cols))
        stat_err = None
        if "STAT_ERR" in cols and not poisserr:
            stat_err = np.asarray(data["STAT_ERR"], dtype=float)
            if rate:
                stat_err = stat_err * exposure
        quality = _column_or_key(data, hdr, "QUALITY", 0, n, int)
        grouping = _column_or_key(data, hdr, "GROUPING", 0, n, int)
        grouping[grouping == 0] = 1
        backscal = _column_or_key(data, hdr, "BACKSCAL", 1.0, n)
        areascal = _column_or_key(data, hdr, "AREASCAL", 1.0, n)
        header = {k: hdr[k] for k in hdr if k and k not in ("COMMENT", "HISTORY")}
        rmf_file = arf_file = bkg_file = None
        if use_header:
            if not isinstance(rmf, Response):
                rmf_file = _header_file(hdr, "RESPFILE", pha_path, rmf, "response (RMF)")
            arf_file = _header_file(hdr, "ANCRFILE", pha_path, arf, "ARF")
            if not isinstance(background, Spectrum):
                bkg_file = _header_file(hdr, "BACKFILE", pha_path, background, "background")
        else:
            rmf_file = None if isinstance(rmf, Response) or rmf is None else Path(rmf)
            arf_file = None if arf is None else Path(arf)
            bkg_file = (
                None if isinstance(background, Spectrum) or background is None else Path(background)
            )

    response = None
    if isinstance(rmf, Response):
        response = rmf
        if arf_file is not None:
            _, area = read_arf(arf_file)
            response = rmf.with_arf(area, arf_file)
    elif rmf_file is not None:
        response = read_response(rmf_file, arf_file)

    bkg = None
    if isinstance(background, Spectrum):
        bkg = background
    elif bkg_file is not None:
        bkg = read_spectrum(bkg_file, use_header=False)

    return Spectrum(
        counts=counts,
        exposure=exposure,
        backscal=backscal,
        areascal=areascal,
        quality=quality,
        grouping=grouping,
        channel=channel,
        response=response,
        background=bkg,
        path=pha_path,
        stat_err=stat_err,
        poisserr=poisserr,
        header=header,
    )


def write_spectrum(
    path: str | os.PathLike,
    counts: np.ndarray,
    exposure: float,
    *,
    backscal: float = 1.0,
    areascal: float = 1.0,
    quality: np.ndarray | None = None,
    grouping: np.ndarray | None = None,
    respfile: str = "none",
    ancrfile: str = "none",
    backfile: str = "none",
    first_channel: int = 0,
    overwrite: bool = True,
) -> Path:
    """Write a minimal type-I OGIP PHA file (a helper for tests and round trips)."""
    counts = np.asarray(counts)
    n = len(counts)
    cols = [
        fits.Column("CHANNEL", "J", array=np.arange(n) + first_channel),
        fits.Column("COUNTS", "J", unit="count", array=np.round(counts).astype(np.int32)),
    ]
    if quality is not None:
        cols.append(fits.Column("QUALITY", "I", array=np.asarray(quality, np.int16)))
    if grouping is not None:
        cols.append(fits.Column("GROUPING", "I", array=np.asarray(grouping, np.int16)))
    hdu = fits.BinTableHDU.from_columns(cols, name="SPECTRUM")
    h = hdu.header
    h["HDUCLASS"] = "OGIP"
    h["HDUCLAS1"] = "SPECTRUM"
    h["HDUCLAS2"] = "TOTAL"
    h["HDUCLAS3"] = "COUNT"
    h["EXPOSURE"] = float(exposure)
    h["BACKSCAL"] = float(backscal)
    h["AREASCAL"] = float(areascal)
    h["POISSERR"] = True
    h["RESPFILE"] = respfile
    h["ANCRFILE"] = ancrfile
    h["BACKFILE"] = backfile
    h["CORRFILE"] = "none"
    h["DETCHANS"] = n
    h["CHANTYPE"] = "PI"
    h["TLMIN1"] = first_channel
    h["TLMAX1"] = first_channel + n - 1
    if quality is None:
        h["QUALITY"] = 0
    if grouping is None:
        h["GROUPING"] = 0
    path = Path(path)
    fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(path, overwrite=overwrite)
    return path
