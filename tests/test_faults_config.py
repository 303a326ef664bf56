"""Bad input before any job: invalid configs, a user's --configfile, and hostile path names.

Every invalid config is run through the real ``snakemake -n``: it must fail with one specific
message naming the key (and the fix), no Python traceback, and no job (no results directory).
Names from hostile remote listings (HTTPS index pages, S3 keys) served by a real HTTP server on
127.0.0.1 must never be written outside the download cache.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from xrtflow import download, network

REPO = Path(__file__).resolve().parents[1]

#: (description, change to the demo config, text the message must contain)
INVALID = [
    ("unknown top-level key", {"modee": "PC"}, "unknown key 'modee' at the top level: did you mean 'mode'?"),
    ("unknown nested key", {"regions": {"source_radus": 100}}, "unknown key 'regions.source_radus' in 'regions': did you mean 'source_radius'?"),
    ("unknown target key", {"targets": {"tpyx": {"min_exposur": 5}}}, "unknown key 'targets.tpyx.min_exposur' in 'targets.tpyx': did you mean 'min_exposure'?"),
    ("unknown fit key", {"fit": {"modle": "po"}}, "did you mean 'model'?"),
    ("wrong type", {"regions": {"source_radius": "big"}}, "'regions.source_radius' is 'big', which is not of type number"),
    ("wrong type (integer)", {"fit": {"n_starts": "four"}}, "'fit.n_starts' is 'four', which is not of type integer"),
    ("value not in the choices", {"mode": "XX"}, "'mode' is 'XX': choose one of 'PC', 'WT'"),
    ("negative radius", {"regions": {"source_radius": -10}}, "'regions.source_radius' must be positive"),
    ("annulus inner >= outer", {"regions": {"background_inner": 400}}, "'regions.background_inner' (400) must be smaller than 'regions.background_outer' (390)"),
    ("source circle into the annulus", {"regions": {"source_radius": 300}}, "'regions.source_radius' (300) is larger than 'regions.background_inner' (240)"),
    ("inverted day window", {"targets": {"tpyx": {"days_after_epoch": [151, 135]}}}, "'targets.tpyx.days_after_epoch' [151, 135] is an inverted window"),
    ("empty day window", {"targets": {"tpyx": {"days_after_epoch": [140, 140]}}}, "'targets.tpyx.days_after_epoch' [140, 140] is an empty window"),
    ("window without epoch", {"targets": {"tpyx": {"epoch_mjd": None}}}, "'targets.tpyx.days_after_epoch' is set but 'targets.tpyx.epoch_mjd' is not"),
    ("unbalanced parentheses", {"fit": {"model": "tbabs*(bb+brems"}}, "'fit.model' 'tbabs*(bb+brems' is not a valid XSPEC model expression"),
    ("unknown model component", {"fit": {"model": "tbabs*(bb+bremsx)"}}, "bremsx"),
    ("dangling operator", {"fit": {"model": "tbabs*"}}, "'fit.model' 'tbabs*' is not a valid XSPEC model expression"),
    ("unknown start parameter", {"fit": {"start": {"bbody.kTT": 0.1}}}, "'fit.start' names 'bbody.kTT', which is not a parameter of 'tbabs*(bb+brems)': did you mean 'bbody.kT'?"),
    ("unknown tied parameter", {"fit": {"tied": ["TBabs.NH2"]}}, "'fit.tied' names 'TBabs.NH2'"),
    ("inverted flux band", {"fit": {"flux_band": [10.0, 0.3]}}, "'fit.flux_band' [10.0, 0.3] must satisfy 0 < low < high"),
    ("include entry not an ObsID", {"targets": {"tpyx": {"include": ["123"]}}}, "'targets.tpyx.include' entry '123' is not an 11-digit ObsID"),
    ("declination out of range", {"targets": {"tpyx": {"dec": -100}}}, "'targets.tpyx.dec' must be in [-90, 90] degrees"),
    ("negative min_exposure", {"targets": {"tpyx": {"min_exposure": -1}}}, "'targets.tpyx.min_exposure' must be >= 0"),
    ("PI range", {"products": {"pilow": 500, "pihigh": 100}}, "'products.pilow'/'products.pihigh' (500, 100)"),
    ("light-curve binning", {"lightcurve": {"binning": "orbit"}}, "'lightcurve.binning' is 'orbit': choose one of 'time', 'snapshot', 'obsid'"),
    ("light-curve band beyond 10.24 keV", {"lightcurve": {"bands": [[0.3, 12.0]]}}, "'lightcurve.bands[0]' is [0.3, 12.0]: a band must satisfy 0 <= low < high <= 10.24 keV"),
    ("light-curve band twice", {"lightcurve": {"bands": [[0.3, 10], [0.3, 10.0]]}}, "'lightcurve.bands' has the same band twice"),
    ("light-curve bin size", {"lightcurve": {"binsize": 0}}, "'lightcurve.binsize'"),
    ("pile-up threshold not positive", {"pileup": {"threshold_pc": 0}}, "'pileup.threshold_pc': 0 is less than or equal to the minimum of 0"),
    ("unknown pile-up key", {"pileup": {"treshold_pc": 1.0}}, "unknown key 'pileup.treshold_pc' in 'pileup': did you mean 'threshold_pc'?"),
    ("target key '..'", "target:..", "target key '..' is used as a directory name"),
    ("target key with '/'", "target:a/b", "target key 'a/b' is used as a directory name"),
    ("target key '.'", "target:.", "target key '.' is used as a directory name"),
]  # fmt: skip

COUNTS = {"invalid configs tried": 0, "specific message before any job": 0}


def demo_config(base: Path) -> dict:
    config = yaml.safe_load((REPO / "config" / "demo.yaml").read_text())
    config["results"] = str(base / "results")
    return config


def merge(config: dict, change: dict) -> dict:
    out = copy.deepcopy(config)
    for key, value in change.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def dry_run(workdir: Path, config_path: Path | None, *extra: str) -> subprocess.CompletedProcess:
    command = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(REPO / "workflow" / "Snakefile"),
        "--directory",
        str(workdir),
        "--cores",
        "1",
        "-n",
        *extra,
    ]
    if config_path is not None:
        command += ["--configfile", str(config_path)]
    env = dict(os.environ)
    env.pop("HEADAS", None)
    return subprocess.run(command, capture_output=True, text=True, env=env, cwd=workdir)


@pytest.mark.parametrize("case", INVALID, ids=[c[0] for c in INVALID])
def test_invalid_config_gets_one_specific_message_before_any_job(case, tmp_path):
    name, change, expected = case
    config = demo_config(tmp_path)
    if isinstance(change, str):  # rename the target key
        config["targets"] = {change.split(":", 1)[1]: config["targets"]["tpyx"]}
    else:
        config = merge(config, change)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    COUNTS["invalid configs tried"] += 1
    result = dry_run(tmp_path, path)
    text = result.stdout + result.stderr
    assert result.returncode != 0, text[-2000:]
    assert "Traceback" not in text, text[-3000:]
    assert expected in text, text[-2000:]
    assert text.count("invalid configuration:") == 1
    assert not (tmp_path / "results").exists()  # no job ran
    assert "Job stats" not in text
    COUNTS["specific message before any job"] += 1


def test_the_demo_config_is_valid(tmp_path):
    """The control case: the same machinery accepts the shipped demo config."""
    from xrtflow.config import validate_config

    config = validate_config(demo_config(tmp_path))
    assert config["regions"]["source_radius"] == 180


def test_user_configfile_does_not_inherit_the_default_target(tmp_path):
    """config/config.yaml is the default only: --configfile replaces it (no merged targets)."""
    (tmp_path / "config").mkdir()
    # the default config of this run directory: target tpyx (offline, with coordinates)
    (tmp_path / "config" / "config.yaml").write_text(yaml.safe_dump(demo_config(tmp_path)))
    mine = demo_config(tmp_path)
    mine["targets"] = {"other": dict(mine["targets"]["tpyx"], name="Other")}
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(mine))
    result = dry_run(tmp_path, path, "--until", "resolve_target")
    text = result.stdout + result.stderr
    assert result.returncode == 0, text[-3000:]
    assert "target=other" in text
    assert "tpyx" not in text
    # and without --configfile, the default is what is loaded
    default = dry_run(tmp_path, None, "--until", "resolve_target")
    text = default.stdout + default.stderr
    assert default.returncode == 0, text[-3000:]
    assert "target=tpyx" in text and "target=other" not in text


def test_zz_report_config_counts(capsys):
    with capsys.disabled():
        print("\ninvalid-config counts:", json.dumps(COUNTS))
    assert COUNTS["invalid configs tried"] == COUNTS["specific message before any job"]


# --- hostile names in remote listings --------------------------------------------------------------
class _Hostile(BaseHTTPRequestHandler):
    """An Apache index and an S3 listing whose names try to leave the cache directory."""

    victim = ""

    def log_message(self, *args):  # keep pytest output clean
        pass

    def do_GET(self):  # noqa: N802 (http.server API)
        if "list-type=2" in self.path:
            key = "swift/data/obs/2011_04/00031940001/xrt/event/../../../../../../evil.txt"
            body = (
                '<?xml version="1.0"?><ListBucketResult '
                'xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
                f"<Contents><Key>{key}</Key><Size>4</Size></Contents>"
                "<IsTruncated>false</IsTruncated></ListBucketResult>"
            ).encode()
            ctype = "application/xml"
        elif self.path.endswith("/"):
            body = (
                f'<a href="{self.path}%2e%2e/">up</a> <a href="{self.path}..%5cevil.txt">x</a>'
            ).encode()
            ctype = "text/html"
        else:
            body, ctype = b"evil", "application/octet-stream"
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def hostile_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hostile)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("source", ["aws", "heasarc"])
def test_hostile_listing_names_never_leave_the_cache(hostile_server, tmp_path, source):
    cache = tmp_path / "cache" / "data"
    victim = tmp_path / "evil.txt"
    victim.write_text("keep me")
    with pytest.raises(network.DownloadError) as err:
        download.download_observation(
            "00031940001",
            55665.5,
            cache,
            source=source,
            base_url=hostile_server + ("" if source == "aws" else "/FTP"),
            progress=False,
            retries=0,
            backoff=0,
        )
    assert "unsafe" in str(err.value) and "00031940001" in str(err.value)
    assert victim.read_text() == "keep me"  # neither overwritten nor deleted
    written = [p for p in tmp_path.rglob("*") if p.is_file() and p != victim]
    assert not written, written


@pytest.mark.parametrize(
    "name", ["../x", "a/../../x", "/etc/passwd", "a\\..\\x", "", "a//b", "./x", "C:x", "a\0b"]
)
def test_safe_join_refuses_names_that_could_leave(tmp_path, name):
    with pytest.raises(ValueError, match="unsafe"):
        download.safe_join(tmp_path, name)


def test_safe_join_refuses_a_symlinked_directory_out(tmp_path):
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "link").symlink_to(tmp_path)
    with pytest.raises(ValueError, match="unsafe"):
        download.safe_join(tmp_path / "root", "link/x.fits")
    assert download.safe_join(tmp_path / "root", "xrt/event/a.evt.gz") == (
        tmp_path / "root" / "xrt" / "event" / "a.evt.gz"
    )
