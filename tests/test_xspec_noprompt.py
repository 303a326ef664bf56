"""The PyXspec backend can never make XSPEC prompt (issue 8: a header naming a missing
RESPFILE made XSPEC ask for a new file name forever).

PyXspec is not installable here, so a stand-in ``xspec`` module is injected into
``sys.modules``.  It behaves as XSPEC does on loading: it opens the spectrum, and for every
RESPFILE/ANCRFILE/BACKFILE/CORRFILE its header names that does not exist (relative to the
current directory, as XSPEC resolves them) it "prompts" -- here: raises.  Everything else
only records what it is told.  The header sanitising runs on real FITS files.
"""

from __future__ import annotations

import sys
import types
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from test_stats_spectra import N_CH, write_diagonal_response

from xrtflow.heasoft import xspec_fit
from xrtflow.spectral.models import parse_model
from xrtflow.spectral.ogip import read_spectrum, write_spectrum


class Prompted(RuntimeError):
    """Raised where XSPEC would ask ``New filename ( "none" or "/*" ...):``."""


def _would_prompt(path: str, xset) -> None:
    with fits.open(path) as hdul:
        hdr = hdul["SPECTRUM"].header
    for key in xspec_fit.FILE_KEYWORDS:
        value = str(hdr.get(key, "none")).strip()
        if value.lower() != "none" and not Path(value.split("{")[0]).exists():
            if xset.allowPrompting is not False:
                raise Prompted(f"{path}: {key} {value!r} missing: XSPEC prompts forever")
            raise Prompted(f"{path}: {key} {value!r} missing (prompting off: XSPEC errors)")


def fake_xspec(model_expr: str) -> types.ModuleType:
    mod = types.ModuleType("xspec")
    xset = types.SimpleNamespace(chatter=10, logChatter=10, abund="angr", xsect="bcmc",
                                 allowPrompting=True, log=None)  # fmt: skip
    xset.opened = []
    xset.openLog = lambda name: (xset.opened.append(name), Path(name).write_text("log\n"))
    xset.closeLog = lambda: None
    loaded: dict[int, types.SimpleNamespace] = {}
    events: list[str] = []

    class Spectrum:
        """Setting ``response`` to a file name loads it (PyXspec: a Response object)."""

        def __init__(self, path):
            self.path, self.noticed, self.flux, self._rsp = path, list(range(10)), None, None
            self._bkg = None
            self.names_at_load = xspec_fit.header_files(path)

        @property
        def background(self):
            return self._bkg

        @background.setter
        def background(self, name):
            _would_prompt(name, xset)  # XSPEC reads the background's header too
            self._bkg = name

        @property
        def response(self):
            return self._rsp

        @response.setter
        def response(self, name):
            assert Path(name).is_file(), name
            self._rsp = types.SimpleNamespace(file=name, arf=None)

        def ignore(self, s):
            events.append(f"ignore {s}")

    class AllData:
        def __call__(self, arg):
            if isinstance(arg, int):
                return loaded[arg]
            group, path = arg.split(" ", 1)
            events.append(f"load allowPrompting={xset.allowPrompting}")
            _would_prompt(path, xset)
            spec = Spectrum(path)
            loaded[int(group.split(":")[0])] = spec
            return spec

        def clear(self):
            loaded.clear()

        def ignore(self, s):
            events.append(f"ignore all {s}")

    class Par:
        def __init__(self, p):
            self.name, self.unit, self.index = p.name, p.unit, p.index
            self.values = [float(p.value)]
            self.frozen, self.link, self.error = bool(p.frozen), "", (0.0, 1.0, "FFFFFFFFF")

        def untie(self):
            self.link = ""

    class Model:
        def __init__(self, expr):
            native = parse_model(expr)
            self.pars = [Par(p) for p in native.parameters]
            self.nParameters = len(self.pars)
            self.componentNames = []
            for p in native.parameters:
                if p.component not in self.componentNames:
                    self.componentNames.append(p.component)
                    setattr(self, p.component, types.SimpleNamespace(parameterNames=[]))
                comp = getattr(self, p.component)
                comp.parameterNames.append(p.name)
                setattr(comp, p.name, self.pars[p.index - 1])
            models[:] = [self] * max(1, len(loaded))

        def __call__(self, i):
            return self.pars[i - 1]

    models: list = []

    class AllModels:
        def __call__(self, g):
            return models[g - 1]

        def clear(self):
            models.clear()

        def calcFlux(self, cmd):
            for spec in loaded.values():
                spec.flux = (1e-12, 9e-13, 1.1e-12, 0.0, 0.0, 0.0)

    fit = types.SimpleNamespace(statMethod="chi", weight="standard", query="yes",
                                nIterations=10, statistic=12.5, dof=7, covariance=[[1.0]])  # fmt: skip
    fit.renorm = lambda: events.append("renorm")
    fit.perform = lambda: events.append("perform")
    fit.error = lambda cmd: events.append(f"error {cmd}")
    mod.Xset, mod.AllData, mod.AllModels, mod.Model, mod.Fit = (
        xset,
        AllData(),
        AllModels(),
        Model,
        fit,
    )
    mod.events = events
    return mod


@pytest.fixture()
def messy(tmp_path):
    """A spectrum whose header names files that are not there (as real archives do)."""
    rmf, arf = write_diagonal_response(tmp_path)
    rng = np.random.default_rng(1)
    bkg = write_spectrum(tmp_path / "bkg_real.pha", rng.poisson(3, N_CH), 1000.0,
                         backscal=5.0, respfile="also_gone.rmf")  # fmt: skip
    pha = write_spectrum(tmp_path / "fake_1.pha", rng.poisson(9, N_CH), 1000.0,
                         respfile="pc.rmf", ancrfile="pc.arf", backfile="gone_bkg.pha")  # fmt: skip
    fits.setval(pha, "CORRFILE", value="gone.cor", ext=1)
    return {"dir": tmp_path, "pha": pha, "rmf": rmf, "arf": arf, "bkg": bkg}


def test_sanitized_copy_names_no_file_and_keeps_the_data(messy, tmp_path):
    out = xspec_fit.sanitized_copy(messy["pha"], tmp_path / "copy.pha")
    assert xspec_fit.header_files(out) == {}
    assert set(xspec_fit.header_files(messy["pha"])) == set(xspec_fit.FILE_KEYWORDS)  # untouched
    with fits.open(messy["pha"]) as a, fits.open(out) as b:
        assert np.array_equal(a["SPECTRUM"].data["COUNTS"], b["SPECTRUM"].data["COUNTS"])
        for key in ("EXPOSURE", "BACKSCAL", "AREASCAL", "POISSERR"):
            assert a["SPECTRUM"].header[key] == b["SPECTRUM"].header[key]


def test_the_stand_in_prompts_like_xspec_on_the_original(messy):
    fake = fake_xspec("powerlaw")
    with pytest.raises(Prompted, match="prompts forever"):
        fake.AllData(f"1:1 {messy['pha']}")


@pytest.mark.parametrize("statistic", ["cstat", "chi", "pchi"])
def test_fit_never_reaches_a_prompt(messy, tmp_path, monkeypatch, statistic):
    fake = fake_xspec("powerlaw")
    monkeypatch.setitem(sys.modules, "xspec", fake)
    spec = read_spectrum(messy["pha"], rmf=messy["rmf"], arf=messy["arf"],
                         background=messy["bkg"])  # fmt: skip
    log = tmp_path / "rule.log"
    from xrtflow.spectral.fit import FitSetup

    res = xspec_fit.fit(FitSetup([spec], "powerlaw", statistic=statistic, flux_samples=10),
                        log=log)  # fmt: skip
    assert res.stat == 12.5 and res.dof == 7
    assert fake.events[0] == "load allowPrompting=False"  # prompting off before any load
    loaded = fake.AllData(1)
    assert loaded.names_at_load == {}
    assert loaded.response.file == str(messy["rmf"].resolve())
    assert loaded.response.arf == str(messy["arf"].resolve())
    assert Path(loaded.background).name == "g1_bkg.pha"  # sanitised (it names a missing RMF)
    assert fake.Fit.query == "no"
    assert fake.Fit.statMethod == ("cstat" if statistic == "cstat" else "chi")
    if statistic == "pchi":
        assert fake.Fit.weight == "model"
    assert fake.Xset.opened == [str(log)]


def test_missing_header_file_is_an_error_naming_it(messy, monkeypatch):
    """Not given explicitly: the header's file is looked for, and its absence named."""
    monkeypatch.setitem(sys.modules, "xspec", fake_xspec("powerlaw"))
    from xrtflow.spectral.fit import FitSetup

    with pytest.raises(FileNotFoundError, match=r"RESPFILE.*pc\.rmf"):
        xspec_fit.fit(FitSetup([messy["pha"]], "powerlaw"))


def test_missing_explicit_file_fails_before_xspec(messy, monkeypatch):
    boom = types.ModuleType("xspec")
    boom.__getattr__ = lambda name: (_ for _ in ()).throw(AssertionError("xspec used"))
    monkeypatch.setitem(sys.modules, "xspec", boom)
    from xrtflow.spectral.fit import FitSetup

    files = {"pha": messy["pha"], "rmf": messy["dir"] / "nope.rmf", "arf": None,
             "background": None}  # fmt: skip
    with pytest.raises(FileNotFoundError, match="nope.rmf"):
        xspec_fit.fit(FitSetup([files], "powerlaw"))


def test_cli_xspec_backend_does_not_hang(messy, monkeypatch, capsys):
    """``xrtflow fit fake_*.pha --rmf ... --arf ... --backend xspec`` (the case of issue 8)."""
    from xrtflow.cli import main

    monkeypatch.setitem(sys.modules, "xspec", fake_xspec("powerlaw"))
    code = main(["fit", str(messy["pha"]), "--model", "powerlaw", "--rmf", str(messy["rmf"]),
                 "--arf", str(messy["arf"]), "--background", str(messy["bkg"]),
                 "--backend", "xspec"])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    assert "cstat = 12.5000" in capsys.readouterr().out


def test_bound_log_keeps_head_and_tail(tmp_path):
    log = tmp_path / "x.log"
    log.write_bytes(b"A" * 1000 + b"B" * 5000 + b"C" * 1000)
    xspec_fit.bound_log(log, max_bytes=2000)
    data = log.read_bytes()
    assert len(data) < 2100 and data.startswith(b"A" * 1000) and data.endswith(b"C" * 1000)


def test_workflow_fit_sends_xspec_output_beside_the_rule_log(messy, tmp_path, monkeypatch):
    """The heasoft backend's fit stage opens XSPEC's log next to the rule's own log."""
    fake = fake_xspec("powerlaw")
    monkeypatch.setitem(sys.modules, "xspec", fake)
    from xrtflow.steps.fitting import fit_observations

    rule_log = tmp_path / "logs" / "fit" / "00012345001.log"
    rule_log.parent.mkdir(parents=True)
    fit_observations(
        "heasoft", str(messy["pha"]), str(messy["bkg"]), str(messy["rmf"]), str(messy["arf"]),
        {"model": "powerlaw", "errors": False}, tmp_path / "fit.json", tmp_path / "fit.ecsv",
        tmp_path / "fit_plot.ecsv", log_path=rule_log,
    )  # fmt: skip
    assert fake.Xset.opened == [f"{rule_log}.xspec"]
