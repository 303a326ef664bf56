"""How long Snakemake takes to plan xrtflow for many ObsIDs, next to a naive reference workflow.

Both workflows are measured in the same run on the same machine:

* **xrtflow** (``workflow/Snakefile``): one simulated ObsID is processed for real; its results
  tree is then cloned under N ObsIDs (every file whose path names the ObsID, in ``obs/``,
  ``logs/`` and ``benchmarks/``: hard links, or the text with the ObsID replaced where the file
  names it, e.g. the status JSONs), after a real run of the catalog stages on a catalog of N rows
  (``--until select_observations``). Nothing here knows the workflow's file names, so the
  benchmark keeps working when the rules change.
* **naive** (``benchmarks/naive/Snakefile``): a checkpoint and 7 trivial ``touch`` rules per
  ObsID, input functions that ask the checkpoint without caching; cloned the same way.

Clones keep the template's order of modification times (shifted to after the catalog), so the
trees are fully processed: a dry run builds the whole DAG -- every job and checkpoint checked
against the files on disk -- and finds nothing to do. Timed: the dry run for each N, and a real
(no-op) rerun of the completed tree of ``--rerun-n`` ObsIDs.

    python benchmarks/bench_dag.py [--sizes 100 1000 5000] [--rerun-n 200]

Writes ``benchmarks/results/bench_dag.{json,png}``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "benchmarks" / "results"
PROJECT = REPO / "workflow" / "Snakefile"
NAIVE = REPO / "benchmarks" / "naive" / "Snakefile"
TEMPLATE = "00031940001"
SUFFIX = ""  # --tag: results/bench_dag<tag>.{json,png}
TEXT_SUFFIXES = {".json", ".txt", ".log", ".ecsv", ".csv", ".reg", ".tsv"}


def snakemake(snakefile: Path, base: Path, *args: str) -> tuple[subprocess.CompletedProcess, float]:
    """Run Snakemake in ``base`` (config ``base/config.yaml``); return the result and wall time."""
    command = [sys.executable, "-m", "snakemake", "--snakefile", str(snakefile)]
    command += ["--directory", str(base), "--configfile", str(base / "config.yaml"), *args]
    env = dict(os.environ)
    env.pop("HEADAS", None)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=base)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{result.stderr[-3000:]}")
    # CPU time as well as wall time: on a shared machine the CPU seconds are the steadier measure
    result.cpu_s = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return result, elapsed


def obsids(n_obs: int) -> list[str]:
    return [f"{10_000_000 + i:08d}001" for i in range(n_obs)]


# --- the two workflows -----------------------------------------------------------------------
def project_config(base: Path, sim: Path, catalog: Path) -> None:
    config = yaml.safe_load((REPO / "config" / "demo.yaml").read_text())
    config["results"] = str(base / "results")
    config["archive"].update(path=str(sim / "archive"), catalog=str(catalog))
    config["caldb"] = str(sim / "caldb")
    config["fit"]["errors"] = False
    base.mkdir(parents=True, exist_ok=True)
    (base / "config.yaml").write_text(yaml.safe_dump(config))


def project_template(base: Path) -> Path:
    """One ObsID simulated and processed by the real workflow; returns its results directory."""
    from xrtflow.simulate import DemoConfig, ObservationSpec, make_demo_archive

    spec = ObservationSpec(TEMPLATE, day=145.0, exposure=1000.0)
    make_demo_archive(base / "sim", DemoConfig(observations=(spec,)), progress=False)
    project_config(base, base / "sim", base / "sim" / "catalog.ecsv")
    snakemake(PROJECT, base, "--cores", "2", "--quiet")
    return base / "results"


def project_catalog(base: Path, template: Path, n_obs: int) -> None:
    """A catalog of ``n_obs`` ObsIDs, selected by the workflow's own catalog stages."""
    from astropy.table import Table

    sim = template.parent / "sim"
    row = Table.read(sim / "catalog.ecsv")[0]
    catalog = Table(rows=[row] * n_obs, names=row.colnames)
    catalog["obsid"] = obsids(n_obs)
    start = float(row["start_time"])
    catalog["start_time"] = [start + 1e-4 * i for i in range(n_obs)]
    base.mkdir(parents=True)
    catalog.write(base / "catalog.ecsv", overwrite=True)
    project_config(base, sim, base / "catalog.ecsv")
    snakemake(PROJECT, base, "--until", "select_observations", "--cores", "1", "--quiet")


def naive_template(base: Path) -> Path:
    base.mkdir(parents=True)
    (base / "obsids.txt").write_text(TEMPLATE + "\n")
    config = {"results": str(base / "results"), "obsids": str(base / "obsids.txt")}
    (base / "config.yaml").write_text(yaml.safe_dump(config))
    snakemake(NAIVE, base, "--cores", "1", "--quiet")
    return base / "results"


def naive_catalog(base: Path, template: Path, n_obs: int) -> None:
    base.mkdir(parents=True)
    (base / "obsids.txt").write_text("\n".join(obsids(n_obs)) + "\n")
    config = {"results": str(base / "results"), "obsids": str(base / "obsids.txt")}
    (base / "config.yaml").write_text(yaml.safe_dump(config))


# --- cloning a processed tree ------------------------------------------------------------------
def clone(template: Path, mtimes: dict[Path, int], dest: Path, ids: list[str]) -> int:
    """Copy the processed ``template`` tree to ``dest`` for every ObsID in ``ids``.

    Files that ``dest`` already has (written by the real catalog run) are kept. Modification
    times keep the template's order, shifted to after everything already in ``dest``.
    """
    existing = [p.stat().st_mtime_ns for p in dest.rglob("*") if p.is_file()]
    shift = max(existing, default=time.time_ns()) + 1_000_000_000 - min(mtimes.values())
    old_root, new_root = str(template), str(dest)
    count = 0
    for path, mtime in mtimes.items():
        relative = str(path.relative_to(template))
        names = [relative.replace(TEMPLATE, i) for i in ids] if TEMPLATE in relative else [relative]
        text = None
        if path.suffix in TEXT_SUFFIXES:
            text = path.read_text(errors="replace")
            if TEMPLATE not in text and old_root not in text:
                text = None
        for name, obsid in zip(names, ids if len(names) > 1 else [TEMPLATE], strict=False):
            target = dest / name
            if target.exists():
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            if text is None:
                target.hardlink_to(path)  # same bytes: only the DAG is measured
            else:
                target.write_text(text.replace(old_root, new_root).replace(TEMPLATE, obsid))
            os.utime(target, ns=(mtime + shift, mtime + shift))
            count += 1
    return count


def jobs_to_run(result: subprocess.CompletedProcess) -> int:
    text = result.stdout + result.stderr
    if "Nothing to be done" in text:
        return 0
    stats = text[text.find("Job stats") :]
    totals = [line.split()[-1] for line in stats.splitlines() if line.startswith("total")]
    return int(totals[0]) if totals else -1


def measure(snakefile: Path, template: Path, make_catalog, base: Path, n_obs: int, real: bool):
    make_catalog(base, template, n_obs)
    mtimes = {p: p.stat().st_mtime_ns for p in sorted(template.rglob("*")) if p.is_file()}
    start = time.perf_counter()
    files = clone(template, mtimes, base / "results", obsids(n_obs))
    clone_s = time.perf_counter() - start
    args = ["--cores", "1"] if real else ["--dry-run", "--cores", "1"]
    result, elapsed = snakemake(snakefile, base, *args)
    return {
        "n_obsids": n_obs,
        "files": files,
        "clone_s": clone_s,
        "s": elapsed,
        "cpu_s": result.cpu_s,
        "jobs": jobs_to_run(result),
    }


def main(sizes: list[int], rerun_n: int) -> dict:
    workflows = {"xrtflow": (PROJECT, project_template, project_catalog),
                 "naive": (NAIVE, naive_template, naive_catalog)}  # fmt: skip
    out: dict = {"sizes": sizes, "rerun_n": rerun_n, "dry_run": {}, "noop_rerun": {}}
    with tempfile.TemporaryDirectory() as tmp:
        templates = {k: w[1](Path(tmp) / f"{k}-template") for k, w in workflows.items()}
        for n_obs in sizes:
            for name, (snakefile, _, make_catalog) in workflows.items():
                base = Path(tmp) / f"{name}-{n_obs}"
                row = measure(snakefile, templates[name], make_catalog, base, n_obs, real=False)
                out["dry_run"].setdefault(name, []).append(row)
                save(out)  # a long run keeps what it measured so far
                print(f"dry run  {name:8s} {n_obs:6d} ObsIDs: {row['s']:6.1f} s, CPU {row['cpu_s']:6.1f} s "
                      f"(jobs to run: {row['jobs']}; {row['files']} files cloned)", flush=True)  # fmt: skip
                shutil.rmtree(base)
        for name, (snakefile, _, make_catalog) in workflows.items():
            base = Path(tmp) / f"{name}-rerun"
            row = measure(snakefile, templates[name], make_catalog, base, rerun_n, real=True)
            out["noop_rerun"][name] = row
            save(out)
            print(f"no-op rerun {name:8s} {rerun_n:5d} ObsIDs: {row['s']:6.1f} s, CPU {row['cpu_s']:6.1f} s "
                  f"(jobs run: {row['jobs']})", flush=True)  # fmt: skip
            shutil.rmtree(base)
    project = {r["n_obsids"]: r["s"] for r in out["dry_run"]["xrtflow"]}
    naive = {r["n_obsids"]: r["s"] for r in out["dry_run"]["naive"]}
    out["ratio_xrtflow_to_naive"] = {n: project[n] / naive[n] for n in sizes}
    cpu = {k: {r["n_obsids"]: r["cpu_s"] for r in out["dry_run"][k]} for k in out["dry_run"]}
    out["cpu_ratio_xrtflow_to_naive"] = {n: cpu["xrtflow"][n] / cpu["naive"][n] for n in sizes}
    if len(sizes) > 1:
        lo, hi = sizes[0], sizes[-1]
        out["xrtflow_ms_per_obsid"] = 1e3 * (project[hi] - project[lo]) / (hi - lo)
        out["naive_ms_per_obsid"] = 1e3 * (naive[hi] - naive[lo]) / (hi - lo)
    save(out)
    plot(out)
    for n, ratio in out["ratio_xrtflow_to_naive"].items():
        print(f"{n:6d} ObsIDs: xrtflow / naive = {ratio:.2f}")
    return out


def save(out: dict) -> None:
    out["machine"] = {"cpus": os.cpu_count(), "loadavg": os.getloadavg()}
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"bench_dag{SUFFIX}.json").write_text(json.dumps(out, indent=2) + "\n")


def plot(out: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 4), layout="constrained")
    for name, color in (("xrtflow", "navy"), ("naive", "darkorange")):
        rows = out["dry_run"][name]
        ax.plot([r["n_obsids"] for r in rows], [r["s"] for r in rows], "o-", color=color,
                label=f"{name} dry run")  # fmt: skip
        rerun = out["noop_rerun"][name]
        ax.plot([rerun["n_obsids"]], [rerun["s"]], "s", color=color, mfc="none",
                label=f"{name} no-op rerun")  # fmt: skip
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("fully processed ObsIDs")
    ax.set_ylabel("wall time [s]")
    ax.set_title("Snakemake planning time, one core")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.savefig(OUT / f"bench_dag{SUFFIX}.png", dpi=130, metadata={"Software": None})


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 5000])
    parser.add_argument("--rerun-n", type=int, default=200)
    parser.add_argument("--tag", default="", help="suffix of the result file names")
    args = parser.parse_args()
    SUFFIX = args.tag
    main(args.sizes, args.rerun_n)
