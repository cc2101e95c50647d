"""Pinned structural digests of the reference workloads W1-W3.

The digest is the graph part of every cache key: a change to the builder, the IR's
construction paths or the canonical printer that alters it silently turns every existing
cache entry into a miss. Speed work on those paths must leave these values unchanged; a
deliberate format change updates them together with ``FORMAT_VERSION``.
"""

from __future__ import annotations

import pytest

from webnnc.compiler.frontend import MLGraphBuilder
from webnnc.compiler.ir import print_graph, structural_digest
from webnnc.compiler.workloads import WORKLOADS

# Constants are digested with BLAKE3 (a dependency), which is part of the pinned values.
PINNED = {
    "w1": "b3210383c1e45ab89651b6073739af223ae6001fde361005bc55a6576322e313",
    "w2": "a8a2cc3c0a4e25a5c804a3e223164c3b85a06cbae5fe2b3f3f7d4b1395d6e29a",
    "w3": "87e39738b10a367665f48b4de63cd0afcf5a67b2d18d717381437d32862b0ff2",
}


@pytest.mark.parametrize("name", sorted(PINNED))
def test_workload_digest_is_pinned(name: str) -> None:
    b = MLGraphBuilder()
    graph = b.build(WORKLOADS[name](b))
    assert structural_digest(graph) == PINNED[name], print_graph(graph)[:2000]


def test_digest_is_stable_within_a_process() -> None:
    b = MLGraphBuilder()
    graph = b.build(WORKLOADS["w3"](b))
    assert structural_digest(graph) == structural_digest(graph) == structural_digest(graph.clone())
