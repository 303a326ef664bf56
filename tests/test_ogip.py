"""OGIP readers: PHA keywords/columns, header file resolution, RMF compression, notice/ignore."""

import numpy as np
import pytest
import scipy.sparse as sp
from astropy.io import fits

from xrtflow.spectral.ogip import Response, Spectrum, read_response, read_spectrum, write_spectrum


def write_rmf(path, n_e=40, n_ch=20, offset=0, vlen=True):
    """A small compressed RMF: each energy row spreads over 3 channels (1 or 2 groups)."""
    elo = np.linspace(0.1, 10.0, n_e + 1)
    rows_f, rows_n, rows_m, ngrp = [], [], [], []
    dense = np.zeros((n_e, n_ch))
    for i in range(n_e):
        c = min(int(i * n_ch / n_e), n_ch - 3)
        vals = np.array([0.2, 0.5, 0.3])
        dense[i, c : c + 3] = vals
        if i % 2:  # two groups: [c], [c+1, c+2]
            rows_f.append([c + offset, c + 1 + offset])
            rows_n.append([1, 2])
            ngrp.append(2)
        else:
            rows_f.append([c + offset])
            rows_n.append([3])
            ngrp.append(1)
        rows_m.append(vals)
    fmt = "PJ()" if vlen else "2J"
    if not vlen:
        rows_f = [r + [0] * (2 - len(r)) for r in rows_f]
        rows_n = [r + [0] * (2 - len(r)) for r in rows_n]
    cols = [
        fits.Column("ENERG_LO", "E", array=elo[:-1]),
        fits.Column("ENERG_HI", "E", array=elo[1:]),
        fits.Column("N_GRP", "I", array=ngrp),
        fits.Column("F_CHAN", fmt, array=np.array(rows_f, dtype=object) if vlen else rows_f),
        fits.Column("N_CHAN", fmt, array=np.array(rows_n, dtype=object) if vlen else rows_n),
        fits.Column(
            "MATRIX",
            "PE()" if vlen else "3E",
            array=np.array(rows_m, dtype=object) if vlen else np.array(rows_m),
        ),
    ]
    mat = fits.BinTableHDU.from_columns(cols, name="MATRIX")
    mat.header["TLMIN4"] = offset
    ch = np.arange(n_ch)
    eb = fits.BinTableHDU.from_columns(
        [
            fits.Column("CHANNEL", "J", array=ch + offset),
            fits.Column("E_MIN", "E", array=ch * 0.5),
            fits.Column("E_MAX", "E", array=(ch + 1) * 0.5),
        ],
        name="EBOUNDS",
    )
    fits.HDUList([fits.PrimaryHDU(), mat, eb]).writeto(path, overwrite=True)
    return dense, elo


def write_arf(path, elo):
    area = np.linspace(10, 50, len(elo) - 1)
    fits.BinTableHDU.from_columns(
        [
            fits.Column("ENERG_LO", "E", array=elo[:-1]),
            fits.Column("ENERG_HI", "E", array=elo[1:]),
            fits.Column("SPECRESP", "E", array=area),
        ],
        name="SPECRESP",
    ).writeto(path, overwrite=True)
    return area


@pytest.mark.parametrize("vlen", [True, False])
@pytest.mark.parametrize("offset", [0, 1])
def test_rmf_decompression_and_arf(tmp_path, vlen, offset):
    dense, elo = write_rmf(tmp_path / "r.rmf", offset=offset, vlen=vlen)
    area = write_arf(tmp_path / "a.arf", elo)
    resp = read_response(tmp_path / "r.rmf", tmp_path / "a.arf")
    assert isinstance(resp.matrix, sp.csr_matrix)
    assert np.allclose(resp.matrix.toarray(), dense * area[:, None], rtol=1e-6)
    assert np.allclose(resp.energy_edges, elo.astype(np.float32))
    model = np.arange(1, 41, dtype=float)
    assert np.allclose(resp.fold(model), (dense * area[:, None]).T @ model, rtol=1e-6)


def test_read_spectrum_header_files_and_gzip(tmp_path):
    _, elo = write_rmf(tmp_path / "r.rmf")
    write_arf(tmp_path / "a.arf", elo)
    write_spectrum(tmp_path / "b.pha", np.full(20, 2), 2000.0, backscal=4.0)
    write_spectrum(
        tmp_path / "s.pha",
        np.arange(20),
        1000.0,
        backscal=0.5,
        respfile="r.rmf",
        ancrfile="a.arf",
        backfile="b.pha",
    )
    s = read_spectrum(tmp_path / "s.pha")
    assert s.response is not None and s.response.arf_path.name == "a.arf"
    assert s.background is not None and s.background.exposure == 2000.0
    assert s.exposure == 1000.0 and np.all(s.backscal == 0.5)
    assert s.counts.sum() == np.arange(20).sum()
    import gzip
    import shutil

    with open(tmp_path / "s.pha", "rb") as f, gzip.open(tmp_path / "s2.pha.gz", "wb") as g:
        shutil.copyfileobj(f, g)
    s2 = read_spectrum(tmp_path / "s2.pha.gz")
    assert np.array_equal(s2.counts, s.counts)


def test_missing_header_file_is_a_clear_error(tmp_path):
    write_spectrum(tmp_path / "s.pha", np.ones(20), 10.0, respfile="gone.rmf")
    with pytest.raises(FileNotFoundError) as err:
        read_spectrum(tmp_path / "s.pha")
    msg = str(err.value)
    assert "RESPFILE" in msg and "gone.rmf" in msg and "s.pha" in msg and "explicitly" in msg
    # explicit files override the header; NONE means none
    write_spectrum(tmp_path / "n.pha", np.ones(20), 10.0, respfile="NONE", backfile="")
    s = read_spectrum(tmp_path / "n.pha")
    assert s.response is None and s.background is None


def _spectrum_with_response(counts, grouping=1, quality=0):
    n = len(counts)
    resp = Response(
        matrix=sp.csr_matrix(np.eye(n)),
        energy_edges=np.arange(n + 1) * 0.01,
        channel=np.arange(n),
        e_min=(np.arange(n) * 0.01).astype(np.float32).astype(float),
        e_max=(np.arange(1, n + 1) * 0.01).astype(np.float32).astype(float),
    )
    return Spectrum(
        counts=counts,
        exposure=1.0,
        backscal=1.0,
        areascal=1.0,
        quality=quality,
        grouping=grouping,
        channel=np.arange(n),
        response=resp,
    )


def test_ignore_energy_like_xspec():
    s = _spectrum_with_response(np.ones(1024))
    s.ignore("**-0.3 10.0-**")
    noticed = np.flatnonzero(s.noticed)
    # XSPEC leaves channels 30..998 for Swift-XRT PI (10 eV) channels
    assert noticed[0] == 30 and noticed[-1] == 998 and len(noticed) == 969
    s.notice("all")
    assert s.noticed.all()


def test_grouping_and_bad_quality():
    counts = np.arange(10, dtype=float)
    grouping = np.array([1, -1, -1, 1, -1, 1, 1, -1, -1, -1])
    quality = np.array([5, 5, 0, 0, 0, 0, 2, 2, 2, 2])
    s = _spectrum_with_response(counts, grouping, quality)
    g = s.grouped()
    assert g.n_groups == 4
    assert np.allclose(g.counts, [0 + 1 + 2, 3 + 4, 5, 6 + 7 + 8 + 9])
    s.ignore("bad")
    g = s.grouped()
    # bad channels leave their groups; the all-bad group is dropped
    assert np.allclose(g.counts[g.mask], [2, 7, 5])
    assert not g.mask[3]
    gm = g.group_matrix().toarray()
    assert gm[0, 0] == 0 and gm[0, 2] == 1


@pytest.mark.parametrize("vlen", [True, False])
def test_rmf_elements_give_the_matrix_without_scipy(tmp_path, vlen):
    """The fit's dense folding rows come from the elements as read; they equal the CSR."""
    dense, elo = write_rmf(tmp_path / "r.rmf", vlen=vlen)
    resp = read_response(tmp_path / "r.rmf", None)
    cols = np.array([0, 3, 4, 11, 19])
    assert np.allclose(resp.elements.channel_rows(cols), dense.T[cols], rtol=1e-6, atol=0)
    assert np.array_equal(
        resp.elements.csr().toarray()[:, cols], resp.elements.channel_rows(cols).T
    )
    assert resp.shape == dense.shape and resp.n_channel == dense.shape[1]


def test_channel_sums_equal_the_group_matrix():
    """The fit's channel -> group sums (numpy.add.reduceat) equal GroupedSpectrum's sparse
    matrix, with bad channels weighted 0, ignored groups dropped and columns restricted."""
    from xrtflow.spectral.fit import _ChannelSum

    rng = np.random.default_rng(3)
    n = 60
    grouping = np.where(rng.random(n) < 0.3, 1, -1)
    grouping[0] = 1
    quality = np.where(rng.random(n) < 0.15, 2, 0)
    s = _spectrum_with_response(rng.poisson(3.0, n).astype(float), grouping, quality)
    s.ignore("bad")
    s.ignore("0.0-0.05")
    g = s.grouped()
    reference = g.group_matrix()[g.mask]
    sums = _ChannelSum.of(g)
    x = rng.random((n, 3))
    assert np.allclose(sums @ x, reference @ x) and np.allclose(sums @ x[:, 0], reference @ x[:, 0])
    used = sums.used_channels()
    assert np.array_equal(used, np.flatnonzero(abs(reference).sum(axis=0).A.ravel() > 0))
    restricted = sums.restricted(used)
    assert np.allclose(restricted @ x[used], reference @ x)
    assert np.allclose((sums @ sp.csr_matrix(x)).toarray(), reference @ x)
