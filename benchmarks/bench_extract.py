"""Events per second of the native extraction: spectrum + background + light curves + image.

A large cleaned event file is made from a simulated one (``xrtflow.simulate``: its headers, WCS and
GTIs) with N events (a King-like source at the target plus a uniform background, PI from the
simulated spectrum), then timed stage by stage on one core, as ``native.products`` runs them
(without the ARF/RMF, which do not depend on the number of events):

* read: the EVENTS columns and the GTIs (:func:`xrtflow.products.events.read_events`);
* select: source circle and background annulus masks (:func:`events_in_region`);
* products: source and background spectra (``np.bincount``), light curves, sky image.

Target: 2e7 events/s on one core. Writes ``benchmarks/results/bench_extract.json``.

Run: ``OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_extract.py [--n 10000000]``
"""

from __future__ import annotations

import argparse
import gzip
import json
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
from astropy.io import fits

HERE = Path(__file__).resolve().parent


def make_event_file(n: int, workdir: Path, seed: int = 1) -> tuple[Path, Path, Path]:
    """A cleaned event file with ``n`` events and the regions around its target."""
    from astropy.coordinates import SkyCoord

    from xrtflow import naming
    from xrtflow.products.regions import write_regions
    from xrtflow.simulate import DemoConfig, make_demo_archive

    cfg = DemoConfig(n_obs=1, include_outliers=False, exposure_range=(2000.0, 2000.0))
    catalog = make_demo_archive(workdir / "sim", cfg, progress=False)
    obsid = str(catalog["obsid"][0])
    src_file = workdir / "sim" / "archive" / obsid / naming.archive_event(obsid)
    with fits.open(gzip.open(src_file)) as hdul:
        hdul = fits.HDUList([h.copy() for h in hdul])
    ev = hdul["EVENTS"]
    gti = np.column_stack([hdul["GTI"].data["START"], hdul["GTI"].data["STOP"]])
    rng = np.random.default_rng(seed)
    target = SkyCoord(cfg.ra, cfg.dec, unit="deg", frame="fk5")
    from xrtflow.products.events import sky_wcs

    x0, y0 = sky_wcs(ev.header).world_to_pixel(target)
    n_src = n // 3
    r = 8.0 * np.sqrt(rng.random(n_src) ** -0.8 - 1.0)  # King-like radial profile (pixels)
    phi = rng.uniform(0, 2 * np.pi, n_src)
    x = np.concatenate([x0 + 1 + r * np.cos(phi), rng.uniform(200, 800, n - n_src)])
    y = np.concatenate([y0 + 1 + r * np.sin(phi), rng.uniform(200, 800, n - n_src)])
    ok = (x >= 1) & (x < 1000.5) & (y >= 1) & (y < 1000.5)
    x, y = np.where(ok, x, 500.0), np.where(ok, y, 500.0)
    pi_sim = np.asarray(ev.data["PI"])
    k = rng.integers(0, len(gti), n)
    cols = {
        "TIME": np.sort(rng.uniform(gti[k, 0], gti[k, 1])),
        "X": np.rint(x).astype(np.int16),
        "Y": np.rint(y).astype(np.int16),
        "RAWX": rng.integers(0, 600, n).astype(np.int16),
        "RAWY": rng.integers(0, 600, n).astype(np.int16),
        "DETX": rng.integers(1, 601, n).astype(np.int16),
        "DETY": rng.integers(1, 601, n).astype(np.int16),
        "PHA": rng.integers(0, 4096, n).astype(np.int32),
        "PI": pi_sim[rng.integers(0, len(pi_sim), n)].astype(np.int32),
        "GRADE": rng.integers(0, 13, n).astype(np.int16),
    }
    new = fits.BinTableHDU.from_columns(
        [fits.Column(c.name, c.format, unit=c.unit, array=cols[c.name]) for c in ev.columns],
        header=ev.header,
        name="EVENTS",
    )
    for card in ev.header.cards:  # column WCS (TCTYPn, ...) that from_columns drops
        if card.keyword.startswith(("TC", "TL")) and card.keyword not in new.header:
            new.header[card.keyword] = (card.value, card.comment)
    hdul["EVENTS"] = new
    path = workdir / f"sw{obsid}xpcw3po_cl.evt"
    hdul.writeto(path, overwrite=True)
    src, bkg = write_regions(target, 180, 240, 390, workdir / "src.reg", workdir / "bkg.reg")
    return path, src, bkg


def run_once(path: Path, src: Path, bkg: Path) -> dict[str, float]:
    """Time one extraction (seconds per stage)."""
    from xrtflow.products.events import read_events
    from xrtflow.products.image import counts_image
    from xrtflow.products.lightcurve import bin_light_curve
    from xrtflow.products.regions import events_in_region, read_region
    from xrtflow.products.spectrum import pha_counts, region_backscal

    clock = time.process_time  # CPU time of this process: the machine may be shared
    t0 = clock()
    ev = read_events(path)
    t1 = clock()
    sreg, breg = read_region(src, ev.wcs), read_region(bkg, ev.wcs)
    index = (ev.pixel_index(), ev.image_shape)  # X/Y read once for image and regions
    smask = events_in_region(sreg, ev.wcs, ev.x, ev.y, index)
    bmask = events_in_region(breg, ev.wcs, ev.x, ev.y, index)
    t2 = clock()
    curves = []
    for mask in (smask, bmask):  # as write_pha / write_light_curve do it
        idx = np.flatnonzero(mask)
        pi = ev.pi[idx]
        spec = pha_counts(pi)
        sel = idx[(pi >= 30) & (pi <= 1000)]
        curves.append(bin_light_curve(ev.time[sel], ev.gti, 10.0))
        assert spec.sum() == idx.size
    img = counts_image(ev, 0, 1023)
    region_backscal(sreg, ev.wcs, ev.image_shape)
    region_backscal(breg, ev.wcs, ev.image_shape)
    t3 = clock()
    assert img.sum() == len(ev.pi) and sum(c[1].sum() for c in curves) <= len(ev.pi)
    return {"read": t1 - t0, "select": t2 - t1, "products": t3 - t2, "total": t3 - t0}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000_000, help="events in the file")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", type=Path, default=HERE / "results" / "bench_extract.json")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        path, src, bkg = make_event_file(args.n, Path(tmp))
        size = path.stat().st_size
        runs = [run_once(path, src, bkg) for _ in range(args.repeat)]
    best = {k: min(r[k] for r in runs) for k in runs[0]}
    result = {
        "n_events": args.n,
        "file_bytes": size,
        "seconds_best": best,
        "events_per_second": args.n / best["total"],
        "events_per_second_after_read": args.n / (best["select"] + best["products"]),
        "target_events_per_second": 2e7,
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
