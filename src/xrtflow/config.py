"""Workflow configuration: loading, validation with defaults, and per-target settings.

:func:`validate_config` runs before any job (the Snakefile calls it) and raises
:class:`ConfigError` with one message naming the key and the fix, for:

* unknown keys at any level (with a "did you mean" suggestion);
* wrong types and values outside the schema's choices;
* impossible values and combinations (negative radii, annulus inner >= outer, a source circle
  reaching into the background annulus, an empty or inverted day window, ...);
* model expressions that do not parse or name unknown components, and fit parameter names
  (``start``, ``frozen``, ``tied``) the model does not have;
* target keys that are not plain directory names, and include/exclude entries that are not
  11-digit ObsIDs.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

#: The schema the Snakefile validates against (also used by the package outside Snakemake).
SCHEMA_PATH = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"

#: A target key becomes a directory name and a wildcard value: plain names only.
TARGET_KEY = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


class ConfigError(ValueError):
    """An invalid configuration; the message names the key and says how to fix it."""


def validate_config(config: dict, schema: Path | str | None = None) -> dict:
    """Validate ``config`` in place and fill in defaults.

    Parameters
    ----------
    config : dict
        The configuration as loaded from YAML (and merged by Snakemake).
    schema : path, optional
        The JSON schema (default :data:`SCHEMA_PATH`).

    Returns
    -------
    dict
        ``config``, with defaults filled in.

    Raises
    ------
    ConfigError
        On the first problem found (unknown key, type, value or combination).
    """
    schema_path = Path(schema or SCHEMA_PATH)
    schema_doc = yaml.safe_load(schema_path.read_text())
    if not isinstance(config, dict) or not config:
        raise ConfigError(
            "the configuration is empty: give one with --configfile (see config/README.md)"
        )
    _check_unknown_keys(config, schema_doc, "")
    _check_schema(config, schema_doc)
    from snakemake.utils import validate

    validate(config, str(schema_path), set_default=True)
    for slug, target in config["targets"].items():
        _check_target_key(slug)
        _fill_target_defaults(target)
    _check_values(config)
    return config


# --- unknown keys --------------------------------------------------------------------------------
def _check_unknown_keys(value: Any, schema: Mapping, path: str) -> None:
    if not isinstance(value, Mapping) or not isinstance(schema, Mapping):
        return
    properties = schema.get("properties")
    extra = schema.get("additionalProperties")
    for key, item in value.items():
        where = f"{path}.{key}" if path else str(key)
        if properties is not None and key in properties:
            _check_unknown_keys(item, properties[key], where)
        elif isinstance(extra, Mapping):
            _check_unknown_keys(item, extra, where)
        elif properties is not None:
            known = sorted(properties)
            close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
            hint = f"did you mean '{close[0]}'?" if close else f"known keys: {', '.join(known)}"
            section = f"in '{path}'" if path else "at the top level"
            raise ConfigError(f"unknown key '{where}' {section}: {hint}")


# --- types and schema constraints ----------------------------------------------------------------
def _check_schema(config: dict, schema: Mapping) -> None:
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: (len(e.path), list(e.path)))
    if not errors:
        return
    error = errors[0]
    key = ".".join(str(p) for p in error.path) or "(top level)"
    expected = error.schema.get("description", "") if isinstance(error.schema, dict) else ""
    if error.validator == "type":
        types = error.validator_value
        types = " or ".join(types) if isinstance(types, list) else types
        message = f"'{key}' is {error.instance!r}, which is not of type {types}"
    elif error.validator == "enum":
        choices = ", ".join(repr(c) for c in error.validator_value)
        message = f"'{key}' is {error.instance!r}: choose one of {choices}"
    elif error.validator == "required":
        message = f"{error.message} in '{key}'"
    else:
        message = f"'{key}': {error.message}"
    raise ConfigError(message + (f" ({expected})" if expected else ""))


# --- values and combinations ---------------------------------------------------------------------
def _check_target_key(slug: str) -> None:
    if not TARGET_KEY.fullmatch(slug) or slug in (".", ".."):
        raise ConfigError(
            f"target key {slug!r} is used as a directory name: use letters, digits, '_', '-' "
            "and '.', starting with a letter, digit or '_' (e.g. 'tpyx')"
        )


def _positive(value: Any, key: str, unit: str = "") -> None:
    if value is not None and not value > 0:
        raise ConfigError(f"'{key}' must be positive, not {value}{unit}")


def _check_values(config: dict) -> None:
    regions = config["regions"]
    source, inner, outer = (
        regions["source_radius"],
        regions["background_inner"],
        regions["background_outer"],
    )
    for key in ("source_radius", "background_inner", "background_outer"):
        _positive(regions[key], f"regions.{key}", " arcsec")
    if inner >= outer:
        raise ConfigError(
            f"'regions.background_inner' ({inner}) must be smaller than "
            f"'regions.background_outer' ({outer}): the background annulus would be empty"
        )
    if source > inner:
        raise ConfigError(
            f"'regions.source_radius' ({source}) is larger than 'regions.background_inner' "
            f"({inner}): the source circle would overlap the background annulus"
        )
    products = config["products"]
    if not 0 <= products["pilow"] < products["pihigh"] <= 1023:
        raise ConfigError(
            f"'products.pilow'/'products.pihigh' ({products['pilow']}, {products['pihigh']}) "
            "must satisfy 0 <= pilow < pihigh <= 1023 (XRT PI channels)"
        )
    _positive(products["lc_binsize"], "products.lc_binsize", " s")
    _positive(config["grouping"]["scale"], "grouping.scale")
    _check_lightcurve(config["lightcurve"])
    for slug, target in config["targets"].items():
        _check_target(slug, target)
    _check_fit(config["fit"])


def _check_lightcurve(lc: dict) -> None:
    """Bands inside the XRT PI range (0-10.24 keV), low < high, and no band twice."""
    names = []
    for k, (lo, hi) in enumerate(lc["bands"]):
        if not 0 <= lo < hi <= 10.24:
            raise ConfigError(
                f"'lightcurve.bands[{k}]' is [{lo}, {hi}]: a band must satisfy "
                "0 <= low < high <= 10.24 keV (XRT PI channels are 10 eV wide)"
            )
        if round(hi / 0.01) - round(lo / 0.01) < 1:
            raise ConfigError(f"'lightcurve.bands[{k}]' ([{lo}, {hi}] keV) holds no PI channel")
        names.append(f"{lo:g}-{hi:g}")
    if len(set(names)) != len(names):
        raise ConfigError(f"'lightcurve.bands' has the same band twice: {names}")


def _check_target(slug: str, target: dict) -> None:
    key = f"targets.{slug}"
    if not str(target["name"]).strip():
        raise ConfigError(f"'{key}.name' is empty: give the source name (e.g. 'T Pyx')")
    if target["ra"] is not None and not 0 <= target["ra"] < 360:
        raise ConfigError(f"'{key}.ra' must be in [0, 360) degrees, not {target['ra']}")
    if target["dec"] is not None and not -90 <= target["dec"] <= 90:
        raise ConfigError(f"'{key}.dec' must be in [-90, 90] degrees, not {target['dec']}")
    if (target["ra"] is None) != (target["dec"] is None):
        raise ConfigError(f"'{key}': give both ra and dec, or neither (resolve by name)")
    _positive(target["radius_arcmin"], f"{key}.radius_arcmin", " arcmin")
    if target["min_exposure"] < 0:
        raise ConfigError(f"'{key}.min_exposure' must be >= 0 s, not {target['min_exposure']}")
    low, high = target["days_after_epoch"]
    if (low is not None or high is not None) and target["epoch_mjd"] is None:
        raise ConfigError(f"'{key}.days_after_epoch' is set but '{key}.epoch_mjd' is not: set both")
    if low is not None and high is not None and low >= high:
        which = "empty" if low == high else "inverted"
        raise ConfigError(
            f"'{key}.days_after_epoch' [{low}, {high}] is an {which} window (observations are "
            "kept strictly inside it): give [first day, last day] with first < last"
        )
    for field in ("include", "exclude"):
        for obsid in target[field]:
            if not re.fullmatch(r"\d{11}", str(obsid)):
                raise ConfigError(
                    f"'{key}.{field}' entry {obsid!r} is not an 11-digit ObsID "
                    "(quote it in YAML to keep leading zeros, e.g. '00031940001')"
                )
    both = sorted(set(target["include"]) & set(target["exclude"]))
    if both:
        raise ConfigError(f"'{key}': ObsIDs {', '.join(both)} are in both include and exclude")


def check_model(expression: str) -> Any:
    """Parse an XSPEC model expression; :class:`ConfigError` naming the problem if it fails."""
    from .spectral import expression as expr_module

    try:
        validate = getattr(expr_module, "validate_expression", None)
        if validate is not None:
            validate(expression)
        from .spectral.models import parse_model

        return parse_model(expression)
    except (ValueError, KeyError) as err:
        reason = str(err).strip("'\"")
        raise ConfigError(
            f"'fit.model' {expression!r} is not a valid XSPEC model expression: {reason}"
        ) from None


def _check_fit(fit: dict) -> None:
    model = check_model(fit["model"])
    names = {"start": list(fit["start"]), "frozen": fit["frozen"], "tied": fit["tied"]}
    known = [f"{p.component}.{p.name}" for p in model.parameters]
    for field, keys in names.items():
        for name in keys:
            try:
                model.parameter(str(name))
            except (KeyError, ValueError):
                close = difflib.get_close_matches(str(name), known, n=1, cutoff=0.6)
                hint = f"did you mean '{close[0]}'?" if close else f"parameters: {', '.join(known)}"
                raise ConfigError(
                    f"'fit.{field}' names {name!r}, which is not a parameter of "
                    f"{fit['model']!r}: {hint}"
                ) from None
    low, high = fit["flux_band"]
    if not 0 < low < high:
        raise ConfigError(f"'fit.flux_band' [{low}, {high}] must satisfy 0 < low < high (keV)")
    if fit["n_starts"] < 1:
        raise ConfigError(f"'fit.n_starts' must be at least 1, not {fit['n_starts']}")


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
