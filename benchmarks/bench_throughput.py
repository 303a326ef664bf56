"""End-to-end throughput: the demo workflow for N simulated ObsIDs at ``--cores 1`` and ``2``.

For every N an archive with N ObsIDs in the selection window is simulated
(``xrtflow.simulate``, no outliers) and the whole workflow is run from scratch with the demo
configuration, once per core count, each run in a fresh results directory. Measured: wall time,
the CPU time of the Snakemake process and all its jobs (``RUSAGE_CHILDREN``), per ObsID, the
CPU of each ObsID's benchmarked rules (``cpu_time`` of the ``benchmark:`` files, median over
ObsIDs) and the speed-up of 2 cores over 1.

    python benchmarks/bench_throughput.py [--sizes 8 32 128] [--cores 1 2]

Writes ``benchmarks/results/bench_throughput.json``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "benchmarks" / "results"


def write_config(base: Path, sim: Path) -> Path:
    config = yaml.safe_load((REPO / "config" / "demo.yaml").read_text())
    config["results"] = str(base / "results")
    config["archive"].update(path=str(sim / "archive"), catalog=str(sim / "catalog.ecsv"))
    config["caldb"] = str(sim / "caldb")
    base.mkdir(parents=True)
    path = base / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def benchmark_cpu(results: Path) -> dict[str, float]:
    """Median ``cpu_time`` per benchmarked per-ObsID rule (``benchmarks/<rule>/<obsid>.tsv``)."""
    medians = {}
    for rule_dir in sorted(p for p in results.glob("*/benchmarks/*") if p.is_dir()):
        values = []
        for path in rule_dir.glob("*.tsv"):
            with open(path) as stream:
                values += [float(row["cpu_time"]) for row in csv.DictReader(stream, delimiter="\t")]
        if values:
            medians[rule_dir.name] = statistics.median(values)
    return medians


def run(base: Path, cores: int) -> dict:
    env = dict(os.environ)
    env.pop("HEADAS", None)
    command = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(REPO / "workflow" / "Snakefile"),
    ]
    command += ["--directory", str(base), "--configfile", str(base / "config.yaml")]
    command += ["--cores", str(cores), "--quiet"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=base)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        raise RuntimeError(f"workflow failed in {base}:\n{result.stderr[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall_s": wall, "cpu_s": cpu, "benchmark_cpu_s": benchmark_cpu(base / "results")}


def main(sizes: list[int], cores: list[int]) -> dict:
    from xrtflow.simulate import DemoConfig, make_demo_archive

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n_obs in sizes:
            sim = Path(tmp) / f"sim{n_obs}"
            make_demo_archive(sim, DemoConfig(n_obs=n_obs, include_outliers=False), progress=False)
            for n_cores in cores:
                base = Path(tmp) / f"n{n_obs}-c{n_cores}"
                write_config(base, sim)
                row = {"n_obsids": n_obs, "cores": n_cores, **run(base, n_cores)}
                row["cpu_per_obsid_s"] = row["cpu_s"] / n_obs
                row["benchmarked_cpu_per_obsid_s"] = sum(
                    v for k, v in row["benchmark_cpu_s"].items() if k != "fit_joint.tsv"
                )
                rows.append(row)
                print(
                    f"{n_obs:4d} ObsIDs, {n_cores} core(s): wall {row['wall_s']:7.1f} s, "
                    f"CPU {row['cpu_s']:7.1f} s = {row['cpu_per_obsid_s']:.2f} s/ObsID "
                    f"(benchmark files: {row['benchmarked_cpu_per_obsid_s']:.2f} s/ObsID)",
                    flush=True,
                )
    walls = {(r["n_obsids"], r["cores"]): r["wall_s"] for r in rows}
    speedup = {
        str(n): walls[(n, 1)] / walls[(n, 2)] for n in sizes if (n, 1) in walls and (n, 2) in walls
    }
    out = {"runs": rows, "speedup_2_over_1": speedup, "loadavg_at_end": os.getloadavg()}
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "bench_throughput.json").write_text(json.dumps(out, indent=2) + "\n")
    for n, value in speedup.items():
        print(f"{n:>4s} ObsIDs: speed-up of 2 cores over 1 = {value:.2f}")
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[8, 32, 128])
    parser.add_argument("--cores", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    main(args.sizes, args.cores)
