"""How long Snakemake takes to build xrtflow's DAG for many ObsIDs.

One ObsID is simulated and processed for real; its results directory is then cloned N times
under new ObsIDs (files renamed, status files rewritten) with a catalog of N ObsIDs, so that
Snakemake sees N fully processed ObsIDs. The timed command is a dry run: it builds the whole DAG
(every per-ObsID job and checkpoint, checked against the files on disk) and reports the joint
stages as the only work left. Writes ``benchmarks/results/bench_dag.{ecsv,png}``.

    python benchmarks/bench_dag.py [N ...]
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml
from astropy.table import Table

from xrtflow.simulate import DemoConfig, ObservationSpec, make_demo_archive

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "benchmarks" / "results"
TEMPLATE = "00031940001"


def snakemake(base: Path, *args: str) -> subprocess.CompletedProcess:
    command = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(REPO / "workflow" / "Snakefile"),
    ]
    command += ["--directory", str(base), "--configfile", str(base / "config.yaml"), *args]
    return subprocess.run(command, capture_output=True, text=True, check=True)


def write_config(base: Path, catalog: Path, archive: Path, caldb: Path) -> None:
    config = yaml.safe_load((REPO / "config" / "demo.yaml").read_text())
    config["results"] = str(base / "results")
    config["archive"].update(path=str(archive), catalog=str(catalog))
    config["caldb"] = str(caldb)
    config["fit"]["errors"] = False
    (base / "config.yaml").write_text(yaml.safe_dump(config))


def template(base: Path) -> Path:
    """One ObsID, simulated and processed by the real workflow."""
    spec = ObservationSpec(TEMPLATE, day=145.0, exposure=1000.0)
    make_demo_archive(base / "sim", DemoConfig(observations=(spec,)), progress=False)
    write_config(
        base, base / "sim" / "catalog.ecsv", base / "sim" / "archive", base / "sim" / "caldb"
    )
    snakemake(base, "--cores", "2", "--quiet")
    return base / "results" / "tpyx" / "obs" / TEMPLATE


def clone(base: Path, template_obs: Path, sim: Path, n_obs: int) -> None:
    base.mkdir(parents=True)
    obsids = [f"{10_000_000 + i:08d}001" for i in range(n_obs)]
    row = Table.read(sim / "catalog.ecsv")[0]
    catalog = Table(rows=[row] * n_obs, names=row.colnames)
    catalog["obsid"] = obsids
    catalog["start_time"] = 55665 + 141 + np.linspace(0, 9, n_obs)
    catalog.write(base / "catalog.ecsv", overwrite=True)
    write_config(base, base / "catalog.ecsv", sim / "archive", sim / "caldb")
    snakemake(base, "--until", "select_observations", "--cores", "1", "--quiet")
    shutil.copytree(template_obs.parents[1] / "regions", base / "results" / "tpyx" / "regions")
    for obsid in obsids:
        dest = base / "results" / "tpyx" / "obs" / obsid
        dest.mkdir(parents=True)
        for path in template_obs.iterdir():
            target = dest / path.name.replace(TEMPLATE, obsid)
            if path.suffix == ".json":
                text = path.read_text().replace(TEMPLATE, obsid)
                target.write_text(text.replace(str(template_obs.parents[2]), str(base / "results")))
            else:
                target.hardlink_to(path)  # same bytes; only the DAG is being measured


def main(sizes: list[int]) -> Table:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        first = Path(tmp) / "template"
        template_obs = template(first)
        for n_obs in sizes:
            base = Path(tmp) / f"n{n_obs}"
            clone(base, template_obs, first / "sim", n_obs)
            start = time.perf_counter()
            result = snakemake(base, "--dry-run", "--cores", "1")
            elapsed = time.perf_counter() - start
            stats = result.stdout[result.stdout.find("Job stats") :]
            left = sum(
                int(line.split()[-1]) for line in stats.splitlines() if line.startswith("total")
            )
            rows.append((n_obs, left, elapsed))
            print(
                f"{n_obs:6d} ObsIDs: DAG + dry run {elapsed:6.1f} s, jobs left {left}", flush=True
            )
            shutil.rmtree(base)
    table = Table(rows=rows, names=("n_obsids", "jobs_left", "dry_run_s"))
    table["dry_run_s"].unit = "s"
    OUT.mkdir(parents=True, exist_ok=True)
    table.write(OUT / "bench_dag.ecsv", overwrite=True)
    plot(table)
    return table


def plot(table: Table) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 4), layout="constrained")
    ax.plot(table["n_obsids"], table["dry_run_s"], "o-", color="navy")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("processed ObsIDs")
    ax.set_ylabel("DAG build (dry run) [s]")
    ax.set_title("xrtflow: Snakemake DAG for N ObsIDs (one core)")
    ax.grid(True, which="both", alpha=0.3)
    fig.savefig(OUT / "bench_dag.png", dpi=130, metadata={"Software": None})


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [10, 100, 300, 1000])
