"""One small real workflow run shared by test_figures.py and test_report.py (built once per
pytest session, in the session's temporary directory)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

from xrtflow.simulate import DemoConfig, ObservationSpec, make_demo_archive

REPO = Path(__file__).resolve().parents[1]
OBSERVATIONS = (
    ObservationSpec("00031940001", day=128.0, exposure=900.0, role="early"),
    ObservationSpec("00031940002", day=142.3, exposure=1600.0, offset_arcmin=2.0),
    ObservationSpec("00031940003", day=145.1, exposure=1500.0, offset_arcmin=3.0, n_snapshots=2),
    ObservationSpec("00031940005", day=147.7, exposure=1700.0, offset_arcmin=1.5, roll_deg=30),
)
SELECTED = ["00031940002", "00031940003", "00031940005"]


def snakemake(base: Path, *extra: str) -> subprocess.CompletedProcess:
    """Run the real workflow in ``base`` with its ``config.yaml`` (native backend)."""
    command = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(REPO / "workflow" / "Snakefile"),
        "--directory",
        str(base),
        "--configfile",
        str(base / "config.yaml"),
        "--cores",
        "2",
        *extra,
    ]
    env = dict(os.environ)
    env.pop("HEADAS", None)
    return subprocess.run(command, capture_output=True, text=True, env=env, cwd=base)


def demo_run(tmp_path_factory) -> Path:  # noqa: ANN001
    """Results directory of the shared run (``<base>/results/tpyx``)."""
    # XRTFLOW_FIGURE_DEMO: reuse a run kept from an earlier session (while editing the figures)
    base = Path(
        os.environ.get("XRTFLOW_FIGURE_DEMO") or tmp_path_factory.getbasetemp() / "figure_demo"
    )
    done = base / "done"
    if done.exists():
        return base
    base.mkdir(exist_ok=True)
    make_demo_archive(base / "sim", DemoConfig(observations=OBSERVATIONS, seed=5), progress=False)
    config = yaml.safe_load((REPO / "config" / "demo.yaml").read_text())
    config["results"] = str(base / "results")
    config["archive"]["path"] = str(base / "sim" / "archive")
    config["archive"]["catalog"] = str(base / "sim" / "catalog.ecsv")
    config["caldb"] = str(base / "sim" / "caldb")
    config["fit"]["n_starts"] = 2
    (base / "config.yaml").write_text(yaml.safe_dump(config))
    result = snakemake(base)
    assert result.returncode == 0, result.stderr[-4000:]
    done.write_text("ok\n")
    return base
