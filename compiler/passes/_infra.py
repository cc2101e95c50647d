"""Pass framework: PassResult, PassBase/InPlacePass, Sequential and PassManager.

A pass is an object with ``call(graph) -> PassResult``. In-place passes mutate and return
the graph they were given. The PassManager runs a list of passes (optionally several
rounds until nothing changes), can verify the IR after each pass, times each pass, and
wraps failures in a :class:`PassError` that names the pass and its predecessors.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from webnnc.compiler.errors import CompilerError, PassError
from webnnc.compiler.ir import Graph, verify
from webnnc.compiler.ops import KNOWN_OPS

__all__ = ["InPlacePass", "PassBase", "PassManager", "PassRecord", "PassResult", "Sequential"]

logger = logging.getLogger(__name__)


@dataclass
class PassResult:
    """What a pass returns: the (possibly same) graph and whether it changed anything."""

    graph: Graph
    modified: bool
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class PassRecord:
    """One pass run, as reported by the PassManager (for ``--explain``)."""

    name: str
    modified: bool
    nodes_before: int
    nodes_after: int
    seconds: float
    details: dict[str, Any]


class PassBase:
    """Base class of passes. Subclasses implement :meth:`call`."""

    in_place: bool = True

    @property
    def name(self) -> str:
        return type(self).__name__

    def call(self, graph: Graph) -> PassResult:  # pragma: no cover - abstract
        raise NotImplementedError

    def requires(self, graph: Graph) -> None:
        """Check the pass's precondition; raise :class:`PassError` when it does not hold."""

    def ensures(self, graph: Graph) -> None:
        """Check the pass's postcondition; raise :class:`PassError` when it does not hold."""

    def __call__(self, graph: Graph) -> PassResult:
        self.requires(graph)
        result = self.call(graph)
        self.ensures(result.graph)
        return result


class InPlacePass(PassBase):
    """A pass that mutates the graph it is given and returns it."""


class Sequential(PassBase):
    """Run passes one after another once."""

    def __init__(self, *passes: PassBase) -> None:
        self.passes = passes

    def call(self, graph: Graph) -> PassResult:
        modified = False
        for p in self.passes:
            r = p(graph)
            graph = r.graph
            modified = modified or r.modified
        return PassResult(graph, modified)


class PassManager(PassBase):
    """Run ``passes`` for up to ``steps`` rounds, stopping early when a round changes nothing.

    Args:
        passes: the passes, in order.
        steps: maximum number of rounds.
        early_stop: stop after a round in which no pass modified the graph.
        verify_each: run :func:`verify` after every pass (also on when ``WEBNNC_VERIFY=1``).
    """

    def __init__(
        self,
        passes: Sequence[PassBase],
        *,
        steps: int = 1,
        early_stop: bool = True,
        verify_each: bool | None = None,
    ) -> None:
        self.passes = list(passes)
        self.steps = steps
        self.early_stop = early_stop
        if verify_each is None:
            verify_each = os.environ.get("WEBNNC_VERIFY", "") not in ("", "0")
        self.verify_each = verify_each
        self.records: list[PassRecord] = []

    def call(self, graph: Graph) -> PassResult:
        self.records = []
        ran: list[str] = []
        any_modified = False
        for _ in range(self.steps):
            round_modified = False
            for p in self.passes:
                before = len(graph)
                t0 = time.perf_counter()
                try:
                    result = p(graph)
                    if self.verify_each:
                        verify(result.graph, known_ops=KNOWN_OPS)
                except CompilerError as e:
                    if isinstance(e, PassError) and isinstance(p, PassManager):
                        raise  # already names the failing pass inside the nested manager
                    raise PassError(f"pass {p.name} failed (after {ran or 'no passes'}): {e}") from e
                except Exception as e:
                    raise PassError(f"pass {p.name} crashed (after {ran or 'no passes'}): {e!r}") from e
                dt = time.perf_counter() - t0
                graph = result.graph
                ran.append(p.name)
                if isinstance(p, PassManager):
                    self.records.extend(p.records)
                else:
                    self.records.append(
                        PassRecord(p.name, result.modified, before, len(graph), dt, result.details)
                    )
                    if result.modified:
                        logger.debug(
                            "%s: %d -> %d nodes in %.2f ms %s",
                            p.name, before, len(graph), dt * 1e3, result.details,
                        )
                round_modified = round_modified or result.modified
            any_modified = any_modified or round_modified
            if self.early_stop and not round_modified:
                break
        return PassResult(graph, any_modified)
