"""Workflow configuration: loading, schema validation with defaults, and per-target settings."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

#: The schema the Snakefile validates against (also used by the package outside Snakemake).
SCHEMA_PATH = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"


def validate_config(config: dict, schema: Path | None = None) -> dict:
    """Validate ``config`` in place against the workflow schema and fill in defaults.

    Uses Snakemake's ``validate`` (JSON schema with defaults), as the Snakefile does.
    """
    from snakemake.utils import validate

    validate(config, str(schema or SCHEMA_PATH), set_default=True)
    for slug, target in config["targets"].items():
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", slug):
            raise ValueError(
                f"target key {slug!r} is used as a directory name: "
                "use letters, digits, '_', '-', '.'"
            )
        _fill_target_defaults(target)
    return config


def _fill_target_defaults(target: dict) -> None:
    # Snakemake's validate does not descend into additionalProperties defaults.
    target.setdefault("ra", None)
    target.setdefault("dec", None)
    target.setdefault("radius_arcmin", None)
    target.setdefault("epoch_mjd", None)
    target.setdefault("days_after_epoch", [None, None])
    target.setdefault("min_exposure", 0)
    target.setdefault("include", [])
    target.setdefault("exclude", [])


def load_config(path: str | Path) -> dict:
    """Read a YAML config file and validate it (defaults filled in)."""
    with open(path) as stream:
        config = yaml.safe_load(stream)
    return validate_config(config)


def target_config(config: Mapping[str, Any], slug: str) -> dict:
    """Settings of one target, with a clear error for an unknown key."""
    try:
        return dict(config["targets"][slug])
    except KeyError:
        raise KeyError(
            f"target {slug!r} is not in the config (targets: {sorted(config['targets'])})"
        ) from None
