"""``xrtflow simulate OUTDIR``: write the offline demo archive (events, attitude, HK, catalog, CALDB)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register the ``simulate`` sub-command."""
    from xrtflow.simulate.config import DemoConfig

    default = DemoConfig()
    p = subparsers.add_parser(
        "simulate",
        help="write a simulated Swift-XRT demo archive (offline)",
        description=__doc__,
    )
    p.add_argument(
        "outdir", type=Path, help="output directory (archive/, caldb/, catalog.ecsv, truth.ecsv)"
    )
    p.add_argument(
        "--n-obs",
        type=int,
        default=default.n_obs,
        help="ObsIDs inside the day window (default %(default)s)",
    )
    p.add_argument(
        "--seed", type=int, default=default.seed, help="random seed (default %(default)s)"
    )
    p.add_argument(
        "--no-outliers", action="store_true", help="do not add the early/late/too-short ObsIDs"
    )
    p.add_argument(
        "--wt",
        action="store_true",
        help="a WT-mode archive instead (3 ObsIDs, one piled up; config/demo_wt.yaml runs it)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from xrtflow.simulate import DemoConfig, make_demo_archive

    if args.wt:
        from xrtflow.simulate.wt_archive import WTArchiveConfig, make_wt_archive

        wt_config = WTArchiveConfig(seed=args.seed) if args.seed != DemoConfig().seed else None
        catalog = make_wt_archive(args.outdir, wt_config)
        print(f"wrote {len(catalog)} simulated WT ObsIDs to {args.outdir}")
        return 0
    config = DemoConfig(seed=args.seed, n_obs=args.n_obs, include_outliers=not args.no_outliers)
    t0 = time.perf_counter()
    catalog = make_demo_archive(args.outdir, config, progress=not args.quiet)
    print(
        f"wrote {len(catalog)} simulated ObsIDs of {config.target} to {args.outdir} "
        f"({time.perf_counter() - t0:.1f} s); CALDB at {args.outdir / 'caldb'}"
    )
    return 0
