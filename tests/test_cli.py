"""The ``xrtflow`` command line: ``fit`` on a simulated spectrum, ``backend``, ``simulate``."""

from __future__ import annotations

import json

import numpy as np
import pytest
from astropy.table import Table

from xrtflow.cli import main
from xrtflow.simulate import DemoConfig, ObservationSpec, make_demo_archive
from xrtflow.spectral.models import parse_model
from xrtflow.spectral.ogip import read_response, write_spectrum

TRUTH = {"nH": 0.3, "PhoIndex": 1.8, "norm": 2e-2}


@pytest.fixture(scope="module")
def simulated_spectrum(tmp_path_factory):
    """A Poisson spectrum of tbabs*powerlaw through the demo CALDB response."""
    base = tmp_path_factory.mktemp("cli")
    make_demo_archive(
        base / "sim",
        DemoConfig(observations=(ObservationSpec("00031940001", day=145, exposure=300.0),)),
        progress=False,
    )
    rmf = next((base / "sim" / "caldb").rglob("*.rmf"))
    arf = next((base / "sim" / "caldb").rglob("*.arf"))
    response = read_response(rmf, arf)
    edges = np.where(response.energy_edges > 0, response.energy_edges, 1e-3)
    flux = parse_model("tbabs*powerlaw").evaluate(edges, list(TRUTH.values()))
    exposure = 20_000.0
    rng = np.random.default_rng(1)
    counts = rng.poisson(response.fold(flux) * exposure)
    pha = write_spectrum(base / "src.pha", counts, exposure, respfile=rmf.name, ancrfile=arf.name)
    return base, pha, rmf, arf


def test_fit_command_writes_json_and_ecsv(simulated_spectrum, capsys):
    base, pha, rmf, arf = simulated_spectrum
    out_json, out_ecsv = base / "fit.json", base / "fit.ecsv"
    code = main(
        [
            "fit", str(pha), "--model", "tbabs*po", "--rmf", str(rmf), "--arf", str(arf),
            "--start", "1=0.1,2=2", "--ignore", "**-0.3 10.0-**",
            "--json", str(out_json), "--ecsv", str(out_ecsv),
        ]
    )  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    assert "PhoIndex" in printed
    result = json.loads(out_json.read_text())
    table = Table.read(out_ecsv)
    assert list(table["parameter"]) == ["nH", "PhoIndex", "norm"]
    for row in result["parameters"]:
        truth = TRUTH[row["parameter"]]
        assert row["err_lo"] < row["value"] < row["err_hi"]
        # the truth inside the 90% interval widened by half its width (one random spectrum)
        width = row["err_hi"] - row["err_lo"]
        assert row["err_lo"] - 0.5 * width <= truth <= row["err_hi"] + 0.5 * width, row
    assert result["statistic"] == "cstat" and result["dof"] > 100
    assert table.meta["stat"] == pytest.approx(result["stat"])


def test_fit_command_reports_missing_response(simulated_spectrum, tmp_path, capsys):
    _, pha, _, _ = simulated_spectrum
    lonely = tmp_path / "alone.pha"
    lonely.write_bytes(pha.read_bytes())  # RESPFILE names a file that is not beside it
    assert main(["fit", str(lonely), "--model", "po"]) == 2
    message = capsys.readouterr().err
    assert "RESPFILE" in message and "alone.pha" in message


def test_backend_command_reports_native_without_heasoft(monkeypatch, capsys):
    monkeypatch.delenv("HEADAS", raising=False)
    assert main(["backend", "--no-xspec"]) == 0
    assert "native" in capsys.readouterr().out


def test_failed_single_fit_is_recorded_not_raised(simulated_spectrum, tmp_path):
    """One ObsID whose fit fails gets a failed status and empty tables; the workflow goes on."""
    from xrtflow.steps.fitting import fit_observations

    _, pha, rmf, arf = simulated_spectrum
    outputs = {name: tmp_path / name for name in ("fit.json", "fit.ecsv", "plot.ecsv")}
    result = fit_observations(
        backend="native",
        spectra=str(pha),
        backgrounds=[],
        rmfs=str(rmf),
        arfs=str(arf),
        settings={"model": "tbabs*nosuchmodel"},
        json_out=outputs["fit.json"],
        table_out=outputs["fit.ecsv"],
        plot_out=outputs["plot.ecsv"],
        joint=False,
    )
    assert result is None
    info = json.loads(outputs["fit.json"].read_text())
    assert info["status"] == "failed" and "nosuchmodel" in info["message"]
    assert len(Table.read(outputs["fit.ecsv"])) == 0
    assert Table.read(outputs["fit.ecsv"]).colnames[:3] == ["obsid", "group", "index"]
