"""XSPEC model expressions evaluated like XSPEC: `parse_model`, `Model`, `Parameter`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from xrtflow.spectral.components import COMPONENTS, ComponentSpec, resolve_component
from xrtflow.spectral.expression import Add, Name, Node, parse_expression

__all__ = ["COMPONENTS", "Model", "Parameter", "parse_model"]


@dataclass
class Parameter:
    """One model parameter with XSPEC's numbering and default metadata."""

    index: int
    component: str
    component_index: int
    name: str
    unit: str
    value: float
    delta: float
    soft_min: float
    soft_max: float
    hard_min: float
    hard_max: float
    frozen: bool

    @property
    def full_name(self) -> str:
        """``component.name``, e.g. ``bbody.kT``."""
        return f"{self.component}.{self.name}"


@dataclass(frozen=True)
class _Comp:
    spec: ComponentSpec
    position: int  # 1-based component number
    first: int  # 0-based index of its first parameter


class Model:
    """A parsed XSPEC model expression.

    Parameters
    ----------
    expression : str
        XSPEC model expression, e.g. ``"tbabs*(bb+brems)"``.
    """

    def __init__(self, expression: str) -> None:
        self.expression = expression
        self._components: list[_Comp] = []
        self.parameters: list[Parameter] = []
        self._tree = self._resolve(parse_expression(expression))
        if not self._check(self._tree):
            raise ValueError(
                f"model expression {expression!r} has no additive component (e.g. powerlaw, "
                "bbody): multiplicative ones alone give no photons"
            )

    def _check(self, node) -> bool:
        """Structure check (the rules `_eval` applies); True if ``node`` is additive."""
        if isinstance(node, _Comp):
            if node.spec.kind == "con":
                raise ValueError(
                    f"convolution component {node.spec.name} in {self.expression!r} must be "
                    "followed by what it acts on, e.g. cflux*powerlaw"
                )
            return node.spec.kind == "add"
        kind, children = node
        if kind == "add":
            for child in children:
                if not self._check(child):
                    raise ValueError(
                        f"cannot add a multiplicative term in model {self.expression!r}: "
                        "multiply it with an additive one, e.g. tbabs*po + bb"
                    )
            return True
        acc = None
        for child in reversed(children):
            if isinstance(child, _Comp) and child.spec.kind == "con":
                if not acc:
                    raise ValueError(
                        f"{child.spec.name} in {self.expression!r} needs an additive model to "
                        "its right, e.g. cflux*powerlaw"
                    )
                continue
            additive = self._check(child)
            if acc is None:
                acc = additive
            elif additive and acc:
                raise ValueError(
                    f"cannot multiply two additive terms in {self.expression!r}: use '+' "
                    "between them"
                )
            else:
                acc = acc or additive
        return bool(acc)

    def _resolve(self, node: Node):
        if isinstance(node, Name):
            try:
                spec = resolve_component(node.text)
            except ValueError as exc:
                raise ValueError(f"{exc} (in model expression {self.expression!r})") from None
            comp = _Comp(spec, len(self._components) + 1, len(self.parameters))
            self._components.append(comp)
            for ps in spec.pars:
                self.parameters.append(
                    Parameter(
                        index=len(self.parameters) + 1,
                        component=spec.name,
                        component_index=comp.position,
                        name=ps.name,
                        unit=ps.unit,
                        value=ps.value,
                        delta=abs(ps.delta),
                        soft_min=ps.soft_min,
                        soft_max=ps.soft_max,
                        hard_min=ps.hard_min,
                        hard_max=ps.hard_max,
                        frozen=ps.delta < 0,
                    )
                )
            return comp
        if isinstance(node, Add):
            return ("add", [self._resolve(t) for t in node.terms])
        return ("mul", [self._resolve(f) for f in node.factors])

    @property
    def component_names(self) -> list[str]:
        """XSPEC names of the components in order, e.g. ``['TBabs', 'bbody', 'bremss']``."""
        return [c.spec.name for c in self._components]

    def parameter(self, key: int | str) -> Parameter:
        """Look a parameter up by 1-based index, ``"comp.name"`` or a unique ``"name"``.

        ``comp`` may also be written with its position, e.g. ``"bbody_2.kT"``.
        """
        if isinstance(key, int | np.integer):
            return self.parameters[int(key) - 1]
        text = key.lower()
        if "." in text:
            comp, name = text.rsplit(".", 1)
            pos = None
            if "_" in comp and comp.rsplit("_", 1)[1].isdigit():
                comp, pos_text = comp.rsplit("_", 1)
                pos = int(pos_text)
            try:  # an abbreviation or alias of a library component ...
                canonical = resolve_component(comp).name.lower()
            except ValueError:  # ... or a table model's MODLNAME
                canonical = comp
            hits = [
                p
                for p in self.parameters
                if p.name.lower() == name
                and (pos is None or p.component_index == pos)
                and p.component.lower() in (comp, canonical)
            ]
        else:
            hits = [p for p in self.parameters if p.name.lower() == text]
        if len(hits) != 1:
            raise KeyError(f"parameter {key!r} {'is ambiguous' if hits else 'not found'}")
        return hits[0]

    def _values(self, values) -> np.ndarray:
        if values is None:
            return np.array([p.value for p in self.parameters], dtype=float)
        arr = np.asarray(values, dtype=float)
        if arr.shape != (len(self.parameters),):
            raise ValueError(f"expected {len(self.parameters)} parameter values, got {arr.shape}")
        return arr

    def _eval(self, node, edges, vals, opts, only: int | None):
        """Return (array, is_additive)."""
        if isinstance(node, _Comp):
            spec = node.spec
            p = vals[node.first : node.first + len(spec.pars)]
            if spec.kind == "add":
                if only is not None and node.position != only:
                    return np.zeros(edges.size - 1), True
                return spec.func(edges, p[:-1], **opts) * p[-1], True
            if spec.kind == "mul":
                return spec.func(edges, p, **opts), False
            raise ValueError(f"convolution component {spec.name} must multiply something")
        kind, children = node
        if kind == "add":
            total = None
            for child in children:
                value, additive = self._eval(child, edges, vals, opts, only)
                if not additive:
                    raise ValueError(
                        f"cannot add a multiplicative term in model {self.expression!r}"
                    )
                total = value if total is None else total + value
            return total, True
        acc, acc_add = None, False
        # XSPEC applies each factor to everything on its right
        for child in reversed(children):
            if isinstance(child, _Comp) and child.spec.kind == "con":
                if acc is None or not acc_add:
                    raise ValueError(f"{child.spec.name} needs an additive model to its right")
                p = vals[child.first : child.first + len(child.spec.pars)]
                acc = child.spec.func(edges, p, inner=acc, **opts)
                continue
            value, additive = self._eval(child, edges, vals, opts, only)
            if acc is None:
                acc, acc_add = value, additive
            else:
                if additive and acc_add:
                    raise ValueError(f"cannot multiply two additive terms in {self.expression!r}")
                acc, acc_add = acc * value, acc_add or additive
        return acc, acc_add

    def evaluate(
        self,
        energy_edges_keV: np.ndarray,
        values: Sequence[float] | np.ndarray | None = None,
        abund: str = "wilm",
        xsect: str = "vern",
        component: int | None = None,
    ) -> np.ndarray:
        """Photons cm^-2 s^-1 in each bin, like XSPEC's ``tclout modval``.

        Parameters
        ----------
        energy_edges_keV : ndarray
            Increasing bin edges (keV), length nbins + 1.
        values : sequence of float, optional
            Parameter values in XSPEC order; defaults when None.
        abund : str
            Abundance table (``abund`` command).
        xsect : str
            Cross-section table (``xsect`` command: ``vern``, ``bcmc``, ``obcm``); phabs only.
        component : int, optional
            Keep only this additive component (1-based component number); used by
            `additive_components`.

        Returns
        -------
        ndarray
            Model per bin.
        """
        edges = np.asarray(energy_edges_keV, dtype=float)
        vals = self._values(values)
        value, additive = self._eval(
            self._tree, edges, vals, {"abund": abund, "xsect": xsect.lower()}, component
        )
        return value

    def additive_components(
        self,
        energy_edges_keV: np.ndarray,
        values: Sequence[float] | np.ndarray | None = None,
        abund: str = "wilm",
        xsect: str = "vern",
    ) -> dict[str, np.ndarray]:
        """Model per bin with only one additive component switched on, keyed ``name_position``."""
        return {
            f"{c.spec.name}_{c.position}": self.evaluate(
                energy_edges_keV, values, abund, xsect, component=c.position
            )
            for c in self._components
            if c.spec.kind == "add"
        }

    def __repr__(self) -> str:
        return f"Model({self.expression!r})"


def parse_model(expression: str) -> Model:
    """Parse an XSPEC model expression (abbreviations allowed, case-insensitive).

    Parameters
    ----------
    expression : str
        E.g. ``"tbabs*(bb+brems)"`` or ``"tbabs*cflux*(bb+po)"``.

    Returns
    -------
    Model

    Raises
    ------
    ValueError
        For syntax errors or unknown components (the message names the component).
    """
    return Model(expression)
