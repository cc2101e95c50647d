"""Memory planning: liveness over the final graph and a static buffer plan.

Every value a node produces gets a live range ``[first, last]`` in node-order positions (its
producer's position to its last use; graph outputs live to the end). Intermediates are
placed greedily, largest first, at the lowest aligned offset of one arena that does not
overlap any placed buffer whose live range intersects; graph outputs are placed back to back
in a second arena, ``outputs``, which the runtime allocates once and reuses across calls
(bound with ONNX Runtime's I/O binding).

Each node's ``annotations["memory"]`` holds one ``(arena, offset, nbytes)`` per output, and
``graph.meta["memory_plan"]`` the :class:`MemoryPlan` (sizes, peak estimate, output layout)
that the driver records in the artifact's manifest.

Before::

    %0 = relu(%x) : float32[256]
    %1 = exp(%0) : float32[256]
    %2 = neg(%1) : float32[256]
    return y=%2

After (annotations shown)::

    %0 = relu(%x) : float32[256]   # memory=[["scratch", 0, 1024]]
    %1 = exp(%0) : float32[256]    # memory=[["scratch", 1024, 1024]]
    %2 = neg(%1) : float32[256]    # memory=[["outputs", 0, 1024]]

Preconditions: the node list is in topological order (``verify``). Postconditions
(:meth:`PlanMemoryPass.ensures`): no two buffers of one arena whose live ranges intersect
overlap in memory.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from webnnc.compiler.errors import PassError
from webnnc.compiler.ir import Graph
from webnnc.compiler.passes._infra import InPlacePass, PassResult

__all__ = ["DEFAULT_ALIGNMENT", "Buffer", "MemoryPlan", "PlanMemoryPass", "check_plan", "plan_memory"]

logger = logging.getLogger(__name__)

# 64 bytes: one cache line, and what ONNX Runtime's CPU allocator aligns to.
DEFAULT_ALIGNMENT = 64

SCRATCH = "scratch"
OUTPUTS = "outputs"


@dataclass(frozen=True)
class Buffer:
    """One planned buffer: which value, where, and when it is live (node positions)."""

    name: str
    arena: str
    offset: int
    nbytes: int
    first: int
    last: int

    def overlaps(self, other: Buffer) -> bool:
        """Whether the two buffers are live at once and share bytes of the same arena."""
        live = self.first <= other.last and other.first <= self.last
        space = self.offset < other.offset + other.nbytes and other.offset < self.offset + self.nbytes
        return self.arena == other.arena and live and space


@dataclass
class MemoryPlan:
    """The static plan for one graph."""

    alignment: int
    buffers: list[Buffer] = field(default_factory=list)
    arena_bytes: dict[str, int] = field(default_factory=dict)
    peak_live_bytes: int = 0
    unplanned_bytes: int = 0  # what one buffer per value would need

    @property
    def outputs(self) -> dict[str, tuple[int, int]]:
        """Graph output name -> ``(offset, nbytes)`` in the ``outputs`` arena."""
        return {b.name: (b.offset, b.nbytes) for b in self.buffers if b.arena == OUTPUTS}

    def to_json(self) -> dict[str, Any]:
        """The summary recorded in the manifest (``extra["memory_plan"]``)."""
        return {
            "alignment": self.alignment,
            "arena_bytes": dict(self.arena_bytes),
            "peak_live_bytes": self.peak_live_bytes,
            "unplanned_bytes": self.unplanned_bytes,
            "outputs": {k: [off, n] for k, (off, n) in self.outputs.items()},
        }


def _align(n: int, alignment: int) -> int:
    """Round up to a multiple of ``alignment``.

    >>> _align(1, 64), _align(64, 64), _align(0, 64)
    (64, 64, 0)
    """
    return (n + alignment - 1) // alignment * alignment


def plan_memory(graph: Graph, *, alignment: int = DEFAULT_ALIGNMENT) -> MemoryPlan:
    """Compute live ranges and a greedy-by-size static plan (see the module docstring)."""
    nodes = graph.nodes
    end = len(nodes)
    position = {id(n): i for i, n in enumerate(nodes)}
    output_names: dict[int, str] = {}
    for name in sorted(graph.outputs):
        output_names.setdefault(id(graph.outputs[name]), name)

    intervals: list[tuple[str, int, int, int]] = []  # (name, nbytes, first, last)
    outputs: list[tuple[str, int, int]] = []
    for i, node in enumerate(nodes):
        for k, out in enumerate(node.outputs):
            last = max((position[id(user)] for user, _ in out.uses), default=i)
            if id(out) in output_names:
                outputs.append((output_names[id(out)], out.descriptor.nbytes, i))
            else:
                intervals.append((f"%{i}.{k}", out.descriptor.nbytes, i, last))

    plan = MemoryPlan(alignment)
    placed: list[Buffer] = []
    # live_at[t]: the placed buffers live at position t. Candidates for a conflict are read
    # from the buckets of the new buffer's own range, so planning costs the sum of the live
    # ranges' lengths, not (number of buffers)^2.
    live_at: list[list[Buffer]] = [[] for _ in range(end + 1)]
    for name, nbytes, first, last in sorted(intervals, key=lambda t: (-t[1], t[2])):
        conflicts = {id(b): b for t in range(first, last + 1) for b in live_at[t]}
        offset = 0
        for other in sorted(conflicts.values(), key=lambda b: b.offset):
            if offset + nbytes <= other.offset:
                break
            offset = max(offset, _align(other.offset + other.nbytes, alignment))
        buffer = Buffer(name, SCRATCH, offset, nbytes, first, last)
        placed.append(buffer)
        for t in range(first, last + 1):
            live_at[t].append(buffer)
    offset = 0
    for name, nbytes, first in outputs:
        placed.append(Buffer(name, OUTPUTS, offset, nbytes, first, end))
        offset = _align(offset + nbytes, alignment)

    plan.buffers = sorted(placed, key=lambda b: (b.first, b.arena, b.name))
    for arena in (SCRATCH, OUTPUTS):
        plan.arena_bytes[arena] = max(
            (_align(b.offset + b.nbytes, alignment) for b in placed if b.arena == arena), default=0
        )
    plan.unplanned_bytes = sum(b.nbytes for b in placed)
    live_bytes = [sum(b.nbytes for b in bucket) for bucket in live_at]
    output_bytes = sum(b.nbytes for b in placed if b.arena == OUTPUTS)
    for b in placed:  # an output is live from its producer to the end
        if b.arena == OUTPUTS:
            for t in range(b.first, end + 1):
                live_bytes[t] += b.nbytes
    plan.peak_live_bytes = max(live_bytes, default=output_bytes)
    return plan


def check_plan(plan: MemoryPlan) -> list[str]:
    """Every pair of buffers that are live at once and overlap (empty when the plan is sound).

    A sweep over buffers sorted by first use, keeping those still live: linear in practice.
    """
    problems: list[str] = []
    by_arena: dict[str, list[Buffer]] = {}
    for b in plan.buffers:
        by_arena.setdefault(b.arena, []).append(b)
    for buffers in by_arena.values():
        active: list[Buffer] = []
        for b in sorted(buffers, key=lambda b: b.first):
            active = [a for a in active if a.last >= b.first]
            problems.extend(f"{a} overlaps {b}" for a in active if a.overlaps(b))
            active.append(b)
    return problems


class PlanMemoryPass(InPlacePass):
    """Annotate each node's outputs with their planned buffers; store the plan in ``meta``.

    Args:
        alignment: byte alignment of every buffer offset.
    """

    def __init__(self, *, alignment: int = DEFAULT_ALIGNMENT) -> None:
        self.alignment = alignment

    def call(self, graph: Graph) -> PassResult:
        plan = plan_memory(graph, alignment=self.alignment)
        by_name = {b.name: b for b in plan.buffers}
        output_names = {id(v): n for n, v in sorted(graph.outputs.items(), reverse=True)}
        for i, node in enumerate(graph.nodes):
            entries = []
            for k, out in enumerate(node.outputs):
                b = by_name[output_names.get(id(out), f"%{i}.{k}")]
                entries.append((b.arena, b.offset, b.nbytes))
            node.annotations["memory"] = tuple(entries)
        graph.meta["memory_plan"] = plan
        logger.info(
            "planned %d buffers: scratch arena %d bytes (unplanned %d), peak live %d bytes",
            len(plan.buffers), plan.arena_bytes[SCRATCH], plan.unplanned_bytes, plan.peak_live_bytes,
        )
        # The plan is metadata: the graph's computation is unchanged, so a pass manager
        # iterating to a fixed point must not see a modification.
        return PassResult(graph, False, plan.to_json())

    def ensures(self, graph: Graph) -> None:
        plan = graph.meta.get("memory_plan")
        if not isinstance(plan, MemoryPlan):
            raise PassError(f"{self.name}: the graph has no memory plan after planning")
        problems = check_plan(plan)
        if problems:
            raise PassError(f"{self.name}: overlapping live buffers:\n  " + "\n  ".join(problems))
