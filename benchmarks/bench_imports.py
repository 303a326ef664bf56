"""What each workflow script costs before it does any work: Python start-up plus its imports.

Every ``workflow/scripts/*.py`` runs in its own Python process (Snakemake's ``script:``), which
first unpickles the job (importing ``snakemake.io``) and then runs the script's top-level
imports. For each script this measures, in a fresh interpreter, the CPU time (user + sys, best of
``--repeat``) of exactly those imports, and lists the heaviest top-level packages they pull in
(``python -X importtime``, cumulative microseconds). Imports made later, inside the stage's
functions, are not counted here: the per-rule ``benchmark:`` files measure the whole job.

    python benchmarks/bench_imports.py [--repeat 3]

Writes ``benchmarks/results/bench_imports.json``.
"""

from __future__ import annotations

import argparse
import ast
import json
import resource
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = REPO / "workflow" / "scripts"
OUT = REPO / "benchmarks" / "results"
#: What Snakemake's script preamble imports before the script's own first line.
PREAMBLE = "import pickle, snakemake.io, snakemake.iocontainers, snakemake.logging"
#: Packages worth naming when a script imports them.
HEAVY = ("astropy", "numpy", "scipy", "matplotlib", "regions", "iminuit", "requests", "pandas")


def script_imports(path: Path) -> str:
    """The top-level import statements of a script, as source."""
    tree = ast.parse(path.read_text())
    nodes = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
    return "\n".join(ast.unparse(n) for n in nodes)


def cpu_seconds(code: str) -> float:
    """CPU time (user + sys) of a fresh interpreter running ``code``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def heavy_packages(code: str) -> dict[str, float]:
    """Cumulative import time (s) of the heavy top-level packages ``code`` imports."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True, check=True
    )
    found: dict[str, float] = {}
    for line in result.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name = (part.strip() for part in line[12:].split("|"))
        if name in HEAVY and cumulative.isdigit():
            found[name] = max(found.get(name, 0.0), int(cumulative) * 1e-6)
    return dict(sorted(found.items(), key=lambda item: -item[1]))


def main(repeat: int) -> dict:
    baseline = min(cpu_seconds("pass") for _ in range(repeat))
    preamble = min(cpu_seconds(PREAMBLE) for _ in range(repeat))
    rows = {}
    for path in sorted(SCRIPTS.glob("*.py")):
        code = PREAMBLE + "\n" + script_imports(path)
        cpu = min(cpu_seconds(code) for _ in range(repeat))
        rows[path.stem] = {"cpu_s": round(cpu, 3), "heavy_imports_s": heavy_packages(code)}
        names = ", ".join(f"{k} {v:.2f}" for k, v in rows[path.stem]["heavy_imports_s"].items())
        print(f"{path.stem:22s} {cpu:5.2f} s   {names}", flush=True)
    result = {"python_startup_cpu_s": baseline, "preamble_cpu_s": preamble, "scripts": rows}
    print(
        f"{'(python -c pass)':22s} {baseline:5.2f} s\n{'(snakemake preamble)':22s} {preamble:5.2f} s"
    )
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "bench_imports.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per script (best is kept)")
    main(parser.parse_args().repeat)
