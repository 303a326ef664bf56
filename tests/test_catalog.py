"""Selection of ObsIDs from a swiftmastr-like table: windows, exposure, include/exclude, reasons."""

import astropy.units as u
import numpy as np
import pytest
from astropy.table import Table

from xrtflow.catalog import SelectionCriteria, select_observations, write_if_changed


@pytest.fixture
def table():
    # Unsorted on purpose: selection must sort by start time.
    return Table(
        {
            "obsid": [31940005, "00031940001", "00031940003", "00031940004", "00031940002"],
            "start_time": [
                55665 + 150.5,
                55665 + 100.0,
                55665 + 140.0,
                55665 + 145.0,
                55665 + 130.0,
            ],
            "xrt_exposure": [2000.0, 3000.0, 200.0, 2500.0, 1800.0],
            "xrt_expo_pc": [2000.0, 3000.0, 200.0, 0.0, 1800.0],
            "xrt_expo_wt": [0.0, 0.0, 0.0, 2500.0, 0.0],
        }
    )


def criteria(**kwargs):
    base = dict(epoch_mjd=55665, days_after_epoch=(123, 151), min_exposure=500 * u.s, mode="PC")
    base.update(kwargs)
    return SelectionCriteria(**base)


def test_selection_keeps_window_exposure_and_mode(table):
    out = select_observations(table, criteria())
    assert list(out["obsid"]) == [f"0003194000{i}" for i in range(1, 6)]  # sorted, zero-padded
    chosen = list(out["obsid"][out["selected"]])
    assert chosen == ["00031940002", "00031940005"]
    reasons = dict(zip(out["obsid"], out["reason"], strict=True))
    assert reasons["00031940001"] == "before day 123 after epoch"
    assert reasons["00031940003"] == "PC exposure below 500 s"
    assert reasons["00031940004"] == "no XRT PC exposure"
    assert np.allclose(
        out["days_after_epoch"].quantity.to_value(u.day), [100, 130, 140, 145, 150.5]
    )


def test_window_bounds_are_exclusive_like_the_seed(table):
    out = select_observations(table, criteria(days_after_epoch=(130, 150.5)))
    reasons = dict(zip(out["obsid"], out["reason"], strict=True))
    assert reasons["00031940002"].startswith("before day 130")
    assert reasons["00031940005"].startswith("after day 150.5")


def test_wt_mode_uses_wt_exposure(table):
    out = select_observations(table, criteria(mode="WT"))
    assert list(out["obsid"][out["selected"]]) == ["00031940004"]


def test_include_and_exclude(table):
    out = select_observations(table, criteria(include=["00031940001"], exclude=["00031940005"]))
    chosen = set(out["obsid"][out["selected"]])
    assert chosen == {"00031940001", "00031940002"}
    assert out["reason"][list(out["obsid"]).index("00031940005")] == "excluded by config"


def test_window_without_epoch_is_an_error(table):
    with pytest.raises(ValueError, match="epoch_mjd"):
        select_observations(table, criteria(epoch_mjd=None))


def test_bad_obsid_in_config_is_rejected():
    with pytest.raises(ValueError, match="not a Swift ObsID"):
        SelectionCriteria.from_target_config({"name": "x", "include": ["123"]})


def test_write_if_changed_keeps_identical_file(tmp_path, table):
    path = tmp_path / "sel.ecsv"
    assert write_if_changed(table, path)
    before = path.stat().st_mtime_ns
    assert not write_if_changed(table.copy(), path)
    assert path.stat().st_mtime_ns == before
    table["xrt_exposure"][0] = 1.0
    assert write_if_changed(table, path)
