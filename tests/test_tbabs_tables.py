"""Where TBabs finds its high-resolution edge tables, and what happens without them."""

from __future__ import annotations

import logging
import shutil

import numpy as np
import pytest
from test_models_xspec import SHARED, load_reference

from xrtflow.spectral import tbabs
from xrtflow.spectral.models import parse_model

TABLE_DIR = SHARED / "data" / "xspec-tbabs"
EDGE_WINDOWS_KEV = ((0.48, 0.60), (0.69, 0.80), (0.85, 0.90))


@pytest.fixture(autouse=True)
def _fresh_state(monkeypatch):
    monkeypatch.delenv(tbabs.ENV_VAR, raising=False)
    tbabs.set_table_dir(None)
    yield
    tbabs.set_table_dir(None)


def _tbabs_case():
    ref = load_reference("xspec_models.csv")
    if ref is None:
        pytest.skip("../shared reference data not available")
    cases, columns, edges = ref
    return columns["tbabs_nh1_wilm"], edges


def test_found_beside_the_repository():
    if not TABLE_DIR.is_dir():
        pytest.skip("../shared/data/xspec-tbabs not available")
    assert tbabs.table_source() == str(TABLE_DIR.resolve())
    # the tables are used as given: O at its first tabulated energy
    first = TABLE_DIR.joinpath("o_edge.csv").read_text().splitlines()[3].split(",")
    e0, s0 = float(first[0]), float(first[1]) * 1e-18
    assert tbabs._element_sigma(8, np.array([e0]))[0] == pytest.approx(s0, rel=1e-12)


def test_env_var_names_the_folder(monkeypatch, tmp_path):
    if not TABLE_DIR.is_dir():
        pytest.skip("../shared/data/xspec-tbabs not available")
    for name in tbabs.TABLE_FILES.values():
        shutil.copy(TABLE_DIR / name, tmp_path / name)  # a user's own copy, outside the repo
    monkeypatch.setenv(tbabs.ENV_VAR, str(tmp_path))
    tbabs.set_table_dir(None)
    assert tbabs.table_source() == str(tmp_path.resolve())


def test_env_var_to_a_wrong_folder_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv(tbabs.ENV_VAR, str(tmp_path / "nowhere"))
    tbabs.set_table_dir(None)
    with pytest.raises(ValueError, match=f"{tbabs.ENV_VAR}=.*o_edge.csv"):
        parse_model("tbabs*po").evaluate(np.geomspace(0.3, 10, 11), [0.1, 2, 1])


def test_stand_in_when_absent(monkeypatch, caplog):
    xspec, edges = _tbabs_case()
    monkeypatch.setattr(tbabs, "_candidates", lambda: [])
    tbabs.set_table_dir(None)
    with caplog.at_level(logging.WARNING, logger="xrtflow.spectral.tbabs"):
        native = parse_model("tbabs*po").evaluate(edges, [1.0, 0, 1], abund="wilm")
    assert tbabs.table_source() == "builtin"
    assert any("accuracy" in r.getMessage() and tbabs.ENV_VAR in r.getMessage()
               for r in caplog.records)  # fmt: skip
    lo, hi = edges[:-1], edges[1:]
    inside = np.zeros(lo.size, bool)
    for a, b in EDGE_WINDOWS_KEV:
        inside |= (lo < b) & (hi > a)
    rel = np.abs(native / xspec - 1)
    # outside the edge windows the stand-in changes nothing; inside, the documented reduced
    # accuracy (README: up to 8.7% in T at nH = 1e22)
    assert rel[~inside].max() < 1e-4
    assert 5e-3 < rel[inside].max() < 0.1


def test_explicit_folder_missing_files(tmp_path):
    tbabs.set_table_dir(tmp_path)
    with pytest.raises(ValueError, match="fe_edge.csv"):
        tbabs.edge_tables()
