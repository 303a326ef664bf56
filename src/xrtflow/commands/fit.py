"""``xrtflow fit``: fit one or more OGIP spectra jointly (native iminuit or PyXspec backend)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["add_parser", "run", "parse_assignments", "parse_list"]


def parse_assignments(text: str | None) -> dict[str, float]:
    """Parse ``"1=0.1,2=2"`` (or ``"nH=0.1 kT=2"``) into ``{"1": 0.1, "2": 2.0}``."""
    out: dict[str, float] = {}
    if not text:
        return out
    for item in text.replace(",", " ").split():
        if "=" not in item:
            raise argparse.ArgumentTypeError(f"expected PAR=VALUE, got {item!r}")
        key, value = item.split("=", 1)
        out[key.strip()] = float(value)
    return out


def parse_list(values: list[str] | None) -> list[str]:
    """Flatten repeated/comma-separated parameter lists (``--freeze 1 --freeze 2,3``)."""
    out: list[str] = []
    for v in values or []:
        out.extend(x for x in v.replace(",", " ").split() if x)
    return out


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register the ``fit`` sub-command."""
    p = subparsers.add_parser(
        "fit",
        help="fit OGIP spectra with an XSPEC model expression",
        description=(
            "Fit one or more spectra jointly (one data group each). Parameters are tied across "
            "spectra like XSPEC unless --tie lists the ones to tie (others free per spectrum)."
        ),
    )
    p.add_argument("spectra", nargs="+", type=Path, help="PHA files")
    p.add_argument("--model", "-m", required=True, help='e.g. "tbabs*powerlaw"')
    p.add_argument("--rmf", action="append", type=Path, help="RMF, one per spectrum or one for all")
    p.add_argument("--arf", action="append", type=Path, help="ARF, one per spectrum or one for all")
    p.add_argument(
        "--background", action="append", type=Path, help="background PHA, one per spectrum"
    )
    p.add_argument("--start", help='start values, e.g. "1=0.1,2=2"')
    p.add_argument("--freeze", action="append", help="parameters to freeze (index or name)")
    p.add_argument("--thaw", action="append", help="parameters to thaw")
    p.add_argument(
        "--tie",
        help=(
            'parameters tied across spectra, e.g. "1" or "nH"; "all" (default) or "none" '
            "(everything free per spectrum)"
        ),
    )
    p.add_argument("--statistic", default="cstat", choices=["cstat", "chi", "pchi"])
    p.add_argument("--ignore", default="**-0.3 10.0-**", help="XSPEC ignore string in keV")
    p.add_argument("--abund", default="wilm")
    p.add_argument("--xsect", default="vern")
    p.add_argument("--band", default="0.3,10.0", help="flux band in keV, e.g. 0.3,10")
    p.add_argument("--n-starts", type=int, default=3)
    p.add_argument("--no-errors", action="store_true", help="skip the 90%% intervals")
    p.add_argument("--sims", type=int, default=0, help="simulations for goodness of fit")
    p.add_argument("--backend", default="native", choices=["native", "xspec"])
    p.add_argument("--json", type=Path, help="write the result as JSON")
    p.add_argument("--ecsv", type=Path, help="write the result table as ECSV")
    p.set_defaults(func=run)
    return p


def _per_spectrum(values, n: int, label: str) -> list:
    from xrtflow.commands.fit_checks import FitInputError

    if not values:
        return [None] * n
    if len(values) == 1:
        return list(values) * n
    if len(values) != n:
        raise FitInputError(f"--{label} given {len(values)} times for {n} spectra (give 1 or {n})")
    return list(values)


def _read(pha, rmf, arf, background):
    """One spectrum with its files; unreadable files become one-line errors."""
    from xrtflow.commands.fit_checks import FitInputError
    from xrtflow.spectral.ogip import read_spectrum

    for path, label in ((pha, "spectrum"), (rmf, "RMF"), (arf, "ARF"), (background, "background")):
        if path is not None and not Path(path).is_file():
            raise FitInputError(f"{path}: {label} file does not exist")
    try:
        return read_spectrum(pha, rmf=rmf, arf=arf, background=background)
    except FileNotFoundError as err:
        raise FitInputError(str(err)) from None
    except (OSError, ValueError, KeyError, IndexError, TypeError) as err:
        raise FitInputError(str(err) if str(pha) in str(err) else f"{pha}: {err}") from None


def build_setup(args):
    """Read and check the spectra and build a :class:`~xrtflow.spectral.fit.FitSetup`.

    Raises
    ------
    xrtflow.commands.fit_checks.FitInputError
        For every bad input (the message is the one line to show).
    """
    from xrtflow.commands import fit_checks as checks
    from xrtflow.spectral.fit import FitSetup

    n = len(args.spectra)
    rmfs = _per_spectrum(args.rmf, n, "rmf")
    arfs = _per_spectrum(args.arf, n, "arf")
    bkgs = _per_spectrum(args.background, n, "background")
    spectra = [_read(*files) for files in zip(args.spectra, rmfs, arfs, bkgs, strict=True)]
    checks.check_spectra(spectra)
    checks.check_ignore(spectra, args.ignore)
    try:
        from xrtflow.spectral.models import parse_model

        model = parse_model(args.model)
    except (ValueError, KeyError) as err:
        raise checks.FitInputError(f"--model {args.model!r}: {err}") from None
    try:
        start = parse_assignments(args.start)
    except (argparse.ArgumentTypeError, ValueError) as err:
        raise checks.FitInputError(f"--start {args.start!r}: {err}") from None
    tie = (args.tie or "all").strip()
    tied = None if tie.lower() == "all" else ([] if tie.lower() == "none" else parse_list([tie]))
    frozen, thawed = parse_list(args.freeze), parse_list(args.thaw)
    pars = list(model.parameters)
    checks.check_parameters(pars, start, "--start")
    checks.check_parameters(pars, frozen, "--freeze")
    checks.check_parameters(pars, thawed, "--thaw")
    checks.check_parameters(pars, tied or (), "--tie")
    try:
        lo, hi = (float(x) for x in args.band.split(","))
        if not 0 < lo < hi:
            raise ValueError("need 0 < lo < hi")
    except ValueError as err:
        raise checks.FitInputError(f"--band {args.band!r}: {err} (e.g. 0.3,10)") from None
    return FitSetup(
        spectra=spectra,
        model=args.model,
        start=start,
        frozen=frozen,
        thawed=thawed,
        tied=tied,
        statistic=args.statistic,
        ignore=args.ignore,
        abund=args.abund,
        xsect=args.xsect,
        flux_band=(lo, hi),
        n_starts=args.n_starts,
        errors=not args.no_errors,
        n_sims=args.sims,
    )


def print_parameters(result) -> None:
    """The parameter table as plain text (astropy.table would cost ~0.5 s of start-up)."""
    header = ("group", "obsid", "index", "component", "parameter", "unit", "value", "err_lo",
              "err_hi", "frozen", "tied_to")  # fmt: skip
    rows = [
        (
            str(p.group),
            p.obsid,
            str(p.index),
            p.component,
            p.name,
            p.unit,
            f"{p.value:.6g}",
            f"{p.err_lo:.6g}",
            f"{p.err_hi:.6g}",
            str(p.frozen),
            p.tied_to,
        )  # fmt: skip
        for p in result.parameters
    ]
    widths = [max(len(h), *(len(r[k]) for r in rows)) for k, h in enumerate(header)]
    print(" ".join(h.rjust(w) for h, w in zip(header, widths, strict=True)))
    print(" ".join("-" * w for w in widths))
    for r in rows:
        print(" ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)))


def run(args) -> int:
    """Run the fit and print/write the result."""
    from xrtflow.commands.fit_checks import FitInputError

    try:
        setup = build_setup(args)
    except FitInputError as err:
        print(f"xrtflow fit: {err}", file=sys.stderr)
        return 2
    if args.backend == "xspec":
        try:
            from xrtflow.heasoft.xspec_fit import fit as backend_fit
        except ImportError as err:
            print(
                f"xrtflow fit: the xspec backend is unavailable ({err}); it needs HEASoft with "
                "PyXspec (and xrtflow.heasoft.xspec_fit). Use --backend native.",
                file=sys.stderr,
            )
            return 2
    else:
        from xrtflow.spectral.fit import fit as backend_fit
    # the PyXspec backend checks its files (and paths XSPEC can parse) before XSPEC starts
    refused = (FitInputError, FileNotFoundError) + (
        (ValueError,) if args.backend == "xspec" else ()
    )
    try:
        result = backend_fit(setup)
    except refused as err:
        print(f"xrtflow fit: {err}", file=sys.stderr)
        return 2
    print_parameters(result)
    for message in result.messages:
        if "every parameter is frozen" in message:
            print(message)
    s = result.summary()
    print(f"{s['statistic']} = {s['stat']:.4f} for {s['dof']} dof")
    for f in s["fluxes"]:
        print(
            f"group {f['group']} ({f['obsid']}): flux {f['flux']:.4g} "
            f"[{f['flux_lo']:.4g}, {f['flux_hi']:.4g}], unabsorbed {f['unabs_flux']:.4g} "
            f"[{f['unabs_flux_lo']:.4g}, {f['unabs_flux_hi']:.4g}] erg/cm^2/s "
            f"({s['flux_band_keV'][0]}-{s['flux_band_keV'][1]} keV)"
        )
    if args.json:
        result.to_json(args.json)
    if args.ecsv:
        result.to_ecsv(args.ecsv)
    return 0
