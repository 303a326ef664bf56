"""Tests of the native products (xrtflow.products) and the native backend stages.

The fixture builds a small archive following docs/architecture.md (level-2 events, attitude,
HK) and a tiny CALDB (index + RMF, on-axis ARF, PSF and vignetting coefficient files).
"""

from __future__ import annotations

import gzip
import io

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.wcs import WCS
from regions import CircleAnnulusSkyRegion, CircleSkyRegion, Regions

from xrtflow import naming
from xrtflow.backends import native
from xrtflow.calibration import PIXEL_ARCMIN, SWIFT_XRT_PSF, SWIFT_XRT_VIGNETTING
from xrtflow.products.events import EventFileError, read_events
from xrtflow.products.regions import events_in_region, read_region, write_regions
from xrtflow.products.spectrum import region_backscal

OBSID = "00012345001"
RA0, DEC0, ROLL = 136.0, -32.0, 30.0
TARGET = SkyCoord(136.0 + 1.0 / 60 / np.cos(np.radians(-32.0)), -32.0, unit="deg")  # 1' east
T0 = 5.0e8
GTI = np.array([[T0, T0 + 1003.0], [T0 + 1505.0, T0 + 2300.0]])
EXPOSURE = float(np.sum(GTI[:, 1] - GTI[:, 0]))
PIX = 6.548089e-4
CONFIG = {
    "mode": "PC",
    "products": {"pilow": 30, "pihigh": 1000, "lc_binsize": 10.0},
    "regions": {"source_radius": 180.0, "background_inner": 240.0, "background_outer": 390.0},
    "grouping": {"type": "min", "scale": 1},
}


def _wcs() -> WCS:
    w = WCS(naxis=2)
    w.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    w.wcs.crval = [RA0, DEC0]
    w.wcs.crpix = [500.5, 500.5]
    w.wcs.cdelt = [-PIX, PIX]
    return w


def _event_hdul(obsid: str = OBSID, seed: int = 1) -> fits.HDUList:
    rng = np.random.default_rng(seed)
    w = _wcs()
    # source: Gaussian core around the target; background: uniform over the detector square
    n_src, n_bkg = 3000, 20000
    sx, sy = w.world_to_pixel(TARGET)
    xs = sx + rng.normal(0, 6.0, n_src)
    ys = sy + rng.normal(0, 6.0, n_src)
    xb = rng.uniform(200, 800, n_bkg)
    yb = rng.uniform(200, 800, n_bkg)
    x = np.round(np.concatenate([xs, xb]) + 1).astype(np.int16)
    y = np.round(np.concatenate([ys, yb]) + 1).astype(np.int16)
    n = len(x)
    frac = (GTI[:, 1] - GTI[:, 0]) / EXPOSURE
    g = rng.choice(len(GTI), size=n, p=frac)
    t = np.sort(rng.uniform(GTI[g, 0], GTI[g, 1]))
    pi = np.clip(rng.gamma(2.0, 60.0, n).astype(np.int32), 0, 1023)
    cols = [
        fits.Column("TIME", "D", unit="s", array=t),
        fits.Column("X", "I", array=x),
        fits.Column("Y", "I", array=y),
        fits.Column("RAWX", "I", array=np.clip(x - 201, 0, 599)),
        fits.Column("RAWY", "I", array=np.clip(y - 201, 0, 599)),
        fits.Column("DETX", "I", array=np.clip(x - 200, 1, 600)),
        fits.Column("DETY", "I", array=np.clip(y - 200, 1, 600)),
        fits.Column("PHA", "J", array=pi * 4),
        fits.Column("PI", "J", array=pi),
        fits.Column("GRADE", "I", array=rng.integers(0, 13, n)),
    ]
    ev = fits.BinTableHDU.from_columns(cols, name="EVENTS")
    h = ev.header
    for i, axis in ((2, 0), (3, 1)):
        h[f"TCTYP{i}"] = ("RA---TAN", "DEC--TAN")[axis]
        h[f"TCRVL{i}"] = (RA0, DEC0)[axis]
        h[f"TCRPX{i}"] = 500.5
        h[f"TCDLT{i}"] = (-PIX, PIX)[axis]
        h[f"TCUNI{i}"] = "deg"
        h[f"TLMIN{i}"] = 1
        h[f"TLMAX{i}"] = 1000
    keys = {
        "TELESCOP": "SWIFT",
        "INSTRUME": "XRT",
        "DATAMODE": "PHOTON",
        "OBS_MODE": "POINTING",
        "OBS_ID": obsid,
        "TARG_ID": 12345,
        "OBJECT": "TEST SRC",
        "RA_PNT": RA0,
        "DEC_PNT": DEC0,
        "PA_PNT": ROLL,
        "RA_OBJ": TARGET.ra.deg,
        "DEC_OBJ": TARGET.dec.deg,
        "MJDREFI": 51910,
        "MJDREFF": 7.4287037e-4,
        "TIMESYS": "TT",
        "TIMEREF": "LOCAL",
        "TIMEUNIT": "s",
        "TSTART": GTI[0, 0],
        "TSTOP": GTI[-1, 1],
        "DATE-OBS": "2016-11-05T00:00:00",
        "DATE-END": "2016-11-05T00:40:00",
        "EXPOSURE": EXPOSURE,
        "ONTIME": EXPOSURE,
        "LIVETIME": EXPOSURE,
        "ATTFLAG": "110",
        "HDUCLASS": "OGIP",
        "HDUCLAS1": "EVENTS",
        "XRTVSUB": 6,
        "CREATOR": "test",
    }
    primary = fits.PrimaryHDU()
    for k, v in keys.items():
        h[k] = v
        primary.header[k] = v
    gti = fits.BinTableHDU.from_columns(
        [fits.Column("START", "D", array=GTI[:, 0]), fits.Column("STOP", "D", array=GTI[:, 1])],
        name="GTI",
    )
    gti.header["HDUCLAS1"] = "GTI"
    badpix = fits.BinTableHDU.from_columns(
        [
            fits.Column("RAWX", "I", array=[50]),
            fits.Column("RAWY", "I", array=[0]),
            fits.Column("YEXTENT", "I", array=[600]),
            fits.Column("TYPE", "I", array=[1]),
        ],
        name="BADPIX",
    )
    return fits.HDUList([primary, ev, gti, badpix])


def _gz(hdul: fits.HDUList, path) -> None:
    buf = io.BytesIO()
    hdul.writeto(buf)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(buf.getvalue(), mtime=0))


def _attitude(path, dra_arcmin: float = 0.0) -> None:
    rng = np.random.default_rng(5)
    t = np.arange(T0 - 50, T0 + 2400, 1.0)
    jitter = 1.0 / 3600  # 1" wander
    ra = RA0 + (dra_arcmin / 60 + rng.normal(0, jitter, len(t))) / np.cos(np.radians(DEC0))
    dec = DEC0 + rng.normal(0, jitter, len(t))
    att = fits.BinTableHDU.from_columns(
        [
            fits.Column("TIME", "D", array=t),
            fits.Column("POINTING", "3E", array=np.column_stack([ra, dec, np.full(len(t), ROLL)])),
        ],
        name="ATTITUDE",
    )
    _gz(fits.HDUList([fits.PrimaryHDU(), att]), path)


def _caldb(root) -> dict:
    """Tiny CALDB: index + RMF, on-axis ARF, PSF and vignetting files."""
    cpf = root / "data/swift/xrt/cpf"
    files = {}
    e = np.linspace(0.1, 10.0, 991)
    elo, ehi = e[:-1], e[1:]
    area = 120.0 * np.exp(-0.5 * ((0.5 * (elo + ehi) - 1.5) / 1.5) ** 2) + 1.0
    arf = fits.BinTableHDU.from_columns(
        [
            fits.Column("ENERG_LO", "E", array=elo),
            fits.Column("ENERG_HI", "E", array=ehi),
            fits.Column("SPECRESP", "E", array=area),
        ],
        name="SPECRESP",
    )
    files["arf"] = cpf / "arf/swxpc0to12s6_20010101v999.arf"
    files["arf"].parent.mkdir(parents=True)
    fits.HDUList([fits.PrimaryHDU(), arf]).writeto(files["arf"])
    files["rmf"] = cpf / "rmf/swxpc0to12s6_20010101v999.rmf"
    files["rmf"].parent.mkdir(parents=True)
    ebounds = fits.BinTableHDU.from_columns(
        [
            fits.Column("CHANNEL", "J", array=np.arange(1024)),
            fits.Column("E_MIN", "E", array=np.arange(1024) * 0.01),
            fits.Column("E_MAX", "E", array=np.arange(1, 1025) * 0.01),
        ],
        name="EBOUNDS",
    )
    fits.HDUList([fits.PrimaryHDU(), ebounds]).writeto(files["rmf"])
    c = SWIFT_XRT_PSF.as_array()
    psf = fits.BinTableHDU.from_columns(
        [fits.Column("PAR", "2A", array=["P0", "P1", "P2", "P3"])]
        + [fits.Column(f"COEF{j}", "E", array=c[:, j]) for j in range(4)],
        name="PSF_COEF",
    )
    files["psf"] = cpf / "bcf/swxpsf20010101v004.fits"
    files["psf"].parent.mkdir(parents=True)
    fits.HDUList([fits.PrimaryHDU(), psf]).writeto(files["psf"])
    v = SWIFT_XRT_VIGNETTING
    vig = fits.BinTableHDU.from_columns(
        [fits.Column(f"PAR{i}", "E", array=[p]) for i, p in enumerate((v.par0, v.par1, v.par2))],
        name="VIG_COEF",
    )
    files["vign"] = cpf / "bcf/swxvign20010101v001.fits"
    fits.HDUList([fits.PrimaryHDU(), vig]).writeto(files["vign"])
    rows = [
        ("rmf", "MATRIX", ["DATAMODE(PHOTON)", "GRADE(G0:12)"]),
        ("arf", "SPECRESP", ["DATAMODE(PHOTON)", "GRADE(G0:12)"]),
        ("psf", "PSF", ["ENERG(0.1-10)keV"]),
        ("vign", "VIGNET", ["ENERG(0.1-10)keV"]),
    ]
    cbd = [r[2] + ["NONE"] * (9 - len(r[2])) for r in rows]
    index = fits.BinTableHDU.from_columns(
        [
            fits.Column("TELESCOP", "10A", array=["SWIFT"] * 4),
            fits.Column("INSTRUME", "10A", array=["XRT"] * 4),
            fits.Column(
                "CAL_DIR", "70A", array=[str(files[r[0]].parent.relative_to(root)) for r in rows]
            ),
            fits.Column("CAL_FILE", "40A", array=[files[r[0]].name for r in rows]),
            fits.Column("CAL_CNAM", "20A", array=[r[1] for r in rows]),
            fits.Column("CAL_CBD", "630A", dim="(70,9)", array=np.array(cbd)),
            fits.Column("CAL_VSD", "10A", array=["2001-01-01"] * 4),
            fits.Column("CAL_VST", "8A", array=["00:00:00"] * 4),
            fits.Column("CAL_QUAL", "I", array=[0] * 4),
            fits.Column("CAL_DEV", "20A", array=["ONLINE"] * 4),
        ],
        name="CIF",
    )
    idx = root / "data/swift/xrt/index/caldb.indx"
    idx.parent.mkdir(parents=True)
    fits.HDUList([fits.PrimaryHDU(), index]).writeto(idx)
    return files


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """Run pipeline -> expomap -> regions -> products -> group once for the module."""
    root = tmp_path_factory.mktemp("native")
    archive = root / "archive" / OBSID
    _gz(_event_hdul(), archive / naming.archive_event(OBSID))
    _attitude(archive / naming.archive_attitude(OBSID))
    _gz(fits.HDUList([fits.PrimaryHDU()]), archive / naming.archive_hk_header(OBSID))
    caldb_files = _caldb(root / "caldb")
    config = dict(CONFIG, caldb=str(root / "caldb"))
    out = root / "obs" / OBSID
    work = root / "work"
    evt = native.pipeline(OBSID, archive, out, TARGET, config, work, out / "pipeline.log")
    att = archive / naming.archive_attitude(OBSID)
    hk = archive / naming.archive_hk_header(OBSID)
    expo = native.expomap(OBSID, evt, att, hk, out, config, work, out / "expomap.log")
    src_reg, bkg_reg = write_regions(TARGET, 180, 240, 390, out / "src.reg", out / "bkg.reg")
    prods = native.products(
        OBSID, evt, src_reg, bkg_reg, expo, att, hk, out, config, work, out / "products.log"
    )
    grp = native.group(
        OBSID,
        prods["src_pha"],
        prods["bkg_pha"],
        prods["rmf"],
        out / naming.grouped_spectrum(OBSID),
        config,
        work,
        out / "group.log",
    )
    return {
        "root": root,
        "archive": archive,
        "config": config,
        "evt": evt,
        "expo": expo,
        "src_reg": src_reg,
        "bkg_reg": bkg_reg,
        "prods": prods,
        "grp": grp,
        "caldb": caldb_files,
        "att": att,
        "hk": hk,
    }


# --- regions -----------------------------------------------------------------------------------
def test_regions_round_trip(tmp_path):
    src, bkg = write_regions(TARGET, 180, 240, 390, tmp_path / "s.reg", tmp_path / "b.reg")
    assert "fk5" in src.read_text().splitlines()
    (circle,) = Regions.read(str(src), format="ds9")
    (annulus,) = Regions.read(str(bkg), format="ds9")
    assert isinstance(circle, CircleSkyRegion)
    assert isinstance(annulus, CircleAnnulusSkyRegion)
    assert circle.center.separation(TARGET) < 0.01 * u.arcsec
    assert circle.radius.to_value(u.arcsec) == pytest.approx(180, rel=1e-6)
    assert annulus.inner_radius.to_value(u.arcsec) == pytest.approx(240, rel=1e-6)
    assert annulus.outer_radius.to_value(u.arcsec) == pytest.approx(390, rel=1e-6)
    assert isinstance(read_region(bkg), CircleAnnulusSkyRegion)


# --- pipeline ----------------------------------------------------------------------------------
def test_pipeline_writes_uncompressed_identical_events(run):
    evt = run["evt"]
    assert evt.name == naming.cleaned_events(OBSID)
    raw = gzip.decompress((run["archive"] / naming.archive_event(OBSID)).read_bytes())
    assert evt.read_bytes() == raw
    ev = read_events(evt, obsid=OBSID, mode="PC")
    assert len(ev.time) == 23000


def test_pipeline_missing_file(tmp_path):
    with pytest.raises(EventFileError, match=OBSID) as err:
        native.pipeline(
            OBSID, tmp_path / "nothing", tmp_path / "out", TARGET, CONFIG, tmp_path, None
        )
    assert naming.archive_event(OBSID).split("/")[-1] in str(err.value)


def test_pipeline_corrupt_file(tmp_path):
    path = tmp_path / "arch" / naming.archive_event(OBSID)
    path.parent.mkdir(parents=True)
    path.write_bytes(gzip.compress(b"this is not FITS", mtime=0)[:-6])  # truncated gzip
    with pytest.raises(EventFileError, match=OBSID) as err:
        native.pipeline(OBSID, tmp_path / "arch", tmp_path / "out", TARGET, CONFIG, tmp_path, None)
    assert path.name in str(err.value)
    path.write_bytes(gzip.compress(b"SIMPLE  = garbage" * 200, mtime=0))
    with pytest.raises(EventFileError, match=OBSID):
        native.pipeline(OBSID, tmp_path / "arch", tmp_path / "out", TARGET, CONFIG, tmp_path, None)


def test_pipeline_wrong_obsid_and_missing_gti(tmp_path):
    arch = tmp_path / "arch"
    _gz(_event_hdul(obsid="00099999001"), arch / naming.archive_event(OBSID))
    with pytest.raises(EventFileError, match="OBS_ID"):
        native.pipeline(OBSID, arch, tmp_path / "out", TARGET, CONFIG, tmp_path, None)
    hdul = _event_hdul()
    del hdul["GTI"]
    _gz(hdul, arch / naming.archive_event(OBSID))
    with pytest.raises(EventFileError, match="GTI"):
        native.pipeline(OBSID, arch, tmp_path / "out", TARGET, CONFIG, tmp_path, None)


# --- spectra -----------------------------------------------------------------------------------
def _events_and_masks(run):
    ev = read_events(run["evt"])
    src = events_in_region(read_region(run["src_reg"]), ev.wcs, ev.x, ev.y)
    bkg = events_in_region(read_region(run["bkg_reg"]), ev.wcs, ev.x, ev.y)
    return ev, src, bkg


def _independent_in_circle(ev, r_in_arcsec, r_out_arcsec):
    world = ev.wcs.pixel_to_world(ev.x - 1.0, ev.y - 1.0)
    sep = world.separation(TARGET).to_value(u.arcsec)
    return (sep >= r_in_arcsec) & (sep <= r_out_arcsec)


def test_counts_conserved(run):
    ev, src, bkg = _events_and_masks(run)
    for key, mask, radii in (("src_pha", src, (0, 180)), ("bkg_pha", bkg, (240, 390))):
        with fits.open(run["prods"][key]) as hdul:
            counts = hdul["SPECTRUM"].data["COUNTS"]
            assert len(counts) == 1024
            assert counts.sum() == mask.sum() == hdul["SPECTRUM"].header["TOTCTS"]
            # per-channel: the spectrum is the PI histogram of the region's events
            np.testing.assert_array_equal(counts, np.bincount(ev.pi[mask], minlength=1024))
        independent = _independent_in_circle(ev, *radii).sum()
        assert abs(independent - mask.sum()) <= 0.002 * mask.sum() + 2
    assert src.sum() > 2500


def test_pha_keywords(run):
    with fits.open(run["prods"]["src_pha"]) as hdul:
        h = hdul["SPECTRUM"].header
        assert h["HDUCLASS"] == "OGIP" and h["HDUCLAS1"] == "SPECTRUM"
        assert h["HDUCLAS2"] == "TOTAL" and h["HDUCLAS3"] == "COUNT"
        assert h["HDUVERS"] == "1.2.1" and h["CHANTYPE"] == "PI" and h["DETCHANS"] == 1024
        assert h["TLMIN1"] == 0 and h["TLMAX1"] == 1023
        assert h["POISSERR"] is True and h["AREASCAL"] == 1.0
        assert h["EXPOSURE"] == pytest.approx(EXPOSURE)
        assert h["RESPFILE"] == naming.source_rmf(OBSID)
        assert h["ANCRFILE"] == naming.source_arf(OBSID)
        assert h["BACKFILE"] == naming.background_spectrum(OBSID)
        assert h["OBS_ID"] == OBSID and h["TELESCOP"] == "SWIFT" and h["INSTRUME"] == "XRT"
        assert "GTI" in hdul
        assert set(hdul["SPECTRUM"].columns.names) == {"CHANNEL", "COUNTS", "QUALITY", "GROUPING"}
    with fits.open(run["prods"]["bkg_pha"]) as hdul:
        assert hdul["SPECTRUM"].header["HDUCLAS2"] == "BKG"
        assert hdul["SPECTRUM"].header["EXPOSURE"] == pytest.approx(EXPOSURE)


def test_backscal_area_ratio(run):
    ev = read_events(run["evt"])
    src, bkg = read_region(run["src_reg"]), read_region(run["bkg_reg"])
    bs_src, n_src = region_backscal(src, ev.wcs, ev.image_shape)
    bs_bkg, n_bkg = region_backscal(bkg, ev.wcs, ev.image_shape)
    pix_arcsec = PIX * 3600
    area_src = np.pi * (180 / pix_arcsec) ** 2
    area_bkg = np.pi * ((390 / pix_arcsec) ** 2 - (240 / pix_arcsec) ** 2)
    assert bs_src == pytest.approx(area_src / 1e6, rel=0.01)
    assert bs_bkg / bs_src == pytest.approx(area_bkg / area_src, rel=0.01)
    # xrtproducts passes expofile to xrtmkarf only: the files carry the geometric BACKSCAL
    with fits.open(run["prods"]["src_pha"]) as hdul:
        assert hdul["SPECTRUM"].header["BACKSCAL"] == pytest.approx(bs_src, rel=1e-12)
    with fits.open(run["prods"]["bkg_pha"]) as hdul:
        assert hdul["SPECTRUM"].header["BACKSCAL"] == pytest.approx(bs_bkg, rel=1e-12)
    # the exposure-weighted area (option products.backscal_expomap) is what the map implies
    expo = fits.getdata(run["expo"])
    bs_w, _ = region_backscal(src, ev.wcs, ev.image_shape, expo, EXPOSURE)
    from xrtflow.products.regions import region_pixel_mask

    mask = region_pixel_mask(src, ev.wcs, ev.image_shape)
    assert bs_w == pytest.approx(np.clip(expo[mask] / EXPOSURE, 0, 1).sum() / 1e6, rel=1e-6)
    assert 0.9 * bs_src < bs_w <= bs_src


# --- light curves, image -----------------------------------------------------------------------
def test_light_curves(run):
    ev, src, bkg = _events_and_masks(run)
    band = (ev.pi >= 30) & (ev.pi <= 1000)
    for key, mask in (("src_lc", src), ("bkg_lc", bkg)):
        with fits.open(run["prods"][key]) as hdul:
            d, h = hdul["RATE"].data, hdul["RATE"].header
            assert h["HDUCLAS1"] == "LIGHTCURVE" and h["TIMEDEL"] == 10.0
            counts = d["RATE"] * h["TIMEDEL"] * d["FRACEXP"]
            assert np.round(counts).sum() == (mask & band).sum()
            assert np.allclose(counts, np.round(counts), atol=1e-3)
            # the exposure of the kept bins is the GTI total
            assert (d["FRACEXP"] * h["TIMEDEL"]).sum() == pytest.approx(EXPOSURE, rel=1e-6)
            assert np.any(d["FRACEXP"] < 1) and np.all(d["FRACEXP"] > 0)
            t_abs = h["TIMEZERO"] + d["TIME"]
            assert t_abs.min() >= GTI[0, 0] and t_abs.max() <= GTI[-1, 1] + 10
            assert "GTI" in hdul


def test_image(run):
    ev = read_events(run["evt"])
    with fits.open(run["prods"]["image"]) as hdul:
        img, h = hdul[0].data, hdul[0].header
    assert img.shape == (1000, 1000)
    # xrtproducts' image holds every PI channel (pilow/pihigh select the light curves only)
    assert img.sum() == len(ev.pi)
    assert h["CTYPE1"] == "RA---TAN" and h["CRPIX1"] == 500.5
    assert h["CDELT1"] == pytest.approx(-PIX) and h["CRVAL2"] == pytest.approx(DEC0)
    assert h["EXPOSURE"] == pytest.approx(EXPOSURE) and h["OBS_ID"] == OBSID
    # the brightest pixel is at the target through the image WCS
    j, i = np.unravel_index(np.argmax(img), img.shape)
    sky = WCS(h).pixel_to_world(i, j)
    assert sky.separation(TARGET) < 30 * u.arcsec


# --- exposure map ------------------------------------------------------------------------------
def test_expomap(run, tmp_path):
    with fits.open(run["expo"]) as hdul:
        flat, flat_header = hdul[0].data, hdul[0].header
    # default like xrtexpomap (vigflag=no): no vignetting, full exposure 10' off axis
    r_pix = int(10 / PIXEL_ARCMIN)
    assert flat_header["VIGNAPP"] is False
    assert flat[499, 499 + r_pix] == pytest.approx(flat[499, 499], rel=0.01)
    config = {
        **run["config"],
        "products": {**run["config"]["products"], "expomap_vignetting": True},
    }
    vignetted = native.expomap(
        OBSID, run["evt"], run["att"], run["hk"], tmp_path, config, tmp_path, None
    )
    with fits.open(vignetted) as hdul:
        img, h = hdul[0].data, hdul[0].header
    assert h["VIGNAPP"] is True
    assert img.shape == (1000, 1000)
    assert h["CTYPE1"] == "RA---TAN" and h["CRVAL1"] == pytest.approx(RA0)
    assert h["EXPOSURE"] == pytest.approx(EXPOSURE)
    center = img[499, 499]
    assert center == pytest.approx(EXPOSURE, rel=0.01)
    # vignetting lowers the exposure towards the edge (10' off axis ~ 0.75 at 1.5 keV)
    edge = img[499, 499 + r_pix]
    assert edge < 0.85 * center and edge > 0.3 * center
    # outside the detector footprint there is no exposure
    assert img[0, 0] == 0 and img[999, 999] == 0
    # the bad column is ~250 pixels from the centre: it leaves a trail of zeros
    assert (img[400:600, 200:800] < 0.05 * EXPOSURE).sum() > 150


def test_expomap_vignetting_like_xrtexpocorr(run, tmp_path):
    from xrtflow.products.expomap import instrument_map

    # xrtexpocorr: 1 - (PAR0 PAR1^E + PAR2) theta^2, theta from raw pixel (300, 300) at 2.36"/pixel
    v = SWIFT_XRT_VIGNETTING
    inst = instrument_map(None, 4.0, v, apply_vignetting=True)
    assert inst[300, 300] == 1.0
    for dx, dy in ((250, 0), (-120, 200)):
        theta = np.hypot(dx, dy) * 2.36 / 60
        expected = 1 - (v.par0 * v.par1**4.0 + v.par2) * theta**2
        assert inst[300 + dy, 300 + dx] == pytest.approx(expected, rel=1e-12)
    config = {
        **run["config"],
        "products": {
            **run["config"]["products"],
            "expomap_vignetting": True,
            "expomap_energy": 4.0,
        },
    }
    path = native.expomap(
        OBSID, run["evt"], run["att"], run["hk"], tmp_path, config, tmp_path, None
    )
    with fits.open(path) as hdul:
        img, h = hdul[0].data, hdul[0].header
    assert h["VIGNAPP"] is True and h["XRTVIGEN"] == 4.0
    # 8' from the pointing along +X (roll 30 deg: not along a detector axis)
    r_pix = int(round(8 / PIXEL_ARCMIN))
    theta = r_pix * PIXEL_ARCMIN * 2.36 / (PIXEL_ARCMIN * 60)
    expected = 1 - (v.par0 * v.par1**4.0 + v.par2) * theta**2
    assert img[499, 499 + r_pix] / img[499, 499] == pytest.approx(expected, abs=0.01)


def test_expomap_uses_the_attitude_file_of_attflag(run, tmp_path):
    from xrtflow.products.expomap import choose_attitude_file

    archive = tmp_path / "archive" / OBSID
    hdul = _event_hdul()
    for hdu in hdul[:2]:
        hdu.header["ATTFLAG"] = "100"  # spacecraft attitude (sat), not the corrected pat
    _gz(hdul, archive / naming.archive_event(OBSID))
    pat, sat = (
        archive / naming.archive_attitude(OBSID),
        archive / naming.archive_attitude(OBSID, "sat"),
    )
    _attitude(pat)
    _attitude(sat, dra_arcmin=2.0)  # 2' east of the pat pointing
    header = {"ATTFLAG": "100", "OBS_ID": OBSID}
    assert choose_attitude_file(header, pat) == sat
    assert choose_attitude_file({"ATTFLAG": "110", "OBS_ID": OBSID}, sat) == pat
    out, cfg = tmp_path / "out", run["config"]
    evt = native.pipeline(OBSID, archive, out, TARGET, cfg, tmp_path, None)
    # ATTFLAG 100: given the staged pat file, the map is made from the sat file next to it
    maps = {"sat": native.expomap(OBSID, evt, pat, run["hk"], out / "a", cfg, tmp_path, None)}
    with fits.open(evt, mode="update") as f:
        for hdu in f[:2]:
            hdu.header["ATTFLAG"] = "110"
    maps["pat"] = native.expomap(OBSID, evt, pat, run["hk"], out / "b", cfg, tmp_path, None)
    maps = {k: fits.getdata(v) for k, v in maps.items()}
    # the footprint follows the sat pointing: 2' east = -2'/pixel along X
    cx = {k: np.average(np.nonzero(m > 0)[1], weights=m[m > 0]) for k, m in maps.items()}
    assert cx["sat"] - cx["pat"] == pytest.approx(-2.0 / PIXEL_ARCMIN, abs=1.0)


def test_deterministic(run, tmp_path):
    out = tmp_path / "again"
    cfg = run["config"]
    expo = native.expomap(OBSID, run["evt"], run["att"], run["hk"], out, cfg, tmp_path, None)
    assert expo.read_bytes() == run["expo"].read_bytes()
    prods = native.products(
        OBSID,
        run["evt"],
        run["src_reg"],
        run["bkg_reg"],
        expo,
        run["att"],
        run["hk"],
        out,
        cfg,
        tmp_path,
        None,
    )
    for key in prods:
        assert prods[key].read_bytes() == run["prods"][key].read_bytes(), key


# --- RMF, ARF ----------------------------------------------------------------------------------
def test_rmf_copied_from_caldb(run):
    rmf = run["prods"]["rmf"]
    assert rmf.name == naming.source_rmf(OBSID)
    assert rmf.read_bytes() == run["caldb"]["rmf"].read_bytes()


def test_arf_equals_onaxis_times_vignetting_times_psf(run):
    with fits.open(run["caldb"]["arf"]) as hdul:
        on = hdul["SPECRESP"].data
    with fits.open(run["prods"]["arf"]) as hdul:
        h = hdul["SPECRESP"].header
        arf = hdul["SPECRESP"].data
    assert h["HDUCLAS1"] == "RESPONSE" and h["HDUCLAS2"] == "SPECRESP"
    # the fixture's RMF has no matrix: the ARF keeps the on-axis ARF's grid
    np.testing.assert_allclose(arf["ENERG_LO"], on["ENERG_LO"])
    # no bad pixel close to the source: the exposure correction is ~1
    assert h["BPCORR"] == pytest.approx(1.0, abs=2e-3)
    # off-axis angle as xrtmkarf: target to RA_PNT/DEC_PNT in pixels of 2.36"
    sep = SkyCoord(RA0, DEC0, unit="deg").separation(TARGET).to_value(u.arcsec)
    theta = sep / (PIXEL_ARCMIN * 60) * 2.36 / 60
    assert h["OFFAXIS"] == pytest.approx(theta, abs=1e-3)
    for energy in (1.5, 4.0):
        k = int(np.argmin(np.abs(0.5 * (on["ENERG_LO"] + on["ENERG_HI"]) - energy)))
        e = 0.5 * (on["ENERG_LO"][k] + on["ENERG_HI"][k])
        v = SWIFT_XRT_VIGNETTING
        vig = 1 - (v.par0 * v.par1**e + v.par2) * theta**2
        # King profile with xrtmkarf's units (off-axis / 0.1', energy / 0.1 keV), in pixels
        c = SWIFT_XRT_PSF.as_array()
        t, x = theta / 0.1, e / 0.1
        rc = c[2, 0] + c[2, 1] * t + c[2, 2] * x + c[2, 3] * x * t
        beta = c[3, 0] + c[3, 1] * t + c[3, 2] * x + c[3, 3] * x * t
        r = np.linspace(0, 180.0 / (PIXEL_ARCMIN * 60), 200001)
        prof = (beta - 1) / (np.pi * rc**2) * (1 + (r / rc) ** 2) ** (-beta) * 2 * np.pi * r
        eef = np.trapezoid(prof, r)
        expected = on["SPECRESP"][k] * vig * eef * h["BPCORR"]
        # the pixel rings blur the region's edge by ~1e-3
        assert arf["SPECRESP"][k] == pytest.approx(expected, rel=2e-3)
