"""Operator fusion: apply a set of pattern/check/rewrite rules (``fusion_rules``).

Before::

    %0 = conv2d(%x, %c0, _) {...} : float32[1,8,4,4]
    %1 = add(%0, %c1) : float32[1,8,4,4]          # %c1: float32[1,8,1,1]

After::

    %1 = conv2d(%x, %c0, %c2) {...} : float32[1,8,4,4]   # %c2 = reshape(%c1, [8])

Preconditions: none. Postconditions: no rule matches anywhere (after enough rounds of the
pass manager). With ``trace=True`` the details list, per rule, why it did not fire at
each candidate node (the rule's ``check`` reason).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from webnnc.compiler.ir import Graph
from webnnc.compiler.passes._infra import InPlacePass, PassResult
from webnnc.compiler.passes._rewrite import sweep, unlink
from webnnc.compiler.passes.fusion_rules import ALL_RULES, FusionRule, Match

__all__ = ["FuseOperatorsPass"]

logger = logging.getLogger(__name__)


class FuseOperatorsPass(InPlacePass):
    """Rewrite every match of ``rules`` (one sweep; the pass manager repeats it).

    Args:
        rules: the rules to try, in priority order (default: all).
        trace: record why each rule did not fire at each node of its root type.
    """

    def __init__(self, rules: Sequence[FusionRule] = ALL_RULES, *, trace: bool = False) -> None:
        self.rules = tuple(rules)
        self.trace = trace

    def call(self, graph: Graph) -> PassResult:
        fused: dict[str, int] = {}
        misses: list[str] = []
        for position, node in enumerate(graph):
            if node.graph is not graph:  # consumed by an earlier rewrite in this sweep
                continue
            for rule in self.rules:
                if node.op_type not in rule.roots:
                    continue
                found = rule.check(graph, node)
                if not isinstance(found, Match):
                    if self.trace:
                        misses.append(f"{rule.name} at {node.op_type} #{position}: {found}")
                    continue
                replacement = rule.rewrite(graph, found)
                graph.replace_value(found.root.outputs[0], replacement)
                for matched in reversed(found.nodes):
                    if not any(out.uses or graph.is_output(out) for out in matched.outputs):
                        unlink(graph, matched)
                fused[rule.name] = fused.get(rule.name, 0) + 1
                break
        if fused:
            sweep(graph)
            logger.info("fused %s", ", ".join(f"{n} {k}" for k, n in fused.items()))
        details: dict[str, object] = {"fused": fused}
        if self.trace:
            details["not_fused"] = misses
        return PassResult(graph, bool(fused), details)
