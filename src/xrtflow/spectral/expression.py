"""Parser for XSPEC model expressions such as ``tbabs*(bb+brems)`` or ``tbabs*atable{wd.fits}``.

The grammar follows XSPEC: ``+`` binds looser than ``*``, parentheses group, and a component
name directly followed by ``(`` multiplies the bracketed group (``phabs(po+bb)``). Table models
are written ``atable{file}``, ``mtable{file}`` or ``etable{file}``.

:func:`validate_expression` checks an expression completely (syntax, every component known,
table files readable, additive/multiplicative structure) without evaluating it, so that a
configuration can be checked before any job runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Add", "Mul", "Name", "Node", "parse_expression", "tokenize", "validate_expression"]


@dataclass(frozen=True)
class Name:
    """A component name as written by the user (not yet resolved); ``atable{f}`` included."""

    text: str


@dataclass(frozen=True)
class Add:
    """Sum of sub-expressions."""

    terms: tuple[Node, ...]


@dataclass(frozen=True)
class Mul:
    """Product of sub-expressions, left to right as written."""

    factors: tuple[Node, ...]


Node = Name | Add | Mul

_TOKEN = re.compile(
    r"\s*(?:((?:atable|mtable|etable)\{[^{}]*\})|([A-Za-z_][A-Za-z0-9_]*)|([+*()]))", re.I
)


def _tokens(expression: str) -> list[tuple[str, int]]:
    tokens: list[tuple[str, int]] = []
    pos = 0
    text = expression.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            at = pos + len(text[pos:]) - len(text[pos:].lstrip())
            what = text[at]
            if text[at : at + 6].lower() in ("atable", "mtable", "etable") or what in "{}":
                hint = ": table models are written atable{file}, mtable{file} or etable{file}"
            else:
                hint = ""
            raise ValueError(
                f"cannot parse model expression {expression!r}: unexpected {what!r} at "
                f"position {at + 1}{hint}"
            )
        token = match.group(1) or match.group(2) or match.group(3)
        tokens.append((token, match.start(match.lastindex)))
        pos = match.end()
    if not tokens:
        raise ValueError("empty model expression: give one such as 'tbabs*(bb+po)'")
    return tokens


def tokenize(expression: str) -> list[str]:
    """Split an expression into names (``atable{file}`` as one) and the operators ``+ * ( )``.

    Parameters
    ----------
    expression : str
        XSPEC model expression.

    Returns
    -------
    list of str
        Tokens in order.
    """
    return [t for t, _ in _tokens(expression)]


class _Parser:
    def __init__(self, tokens: list[tuple[str, int]], expression: str) -> None:
        self.tokens = tokens
        self.pos = 0
        self.expression = expression

    def peek(self) -> str | None:
        return self.tokens[self.pos][0] if self.pos < len(self.tokens) else None

    def where(self) -> int:
        return self.tokens[self.pos][1] + 1 if self.pos < len(self.tokens) else 0

    def take(self) -> str:
        token = self.peek()
        if token is None:
            last = self.tokens[-1][0]
            raise ValueError(
                f"model expression {self.expression!r} ends after {last!r}: a component name "
                "is missing"
            )
        self.pos += 1
        return token

    def sum(self) -> Node:
        terms = [self.product()]
        while self.peek() == "+":
            self.take()
            terms.append(self.product())
        return terms[0] if len(terms) == 1 else Add(tuple(terms))

    def product(self) -> Node:
        factors = [self.atom()]
        while True:
            token = self.peek()
            if token == "*":
                self.take()
                factors.append(self.atom())
            elif token == "(" and isinstance(factors[-1], Name):
                # XSPEC's implicit product: "phabs(po+bb)" == "phabs*(po+bb)"
                factors.append(self.atom())
            else:
                break
        flat: list[Node] = []
        for factor in factors:
            flat.extend(factor.factors if isinstance(factor, Mul) else (factor,))
        return flat[0] if len(flat) == 1 else Mul(tuple(flat))

    def atom(self) -> Node:
        at = self.where()
        token = self.take()
        if token == "(":
            node = self.sum()
            if self.peek() != ")":
                raise ValueError(
                    f"unbalanced parentheses in model expression {self.expression!r}: the '(' "
                    f"at position {at} is never closed"
                )
            self.take()
            return node
        if token in "+*)":
            raise ValueError(
                f"unexpected {token!r} at position {at} of model expression "
                f"{self.expression!r}: a component name or '(' must come first"
            )
        return Name(token)


def parse_expression(expression: str) -> Node:
    """Parse an XSPEC model expression into a tree of `Add`, `Mul` and `Name`.

    Parameters
    ----------
    expression : str
        XSPEC model expression.

    Returns
    -------
    Node
        Root of the expression tree.

    Raises
    ------
    ValueError
        On syntax errors (unbalanced parentheses, dangling operators, ...), naming the position.
    """
    parser = _Parser(_tokens(expression), expression)
    node = parser.sum()
    token = parser.peek()
    if token is not None:
        at = parser.where()
        if token == ")":
            raise ValueError(
                f"unbalanced parentheses in model expression {expression!r}: the ')' at "
                f"position {at} has no matching '('"
            )
        raise ValueError(
            f"unexpected {token!r} at position {at} of model expression {expression!r}: "
            "join components with '+' or '*'"
        )
    return node


def validate_expression(text: str) -> None:
    """Check a model expression as fully as possible without evaluating it.

    Syntax, every component name (full, alias or unique prefix), table model files (readable,
    OGIP format, additive vs multiplicative) and the structure (at least one additive
    component; no sum of a multiplicative term; no product of two additive terms; convolution
    components followed by something additive).

    Parameters
    ----------
    text : str
        XSPEC model expression, e.g. ``"tbabs*(bb+po)"``.

    Raises
    ------
    ValueError
        With one specific message (what is wrong, where, and how to fix it).
    """
    from xrtflow.spectral.models import Model

    if not isinstance(text, str):
        raise ValueError(f"model expression must be a string, not {type(text).__name__}")
    Model(text)
