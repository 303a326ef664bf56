"""Benchmarks of the native fitter (not run by the tests).

(a) one spectrum, tbabs*powerlaw, 90% errors;
(b) joint tbabs*(bbody+bremss) fit of 8 spectra (nH tied, the rest free per spectrum) with 90%
    errors on every free parameter -- target < 2 s on one core;
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
    parser.add_argument("--out", type=Path, default=HERE / "results")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore", RuntimeWarning)
    rng = np.random.default_rng(1)
    response = load_response()
    rows = [bench_one(response, rng), bench_joint(response, rng)]
    print(rows)
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
