"""The Snakemake HTML report of a small real run, opened in headless Chromium: every figure and
table appears, with captions carrying the run's values, and every rule is in the graph and the
statistics. Also: snakefmt is clean for every rule file."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from astropy.table import Table
from figure_demo import REPO, SELECTED, demo_run, snakemake

pytestmark = pytest.mark.slow

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PER_OBSID_RULES = {"pipeline", "expomap", "products", "group_spectrum", "fit_observation"}


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    pytest.skip("headless Chromium is not installed (apt-get install -y chromium)")


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> tuple[Path, Path]:
    base = demo_run(tmp_path_factory)
    path = base / "report.html"
    if not path.exists():
        result = snakemake(base, "--report", str(path))
        assert result.returncode == 0, result.stderr[-3000:]
    return base, path


def workflow_rules() -> set[str]:
    """Every rule of the workflow, from `snakemake --list-rules` (independent of the report)."""
    out = subprocess.run(
        [sys.executable, "-m", "snakemake", "--list-rules", "--configfile", "config/demo.yaml"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {line.strip() for line in out.splitlines() if re.fullmatch(r"\s*\w+\s*", line)}


def rendered(report_path: Path, tmp_path: Path) -> dict:
    """Walk the report in Chromium (tests/report_check.js) and return what it rendered."""
    page = tmp_path / "report_check.html"
    driver = (Path(__file__).parent / "report_check.js").read_text()
    page.write_text(report_path.read_text() + f"\n<script>\n{driver}\n</script>\n")
    result = subprocess.run(
        [
            chromium(),
            *CHROMIUM_FLAGS,
            f"--user-data-dir={tmp_path / 'chromium-profile'}",
            "--virtual-time-budget=60000",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    match = re.search(r'<pre id="xrtflow-check">(\{.*?)</pre>', result.stdout, re.S)
    assert match, result.stderr[-2000:]
    return json.loads(html.unescape(match.group(1)))


def test_report_shows_every_figure_and_table_with_the_runs_values(report, tmp_path):
    base, path = report
    out = rendered(path, tmp_path)
    assert not out["errors"], out["errors"]
    assert out["done"], f"the walk through the report stopped after {len(out['results'])} results"
    results = {r["path"].split("/results/tpyx/")[-1].split("tpyx/")[-1]: r for r in out["results"]}
    figures = ["timeline.png", "parameters.png", "image_last.png", "lightcurve.png"]
    pages = [
        "spectra_pages/page-001.png",
        "spectra_single_pages/page-001.png",
        "images_pages/page-001.png",
    ]
    for name in figures + pages:
        record = results[f"figures/{name}"]
        assert record["width"] > 500, (name, record)  # decoded in the page, at print resolution
    table = Table.read(base / "results" / "tpyx" / "tables" / "results.ecsv")
    joint = table[table["fit"] == "joint"][0]
    for name, column in (
        ("results", "bbody_kT_lo90"),
        ("status", "failed_at"),
        ("selection", "reason"),
        ("lightcurve", "net_rate_errhi"),
        ("hardness", "hardness_err"),
    ):
        record = results[f"tables/{name}.html"]
        assert "<table" in record["html"] and column in record["html"], name
    # captions are filled with this run's values (from its own tables)
    assert (
        f"{joint['stat_value']:.1f} for {joint['dof']} dof"
        in results["figures/parameters.png"]["caption"]
    )
    assert f"nH = {joint['nH']:.4g}" in results["figures/spectra_pages/page-001.png"]["caption"]
    assert "T Pyx" in results["tables/results.html"]["caption"]
    assert f"{len(SELECTED)} fitted" in results["tables/status.html"]["caption"]
    assert SELECTED[-1] in results["figures/image_last.png"]["caption"]
    # every rule (but the target rule, which has no output) in the graph and in the statistics
    rules = workflow_rules() - {"all"}
    assert rules <= set(json.loads(out["graph"])), rules - set(json.loads(out["graph"]))
    assert PER_OBSID_RULES <= rules


def test_report_statistics_include_per_obsid_rules(report):
    _, path = report
    text = path.read_text()
    runtimes = re.search(r"var runtimes_spec = (\{.*?\});\s*</script>", text, re.S)
    rules = {v["rule"] for v in json.loads(runtimes.group(1))["data"]["values"]}
    assert PER_OBSID_RULES | {"stage_observation", "fit_joint", "plot_parameters"} <= rules


def test_snakefmt_clean_for_every_rule_file():
    pytest.importorskip("snakefmt")
    files = [
        "workflow/Snakefile",
        *sorted(str(p.relative_to(REPO)) for p in (REPO / "workflow/rules").glob("*.smk")),
    ]
    result = subprocess.run(
        [sys.executable, "-m", "snakefmt", "--check", *files],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-2000:]


def test_own_config_does_not_inherit_the_default_target(tmp_path):
    config = {
        "backend": "native",
        "results": str(tmp_path / "results"),
        "archive": {"source": "local", "path": str(tmp_path), "catalog": str(tmp_path / "c.ecsv")},
        "caldb": str(tmp_path),
        "targets": {"mysource": {"name": "My source", "ra": 10.0, "dec": -20.0}},
    }
    import yaml

    (tmp_path / "own.yaml").write_text(yaml.safe_dump(config))
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--configfile", str(tmp_path / "own.yaml")],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert "/mysource/" in output and "tpyx" not in output
