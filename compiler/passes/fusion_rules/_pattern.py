"""The shape of a fusion rule: pattern (root op types), check (match or a reason), rewrite."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from webnnc.compiler.ir import Graph, Node, Value

__all__ = ["FusionRule", "Match"]


@dataclass
class Match:
    """What a successful check found: the matched nodes (root last) and named parts."""

    nodes: list[Node]
    parts: dict[str, Any] = field(default_factory=dict)

    @property
    def root(self) -> Node:
        return self.nodes[-1]


@dataclass(frozen=True)
class FusionRule:
    """One fusion: ``check`` looks at a node of a ``roots`` type and returns a :class:`Match`,
    or a string saying why the pattern does not apply there; ``rewrite`` builds the fused
    form (inserted before the root) and returns the value that replaces the root's output.
    """

    name: str
    roots: frozenset[str]
    check: Callable[[Graph, Node], Match | str]
    rewrite: Callable[[Graph, Match], Value]
    doc: str = ""
