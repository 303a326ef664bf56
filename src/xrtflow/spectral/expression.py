"""Parser for XSPEC model expressions such as ``tbabs*(bb+brems)``.

The grammar follows XSPEC: ``+`` binds looser than ``*``, parentheses group, and a component
name directly followed by ``(`` multiplies the bracketed group (``phabs(po+bb)``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Add", "Mul", "Name", "Node", "tokenize", "parse_expression"]


@dataclass(frozen=True)
class Name:
    """A component name as written by the user (not yet resolved)."""

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

_TOKEN = re.compile(r"\s*(?:([A-Za-z_][A-Za-z0-9_]*)|([+*()]))")


def tokenize(expression: str) -> list[str]:
    """Split an expression into names and the operators ``+ * ( )``.

    Parameters
    ----------
    expression : str
        XSPEC model expression.

    Returns
    -------
    list of str
        Tokens in order.
    """
    tokens: list[str] = []
    pos = 0
    text = expression.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise ValueError(f"cannot parse model expression {expression!r} at {text[pos:]!r}")
        tokens.append(match.group(1) or match.group(2))
        pos = match.end()
    if not tokens:
        raise ValueError("empty model expression")
    return tokens


class _Parser:
    def __init__(self, tokens: list[str], expression: str) -> None:
        self.tokens = tokens
        self.pos = 0
        self.expression = expression

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> str:
        token = self.peek()
        if token is None:
            raise ValueError(f"unexpected end of model expression {self.expression!r}")
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
        token = self.take()
        if token == "(":
            node = self.sum()
            if self.take() != ")":
                raise ValueError(f"missing ')' in model expression {self.expression!r}")
            return node
        if token in "+*)":
            raise ValueError(f"unexpected {token!r} in model expression {self.expression!r}")
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
        On syntax errors (unbalanced parentheses, dangling operators, ...).
    """
    parser = _Parser(tokenize(expression), expression)
    node = parser.sum()
    if parser.peek() is not None:
        raise ValueError(f"unexpected {parser.peek()!r} in model expression {expression!r}")
    return node
