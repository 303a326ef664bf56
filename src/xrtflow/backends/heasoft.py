"""The ``heasoft`` backend: the XRT stages run by the real HEASoft tasks.

Same stage functions and signatures as :mod:`xrtflow.backends.native`; every task runs through
:func:`xrtflow.heasoft.runner.run_task` (own working directory, private parameter files, no
prompts, output appended to the rule's log) and every output ends up under the exact name of
:mod:`xrtflow.naming`.
"""

from __future__ import annotations

import gzip
import os
import shutil
from collections.abc import Mapping
from pathlib import Path

from astropy.coordinates import SkyCoord
from astropy.io import fits

from xrtflow import naming
from xrtflow.heasoft import tasks
from xrtflow.heasoft.runner import run_task

__all__ = [
    "expomap",
    "group",
    "link_spectrum_files",
    "locate_rmf",
    "pipeline",
    "products",
]


def _mode(config: Mapping) -> str:
    return str(config.get("mode", "PC")).upper()


def _chatter(config: Mapping) -> int:
    return int((config.get("heasoft") or {}).get("chatter", 3))


def _timeout(config: Mapping) -> float | None:
    value = (config.get("heasoft") or {}).get("timeout")
    return None if value is None else float(value)


def _abs(path: Path) -> Path:
    return Path(path).expanduser().resolve()


def _gunzip_to(src: Path, dest: Path) -> Path:
    tmp = dest.with_name(dest.name + ".part")
    with gzip.open(src, "rb") as fin, open(tmp, "wb") as fout:
        shutil.copyfileobj(fin, fout)
    tmp.replace(dest)
    return dest


def pipeline(
    obsid: str,
    archive_obs_dir: Path,
    outdir: Path,
    target: SkyCoord,
    config: dict,
    workdir: Path,
    log: Path | None,
) -> Path:
    """Run ``xrtpipeline`` (stages 1..``heasoft.exitstage``) and return the cleaned event file.

    Returns
    -------
    Path
        ``outdir / naming.cleaned_events(obsid, mode)`` (uncompressed).
    """
    obsid = naming.check_obsid(obsid)
    mode = _mode(config)
    outdir = _abs(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    icrs = target.icrs
    params = tasks.xrtpipeline_params(
        obsid, _abs(archive_obs_dir), outdir, icrs.ra.deg, icrs.dec.deg, config
    )
    run_task(
        "xrtpipeline",
        params,
        workdir=workdir,
        log=log,
        obsid=obsid,
        timeout=_timeout(config),
    )
    found = tasks.find_cleaned_events(outdir, obsid, mode)
    wanted = outdir / naming.cleaned_events(obsid, mode)
    if found.suffix == ".gz":
        _gunzip_to(found, wanted)
    return wanted


def expomap(
    obsid: str,
    event_file: Path,
    attitude_file: Path,
    hk_file: Path,
    outdir: Path,
    config: dict,
    workdir: Path,
    log: Path | None,
) -> Path:
    """Run ``xrtexpomap``; returns ``outdir / naming.exposure_map(obsid, mode)``."""
    obsid = naming.check_obsid(obsid)
    mode = _mode(config)
    outdir = _abs(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    params = tasks.xrtexpomap_params(
        _abs(event_file), _abs(attitude_file), _abs(hk_file), outdir, config
    )
    run_task(
        "xrtexpomap",
        params,
        workdir=workdir,
        log=log,
        obsid=obsid,
        timeout=_timeout(config),
    )
    found = tasks.find_exposure_map(outdir, obsid, mode)
    wanted = outdir / naming.exposure_map(obsid, mode)
    if found.suffix == ".gz":
        _gunzip_to(found, wanted)
    return wanted


def locate_rmf(respfile: str, search_dirs: list[Path], caldb: str | None) -> Path:
    """Find the RMF named by a spectrum's ``RESPFILE`` keyword.

    Looked up as given (absolute or relative to each of ``search_dirs``), then by basename in
    ``search_dirs``, then in ``$CALDB/data/swift/xrt/cpf/rmf/``.

    Raises
    ------
    FileNotFoundError
        Naming every place that was tried.
    """
    name = respfile.strip()
    if not name or name.upper() == "NONE":
        raise FileNotFoundError("the source spectrum has no RESPFILE keyword (RMF unknown)")
    tried = []
    candidates = [Path(name)] if Path(name).is_absolute() else []
    for d in search_dirs:
        candidates += [Path(d) / name, Path(d) / Path(name).name]
    if caldb:
        candidates.append(Path(caldb) / "data" / "swift" / "xrt" / "cpf" / "rmf" / Path(name).name)
    for cand in candidates:
        tried.append(str(cand))
        if cand.is_file():
            return cand
    raise FileNotFoundError(
        f"RMF {name!r} (RESPFILE of the source spectrum) not found; tried: {tried}"
    )


def _spectrum_hdu(hdul: fits.HDUList) -> fits.BinTableHDU:
    for hdu in hdul[1:]:
        if hdu.header.get("EXTNAME", "").upper() == "SPECTRUM":
            return hdu
    return hdul[1]


def link_spectrum_files(pha: Path, *, respfile: str, ancrfile: str, backfile: str) -> None:
    """Set ``RESPFILE``/``ANCRFILE``/``BACKFILE`` of ``pha``'s SPECTRUM extension (basenames)."""
    with fits.open(pha, mode="update") as hdul:
        hdr = _spectrum_hdu(hdul).header
        hdr["RESPFILE"] = (respfile, "redistribution matrix (same directory)")
        hdr["ANCRFILE"] = (ancrfile, "ancillary response (same directory)")
        hdr["BACKFILE"] = (backfile, "background spectrum (same directory)")


def products(
    obsid: str,
    event_file: Path,
    src_region: Path,
    bkg_region: Path,
    expomap_file: Path,
    attitude_file: Path,
    hk_file: Path,
    outdir: Path,
    config: dict,
    workdir: Path,
    log: Path | None,
) -> dict[str, Path]:
    """Run ``xrtproducts``: image, light curves, spectra, ARF; copy the CALDB RMF next to them.

    With ``products.correctlc`` (default true) the ``xrtlccorr``-corrected source light curve
    replaces ``sr.lc`` and the uncorrected one is kept as ``sr_uncorr.lc``. The source spectrum's
    ``RESPFILE``/``ANCRFILE``/``BACKFILE`` are rewritten to the basenames of the neighbouring
    files, so the spectra are self-contained.

    Returns
    -------
    dict
        Keys ``image``, ``src_lc``, ``bkg_lc``, ``src_pha``, ``bkg_pha``, ``arf``, ``rmf``,
        ``src_region``, ``bkg_region`` (the regions given to ``xrtproducts``; WT: per-ObsID
        boxes along the strip, :func:`xrtflow.backends.native_wt.wt_regions`).
    """
    obsid = naming.check_obsid(obsid)
    mode = _mode(config)
    outdir = _abs(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    regions = {
        "src_region": outdir / naming.source_region(obsid, mode),
        "bkg_region": outdir / naming.background_region(obsid, mode),
    }
    if mode == "WT":
        # per-ObsID boxes along the WT strip (and the WT pile-up excision), as the native backend
        from xrtflow.backends.native_wt import wt_regions
        from xrtflow.products.events import read_events

        events = read_events(event_file, obsid=obsid, mode=mode)
        wt_regions(events, event_file, src_region, bkg_region, config, *regions.values())
    else:  # the source region may already be the one written here (the pile-up choice)
        for given, key in ((src_region, "src_region"), (bkg_region, "bkg_region")):
            if Path(given).resolve() != regions[key].resolve():
                shutil.copyfile(given, regions[key])
    params = tasks.xrtproducts_params(
        obsid,
        _abs(event_file),
        regions["src_region"],
        regions["bkg_region"],
        _abs(expomap_file),
        _abs(attitude_file),
        _abs(hk_file),
        outdir,
        config,
    )
    run_task(
        "xrtproducts",
        params,
        workdir=workdir,
        log=log,
        obsid=obsid,
        timeout=_timeout(config),
    )
    made = tasks.find_products(outdir, obsid, mode)

    if params.get("correctlc"):
        corrected = tasks.corrected_lightcurve(outdir, obsid, mode)
        if corrected is None:
            raise tasks.MissingOutputError(
                f"xrtproducts ran with correctlc=yes but {naming.stem(obsid, mode)}sr_corr.lc "
                f"is not in {outdir}"
            )
        raw = made["src_lc"]
        shutil.copy2(raw, raw.with_name(f"{naming.stem(obsid, mode)}sr_uncorr.lc"))
        corrected.replace(raw)

    with fits.open(made["src_pha"]) as hdul:
        respfile = str(_spectrum_hdu(hdul).header.get("RESPFILE", "")).strip()
    rmf_src = locate_rmf(respfile, [outdir, _abs(workdir)], os.environ.get("CALDB"))
    rmf = outdir / naming.source_rmf(obsid, mode)
    if rmf_src.resolve() != rmf.resolve():
        shutil.copyfile(rmf_src, rmf)
    link_spectrum_files(
        made["src_pha"],
        respfile=rmf.name,
        ancrfile=made["arf"].name,
        backfile=made["bkg_pha"].name,
    )
    made["rmf"] = rmf
    made.update(regions)
    return made


def group(
    obsid: str,
    src_pha: Path,
    bkg_pha: Path,
    rmf: Path,
    outfile: Path,
    config: dict,
    workdir: Path,
    log: Path | None,
) -> Path:
    """Run ``ftgrouppha`` (``grouping.type``/``grouping.scale``); returns ``outfile``.

    The grouped spectrum keeps ``RESPFILE``/``ANCRFILE``/``BACKFILE`` pointing at the neighbouring
    files (copied from the source spectrum, relative to ``outfile``'s directory).
    """
    obsid = naming.check_obsid(obsid)
    outfile = _abs(outfile)
    outfile.parent.mkdir(parents=True, exist_ok=True)
    params = tasks.ftgrouppha_params(_abs(src_pha), _abs(bkg_pha), _abs(rmf), outfile, config)
    run_task(
        "ftgrouppha",
        params,
        workdir=workdir,
        log=log,
        chatter=None,
        obsid=obsid,
        timeout=_timeout(config),
    )
    if not outfile.is_file():
        raise tasks.MissingOutputError(f"ftgrouppha finished but {outfile} was not written")
    with fits.open(src_pha) as hdul:
        hdr = _spectrum_hdu(hdul).header
        links = {k: str(hdr.get(k, "")).strip() for k in ("RESPFILE", "ANCRFILE", "BACKFILE")}
    src_dir, out_dir = _abs(src_pha).parent, outfile.parent
    resolved = {}
    for key, value in links.items():
        if not value or value.upper() == "NONE":
            resolved[key] = "NONE"
            continue
        path = Path(value) if Path(value).is_absolute() else src_dir / value
        resolved[key] = path.name if path.parent == out_dir else os.path.relpath(path, out_dir)
    if links["RESPFILE"] in ("", "NONE"):
        resolved["RESPFILE"] = _abs(rmf).name if _abs(rmf).parent == out_dir else str(_abs(rmf))
    link_spectrum_files(
        outfile,
        respfile=resolved["RESPFILE"],
        ancrfile=resolved["ANCRFILE"],
        backfile=resolved["BACKFILE"],
    )
    return outfile
