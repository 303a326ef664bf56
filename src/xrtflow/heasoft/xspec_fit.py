"""Spectral fitting with PyXspec, taking the native fitter's :class:`~xrtflow.spectral.fit.FitSetup`
and returning its :class:`~xrtflow.spectral.fit.FitResult` (same table columns).

The work is split in two:

* :func:`plan` turns a setup into plain data -- files per data group, start values, frozen and
  untied parameters, and the exact XSPEC command strings for ``ignore``, ``error`` and ``flux`` --
  with no XSPEC needed (unit-tested);
* :func:`fit` executes a plan with PyXspec (``import xspec`` happens only there), following the
  PyXspec documentation: ``Xset.abund``/``Xset.xsect``, ``Fit.statMethod``, ``Fit.query = "no"``,
  ``AllData("g:g file")`` per data group with response, ARF and background set explicitly,
  per-spectrum ``ignore`` then ``AllData.ignore("bad")``, ``untie`` of the per-group parameters,
  ``Fit.perform()``, ``Fit.error("maximum <r> 2.706 <pars>")`` (90% intervals) and
  ``AllModels.calcFlux("<lo> <hi> err <n> 90")``.
"""

from __future__ import annotations

import contextlib
import math
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from astropy.io import fits

from xrtflow.spectral.fit import DELTA_90, FitResult, FitSetup, ParameterResult, resolve_parameter

__all__ = ["XspecPlan", "fit", "ignore_string", "plan", "spectrum_files"]

#: FitSetup.statistic -> XSPEC ``Fit.statMethod``. With a background spectrum XSPEC's ``cstat``
#: is the W-statistic, as in the native fitter.  ``pchi`` (model variance) is XSPEC's ``chi``
#: with ``weight model`` (in XSPEC 12.9 ``pchi`` is only a *test* statistic).
STAT_METHODS = {"cstat": "cstat", "chi": "chi", "pchi": "chi"}
#: FitSetup.statistic -> XSPEC ``Fit.weight`` (None: leave XSPEC's default).
STAT_WEIGHTS = {"cstat": None, "chi": "standard", "pchi": "model"}
#: Header keywords naming files XSPEC would look for (and prompt for, if missing) on loading.
FILE_KEYWORDS = ("RESPFILE", "ANCRFILE", "BACKFILE", "CORRFILE")
#: Largest XSPEC log kept (bytes): the head and the tail are kept beyond it.
MAX_LOG_BYTES = 2_000_000

#: Largest reduced statistic for which ``error`` still runs (XSPEC's ``maximum``; default 2).
ERROR_MAX_REDSTAT = 1000.0

_ABSORBERS = {"tbabs", "phabs", "wabs", "ztbabs", "zphabs", "zwabs", "tbnew", "tbgrain", "tbvarabs"}
_SAFE_PATH = re.compile(r"^[^\s\"'{}]+$")


@dataclass
class XspecPlan:
    """Everything :func:`fit` sends to XSPEC, as plain data.

    Attributes
    ----------
    files : list of dict
        Per data group: ``pha``, ``rmf``, ``arf``, ``background`` (absolute paths or None).
    data_commands : list of str
        ``"g:g /path/src.pha"`` for ``AllData(...)``, one per group.
    model : str
        XSPEC model expression.
    n_pars : int
        Parameters per data group.
    start : dict
        1-based parameter index -> start value (applied before untying, so to every group).
    freeze, thaw : list of int
        Parameter indices to freeze / thaw.
    untie : list of tuple
        ``(group, index)`` pairs to untie (groups >= 2).
    free_global : list of int
        Global indices (``(g-1)*n_pars + i``) of the free parameters after tying.
    ignore : str or None
        Per-spectrum ignore string in keV (every number has a decimal point).
    error_command : str
        Argument of ``Fit.error``.
    flux_command : str
        Argument of ``AllModels.calcFlux``.
    """

    files: list[dict]
    data_commands: list[str]
    model: str
    n_pars: int
    start: dict[int, float]
    freeze: list[int]
    thaw: list[int]
    untie: list[tuple[int, int]]
    free_global: list[int]
    ignore: str | None
    error_command: str
    flux_command: str
    stat_method: str
    abund: str
    xsect: str
    obsids: list[str]
    weight: str | None = None
    absorber_nh: list[int] = field(default_factory=list)
    components: list[str] = field(default_factory=list)


def _check_path(path: Path, what: str) -> str:
    text = str(path)
    if not _SAFE_PATH.match(text):
        raise ValueError(f"{what} path {text!r} has whitespace or quotes, which XSPEC cannot read")
    if not Path(text).is_file():
        raise FileNotFoundError(f"{what} {text} does not exist")
    return text


def _spectrum_extension(hdul):
    return next(
        (h for h in hdul[1:] if str(h.header.get("EXTNAME", "")).upper() == "SPECTRUM"), hdul[1]
    )


def _header_file(pha: Path, key: str) -> Path | None:
    with fits.open(pha) as hdul:
        value = str(_spectrum_extension(hdul).header.get(key, "")).strip()
    if not value or value.lower() == "none":
        return None
    from xrtflow.paths import safe_join

    try:  # a header keyword is not trusted to name a file outside the spectrum's directory
        path = safe_join(pha.parent, value.split("{")[0], what=f"{key} in {pha.name}")
    except ValueError as err:
        raise FileNotFoundError(f"{pha}: {err}; pass the file explicitly") from None
    if not path.is_file() and path.with_name(path.name + ".gz").is_file():
        path = path.with_name(path.name + ".gz")
    if not path.is_file():
        raise FileNotFoundError(
            f"{pha}: header keyword {key} names {value!r}, but {path} does not exist; "
            "pass the file explicitly"
        )
    return path


def spectrum_files(spec) -> dict:
    """Absolute ``pha``/``rmf``/``arf``/``background`` paths of one data group.

    Parameters
    ----------
    spec : Spectrum, path-like or mapping
        A :class:`xrtflow.spectral.ogip.Spectrum` (its ``path``, ``response.rmf_path``,
        ``response.arf_path``, ``background.path``), a mapping with those keys, or a PHA path
        (then the ``RESPFILE``/``ANCRFILE``/``BACKFILE`` keywords, relative to the PHA).
    """
    if isinstance(spec, Mapping):
        files = {k: spec.get(k) for k in ("pha", "rmf", "arf", "background")}
    elif isinstance(spec, str | Path):
        pha = Path(spec)
        files = {
            "pha": pha,
            "rmf": _header_file(pha, "RESPFILE"),
            "arf": _header_file(pha, "ANCRFILE"),
            "background": _header_file(pha, "BACKFILE"),
        }
    else:
        response = getattr(spec, "response", None)
        background = getattr(spec, "background", None)
        files = {
            "pha": getattr(spec, "path", None),
            "rmf": getattr(response, "rmf_path", None),
            "arf": getattr(response, "arf_path", None),
            "background": getattr(background, "path", None),
        }
    if files["pha"] is None:
        raise ValueError("PyXspec needs spectra read from files (Spectrum.path is None)")
    if files["rmf"] is None:
        raise ValueError(f"no response (RMF) known for {files['pha']}")
    out = {}
    for key, value in files.items():
        out[key] = None if value is None else _check_path(Path(value).resolve(), key)
    return out


_NUM = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"


def ignore_string(ignore: str | None) -> str | None:
    """Normalise an ignore string so XSPEC reads every bound as keV.

    XSPEC reads a bound without a decimal point as a *channel*; the native fitter reads keV. Each
    number therefore gets a decimal point (``"**-1 7-**"`` -> ``"**-1.0 7.0-**"``).
    """
    if ignore is None or not str(ignore).strip():
        return None
    text = str(ignore).strip()
    if "\n" in text or ";" in text:
        raise ValueError(f"ignore string {ignore!r} must be one line of ranges")
    parts = []
    for token in text.split():
        pieces = token.split("-") if not re.fullmatch(_NUM, token) else [token]
        if token.count("-") > 1:
            raise ValueError(f"ignore range {token!r}: use lo-hi with positive keV bounds")
        conv = []
        for piece in pieces:
            if piece == "**":
                conv.append(piece)
            elif re.fullmatch(_NUM, piece):
                conv.append(repr(float(piece)))
            else:
                raise ValueError(f"ignore range {token!r}: {piece!r} is not a number or **")
        parts.append("-".join(conv))
    return " ".join(parts)


def _model_parameters(model):
    if isinstance(model, str):
        from xrtflow.spectral.models import parse_model

        return model, parse_model(model).parameters
    expr = getattr(model, "expression", None)
    if not isinstance(expr, str):
        raise ValueError("the model must be an XSPEC expression (or have .expression)")
    return expr, model.parameters


def _indices(pars, keys) -> list[int]:
    return sorted({int(pars[resolve_parameter(pars, k)].index) for k in keys or ()})


def _obsid_of(files: dict, given: str | None) -> str:
    if given is not None:
        return str(given)
    try:
        with fits.open(files["pha"]) as hdul:
            for hdu in hdul:
                if "OBS_ID" in hdu.header:
                    return str(hdu.header["OBS_ID"]).strip()
    except OSError:
        pass
    return Path(files["pha"]).name.split(".")[0]


def plan(setup: FitSetup) -> XspecPlan:
    """Translate ``setup`` into the XSPEC commands :func:`fit` runs (no XSPEC needed)."""
    statistic = str(setup.statistic).lower()
    if statistic not in STAT_METHODS:
        raise ValueError(f"statistic {setup.statistic!r} is not one of {sorted(STAT_METHODS)}")
    expr, pars = _model_parameters(setup.model)
    n_pars = len(pars)
    files = [spectrum_files(s) for s in setup.spectra]
    if not files:
        raise ValueError("no spectra to fit")
    n_groups = len(files)
    obsids = list(setup.obsids) if setup.obsids is not None else [None] * n_groups
    obsids = [_obsid_of(f, o) for f, o in zip(files, obsids, strict=True)]

    start = {int(pars[resolve_parameter(pars, k)].index): float(v) for k, v in setup.start.items()}
    freeze = _indices(pars, setup.frozen)
    thaw = _indices(pars, setup.thawed)
    frozen_now = {int(p.index) for p in pars if p.frozen}
    frozen_now = (frozen_now | set(freeze)) - set(thaw)
    free = [int(p.index) for p in pars if int(p.index) not in frozen_now]

    if setup.tied is not None:
        per_group = set(free) - set(_indices(pars, setup.tied))
    elif setup.per_group is not None:
        per_group = set(_indices(pars, setup.per_group)) & set(free)
    else:
        per_group = set()  # XSPEC default: every parameter tied to data group 1
    untie = [(g, i) for g in range(2, n_groups + 1) for i in sorted(per_group)]

    free_global = list(free)
    for g in range(2, n_groups + 1):
        free_global += [(g - 1) * n_pars + i for i in sorted(per_group)]

    if setup.errors is True:
        error_pars = free_global
    elif setup.errors:
        wanted = set(_indices(pars, setup.errors))
        error_pars = [k for k in free_global if (k - 1) % n_pars + 1 in wanted]
    else:
        error_pars = []
    error_command = (
        f"maximum {ERROR_MAX_REDSTAT} {DELTA_90:.3f} " + " ".join(str(k) for k in error_pars)
        if error_pars
        else ""
    )
    lo, hi = (float(x) for x in setup.flux_band)
    if not 0 < lo < hi:
        raise ValueError(f"flux band {setup.flux_band} must be 0 < lo < hi (keV)")
    flux_command = f"{lo!r} {hi!r}"
    if setup.flux_samples > 0:
        flux_command += f" err {int(setup.flux_samples)} 90"

    absorber_nh = [
        int(p.index)
        for p in pars
        if str(p.component).lower().rstrip("0123456789_") in _ABSORBERS
        and str(p.name).lower() == "nh"
    ]
    return XspecPlan(
        files=files,
        data_commands=[f"{g}:{g} {f['pha']}" for g, f in enumerate(files, start=1)],
        model=expr,
        n_pars=n_pars,
        start=start,
        freeze=freeze,
        thaw=thaw,
        untie=untie,
        free_global=free_global,
        ignore=ignore_string(setup.ignore),
        error_command=error_command,
        flux_command=flux_command,
        stat_method=STAT_METHODS[statistic],
        weight=STAT_WEIGHTS[statistic],
        abund=str(setup.abund),
        xsect=str(setup.xsect),
        obsids=obsids,
        absorber_nh=absorber_nh,
        components=[str(p.component) for p in pars],
    )


_LINK = re.compile(r"=\s*(?:(\d+)\s*:\s*)?p?(\d+)\s*$", re.IGNORECASE)


def parse_link(link: str, n_pars: int) -> str:
    """``"= p4"`` (global index 4 with 3 parameters per group) -> ``"2:1"`` (group:index)."""
    text = (link or "").strip()
    if not text:
        return ""
    m = _LINK.search(text)
    if not m:
        return text  # a general expression: keep it verbatim
    k = int(m.group(2))
    return f"{(k - 1) // n_pars + 1}:{(k - 1) % n_pars + 1}"


def sanitized_copy(src: str | Path, dest: str | Path) -> Path:
    """Copy a PHA file with every file keyword (``RESPFILE``, ``ANCRFILE``, ``BACKFILE``,
    ``CORRFILE``) set to ``none``, in every extension.

    XSPEC, loading a spectrum, looks for the files its header names and, when one is missing,
    asks for a new name -- forever, when stdin is at its end (issue 8: 38 GB of prompts in ten
    minutes).  Loading a copy that names no file cannot prompt; the response, ARF and
    background are then set explicitly, from paths checked to exist.
    """
    src, dest = Path(src), Path(dest)
    with fits.open(src) as hdul:
        for hdu in hdul:
            for key in FILE_KEYWORDS:
                if key in hdu.header:
                    hdu.header[key] = "none"
            if str(hdu.header.get("EXTNAME", "")).upper() == "SPECTRUM":
                for key in FILE_KEYWORDS:
                    hdu.header.setdefault(key, "none")
        hdul.writeto(dest, overwrite=True)
    return dest


def header_files(path: str | Path) -> dict[str, str]:
    """The file keywords of a PHA's SPECTRUM extension that name a file (not ``none``)."""
    with fits.open(path) as hdul:
        hdr = _spectrum_extension(hdul).header
        out = {}
        for key in FILE_KEYWORDS:
            value = str(hdr.get(key, "") or "").strip()
            if value and value.lower() != "none":
                out[key] = value
    return out


def staged_files(p: XspecPlan, workdir: str | Path) -> list[dict]:
    """Per data group: header-sanitised copies of the spectrum and background in ``workdir``
    (short names, so paths are no problem for XSPEC's parser), response and ARF as planned."""
    workdir = Path(workdir)
    out = []
    for g, files in enumerate(p.files, start=1):
        staged = dict(files)
        staged["pha"] = str(sanitized_copy(files["pha"], workdir / f"g{g}_src.pha"))
        if files["background"]:
            staged["background"] = str(
                sanitized_copy(files["background"], workdir / f"g{g}_bkg.pha")
            )
        out.append(staged)
    return out


def bound_log(path: str | Path, max_bytes: int = MAX_LOG_BYTES) -> None:
    """Keep an XSPEC log within ``max_bytes``: its head and tail, with a note in between."""
    path = Path(path)
    if not path.is_file() or path.stat().st_size <= max_bytes:
        return
    half = max_bytes // 2
    with path.open("rb") as f:
        head = f.read(half)
        f.seek(-half, 2)
        tail = f.read()
    path.write_bytes(head + b"\n[... XSPEC output truncated by xrtflow ...]\n" + tail)


def _no_prompts(xspec, messages: list[str]) -> None:
    """Tell XSPEC never to prompt (PyXspec ``Xset.allowPrompting``), and ``Fit.query`` no."""
    try:
        xspec.Xset.allowPrompting = False
    except AttributeError:  # pragma: no cover - PyXspec older than allowPrompting
        messages.append("PyXspec has no Xset.allowPrompting: relying on sanitised headers")
    xspec.Fit.query = "no"


def _load_data(xspec, p: XspecPlan, staged: list[dict], ignore_bad: bool) -> None:
    """``AllData`` per data group from the sanitised copies, then response/ARF/background set
    explicitly (never from a header), ignores applied."""
    for g, files in enumerate(staged, start=1):
        names = header_files(files["pha"])
        if names:  # cannot happen with sanitized_copy; a guard against prompting all the same
            raise RuntimeError(f"{files['pha']}: header still names {names}")
        xspec.AllData(f"{g}:{g} {files['pha']}")
        spec = xspec.AllData(g)
        spec.response = files["rmf"]
        if files["arf"]:
            spec.response.arf = files["arf"]
        if files["background"]:
            spec.background = files["background"]
        if p.ignore:
            spec.ignore(p.ignore)
    if ignore_bad:
        xspec.AllData.ignore("bad")


def fit(
    setup: FitSetup,
    *,
    chatter: int = 0,
    n_iterations: int = 1000,
    log: str | Path | None = None,
    log_chatter: int = 10,
) -> FitResult:
    """Fit ``setup`` with PyXspec and return a :class:`~xrtflow.spectral.fit.FitResult`.

    XSPEC can never prompt: ``Xset.allowPrompting`` is off, and it loads header-sanitised
    copies of the spectra (:func:`sanitized_copy`) with every file given explicitly; a file
    that is missing (given, or named by a header) is a ``FileNotFoundError`` naming it, raised
    before XSPEC starts.

    Parameters
    ----------
    setup : FitSetup
        The same object the native fitter takes.
    chatter : int
        ``Xset.chatter`` (console) during the fit.
    n_iterations : int
        ``Fit.nIterations``.
    log : path-like, optional
        XSPEC log file (``Xset.openLog``), e.g. the workflow rule's log; kept within
        :data:`MAX_LOG_BYTES`.
    log_chatter : int
        ``Xset.logChatter``.
    """
    import tempfile

    p = plan(setup)  # checks every file before XSPEC is imported
    import xspec  # noqa: PLC0415  (PyXspec only exists inside a HEASoft installation)

    with tempfile.TemporaryDirectory(prefix="xrtflow_xspec_") as workdir:
        staged = staged_files(p, workdir)
        try:
            if log is not None:
                xspec.Xset.openLog(str(log))
                xspec.Xset.logChatter = int(log_chatter)
            return _run(xspec, setup, p, staged, chatter, n_iterations)
        finally:
            if log is not None:
                with contextlib.suppress(Exception):
                    xspec.Xset.closeLog()
                bound_log(log)


def _run(xspec, setup: FitSetup, p: XspecPlan, staged, chatter, n_iterations) -> FitResult:
    t0 = time.perf_counter()
    messages: list[str] = []
    xspec.Xset.chatter = chatter
    _no_prompts(xspec, messages)
    xspec.AllData.clear()
    xspec.AllModels.clear()
    xspec.Xset.abund = p.abund
    xspec.Xset.xsect = p.xsect
    xspec.Fit.statMethod = p.stat_method
    if p.weight:
        xspec.Fit.weight = p.weight
    xspec.Fit.nIterations = int(n_iterations)
    _load_data(xspec, p, staged, setup.ignore_bad)

    xspec.Model(p.model)
    m1 = xspec.AllModels(1)
    for idx, value in p.start.items():
        m1(idx).values = value
    for idx in p.freeze:
        m1(idx).frozen = True
    for idx in p.thaw:
        m1(idx).frozen = False
    for g, idx in p.untie:
        xspec.AllModels(g)(idx).untie()

    xspec.Fit.renorm()
    xspec.Fit.perform()
    if p.error_command:
        xspec.Fit.error(p.error_command)

    stat = float(xspec.Fit.statistic)
    dof = int(xspec.Fit.dof)
    n_bins = int(sum(len(xspec.AllData(g).noticed) for g in range(1, len(p.files) + 1)))

    results = []
    for g in range(1, len(p.files) + 1):
        model = xspec.AllModels(g)
        comp_of = {}
        for cname in model.componentNames:
            comp = getattr(model, cname)
            for pname in comp.parameterNames:
                comp_of[int(getattr(comp, pname).index)] = cname
        for i in range(1, model.nParameters + 1):
            par = model(i)
            link = parse_link(par.link, p.n_pars)
            frozen = bool(par.frozen) or bool(link)
            lo = hi = math.nan
            if not frozen:
                err = par.error
                lo, hi = float(err[0]), float(err[1])
                if len(err) > 2 and "T" in str(err[2]):
                    messages.append(f"group {g} parameter {i}: error flags {err[2]}")
            results.append(
                ParameterResult(
                    group=g,
                    obsid=p.obsids[g - 1],
                    index=i,
                    component=comp_of.get(i, p.components[i - 1]),
                    name=str(par.name),
                    unit=str(par.unit or ""),
                    value=float(par.values[0]),
                    err_lo=lo,
                    err_hi=hi,
                    frozen=bool(par.frozen) and not link,
                    tied_to=link,
                    free_index=None,
                )
            )

    # parameters tied to another group share that group's interval (as in the native table)
    by_key = {f"{r.group}:{r.index}": r for r in results}
    for r in results:
        owner = by_key.get(r.tied_to)
        if owner is not None:
            r.err_lo, r.err_hi = owner.err_lo, owner.err_hi

    fluxes = _fluxes(xspec, p)
    goodness = None
    if setup.n_sims > 0:
        goodness = float(xspec.Fit.goodness(int(setup.n_sims))) / 100.0
    try:
        cov = np.asarray(xspec.Fit.covariance, float)
    except Exception:  # noqa: BLE001 - not available for every fit
        cov = np.full((0, 0), np.nan)
    return FitResult(
        parameters=results,
        statistic=setup.statistic,
        stat=stat,
        dof=dof,
        n_bins=n_bins,
        model=p.model,
        flux_band=tuple(setup.flux_band),
        fluxes=fluxes,
        goodness=goodness,
        covariance=cov,
        valid=True,
        elapsed=time.perf_counter() - t0,
        abund=p.abund,
        xsect=p.xsect,
        messages=messages,
    )


def _fluxes(xspec, p: XspecPlan) -> list[dict]:
    """Absorbed flux with 90% bounds from ``calcFlux ... err``; unabsorbed flux with nH = 0."""
    n = len(p.files)
    xspec.AllModels.calcFlux(p.flux_command)
    rows = []
    for g in range(1, n + 1):
        flux = xspec.AllData(g).flux  # (erg flux, lo, hi, photon flux, lo, hi)
        rows.append(
            {
                "obsid": p.obsids[g - 1],
                "group": g,
                "flux": float(flux[0]),
                "flux_lo": float(flux[1]) if "err" in p.flux_command else math.nan,
                "flux_hi": float(flux[2]) if "err" in p.flux_command else math.nan,
            }
        )
    saved = {}
    for g in range(1, n + 1):
        for idx in p.absorber_nh:
            par = xspec.AllModels(g)(idx)
            if not par.link:
                saved[(g, idx)] = par.values[0]
                par.values = 0.0
    xspec.AllModels.calcFlux(p.flux_command.split(" err")[0])
    for g, row in enumerate(rows, start=1):
        row["unabs_flux"] = float(xspec.AllData(g).flux[0])
        row["unabs_flux_lo"] = math.nan
        row["unabs_flux_hi"] = math.nan
    for (g, idx), value in saved.items():
        xspec.AllModels(g)(idx).values = value
    return rows


def fit_paths(
    phas: Sequence[str | Path], model: str, **kwargs
) -> FitResult:  # pragma: no cover - convenience
    """Fit PHA files (responses/backgrounds from their header keywords) with PyXspec."""
    return fit(FitSetup(spectra=list(phas), model=model, **kwargs))
