"""The ``xrtflow`` command line: a thin dispatcher over :mod:`xrtflow.commands`."""

from __future__ import annotations

import argparse
import importlib
import sys

#: Sub-command modules; a module that is missing (e.g. an optional part) is skipped.
COMMAND_MODULES = ("simulate", "fit", "select", "backend", "extract")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """Build the top-level parser with every available sub-command (or just ``only``: each
    command module imports what its options need, e.g. ``simulate`` the whole simulator, which
    ``xrtflow fit`` should not pay for at start-up)."""
    parser = argparse.ArgumentParser(prog="xrtflow", description=__doc__)
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES if only is None else (only,):
        try:
            module = importlib.import_module(f"xrtflow.commands.{name}")
        except ModuleNotFoundError as err:
            if err.name == f"xrtflow.commands.{name}":
                continue
            raise
        module.add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    first = argv[0] if argv else None
    parser = build_parser(first if first in COMMAND_MODULES else None)
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
