"""Input checks for ``xrtflow fit``: every bad input gets one line naming the file and the
problem (exit code 2), before any fitting starts.

The checks run on the spectra as read (each file is opened once, by
:func:`xrtflow.spectral.ogip.read_spectrum`): channel counts of spectrum, response and
background; instrument and mode of the background against the source (``TELESCOP``,
``INSTRUME``, ``DATAMODE``); spectra without counts; ignore strings that do not parse or leave
no channel; parameter names that do not exist (with the closest names as a suggestion).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence

import numpy as np

__all__ = ["FitInputError", "check_spectra", "check_ignore", "check_parameters"]

#: Header keywords that must agree between a source and its background spectrum.
MATCH_KEYS = ("TELESCOP", "INSTRUME", "DATAMODE")


class FitInputError(ValueError):
    """A bad input to ``xrtflow fit``; the message is the one line shown to the user."""


def _name(spec) -> str:
    return str(spec.path) if spec.path is not None else "<spectrum>"


def check_spectra(spectra: Sequence) -> None:
    """Raise :class:`FitInputError` for mismatched or empty spectra.

    Parameters
    ----------
    spectra : sequence of Spectrum
        As returned by :func:`~xrtflow.spectral.ogip.read_spectrum`.
    """
    for spec in spectra:
        name = _name(spec)
        resp = spec.response
        if resp is None:
            raise FitInputError(f"{name}: no response; give --rmf (and --arf)")
        if resp.n_channel != spec.n_channels:
            where = resp.rmf_path or "the response"
            raise FitInputError(
                f"{name}: {spec.n_channels} channels but the response {where} has "
                f"{resp.n_channel}; give the RMF made for this spectrum (--rmf)"
            )
        if not np.any(spec.counts > 0):
            raise FitInputError(f"{name}: the spectrum has no counts (all channels are 0)")
        bkg = spec.background
        if bkg is None:
            continue
        bname = _name(bkg)
        if bkg.n_channels != spec.n_channels:
            raise FitInputError(
                f"{bname}: background has {bkg.n_channels} channels but the spectrum {name} "
                f"has {spec.n_channels}"
            )
        for key in MATCH_KEYS:
            a = str(spec.header.get(key, "") or "").strip().upper()
            b = str(bkg.header.get(key, "") or "").strip().upper()
            if a and b and a != b:
                raise FitInputError(
                    f"{bname}: background {key} = {b!r} but the spectrum {name} has {key} = "
                    f"{a!r}; use a background extracted from the same instrument and mode"
                )


def check_ignore(spectra: Sequence, ignore: str | None, ignore_bad: bool = True) -> None:
    """Raise :class:`FitInputError` if ``ignore`` cannot be parsed or leaves no channel."""
    for spec in spectra:
        s = spec.copy()
        try:
            if ignore_bad:
                s.ignore("bad")
            if ignore:
                s.ignore(ignore)
        except ValueError as err:
            raise FitInputError(
                f"--ignore {ignore!r}: {err}; use XSPEC ranges in keV such as '**-0.3 10.0-**'"
            ) from None
        if not s.grouped().mask.any():
            raise FitInputError(
                f"{_name(spec)}: no channel left after --ignore {ignore!r}"
                + (" and ignoring bad (QUALITY != 0) channels" if ignore_bad else "")
            )


def _labels(parameters) -> list[str]:
    out = []
    for p in parameters:
        out += [str(p.name), f"{p.component}.{p.name}"]
    return out


def check_parameters(parameters, keys: Iterable, option: str) -> None:
    """Raise :class:`FitInputError` for parameter keys that do not exist (or are ambiguous),
    suggesting the closest names."""
    from xrtflow.spectral.fit import resolve_parameter

    labels = _labels(parameters)
    for key in keys:
        try:
            resolve_parameter(parameters, key)
        except KeyError as err:
            text = str(key).strip()
            close = difflib.get_close_matches(text, labels, n=3, cutoff=0.5)
            close += [lab for lab in labels if lab.lower() == text.lower() and lab not in close]
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            choices = ", ".join(f"{p.index}={p.component}.{p.name}" for p in parameters)
            if "ambiguous" in str(err):
                raise FitInputError(
                    f"{option} {text!r} is ambiguous; use an index or component.name ({choices})"
                ) from None
            raise FitInputError(
                f"{option}: no parameter {text!r} in the model{hint} (parameters: {choices})"
            ) from None
