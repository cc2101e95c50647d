"""Pass framework: PassResult, PassBase/InPlacePass/FunctionalPass, Sequential and PassManager.

A pass is an object with ``call(graph) -> PassResult``. In-place passes mutate and return
the graph they were given; functional passes return a new graph and leave theirs alone.
The PassManager runs a list of passes (optionally several rounds until nothing changes),
can verify the IR after each pass, times each pass, and wraps failures in a
:class:`PassError` that names the pass and its predecessors.

# NOTE: the contracts are checked, not just named. Calling a pass (``pass_(graph)``) runs
# ``requires`` on the input, ``call``, then ``ensures`` on the result, and checks the kind's
# promise: an InPlacePass must return the very graph object it was given (an identity
# test, always on); a FunctionalPass must not have changed its input, which costs a
# structural digest before and after, so it is checked only when verification is on
# (``PassManager(verify_each=True)`` or ``WEBNNC_VERIFY=1``).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from webnnc.compiler.errors import CompilerError, PassError
from webnnc.compiler.ir import Graph, structural_digest, verify
from webnnc.compiler.ops import KNOWN_OPS

__all__ = [
    "FunctionalPass",
    "InPlacePass",
    "PassBase",
    "PassManager",
    "PassRecord",
    "PassResult",
    "Sequential",
    "verify_from_env",
]

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


def verify_from_env() -> bool:
    """Whether ``WEBNNC_VERIFY`` turns verification on (any value but empty or ``0``)."""
    return os.environ.get("WEBNNC_VERIFY", "") not in ("", "0")


def _snapshot(graph: Graph) -> tuple[int, tuple[int, ...], str]:
    """What a functional pass must leave unchanged: node count, node identities, structure."""
    return len(graph), tuple(id(n) for n in graph.nodes), structural_digest(graph)


class PassBase:
    """Base class of passes. Subclasses implement :meth:`call`.

    ``in_place`` states the pass's promise: True (:class:`InPlacePass`), False
    (:class:`FunctionalPass`), or None for composites that promise neither.
    """

    in_place: bool | None = None

    @property
    def name(self) -> str:
        return type(self).__name__

    def call(self, graph: Graph) -> PassResult:  # pragma: no cover - abstract
        raise NotImplementedError

    def requires(self, graph: Graph) -> None:
        """Check the pass's precondition; raise :class:`PassError` when it does not hold."""

    def ensures(self, graph: Graph) -> None:
        """Check the pass's postcondition; raise :class:`PassError` when it does not hold."""

    def __call__(self, graph: Graph, *, verify: bool | None = None) -> PassResult:
        """Run the pass with its contracts checked (see the module NOTE).

        Args:
            verify: check the costly contracts too; None reads ``WEBNNC_VERIFY``.
        """
        if verify is None:
            verify = verify_from_env()
        self.requires(graph)
        before = _snapshot(graph) if verify and self.in_place is False else None
        result = self.call(graph)
        if self.in_place and result.graph is not graph:
            raise PassError(f"{self.name} is an in-place pass but returned a different graph object")
        if before is not None and _snapshot(graph) != before:
            raise PassError(f"{self.name} is a functional pass but changed the graph it was given")
        self.ensures(result.graph)
        return result


class InPlacePass(PassBase):
    """A pass that mutates the graph it is given and returns that same object."""

    in_place = True


class FunctionalPass(PassBase):
    """A pass that returns a new graph and leaves the one it is given unchanged."""

    in_place = False


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
            verify_each = verify_from_env()
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
                    result = p(graph, verify=self.verify_each)
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
