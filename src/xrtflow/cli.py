"""The ``xrtflow`` command line: a thin dispatcher over :mod:`xrtflow.commands`."""

from __future__ import annotations

import argparse
import importlib
import sys

#: Sub-command modules; a module that is missing (e.g. an optional part) is skipped.
COMMAND_MODULES = ("simulate", "fit", "select", "backend", "extract")


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser with every available sub-command."""
    parser = argparse.ArgumentParser(prog="xrtflow", description=__doc__)
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
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
    parser = build_parser()
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
