"""Parameter sets for the HEASoft tasks xrtflow runs, and discovery of their outputs.

The builders are pure functions: job inputs + workflow config -> ``{parameter: value}``, using only
parameter names documented for each task (:data:`DOCUMENTED_PARAMETERS`, with the source of each
list in :data:`PARAMETER_SOURCES`). :func:`check_parameters` refuses any other name, so a typo can
never reach a task (where PIL would stop with "parameter not found").
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from xrtflow import naming

__all__ = [
    "ATTFLAG_KINDS",
    "DOCUMENTED_PARAMETERS",
    "GROUPTYPES",
    "PARAMETER_SOURCES",
    "MissingOutputError",
    "attitude_file_for",
    "check_parameters",
    "find_cleaned_events",
    "find_exposure_map",
    "find_products",
    "ftgrouppha_params",
    "xrtexpomap_params",
    "xrtpipeline_params",
    "xrtproducts_params",
]

#: Where each task's parameter names come from.
PARAMETER_SOURCES: dict[str, list[str]] = {
    "xrtpipeline": [
        "https://heasarc.gsfc.nasa.gov/lheasoft/ftools/headas/xrtpipeline.html (help: usage, "
        "indir/outdir/steminputs/srcra/srcdec, stages 1-3)",
        "xrtpipeline.par of HEASoft 6.20 (swift/xrt/tasks/xrtpipeline/xrtpipeline.par in the "
        "public mirror github.com/Areustle/heasoft-6.20): every name below, including "
        "srcra/srcdec 'degrees or hh mm ss.s', datamode 'ALL|PC|WT|PD|IM', obsmode "
        "'ALL|POINTING|SETTLING|SLEW', exitstage 1-3, createexpomap, cleanup, chatter 0-5",
    ],
    "xrtexpomap": [
        "https://heasarc.gsfc.nasa.gov/docs/software/lheasoft/ftools/headas/xrtexpomap.html "
        "(help: infile, attfile, hdfile, pcnframe, wtnframe, checkattitude, vigflag, vigfile; "
        "'for WT data taken during settling the jump-corrected sw*pat.fits must be used')",
        "seed notebook swift_xrt_getting_started.md: infile, outdir, attfile, hdfile, chatter, "
        "clobber and the output name <outdir>/sw<obsid>xpcw3po_ex.img",
    ],
    "xrtproducts": [
        "https://heasarc.gsfc.nasa.gov/docs/software/lheasoft/ftools/headas/xrtproducts.html "
        "(help: usage 'xrtproducts infile outdir', regionfile or ra/dec/radius, imagefile)",
        "xrtproducts Perl source (GetInputParameters/RequestParameter/RunXrtLcCorr): phafile, "
        "lcfile, imagefile, expofile, bkgextract, bkgregionfile, bkglcfile, bkgphafile, "
        "correctlc, attfile/hdfile (refused unless correctlc=yes), binsize/pilow/pihigh "
        "(refused when lcfile=NONE), rmffile, mirfile, psfflag, psffile, vigfile, inarffile, "
        "stemout, display, plotdevice, clobber, chatter, history, cleanup; corrected light "
        "curve <stemout>sr_corr.lc",
        "seed notebook: infile, outdir, regionfile, bkgextract, bkgregionfile, chatter, "
        "clobber, expofile, attfile, hdfile, pilow, pihigh; arffile as used in public scripts",
        "psfflag (passed on to xrtmkarf: the ARF includes the fraction of the PSF inside the "
        "extraction region, an annulus included): https://heasarc.gsfc.nasa.gov/docs/software/"
        "lheasoft/ftools/headas/xrtmkarf.html; https://www.swift.ac.uk/analysis/xrt/pileup.php "
        "(UKSSDC pile-up thread: extract from an annulus excluding the piled-up core, the "
        "xrtmkarf ARF corrects the flux for the excluded PSF fraction); "
        "../shared/reference/heasoft-products/README.md (xrtproducts calls xrtmkarf with "
        "psfflag=yes)",
    ],
    "ftgrouppha": [
        "https://heasarc.gsfc.nasa.gov/docs/nicer/analysis_threads/spectrum-grouping/ "
        "(ftgrouppha, optimal grouping needs the response)",
        "seed notebook: infile, backfile, outfile, grouptype=min, groupscale=1; respfile with "
        "grouptype=opt/optmin in public scripts",
    ],
}

#: Parameter names each task documents (only these may be passed).
DOCUMENTED_PARAMETERS: dict[str, frozenset[str]] = {
    "xrtpipeline": frozenset(
        """indir outdir steminputs stemoutputs datamode obsmode obsmodescreen clobber chatter
        history entrystage exitstage evtfilesfromarchive createmkffile cleanup cleancols pntra
        pntdec pntroll thrfile extractproducts bpfile bptable userbpfile overstatus srcfile
        phas1thr pcmaxtemp pcsplit gradefile ascagrade runcoordinator eventext timecol attfile
        stattfile teldef scteldef aberration attinterpol follow_sun randomizecoordinator
        seedcoordinator timemargin pcgainfile wtgainfile pdgainfile seedxrtcalcpi
        randomizexrtcalcpi pcgainnom wtgainnom pdgainnom pcoffset pdoffset wtoffset picorrtype
        savepinom hdfile trfile outfile outcols orbmode orbfile leapfile rigfile origin interval
        enfile mkfconfigfile configfile mkffile mkfgtiexpr gtiexpr exprpcgrade exprwtgrade
        exprpdgrade exprpc exprwt exprpd gtiext createattgti createinstrgti usrgtifile
        hkrangefile evtrangefile evtgtiscreen evtscreen acsscreen npixels percent
        usesrcdettimetag usesrcdethkproc srcdetx srcdety colfile srcra srcdec pcregionfile
        wtregionfile pcbinsize wtbinsize stwtbinsize pdbinsize pcrmffile wtrmffile pdrmffile
        mirfile pcinarffile wtinarffile pdinarffile transmfile psffile vigfile psfflag extended
        arfboxsize display plotdevice runxrthotpix gradeiterate cellsize impfac logpos bthresh
        phamin phamax cleanflick iterate hotneigh method zeronulls runaspect aspectgtiexpr
        createexpomap useexpomap vigflag energy expopcnframe expowtnframe checkattitude
        correctlc lcwtnframe lcpcnframe""".split()
    ),
    "xrtexpomap": frozenset(
        """infile attfile hdfile outdir stemout vigflag vigfile energy pcnframe wtnframe
        checkattitude teldef fovfile cleanup clobber chatter history""".split()
    ),
    "xrtproducts": frozenset(
        """infile outdir stemout regionfile ra dec radius bkgextract bkgregionfile phafile
        bkgphafile arffile lcfile bkglcfile imagefile expofile attfile hdfile correctlc binsize
        pilow pihigh rmffile mirfile inarffile psfflag psffile vigfile gtifile display
        plotdevice clobber chatter history cleanup""".split()
    ),
    "ftgrouppha": frozenset(
        """infile backfile respfile outfile grouptype groupscale minchannel maxchannel clobber
        chatter""".split()
    ),
}

#: ATTFLAG (event header) -> attitude file kind in ``auxil/``: 100 spacecraft (sat),
#: 110 jump-corrected (pat), 101/111 UVOT-enhanced (uat).
ATTFLAG_KINDS: dict[str, str] = {"100": "sat", "110": "pat", "101": "uat", "111": "uat"}

#: ftgrouppha grouping types; which need ``groupscale``, ``respfile`` or a background file.
GROUPTYPES = frozenset({"min", "bmin", "snmin", "opt", "optmin", "optsnmin", "constant"})
_NEEDS_SCALE = frozenset({"min", "bmin", "snmin", "optmin", "optsnmin", "constant"})
_NEEDS_RESPONSE = frozenset({"opt", "optmin", "optsnmin"})


class MissingOutputError(FileNotFoundError):
    """A task finished but an expected output file is not there."""


def check_parameters(task: str, params: Mapping[str, object]) -> dict[str, object]:
    """Return ``params`` as a dict after checking every name against the task's documentation.

    Raises
    ------
    KeyError
        Unknown task.
    ValueError
        A parameter name that the task does not document.
    """
    documented = DOCUMENTED_PARAMETERS[task]
    unknown = sorted(set(params) - documented)
    if unknown:
        raise ValueError(f"{task} does not document parameter(s) {unknown}")
    return dict(params)


def _mode(config: Mapping) -> str:
    mode = str(config.get("mode", "PC")).upper()
    if mode not in naming.MODE_STEMS:
        raise ValueError(f"mode {mode!r} is not one of {sorted(naming.MODE_STEMS)}")
    return mode


def _heasoft_cfg(config: Mapping) -> Mapping:
    return config.get("heasoft") or {}


def _chatter(config: Mapping) -> int:
    return int(_heasoft_cfg(config).get("chatter", 3))


# --- xrtpipeline --------------------------------------------------------------------------------
def xrtpipeline_params(
    obsid: str, archive_obs_dir: Path, outdir: Path, ra_deg: float, dec_deg: float, config: Mapping
) -> dict[str, object]:
    """Parameters of ``xrtpipeline`` for one ObsID (stages 1..``heasoft.exitstage``).

    ``srcra``/``srcdec`` are given in decimal degrees (documented: "degrees or hh mm ss.s"; the
    sexagesimal form contains spaces, which :mod:`xrtflow.heasoft.runner` refuses). Only the
    configured readout mode is processed (``datamode``) and only pointed data (``obsmode``).
    The exposure map is made by the separate ``xrtexpomap`` stage, so ``createexpomap=no``.
    """
    obsid = naming.check_obsid(obsid)
    hcfg = _heasoft_cfg(config)
    exitstage = int(hcfg.get("exitstage", 2))
    if exitstage not in (1, 2, 3):
        raise ValueError(f"heasoft.exitstage must be 1, 2 or 3, not {exitstage}")
    params = {
        "indir": Path(archive_obs_dir),
        "outdir": Path(outdir),
        "steminputs": f"sw{obsid}",
        "srcra": float(ra_deg),
        "srcdec": float(dec_deg),
        "exitstage": exitstage,
        "datamode": _mode(config),
        "obsmode": str(hcfg.get("obsmode", "POINTING")).upper(),
        "createexpomap": bool(hcfg.get("createexpomap", False)),
        "cleanup": True,
        "clobber": True,
        "chatter": _chatter(config),
    }
    return check_parameters("xrtpipeline", params)


# --- xrtexpomap ---------------------------------------------------------------------------------
def _read_attflag(event_header: Mapping) -> str:
    for key in ("ATTFLAG", "attflag"):
        if key in event_header:
            value = event_header[key]
            return str(value).strip().strip("'").strip()
    raise KeyError("event header has no ATTFLAG keyword (needed to choose the attitude file)")


def attitude_file_for(event_header: Mapping, obs_dir: Path, obsid: str | None = None) -> Path:
    """Attitude file in ``<obs_dir>/auxil`` that matches the event file's ``ATTFLAG``.

    ``100`` -> ``sw<obsid>sat.fits``; ``110`` -> ``pat``; ``101``/``111`` -> ``uat``.
    The compressed ``.gz`` name of the archive is preferred; an uncompressed copy is accepted.

    Parameters
    ----------
    event_header : Mapping
        Header of the level-2 event file (EVENTS or primary), e.g. an ``astropy.io.fits.Header``.
    obs_dir : Path
        The ObsID directory of the archive.
    obsid : str, optional
        Defaults to the header's ``OBS_ID``.

    Raises
    ------
    ValueError
        ``ATTFLAG`` has a value with no known attitude file.
    FileNotFoundError
        The chosen attitude file is not in the archive.
    """
    flag = _read_attflag(event_header)
    # Header values may come as int 110 or text '110'.
    flag = flag.split(".")[0]
    kind = ATTFLAG_KINDS.get(flag)
    if kind is None:
        raise ValueError(
            f"ATTFLAG={flag!r} is not one of {sorted(ATTFLAG_KINDS)}; cannot choose an "
            "attitude file (sat/pat/uat)"
        )
    if obsid is None:
        obsid = str(event_header.get("OBS_ID", "")).strip()
    obsid = naming.check_obsid(obsid)
    gz = Path(obs_dir) / naming.archive_attitude(obsid, kind)
    for candidate in (gz, gz.with_suffix("")):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        f"ATTFLAG={flag} needs the {kind} attitude file {gz} (or {gz.with_suffix('').name}), "
        "which is missing: download the ObsID's auxil/ directory"
    )


def xrtexpomap_params(
    event_file: Path, attitude_file: Path, hk_file: Path, outdir: Path, config: Mapping
) -> dict[str, object]:
    """Parameters of ``xrtexpomap``; the map is written as ``<outdir>/<event stem>_ex.img``."""
    params = {
        "infile": Path(event_file),
        "attfile": Path(attitude_file),
        "hdfile": Path(hk_file),
        "outdir": Path(outdir),
        "clobber": True,
        "chatter": _chatter(config),
    }
    vig = _heasoft_cfg(config).get("vigflag")
    if vig is not None:
        params["vigflag"] = bool(vig)
    return check_parameters("xrtexpomap", params)


# --- xrtproducts --------------------------------------------------------------------------------
def xrtproducts_params(
    obsid: str,
    event_file: Path,
    src_region: Path,
    bkg_region: Path,
    expomap_file: Path,
    attitude_file: Path,
    hk_file: Path,
    outdir: Path,
    config: Mapping,
) -> dict[str, object]:
    """Parameters of ``xrtproducts`` writing exactly the file names of :mod:`xrtflow.naming`.

    Output names are given explicitly (``phafile``, ``bkgphafile``, ``arffile``, ``lcfile``,
    ``bkglcfile``, ``imagefile``, relative to ``outdir``) and ``stemout`` is the XRT stem, so the
    light curve corrected by ``xrtlccorr`` (``correctlc=yes``) is ``<stem>sr_corr.lc``.
    ``attfile``/``hdfile`` are only passed with ``correctlc=yes``: the task refuses them otherwise.
    ``src_region`` is the per-ObsID region of :func:`xrtflow.products.excision.choose_source_region`
    (the circle, or the annulus that excises a piled-up core); ``psfflag=yes`` is always passed
    (xrtproducts' own choice made explicit) so that ``xrtmkarf`` integrates the PSF over that
    region and the ARF corrects the flux for the excised core.
    """
    mode = _mode(config)
    prod = config.get("products") or {}
    correctlc = bool(prod.get("correctlc", True))
    binsize = prod.get("lc_binsize", -99)
    params: dict[str, object] = {
        "infile": Path(event_file),
        "outdir": Path(outdir),
        "stemout": naming.stem(obsid, mode),
        "regionfile": Path(src_region),
        "bkgextract": True,
        "bkgregionfile": Path(bkg_region),
        "phafile": naming.source_spectrum(obsid, mode),
        "bkgphafile": naming.background_spectrum(obsid, mode),
        "arffile": naming.source_arf(obsid, mode),
        "lcfile": naming.source_lightcurve(obsid, mode),
        "bkglcfile": naming.background_lightcurve(obsid, mode),
        "imagefile": naming.sky_image(obsid, mode),
        "expofile": Path(expomap_file),
        "pilow": int(prod.get("pilow", 30)),
        "pihigh": int(prod.get("pihigh", 1000)),
        "binsize": float(binsize) if binsize is not None else -99.0,
        "correctlc": correctlc,
        "psfflag": True,
        "clobber": True,
        "chatter": _chatter(config),
    }
    if correctlc:
        params["attfile"] = Path(attitude_file)
        params["hdfile"] = Path(hk_file)
    if params["pilow"] >= params["pihigh"]:
        raise ValueError(f"products.pilow={params['pilow']} must be < pihigh={params['pihigh']}")
    return check_parameters("xrtproducts", params)


# --- ftgrouppha ---------------------------------------------------------------------------------
def ftgrouppha_params(
    src_pha: Path, bkg_pha: Path | None, rmf: Path | None, outfile: Path, config: Mapping
) -> dict[str, object]:
    """Parameters of ``ftgrouppha`` from ``config["grouping"]`` (``type``, ``scale``).

    ``respfile`` is passed for the optimal groupings (``opt``, ``optmin``, ``optsnmin``), which
    need the response; ``groupscale`` for the types that take a number.
    """
    grp = config.get("grouping") or {}
    gtype = str(grp.get("type", "min")).lower()
    if gtype not in GROUPTYPES:
        raise ValueError(f"grouping.type {gtype!r} is not one of {sorted(GROUPTYPES)}")
    params: dict[str, object] = {"infile": Path(src_pha), "outfile": Path(outfile)}
    if bkg_pha is not None:
        params["backfile"] = Path(bkg_pha)
    elif gtype == "bmin":
        raise ValueError("grouping.type 'bmin' needs the background spectrum")
    params["grouptype"] = gtype
    if gtype in _NEEDS_SCALE:
        scale = grp.get("scale")
        if scale is None:
            raise ValueError(f"grouping.type {gtype!r} needs grouping.scale")
        params["groupscale"] = scale
    if gtype in _NEEDS_RESPONSE:
        if rmf is None:
            raise ValueError(f"grouping.type {gtype!r} needs the response (RMF)")
        params["respfile"] = Path(rmf)
    for key in ("minchannel", "maxchannel"):  # ftgrouppha: -1 (the default) = no limit
        if grp.get(key) is not None and int(grp[key]) >= 0:
            params[key] = int(grp[key])
    params["clobber"] = True
    return check_parameters("ftgrouppha", params)


# --- output discovery ---------------------------------------------------------------------------
def _missing(what: str, expected: Path, outdir: Path, pattern: str) -> MissingOutputError:
    present = sorted(p.name for p in Path(outdir).glob(pattern)) if Path(outdir).is_dir() else []
    seen = ", ".join(present) if present else "none"
    return MissingOutputError(f"{what} {expected.name} not found in {outdir} (present: {seen})")


def _find(outdir: Path, name: str) -> Path | None:
    for candidate in (Path(outdir) / name, Path(outdir) / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def find_cleaned_events(outdir: Path, obsid: str, mode: str = "PC") -> Path:
    """The cleaned event file ``xrtpipeline`` wrote (``<stem>_cl.evt``, maybe ``.gz``)."""
    name = naming.cleaned_events(obsid, mode)
    found = _find(outdir, name)
    if found is None:
        raise _missing("cleaned event file", Path(outdir) / name, outdir, f"sw{obsid}x*_cl.evt*")
    return found


def find_exposure_map(outdir: Path, obsid: str, mode: str = "PC") -> Path:
    """The exposure map ``xrtexpomap`` wrote (``<stem>_ex.img``)."""
    name = naming.exposure_map(obsid, mode)
    found = _find(outdir, name)
    if found is None:
        raise _missing("exposure map", Path(outdir) / name, outdir, f"sw{obsid}*_ex.img*")
    return found


#: products() keys -> naming functions of the files xrtproducts writes.
PRODUCT_NAMES = {
    "image": naming.sky_image,
    "src_lc": naming.source_lightcurve,
    "bkg_lc": naming.background_lightcurve,
    "src_pha": naming.source_spectrum,
    "bkg_pha": naming.background_spectrum,
    "arf": naming.source_arf,
}


def find_products(outdir: Path, obsid: str, mode: str = "PC") -> dict[str, Path]:
    """The ``xrtproducts`` outputs (keys of :data:`PRODUCT_NAMES`); all missing ones are named."""
    found: dict[str, Path] = {}
    missing = []
    for key, fn in PRODUCT_NAMES.items():
        path = Path(outdir) / fn(obsid, mode)
        if path.is_file():
            found[key] = path
        else:
            missing.append(path.name)
    if missing:
        present = sorted(p.name for p in Path(outdir).glob(f"sw{obsid}*")) or ["none"]
        raise MissingOutputError(
            f"xrtproducts outputs missing in {outdir}: {', '.join(missing)} "
            f"(present: {', '.join(present)})"
        )
    return found


def corrected_lightcurve(outdir: Path, obsid: str, mode: str = "PC") -> Path | None:
    """The ``xrtlccorr`` output ``<stem>sr_corr.lc`` when ``correctlc=yes`` made one."""
    path = Path(outdir) / f"{naming.stem(obsid, mode)}sr_corr.lc"
    return path if path.is_file() else None
