"""Benchmarks of the native fitter (not run by the tests).

(a) one spectrum, tbabs*powerlaw, 90% errors;
(b) joint tbabs*(bbody+bremss) fit of 8 spectra (nH tied, the rest free per spectrum) with 90%
    errors on every free parameter -- target < 2 s on one core -- timed as the wall time of the
    ``xrtflow fit`` command a user runs (a subprocess, reading the files included).  The 1500-s
    PC spectra of a T Pyx-like source are simulated (``xrtflow.simulate.model_photon_flux``,
    Poisson) through the REAL Swift-XRT PC RMF and ARF in
    ``../shared/data/swift-xrt/pc_00092220001/`` and written as FITS files whose headers name
    files that do not exist (as real data do: the files are passed explicitly); the demo
    response is the fallback only where ``../shared`` is absent;
(c) 500 spectra fitted one by one (tbabs*powerlaw, 90% errors).

Spectra are Poisson simulations (with a background spectrum, fitted with the W-statistic)
through the demo Swift-XRT PC response (``demo_archive/caldb``, written by
``xrtflow.simulate.make_demo_archive``); a synthetic Gaussian-redistribution response is the
fallback when the demo CALDB is absent.  Writes
``benchmarks/results/bench_fit.json``, ``.ecsv`` and ``.png``.

Run: ``OMP_NUM_THREADS=1 python benchmarks/bench_fit.py [--n-many 500]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
import warnings
from pathlib import Path

import numpy as np

from xrtflow.spectral.fit import FitSetup, fit
from xrtflow.spectral.models import parse_model
from xrtflow.spectral.ogip import Response, Spectrum, read_response

HERE = Path(__file__).resolve().parent
CALDB = HERE.parent / "demo_archive" / "caldb" / "data" / "swift" / "xrt" / "cpf"
SHARED_PC = HERE.parent.parent / "shared" / "data" / "swift-xrt" / "pc_00092220001"
REAL_RMF = SHARED_PC / "swxpc0to12s6_20130101v014.rmf.gz"
REAL_ARF = SHARED_PC / "target_sr.arf"
#: T Pyx-like truth (tbabs*(bb+brems): nH, kT_bb, norm_bb, kT_br, norm_br) and XSPEC-like starts
TRUTH_B = (0.136, 0.047, 8e-3, 1.43, 3e-3)
START_B = "nH=0.22,bbody.kT=0.1,3=1,bremss.kT=1,5=1"


def load_response() -> Response:
    """The demo PC response (RMF x ARF) if available, else a synthetic one."""
    rmfs = sorted(CALDB.glob("rmf/*.rmf*"))
    arfs = sorted(CALDB.glob("arf/*.arf*"))
    if rmfs and arfs:
        return read_response(rmfs[0], arfs[0])
    import scipy.sparse as sp

    edges = np.linspace(0.05, 12.0, 1201)
    emid = 0.5 * (edges[1:] + edges[:-1])
    ch_edges = np.arange(0, 1025) * 0.01
    ch_mid = 0.5 * (ch_edges[1:] + ch_edges[:-1])
    sigma = 0.05 * np.sqrt(emid / 1.0)
    mat = np.exp(-0.5 * ((ch_mid[None, :] - emid[:, None]) / sigma[:, None]) ** 2)
    mat[mat < 1e-6 * mat.max(axis=1, keepdims=True)] = 0
    mat /= mat.sum(axis=1, keepdims=True)
    area = 100.0 * np.exp(-0.5 * ((emid - 1.5) / 2.0) ** 2)
    rmf = sp.csr_matrix(mat)
    return Response(
        matrix=sp.csr_matrix(sp.diags(area) @ rmf),
        energy_edges=edges,
        channel=np.arange(1024),
        e_min=ch_edges[:-1],
        e_max=ch_edges[1:],
        arf=area,
        rmf_matrix=rmf,
    )


def simulate(model, values, response: Response, exposure: float, rng) -> Spectrum:
    """Poisson spectrum for ``values`` folded through ``response``."""
    edges = np.array(response.energy_edges, float)
    if edges[0] <= 0:
        edges[0] = 0.5 * edges[1]
    flux = np.nan_to_num(np.asarray(model.evaluate(edges, values), float))
    rate = response.fold(flux)
    counts = rng.poisson(np.maximum(rate, 0) * exposure + 2e-4 * exposure / 10)
    bkg = Spectrum(
        counts=rng.poisson(np.full(len(rate), 2e-4 * exposure)),
        exposure=exposure,
        backscal=10.0,
        areascal=1.0,
        quality=0,
        grouping=1,
        channel=response.channel,
    )
    return Spectrum(
        counts=counts,
        exposure=exposure,
        backscal=1.0,
        areascal=1.0,
        quality=0,
        grouping=1,
        channel=response.channel,
        response=response,
        background=bkg,
    )


def bench_one(response, rng) -> dict:
    model = parse_model("tbabs*powerlaw")
    spec = simulate(model, [0.3, 2.0, 1e-2], response, 5000.0, rng)
    t = time.perf_counter()
    res = fit(FitSetup([spec], model, start={1: 0.1, 2: 2, 3: 1e-3}))
    return {
        "case": "a_one_spectrum",
        "seconds": time.perf_counter() - t,
        "n_free": 3,
        "stat": res.stat,
        "dof": res.dof,
    }


def bench_joint(response, rng, n_spec: int = 8) -> dict:
    model = parse_model("tbabs*(bb+brems)")
    spectra = []
    for _k in range(n_spec):
        truth = [0.136, 0.047, 8e-3, 1.43, 3e-3]  # T Pyx-like nova, as the offline demo
        spectra.append(simulate(model, truth, response, 3000.0, rng))
    setup = FitSetup(
        spectra,
        model,
        start={"TBabs.nH": 0.22, "bbody.kT": 0.1, "bremss.kT": 1.0},
        tied=["nH"],
        ignore="**-0.3 7.0-**",
        flux_samples=100,
    )
    t = time.perf_counter()
    res = fit(setup)
    n_free = sum(1 for p in res.parameters if not p.frozen and not p.tied_to)
    return {
        "case": f"b_joint_{n_spec}_spectra",
        "seconds": time.perf_counter() - t,
        "n_free": n_free,
        "stat": res.stat,
        "dof": res.dof,
        "n_errors_nan": int(
            sum(
                not (np.isfinite(p.err_lo) and np.isfinite(p.err_hi))
                for p in res.parameters
                if not p.frozen
            )
        ),
    }


def write_joint_case(outdir: Path, n_spec: int = 8, exposure: float = 1500.0, seed: int = 5):
    """Simulate case (b) as FITS files; returns (spectra, backgrounds, rmf, arf, response)."""
    from xrtflow.simulate import model_photon_flux
    from xrtflow.spectral.ogip import write_spectrum

    real = REAL_RMF.exists() and REAL_ARF.exists()
    if real:
        rmf, arf = REAL_RMF, REAL_ARF
    else:  # fallback only: the demo CALDB response
        rmf = next(iter(sorted(CALDB.glob("rmf/*.rmf*"))), None)
        arf = next(iter(sorted(CALDB.glob("arf/*.arf*"))), None)
        if rmf is None or arf is None:
            raise SystemExit("neither ../shared nor demo_archive/caldb: run `make demo` first")
    response = read_response(rmf, arf)
    edges = np.where(
        response.energy_edges > 0, response.energy_edges, 0.5 * response.energy_edges[1]
    )
    rate = response.fold(model_photon_flux("tbabs*(bb+brems)", TRUTH_B)(edges))
    rng = np.random.default_rng(seed)
    outdir.mkdir(parents=True, exist_ok=True)
    spectra, backgrounds = [], []
    bkg_rate = 2e-5  # counts/s/channel in the source region (background region 10x larger)
    for k in range(n_spec):
        b = write_spectrum(outdir / f"bkg{k}.pha", rng.poisson(np.full(len(rate), 10 * bkg_rate * exposure)),
                           exposure, backscal=10.0)  # fmt: skip
        s = write_spectrum(outdir / f"src{k}.pha", rng.poisson(rate * exposure + bkg_rate * exposure),
                           exposure, backscal=1.0, respfile="pc.rmf", ancrfile="pc.arf",
                           backfile=f"gone_bkg{k}.pha")  # fmt: skip
        spectra.append(s)
        backgrounds.append(b)
    return spectra, backgrounds, Path(rmf), Path(arf), real


def bench_joint_cli(workdir: Path, repeats: int = 3) -> dict:
    """Case (b) as a user runs it: ``xrtflow fit`` in a subprocess, wall time."""
    import shutil
    import subprocess
    import sys

    spectra, backgrounds, rmf, arf, real = write_joint_case(workdir)
    exe = shutil.which("xrtflow", path=str(Path(sys.executable).parent)) or "xrtflow"
    cmd = [exe, "fit", *map(str, spectra), "--model", "tbabs*(bb+brems)", "--rmf", str(rmf),
           "--arf", str(arf), "--start", START_B, "--tie", "nH", "--statistic", "cstat",
           "--ignore", "**-0.3 7.0-**", "--json", str(workdir / "fit.json")]  # fmt: skip
    for b in backgrounds:
        cmd += ["--background", str(b)]
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    walls, cpus = [], []
    for _ in range(repeats):
        before = os.times()
        t = time.perf_counter()
        subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
        walls.append(time.perf_counter() - t)
        after = os.times()
        cpus.append(
            (after.children_user - before.children_user)
            + (after.children_system - before.children_system)
        )
    res = json.loads((workdir / "fit.json").read_text())
    free = [p for p in res["parameters"] if not p["frozen"] and not p["tied_to"]]
    return {
        "case": "b_joint_8_spectra_cli",
        "seconds": min(walls),
        "wall_all": walls,
        "cpu_all": cpus,
        "response": "real PC RMF+ARF (../shared)" if real else "demo CALDB (fallback)",
        "n_free": len(free),
        "stat": res["stat"],
        "dof": res["dof"],
        "n_errors_nan": int(
            sum(
                not (np.isfinite(p["err_lo"] or np.nan) and np.isfinite(p["err_hi"] or np.nan))
                for p in free
            )
        ),
        "command": " ".join(cmd),
    }


def bench_many(response, rng, n: int) -> dict:
    model = parse_model("tbabs*powerlaw")
    spectra = [simulate(model, [0.3, 2.0, 1e-2], response, 2000.0, rng) for _ in range(n)]
    t = time.perf_counter()
    for spec in spectra:
        fit(FitSetup([spec], model, start={1: 0.1, 2: 2, 3: 1e-3}, n_starts=1, flux_samples=0))
    dt = time.perf_counter() - t
    return {"case": f"c_{n}_spectra_one_by_one", "seconds": dt, "n_free": 3, "per_spectrum": dt / n}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n-many", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=3, help="runs of case (b); min reported")
    parser.add_argument("--only-b", action="store_true", help="run case (b) only")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore", RuntimeWarning)
    if args.only_b:
        import tempfile

        with tempfile.TemporaryDirectory(prefix="bench_fit_") as tmp:
            row = bench_joint_cli(Path(tmp), args.repeats)
        print(json.dumps(row, indent=1))
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "bench_fit_b.json").write_text(json.dumps(row, indent=1))
        return 0
    rng = np.random.default_rng(1)
    response = load_response()
    import tempfile

    with tempfile.TemporaryDirectory(prefix="bench_fit_") as tmp:
        rows = [bench_one(response, rng), bench_joint_cli(Path(tmp), args.repeats)]
    print(rows)
    if args.n_many > 0:
        rows.append(bench_many(response, rng, args.n_many))
    for r in rows:
        print(f"{r['case']:32s} {r['seconds']:8.2f} s")
    args.out.mkdir(parents=True, exist_ok=True)
    meta = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "response": "demo CALDB PC" if CALDB.exists() else "synthetic",
        "n_many_requested": args.n_many,
    }
    (args.out / "bench_fit.json").write_text(json.dumps({"meta": meta, "results": rows}, indent=1))
    from astropy.table import Table

    Table(
        rows=[(r["case"], r["seconds"], r["n_free"]) for r in rows],
        names=("case", "seconds", "n_free"),
    ).write(args.out / "bench_fit.ecsv", format="ascii.ecsv", overwrite=True)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3))
    ax.barh([r["case"] for r in rows], [r["seconds"] for r in rows])
    ax.set_xlabel("wall time (s)")
    ax.set_xscale("log")
    fig.tight_layout()
    fig.savefig(args.out / "bench_fit.png", dpi=100)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
