"""Seconds per ObsID for the native exposure map and ARF (not run by the tests).

Inputs: the three ObsIDs of ``../shared/reference/heasoft-products`` (events, attitude, exposure
map, regions, calibration files); without them, every ObsID of ``demo_archive/`` (``make demo``).
Timed, each the median of ``--repeat`` runs on one core:

* ``expomap``: the whole native stage (read events, bin the attitude, project the instrument map
  on the 1000 x 1000 sky grid, write the FITS map), without and with vignetting;
* ``arf``: :func:`xrtflow.products.arf.make_arf` (read the on-axis ARF and the RMF grid, PSF
  fraction on the pixel grid for every RMF energy, vignetting) from the map in memory;
* ``arf_psf``: the PSF-fraction integration alone (2400 energies).

Writes ``benchmarks/results/bench_products.{json,ecsv}``.

Run: ``OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_products.py [--repeat 5]``
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.table import Table

from xrtflow.backends import native
from xrtflow.calibration import read_psf_coefficients, read_vignetting_coefficients
from xrtflow.products.arf import make_arf, psf_fraction, read_energy_grid, xrtmkarf_offaxis
from xrtflow.products.events import read_events
from xrtflow.products.regions import read_region

HERE = Path(__file__).resolve().parent
REF = HERE.parent.parent / "shared" / "reference" / "heasoft-products"
DEMO = HERE.parent / "demo_archive"


def _cases() -> list[dict]:
    """One dict of input paths per ObsID."""
    if REF.is_dir():
        calib = REF / "calib"
        return [
            {
                "obsid": o,
                "events": REF / o / f"sw{o}xpcw3po_cl.evt.gz",
                "attitude": REF / o / f"sw{o}pat.fits.gz",
                "hk": REF / o / f"sw{o}xhd.hk.gz",
                "region": REF / o / "src.reg",
                "caldb": REF / "sim_caldb",
                "onaxis": calib / "swxpc0to12s6_20010101v900.arf",
                "rmf": calib / "swxpc0to12s6_20010101v900.rmf",
                "psf": calib / "swxpsf20010101v004_pc.fits",
                "vign": calib / "swxvign20010101v001.fits",
            }
            for o in ("00031940101", "00031940102", "00031940103")
        ]
    if not DEMO.is_dir():
        raise SystemExit(f"neither {REF} nor {DEMO} exists: run `make demo` first")
    cpf, bcf = DEMO / "caldb/data/swift/xrt/cpf", DEMO / "caldb/data/swift/xrt/bcf"
    cases = []
    for obs in sorted(p for p in DEMO.iterdir() if p.is_dir() and p.name.isdigit()):
        o = obs.name
        cases.append(
            {
                "obsid": o,
                "events": obs / f"xrt/event/sw{o}xpcw3po_cl.evt.gz",
                "attitude": obs / f"auxil/sw{o}pat.fits.gz",
                "hk": obs / f"xrt/hk/sw{o}xhd.hk.gz",
                "region": None,
                "caldb": DEMO / "caldb",
                "onaxis": sorted(cpf.glob("arf/*.arf*"))[0],
                "rmf": sorted(cpf.glob("rmf/*.rmf*"))[0],
                "psf": sorted(bcf.glob("psf/*"))[0],
                "vign": sorted(bcf.glob("vign/*"))[0],
            }
        )
    return cases


def _median_time(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def bench(case: dict, repeat: int) -> dict:
    events = read_events(case["events"])
    if case["region"] is not None:
        region = read_region(case["region"])
    else:
        import astropy.units as u
        from astropy.coordinates import SkyCoord
        from regions import CircleSkyRegion

        h = events.header
        centre = SkyCoord(h["RA_OBJ"] * u.deg, h["DEC_OBJ"] * u.deg)
        region = CircleSkyRegion(centre, radius=180 * u.arcsec)
    psf = read_psf_coefficients(case["psf"])
    vig = read_vignetting_coefficients(case["vign"])
    pnt = (events.header["RA_PNT"], events.header["DEC_PNT"])
    out: dict = {"obsid": case["obsid"], "n_events": len(events.time)}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for label, vigflag in (("expomap_s", False), ("expomap_vign_s", True)):
            config = {
                "mode": "PC",
                "caldb": str(case["caldb"]),
                "products": {"expomap_vignetting": vigflag},
            }

            def run(config=config):
                return native.expomap(
                    case["obsid"],
                    case["events"],
                    case["attitude"],
                    case["hk"],
                    tmp,
                    config,
                    tmp,
                    None,
                )

            out[label] = _median_time(run, repeat)
        expo = fits.getdata(run()).astype(float)
    out["arf_s"] = _median_time(
        lambda: make_arf(
            case["onaxis"],
            region,
            events.wcs,
            pnt,
            psf,
            vig,
            expomap=expo,
            rmf=case["rmf"],
            shape=events.image_shape,
        ),
        repeat,
    )
    elo, ehi = read_energy_grid(case["rmf"])
    emid = 0.5 * (elo + ehi)
    theta, _ = xrtmkarf_offaxis(region.center, events.wcs, pnt)
    out["arf_psf_s"] = _median_time(
        lambda: psf_fraction(region, events.wcs, events.image_shape, emid, theta, expo, psf),
        repeat,
    )
    out["n_energies"] = len(emid)
    out["offaxis_arcmin"] = theta
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    rows = [bench(case, args.repeat) for case in _cases()]
    for r in rows:
        print(
            f"{r['obsid']}: expomap {r['expomap_s']:.3f} s (vign {r['expomap_vign_s']:.3f} s), "
            f"ARF {r['arf_s']:.3f} s (PSF part {r['arf_psf_s']:.3f} s, {r['n_energies']} "
            f"energies, {r['offaxis_arcmin']:.2f}')"
        )
    results = HERE / "results"
    results.mkdir(exist_ok=True)
    meta = {"python": platform.python_version(), "machine": platform.machine(), "rows": rows}
    (results / "bench_products.json").write_text(json.dumps(meta, indent=2) + "\n")
    Table(rows).write(results / "bench_products.ecsv", overwrite=True)
    mean = {k: float(np.mean([r[k] for r in rows])) for k in ("expomap_s", "arf_s")}
    print(f"mean per ObsID: expomap {mean['expomap_s']:.3f} s, ARF {mean['arf_s']:.3f} s")


if __name__ == "__main__":
    main()
