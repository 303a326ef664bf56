"""The heasoft backend with the REAL HEASoft tasks and PyXspec.

Skipped unless ``HEADAS`` is set and the task is on ``PATH`` (and, for the calibrated stages,
``CALDB`` is set). Run with ``pytest -m heasoft`` inside an initialised HEASoft environment;
see docs/heasoft.md. The simulated archive holds level-2 (cleaned) events only, so
``xrtpipeline`` itself is exercised only when ``XRTFLOW_TEST_OBSDIR`` points to a real archive
ObsID directory (``<obsid>/xrt/event/*_uf.evt.gz`` etc.).
"""

from __future__ import annotations

import gzip
import os
import shutil
import threading
from pathlib import Path

import pytest
from astropy.coordinates import SkyCoord
from astropy.io import fits

from xrtflow import naming

pytestmark = pytest.mark.heasoft


def need(*tasks_needed: str, caldb: bool = True) -> None:
    if not os.environ.get("HEADAS"):
        pytest.skip("HEADAS is not set (HEASoft not initialised)")
    missing = [t for t in tasks_needed if shutil.which(t) is None]
    if missing:
        pytest.skip(f"not on PATH: {', '.join(missing)}")
    if caldb and not os.environ.get("CALDB"):
        pytest.skip("CALDB is not set")


def need_xspec() -> None:
    need(caldb=False)
    try:
        import xspec  # noqa: F401
    except Exception as err:  # noqa: BLE001
        pytest.skip(f"PyXspec not importable: {err}")


CONFIG = {
    "mode": "PC",
    "heasoft": {"chatter": 2, "exitstage": 2, "timeout": 1800},
    "products": {"pilow": 30, "pihigh": 1000, "lc_binsize": 10, "correctlc": False},
    "grouping": {"type": "min", "scale": 1},
}


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    need("xrtexpomap", caldb=False)
    from xrtflow.simulate.archive import make_demo_archive
    from xrtflow.simulate.config import DemoConfig

    root = tmp_path_factory.mktemp("demo")
    catalog = make_demo_archive(root, DemoConfig(n_obs=2, include_outliers=False), progress=False)
    obsid = str(catalog["obsid"][0])
    obs_dir = root / "archive" / obsid
    out = root / "results" / obsid
    out.mkdir(parents=True)
    event = out / naming.cleaned_events(obsid)
    with gzip.open(obs_dir / naming.archive_event(obsid), "rb") as fin, open(event, "wb") as fout:
        shutil.copyfileobj(fin, fout)
    header = fits.getheader(event, "EVENTS")
    ra, dec = header["RA_OBJ"], header["DEC_OBJ"]
    (out / "src.reg").write_text(f'fk5\ncircle({ra},{dec},60")\n')
    (out / "bkg.reg").write_text(f'fk5\nannulus({ra},{dec},120",240")\n')
    return {"obsid": obsid, "obs_dir": obs_dir, "out": out, "event": event, "header": header}


def test_xrtexpomap(demo):
    need("xrtexpomap")
    from xrtflow.backends import heasoft
    from xrtflow.heasoft.tasks import attitude_file_for

    att = attitude_file_for(demo["header"], demo["obs_dir"], demo["obsid"])
    hk = demo["obs_dir"] / naming.archive_hk_header(demo["obsid"])
    ex = heasoft.expomap(
        demo["obsid"],
        demo["event"],
        att,
        hk,
        demo["out"],
        CONFIG,
        demo["out"] / "w-ex",
        demo["out"] / "expomap.log",
    )
    assert ex == demo["out"] / naming.exposure_map(demo["obsid"]) and ex.is_file()


def test_xrtproducts_and_ftgrouppha(demo):
    need("xrtproducts", "ftgrouppha")
    from xrtflow.backends import heasoft
    from xrtflow.heasoft.tasks import attitude_file_for

    obsid, out = demo["obsid"], demo["out"]
    ex = out / naming.exposure_map(obsid)
    if not ex.is_file():
        pytest.skip("needs the exposure map of test_xrtexpomap")
    att = attitude_file_for(demo["header"], demo["obs_dir"], obsid)
    hk = demo["obs_dir"] / naming.archive_hk_header(obsid)
    made = heasoft.products(
        obsid,
        demo["event"],
        out / "src.reg",
        out / "bkg.reg",
        ex,
        att,
        hk,
        out,
        CONFIG,
        out / "w-pr",
        out / "products.log",
    )
    for key, path in made.items():
        assert path.is_file(), key
    hdr = fits.getheader(made["src_pha"], "SPECTRUM")
    assert hdr["RESPFILE"] == naming.source_rmf(obsid)

    # two ftgrouppha runs in parallel threads: private PFILES each
    outs = [out / f"g{i}.pha" for i in range(2)]
    errors = []

    def go(i):
        try:
            heasoft.group(
                obsid,
                made["src_pha"],
                made["bkg_pha"],
                made["rmf"],
                outs[i],
                CONFIG,
                out / f"w-g{i}",
                out / f"group{i}.log",
            )
        except Exception as err:  # noqa: BLE001
            errors.append(err)

    threads = [threading.Thread(target=go, args=(i,)) for i in range(2)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert not errors
    assert all(p.is_file() for p in outs)


def test_xrtpipeline_on_real_archive(tmp_path):
    need("xrtpipeline")
    obs_dir = os.environ.get("XRTFLOW_TEST_OBSDIR")
    if not obs_dir:
        pytest.skip("XRTFLOW_TEST_OBSDIR (a real archive ObsID directory) is not set")
    from xrtflow.backends import heasoft

    obs_dir = Path(obs_dir)
    ra = float(os.environ.get("XRTFLOW_TEST_RA", "136.17292"))
    dec = float(os.environ.get("XRTFLOW_TEST_DEC", "-32.37986"))
    ev = heasoft.pipeline(
        obs_dir.name,
        obs_dir,
        tmp_path / "out",
        SkyCoord(ra, dec, unit="deg"),
        CONFIG,
        tmp_path / "work",
        tmp_path / "pipeline.log",
    )
    assert ev.name == naming.cleaned_events(obs_dir.name) and ev.is_file()


def test_pyxspec_fit(demo):
    need_xspec()
    from xrtflow.heasoft.xspec_fit import fit
    from xrtflow.spectral.fit import FitSetup

    grp = demo["out"] / "g0.pha"
    if not grp.is_file():
        pytest.skip("needs the grouped spectrum of test_xrtproducts_and_ftgrouppha")
    result = fit(
        FitSetup(
            spectra=[grp],
            model="tbabs*powerlaw",
            start={"nH": 0.2},
            flux_samples=50,
            ignore="**-0.3 7.0-**",
        )
    )
    table = result.table()
    assert {"obsid", "group", "component", "parameter", "value", "err_lo", "err_hi"} <= set(
        table.colnames
    )
    assert result.dof > 0 and result.fluxes[0]["flux"] > 0


def test_corrected_light_curve_with_xrtlccorr_matches_native(demo, tmp_path):
    """xrtproducts correctlc=yes (xrtlccorr) per band vs the native stage: the same counts in each
    snapshot and band; rates within 8% (xrtlccorr's instrument map may hold the vignetting,
    which the native correction leaves to the ARF)."""
    need("xrtproducts", "xrtlccorr")
    from astropy.table import Table

    from xrtflow.heasoft.tasks import attitude_file_for
    from xrtflow.steps.lightcurves import lightcurve_settings, native_lightcurve

    obsid, out = demo["obsid"], demo["out"]
    att = attitude_file_for(demo["header"], demo["obs_dir"], obsid)
    hk = demo["obs_dir"] / naming.archive_hk_header(obsid)
    settings = lightcurve_settings({"binning": "snapshot"})
    from xrtflow.heasoft.lightcurve import heasoft_lightcurve

    (tmp_path / "h").mkdir()
    (tmp_path / "n").mkdir()
    made = heasoft_lightcurve(
        obsid, demo["event"], out / "src.reg", out / "bkg.reg", att, hk, tmp_path / "h",
        CONFIG, settings, tmp_path / "work", tmp_path / "lc.log",
    )  # fmt: skip
    native = native_lightcurve(
        obsid, demo["event"], out / "src.reg", out / "bkg.reg", att, tmp_path / "n", CONFIG,
        settings,
    )  # fmt: skip
    h = Table.read(made["lc_corr_table"])
    n = Table.read(native["lc_corr_table"])
    assert len(h) == len(n)
    for name, _, _ in settings["bands"]:
        assert list(h[f"COUNTS_{name}"]) == list(n[f"COUNTS_{name}"]), name
        ok = n[f"RATE_{name}"] > 0
        ratio = h[f"RATE_{name}"][ok] / n[f"RATE_{name}"][ok]
        assert abs(ratio - 1).max() < 0.08, (name, list(ratio))
