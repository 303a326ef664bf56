"""Parameter sets of the HEASoft tasks, ATTFLAG choice, output discovery, the heasoft stages
with fake tasks, and the PyXspec command plan -- none of it needs HEASoft or XSPEC."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from xrtflow import naming
from xrtflow.heasoft import tasks
from xrtflow.heasoft.runner import build_args

OBSID = "00031940001"
CONFIG = {
    "mode": "PC",
    "heasoft": {"chatter": 3, "exitstage": 2},
    "products": {"pilow": 30, "pihigh": 1000, "lc_binsize": 10},
    "grouping": {"type": "min", "scale": 1},
}


def _documented(task, params):
    assert set(params) <= tasks.DOCUMENTED_PARAMETERS[task]
    assert tasks.PARAMETER_SOURCES[task]
    return build_args(task, params)  # every value is passable


def test_xrtpipeline_params(tmp_path):
    p = tasks.xrtpipeline_params(
        OBSID, tmp_path / OBSID, tmp_path / "out", 136.1729, -32.3799, CONFIG
    )
    _documented("xrtpipeline", p)
    assert p["steminputs"] == f"sw{OBSID}"
    assert p["srcra"] == 136.1729 and p["srcdec"] == -32.3799
    assert p["exitstage"] == 2 and p["datamode"] == "PC" and p["obsmode"] == "POINTING"
    assert p["clobber"] is True and p["chatter"] == 3 and p["createexpomap"] is False
    assert "mode" not in p  # the PIL 'mode' parameter is never passed
    wt = tasks.xrtpipeline_params(OBSID, tmp_path, tmp_path, 1.0, 2.0, {**CONFIG, "mode": "WT"})
    assert wt["datamode"] == "WT"
    with pytest.raises(ValueError, match="exitstage"):
        tasks.xrtpipeline_params(OBSID, tmp_path, tmp_path, 1, 2, {"heasoft": {"exitstage": 4}})


def test_xrtexpomap_params(tmp_path):
    p = tasks.xrtexpomap_params(
        tmp_path / "ev.evt", tmp_path / "pat", tmp_path / "hk", tmp_path, CONFIG
    )
    _documented("xrtexpomap", p)
    assert {"infile", "attfile", "hdfile", "outdir", "clobber", "chatter"} == set(p)


@pytest.mark.parametrize("mode", ["PC", "WT"])
@pytest.mark.parametrize("correctlc", [True, False])
def test_xrtproducts_params(tmp_path, mode, correctlc):
    cfg = {**CONFIG, "mode": mode, "products": {**CONFIG["products"], "correctlc": correctlc}}
    p = tasks.xrtproducts_params(
        OBSID,
        tmp_path / "ev",
        tmp_path / "src.reg",
        tmp_path / "bkg.reg",
        tmp_path / "ex.img",
        tmp_path / "pat",
        tmp_path / "hk",
        tmp_path / "out",
        cfg,
    )
    _documented("xrtproducts", p)
    assert p["bkgextract"] is True and p["correctlc"] is correctlc
    assert p["stemout"] == naming.stem(OBSID, mode)
    assert p["phafile"] == naming.source_spectrum(OBSID, mode)
    assert p["bkgphafile"] == naming.background_spectrum(OBSID, mode)
    assert p["arffile"] == naming.source_arf(OBSID, mode)
    assert p["lcfile"] == naming.source_lightcurve(OBSID, mode)
    assert p["bkglcfile"] == naming.background_lightcurve(OBSID, mode)
    assert p["imagefile"] == naming.sky_image(OBSID, mode)
    assert (p["pilow"], p["pihigh"], p["binsize"]) == (30, 1000, 10.0)
    # xrtproducts refuses attfile/hdfile unless correctlc=yes
    assert ("attfile" in p) is correctlc and ("hdfile" in p) is correctlc
    # the per-ObsID region (annulus when piled up) and xrtmkarf's PSF correction for it
    assert p["regionfile"] == tmp_path / "src.reg" and p["psfflag"] is True
    if mode == "WT":
        assert "xwtw2po" in p["phafile"]


@pytest.mark.parametrize(
    ("gtype", "scale", "has_resp"),
    [("min", 1, False), ("opt", None, True), ("optmin", 20, True), ("snmin", 3, False)],
)
def test_ftgrouppha_params(tmp_path, gtype, scale, has_resp):
    cfg = {"grouping": {"type": gtype, "scale": scale}}
    p = tasks.ftgrouppha_params(
        tmp_path / "s.pha", tmp_path / "b.pha", tmp_path / "r.rmf", tmp_path / "g.pha", cfg
    )
    _documented("ftgrouppha", p)
    assert p["grouptype"] == gtype and p["backfile"] == tmp_path / "b.pha"
    assert ("respfile" in p) is has_resp
    assert ("groupscale" in p) is (scale is not None)


def test_ftgrouppha_bad_config(tmp_path):
    with pytest.raises(ValueError, match="not one of"):
        tasks.ftgrouppha_params(tmp_path, None, None, tmp_path, {"grouping": {"type": "magic"}})
    with pytest.raises(ValueError, match="needs grouping.scale"):
        tasks.ftgrouppha_params(tmp_path, None, None, tmp_path, {"grouping": {"type": "min"}})
    with pytest.raises(ValueError, match="RMF"):
        tasks.ftgrouppha_params(tmp_path, None, None, tmp_path, {"grouping": {"type": "opt"}})


def test_check_parameters_refuses_undocumented_names():
    with pytest.raises(ValueError, match="does not document"):
        tasks.check_parameters("xrtexpomap", {"infile": "a", "infiel": "b"})


# --- ATTFLAG -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("flag", "kind"), [("100", "sat"), ("110", "pat"), (111, "uat"), ("101", "uat")]
)
def test_attitude_file_for(tmp_path, flag, kind):
    auxil = tmp_path / "auxil"
    auxil.mkdir()
    for k in ("sat", "pat", "uat"):
        (auxil / f"sw{OBSID}{k}.fits.gz").write_bytes(b"")
    header = fits.Header({"ATTFLAG": flag, "OBS_ID": OBSID})
    assert tasks.attitude_file_for(header, tmp_path).name == f"sw{OBSID}{kind}.fits.gz"


def test_attitude_file_missing_or_unknown(tmp_path):
    with pytest.raises(FileNotFoundError, match="uat"):
        tasks.attitude_file_for({"ATTFLAG": "111", "OBS_ID": OBSID}, tmp_path)
    with pytest.raises(ValueError, match="ATTFLAG"):
        tasks.attitude_file_for({"ATTFLAG": "999", "OBS_ID": OBSID}, tmp_path)
    with pytest.raises(KeyError):
        tasks.attitude_file_for({"OBS_ID": OBSID}, tmp_path)
    (tmp_path / "auxil").mkdir()
    (tmp_path / "auxil" / f"sw{OBSID}pat.fits").write_bytes(b"")  # uncompressed copy accepted
    assert tasks.attitude_file_for({"ATTFLAG": "110"}, tmp_path, OBSID).suffix == ".fits"


# --- output discovery ----------------------------------------------------------------------------
def test_output_discovery(tmp_path):
    with pytest.raises(tasks.MissingOutputError, match=naming.cleaned_events(OBSID)):
        tasks.find_cleaned_events(tmp_path, OBSID)
    (tmp_path / f"sw{OBSID}xpcw2po_cl.evt").write_bytes(b"")
    with pytest.raises(tasks.MissingOutputError, match="xpcw2po_cl.evt"):  # lists what IS there
        tasks.find_cleaned_events(tmp_path, OBSID)
    (tmp_path / naming.cleaned_events(OBSID)).write_bytes(b"")
    assert tasks.find_cleaned_events(tmp_path, OBSID).name == naming.cleaned_events(OBSID)
    (tmp_path / (naming.exposure_map(OBSID, "WT") + ".gz")).write_bytes(b"")
    assert tasks.find_exposure_map(tmp_path, OBSID, "WT").suffix == ".gz"
    for fn in list(tasks.PRODUCT_NAMES.values())[:-1]:
        (tmp_path / fn(OBSID)).write_bytes(b"")
    with pytest.raises(tasks.MissingOutputError, match=naming.source_arf(OBSID)):
        tasks.find_products(tmp_path, OBSID)
    (tmp_path / naming.source_arf(OBSID)).write_bytes(b"")
    assert set(tasks.find_products(tmp_path, OBSID)) == set(tasks.PRODUCT_NAMES)


# --- heasoft stages with fake tasks --------------------------------------------------------------
FAKE_PRODUCTS = f"""#!{sys.executable}
import sys
from pathlib import Path
import numpy as np
from astropy.io import fits
args = dict(a.split("=", 1) for a in sys.argv[1:])
out = Path(args["outdir"])
def pha(name, resp):
    h = fits.BinTableHDU.from_columns([
        fits.Column("CHANNEL", "J", array=np.arange(1024)),
        fits.Column("COUNTS", "J", array=np.ones(1024, int))], name="SPECTRUM")
    h.header["RESPFILE"] = resp
    h.header["BACKFILE"] = "whatever.pha"
    h.header["ANCRFILE"] = "NONE"
    fits.HDUList([fits.PrimaryHDU(), h]).writeto(out / name, overwrite=True)
pha(args["phafile"], "swxpc0to12s6_20130101v014.rmf")
pha(args["bkgphafile"], "NONE")
for key in ("arffile", "lcfile", "bkglcfile", "imagefile"):
    (out / args[key]).write_text(key)
region = Path(args["regionfile"])
(out.parent / "xrtproducts_args.txt").write_text(
    " ".join(sys.argv[1:]) + "\\n" + (region.read_text() if region.is_file() else ""))
if args["correctlc"] == "yes":
    (out / (args["stemout"] + "sr_corr.lc")).write_text("corrected")
print("xrtproducts_0.4.2: Exit with success.")
"""

FAKE_GROUP = f"""#!{sys.executable}
import sys, shutil
args = dict(a.split("=", 1) for a in sys.argv[1:])
shutil.copyfile(args["infile"], args["outfile"])
"""


@pytest.fixture
def fake_env(tmp_path, monkeypatch):
    headas = tmp_path / "headas"
    (headas / "syspfiles").mkdir(parents=True)
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for name, text in (("xrtproducts", FAKE_PRODUCTS), ("ftgrouppha", FAKE_GROUP)):
        exe = bindir / name
        exe.write_text(text)
        exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    caldb = tmp_path / "caldb"
    rmfdir = caldb / "data" / "swift" / "xrt" / "cpf" / "rmf"
    rmfdir.mkdir(parents=True)
    (rmfdir / "swxpc0to12s6_20130101v014.rmf").write_text("rmf")
    monkeypatch.setenv("HEADAS", str(headas))
    monkeypatch.setenv("CALDB", str(caldb))
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    return tmp_path


@pytest.mark.parametrize("correctlc", [True, False])
def test_products_and_group_stages(fake_env, correctlc):
    from xrtflow.backends import heasoft

    out = fake_env / "obs"
    out.mkdir()
    for name in ("src.reg", "bkg.reg"):
        (out / name).write_text('fk5\ncircle(1,2,3")\n')
    cfg = {**CONFIG, "products": {**CONFIG["products"], "correctlc": correctlc}}
    made = heasoft.products(
        OBSID,
        out / "ev.evt",
        out / "src.reg",
        out / "bkg.reg",
        out / "ex.img",
        out / "pat.fits",
        out / "xhd.hk",
        out,
        cfg,
        fake_env / "work",
        fake_env / "p.log",
    )
    assert set(made) == {
        *("image", "src_lc", "bkg_lc", "src_pha", "bkg_pha", "arf", "rmf"),
        *("src_region", "bkg_region"),
    }
    assert made["src_region"].read_text() == (out / "src.reg").read_text()
    assert made["rmf"].name == naming.source_rmf(OBSID) and made["rmf"].read_text() == "rmf"
    hdr = fits.getheader(made["src_pha"], "SPECTRUM")
    assert hdr["RESPFILE"] == naming.source_rmf(OBSID)
    assert hdr["ANCRFILE"] == naming.source_arf(OBSID)
    assert hdr["BACKFILE"] == naming.background_spectrum(OBSID)
    assert (made["src_lc"].read_text() == "corrected") is correctlc
    assert "$ xrtproducts infile=" in (fake_env / "p.log").read_text()

    grouped = heasoft.group(
        OBSID,
        made["src_pha"],
        made["bkg_pha"],
        made["rmf"],
        out / naming.grouped_spectrum(OBSID),
        CONFIG,
        fake_env / "work2",
        fake_env / "g.log",
    )
    ghdr = fits.getheader(grouped, "SPECTRUM")
    assert (ghdr["RESPFILE"], ghdr["BACKFILE"]) == (hdr["RESPFILE"], hdr["BACKFILE"])


def test_wt_products_stage_gives_xrtproducts_the_strip_boxes(fake_env):
    """WT: xrtproducts gets per-ObsID boxes along the strip (PA_PNT - 90 deg), not the circle."""
    import gzip

    from astropy.coordinates import SkyCoord

    from xrtflow.backends import heasoft
    from xrtflow.products.regions import write_regions
    from xrtflow.simulate.wt_archive import WTArchiveConfig, WTObservationSpec, make_wt_archive

    obsid = "00031941001"
    spec = WTObservationSpec(obsid, 142.2, 60.0, 0.08, roll_deg=35.0)
    make_wt_archive(fake_env / "sim", WTArchiveConfig(observations=(spec,)))
    out = fake_env / "obs"
    out.mkdir()
    events = out / naming.cleaned_events(obsid, "WT")
    gz = fake_env / "sim" / "archive" / obsid / naming.archive_event(obsid, "WT")
    events.write_bytes(gzip.decompress(gz.read_bytes()))
    write_regions(
        SkyCoord(136.17292, -32.37986, unit="deg"),
        47.146,
        117.865,
        212.157,
        out / "src.reg",
        out / "bkg.reg",
    )
    made = heasoft.products(
        obsid,
        events,
        out / "src.reg",
        out / "bkg.reg",
        out / "ex.img",
        out / "pat.fits",
        out / "xhd.hk",
        out,
        {**CONFIG, "mode": "WT"},
        fake_env / "work",
        fake_env / "p.log",
    )
    log = (fake_env / "p.log").read_text()
    assert f"regionfile={made['src_region']}" in log
    assert f"bkgregionfile={made['bkg_region']}" in log
    src = made["src_region"].read_text().splitlines()
    assert "fk5" in src
    boxes = [line for line in src if line.startswith("box(")]
    assert len(boxes) == 1 and boxes[0].endswith(",305.000)")  # PA_PNT 35 - 90
    assert "94.29" in boxes[0]  # 40 pixels along the strip
    assert made["bkg_region"].read_text().count("box(") == 2


def test_products_stage_passes_the_annulus_of_a_piled_up_source(fake_env):
    """run_products with the heasoft backend: xrtproducts gets the excised annulus (the same
    pile-up assessment as the native backend, made in Python from the cleaned events) and
    psfflag=yes, so xrtmkarf's ARF holds the annulus's PSF fraction."""
    import gzip
    import json

    from xrtflow.products.regions import write_regions
    from xrtflow.simulate import DemoConfig, ObservationSpec, make_demo_archive
    from xrtflow.steps.processing import run_products

    obsid = "00031940002"
    spec = ObservationSpec(obsid, day=142.3, exposure=1500.0, offset_arcmin=0.3)
    demo = DemoConfig(
        observations=(spec,), seed=11, pileup=True, model="powerlaw",
        parameters={"PhoIndex": 2.0, "norm": 0.018},
    )  # fmt: skip
    make_demo_archive(fake_env / "sim", demo, progress=False)
    obs = fake_env / "sim" / "archive" / obsid
    events = fake_env / naming.cleaned_events(obsid)
    events.write_bytes(gzip.decompress((obs / naming.archive_event(obsid)).read_bytes()))
    from astropy.coordinates import SkyCoord

    src, bkg = write_regions(
        SkyCoord(demo.ra, demo.dec, unit="deg"),
        180,
        240,
        390,
        fake_env / "s.reg",
        fake_env / "b.reg",
    )
    stage = fake_env / "stage.json"
    stage.write_text(json.dumps({"attitude_file": "pat.fits", "hk_file": "xhd.hk"}))
    expomap_record = fake_env / "expomap.json"
    expomap_record.write_text(json.dumps({"status": "ok"}))
    out = fake_env / "obs"
    keys = ("image", "src_lc", "bkg_lc", "src_pha", "bkg_pha", "arf", "rmf", "src_region")
    outputs = {key: out / f"{key}.out" for key in keys}
    cfg = {**CONFIG, "products": {**CONFIG["products"], "correctlc": False}}
    record = run_products(
        "heasoft", obsid, events, fake_env / "none.img", src, bkg, stage, expomap_record, cfg,
        outputs, out / "products.json", fake_env / "p.log",
    )  # fmt: skip
    assert record["status"] == "ok", record
    info = record["pileup"]
    assert info["piled_up"] and 3 <= info["excision_radius_pix"] <= 12
    used = outputs["src_region"].read_text()
    assert f'{info["excision_radius_arcsec"]:.3f}",180.000")' in used and "annulus(" in used
    args, region = (out / "xrtproducts_args.txt").read_text().split("\n", 1)
    assert "psfflag=yes" in args.split() and region == used


# --- PyXspec plan --------------------------------------------------------------------------------
def _pha(path: Path, obsid: str) -> Path:
    h = fits.BinTableHDU.from_columns(
        [
            fits.Column("CHANNEL", "J", array=np.arange(4)),
            fits.Column("COUNTS", "J", array=np.ones(4, int)),
        ],
        name="SPECTRUM",
    )
    h.header.update(RESPFILE="r.rmf", ANCRFILE="a.arf", BACKFILE="b.pha", OBS_ID=obsid)
    fits.HDUList([fits.PrimaryHDU(), h]).writeto(path)
    for n in ("r.rmf", "a.arf", "b.pha"):
        if not (path.parent / n).exists():
            (path.parent / n).write_text("x")
    return path


def test_xspec_plan(tmp_path):
    from xrtflow.heasoft.xspec_fit import plan
    from xrtflow.spectral.fit import FitSetup

    d1, d2 = tmp_path / "a", tmp_path / "b"
    d1.mkdir(), d2.mkdir()
    s1, s2 = _pha(d1 / "s.pha", "00031940001"), _pha(d2 / "s.pha", "00031940002")
    setup = FitSetup(
        spectra=[s1, s2],
        model="tbabs*(bb+brems)",
        start={"nH": 0.22, "bbody.kT": 0.1},
        tied=["nH"],
        ignore="**-0.3 7-**",
        flux_band=(0.3, 10.0),
        flux_samples=100,
    )
    p = plan(setup)
    assert p.data_commands == [f"1:1 {s1.resolve()}", f"2:2 {s2.resolve()}"]
    assert p.files[1]["rmf"] == str((d2 / "r.rmf").resolve())
    assert p.files[0]["background"] == str((d1 / "b.pha").resolve())
    assert p.obsids == ["00031940001", "00031940002"]
    assert p.n_pars == 5 and p.start == {1: 0.22, 2: 0.1}
    # nH tied; kT/norm of both components free per group -> untied in group 2
    assert p.untie == [(2, 2), (2, 3), (2, 4), (2, 5)]
    assert p.free_global == [1, 2, 3, 4, 5, 7, 8, 9, 10]
    assert p.error_command == "maximum 1000.0 2.706 1 2 3 4 5 7 8 9 10"
    assert p.ignore == "**-0.3 7.0-**"  # keV, never channels
    assert p.flux_command == "0.3 10.0 err 100 90"
    assert p.stat_method == "cstat" and p.absorber_nh == [1]


def test_xspec_plan_defaults_and_errors(tmp_path):
    from xrtflow.heasoft.xspec_fit import ignore_string, parse_link, plan
    from xrtflow.spectral.fit import FitSetup

    s = _pha(tmp_path / "s.pha", "00031940001")
    p = plan(FitSetup(spectra=[s, s], model="tbabs*powerlaw", errors=["PhoIndex"], flux_samples=0))
    assert p.untie == []  # XSPEC default: everything tied
    assert p.error_command.endswith(" 2")
    assert p.flux_command == "0.3 10.0"
    assert ignore_string(None) is None
    with pytest.raises(ValueError, match="not a number"):
        ignore_string("bad")
    with pytest.raises(ValueError):
        ignore_string("**-0.3\n7.0-**")
    assert parse_link("= p4", 3) == "2:1" and parse_link("", 3) == ""
    with pytest.raises(ValueError, match="statistic"):
        plan(FitSetup(spectra=[s], model="powerlaw", statistic="lstat"))
