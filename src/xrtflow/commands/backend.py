"""``xrtflow backend [--config FILE]``: print the backend that would run, and why."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register the ``backend`` sub-command."""
    p = subparsers.add_parser(
        "backend",
        help="show which processing backend (native or heasoft) would run, and why",
        description=__doc__,
    )
    p.add_argument("--config", type=Path, help="workflow config (YAML); its 'backend' is used")
    p.add_argument(
        "--backend",
        choices=("auto", "native", "heasoft"),
        help="override the config's backend (default: config value, else auto)",
    )
    p.add_argument("--no-xspec", action="store_true", help="do not try 'import xspec'")
    p.add_argument("--json", action="store_true", help="print the full choice as JSON")
    p.add_argument("--write", type=Path, help="also write the choice to this JSON/YAML file")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print the choice; exit status 1 when the requested backend is unavailable."""
    from xrtflow.backends.select import BackendUnavailable, choose_backend, write_backend_choice

    requested = args.backend
    if requested is None and args.config is not None:
        import yaml

        config = yaml.safe_load(Path(args.config).read_text(encoding="utf-8")) or {}
        requested = config.get("backend", "auto")
    requested = requested or "auto"
    try:
        choice = choose_backend(requested, check_xspec=not args.no_xspec)
    except BackendUnavailable as err:
        print(f"backend: unavailable (requested {requested})\nreason: {err}")
        return 1
    if args.write is not None:
        write_backend_choice(args.write, choice)
    if args.json:
        print(json.dumps(choice.to_dict(), indent=2))
    else:
        print(f"backend: {choice.name}\nrequested: {choice.requested}\nreason: {choice.reason}")
    return 0
