"""``xrtflow extract EVENTS --region SRC.reg [--background BKG.reg] --outdir DIR``.

Runs the native products stage on one cleaned event file, outside the workflow: sky image, source
(and background) light curves and spectra, the ARF and the RMF, under the file names the workflow
writes (``sw<obsid>xpcw3posr.pha``, ...; :mod:`xrtflow.naming`). Calibration files are found as
the workflow finds them: ``--caldb DIR`` (or URL), else ``$CALDB``, else HEASARC over HTTPS into
the shared cache (``--caldb-cache``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["add_parser", "run"]

_MODES = {"PHOTON": "PC", "WINDOWED": "WT"}


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register the ``extract`` sub-command."""
    p = subparsers.add_parser(
        "extract",
        help="spectra, light curves and image of one event file (native, like xrtproducts)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("events", type=Path, help="cleaned event file (sw<obsid>xpcw3po_cl.evt[.gz])")
    p.add_argument("--region", required=True, type=Path, help="source region (DS9/CFITSIO)")
    p.add_argument(
        "--background", type=Path, help="background region (no background files if absent)"
    )
    p.add_argument("--outdir", required=True, type=Path, help="output directory")
    p.add_argument(
        "--caldb",
        help="CALDB root, 'remote' or an https:// CALDB URL (default: $CALDB, else HEASARC HTTPS)",
    )
    p.add_argument("--caldb-cache", type=Path, help="cache of the remote CALDB")
    p.add_argument("--expomap", type=Path, help="exposure map (xrtexpomap / native) for the ARF")
    p.add_argument("--attitude", type=Path, help="attitude file (default: RA_PNT/DEC_PNT/PA_PNT)")
    p.add_argument("--pilow", type=int, default=30, help="lowest PI of the light curves (30)")
    p.add_argument("--pihigh", type=int, default=1000, help="highest PI of the light curves (1000)")
    p.add_argument("--binsize", type=float, default=10.0, help="light-curve bin size in s (10)")
    p.set_defaults(func=run)
    return p


def _fail(message: str) -> int:
    print(f"xrtflow extract: {message}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    """Write the products; exit status 2 with one clear message on bad input."""
    from astropy.io import fits

    from xrtflow import naming
    from xrtflow.backends import native
    from xrtflow.caldb import CaldbError
    from xrtflow.products.events import EventFileError
    from xrtflow.products.regions import RegionFileError

    for label, path in (("event file", args.events), ("--region", args.region)):
        if not path.is_file():
            return _fail(f"{label} {path} does not exist")
    for label, path in (("--background", args.background), ("--expomap", args.expomap)):
        if path is not None and not path.is_file():
            return _fail(f"{label} {path} does not exist")
    if not 0 <= args.pilow <= args.pihigh <= 1023:
        return _fail(f"need 0 <= --pilow <= --pihigh <= 1023 (got {args.pilow}, {args.pihigh})")
    if not args.binsize > 0:
        return _fail(f"--binsize must be positive (got {args.binsize})")
    try:
        with fits.open(args.events) as hdul:
            names = [h.name for h in hdul]
            if "EVENTS" not in names:
                return _fail(f"{args.events} has no EVENTS extension (not a cleaned event file)")
            h = hdul["EVENTS"].header
            obsid = str(h.get("OBS_ID", "")).strip()
            datamode = str(h.get("DATAMODE", "PHOTON")).strip().upper()
    except OSError as exc:
        return _fail(f"{args.events} is not a readable FITS file ({exc})")
    try:
        naming.check_obsid(obsid)
    except ValueError:
        return _fail(f"{args.events}: OBS_ID={obsid!r} is not an 11-digit Swift ObsID")
    if datamode not in _MODES:
        return _fail(f"{args.events}: DATAMODE={datamode!r}; only PHOTON (PC) and WINDOWED (WT)")
    config = {
        "mode": _MODES[datamode],
        "caldb": args.caldb,
        "caldb_cache": str(args.caldb_cache) if args.caldb_cache else None,
        "products": {"pilow": args.pilow, "pihigh": args.pihigh, "lc_binsize": args.binsize},
    }
    args.outdir.mkdir(parents=True, exist_ok=True)
    try:
        out = native.products(
            obsid,
            args.events,
            args.region,
            args.background,
            args.expomap,
            args.attitude,
            None,
            args.outdir,
            config,
            args.outdir,
            None,
        )
    except (EventFileError, RegionFileError, CaldbError, ValueError) as exc:
        return _fail(str(exc))
    for key, path in out.items():
        print(f"{key:8s} {path}")
    return 0
