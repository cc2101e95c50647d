"""Algebraic simplification driven by value ranges: remove operations that change nothing.

Rules (each one a private function below, tried in order on every node):

- ``relu(x)`` where ``x`` is known non-negative -> ``x``; ``clamp(x, lo, hi)`` where ``x`` is
  known to lie in ``[lo, hi]`` -> ``x`` (this covers ``relu(relu(x))``, ``relu(x * x)``,
  ``relu(exp(x))``, sums and products of non-negatives, ...);
- ``clamp(clamp(x))``, ``relu(clamp(x))``, ``clamp(relu(x))`` -> one clamp;
- ``reshape(reshape(x))`` -> one reshape; ``transpose(transpose(x))`` -> one transpose; a
  reshape to the same shape, an identity permutation, ``identity(x)`` -> ``x``; data
  movement that changes nothing (a full slice, tile by ones, reverse of no axis, zero
  padding, expand / cast / concat / split to the same type and shape) -> ``x``;
- ``x + 0``, ``x - 0``, ``x * 1``, ``x / 1``, ``x ** 1`` -> ``x`` (when broadcasting the
  constant does not change ``x``'s shape); ``neg(neg(x))`` -> ``x``.

Before (one step of W2)::

    %0 = add(%x, %x) : float32[4]
    %1 = relu(%0) : float32[4]
    %2 = mul(%1, %1) : float32[4]
    %3 = relu(%2) : float32[4]          # a square is >= 0
    %4 = add(%3, %3) : float32[4]
    %5 = relu(%4) : float32[4]          # a sum of non-negatives is >= 0

After::

    %0 = add(%x, %x) : float32[4]
    %1 = relu(%0) : float32[4]
    %2 = mul(%1, %1) : float32[4]
    %4 = add(%2, %2) : float32[4]

Preconditions: none. Postconditions: no node matches a rule. Numerics: identical results
(bit for bit), except that removing ``x + 0`` keeps a ``-0.0`` in ``x`` where the addition
would give ``+0.0``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

from webnnc.compiler.ir import Graph, Node, OperandDescriptor, Value
from webnnc.compiler.passes._infra import InPlacePass, PassResult
from webnnc.compiler.passes._rewrite import (
    insert_node,
    only_use,
    scalar_constant,
    sweep,
    unlink,
)
from webnnc.compiler.passes.value_range import Range, infer_node_ranges, range_of

__all__ = ["SimplifyAlgebraPass"]

logger = logging.getLogger(__name__)


class SimplifyAlgebraPass(InPlacePass):
    """Remove no-op activations and clamps, merge chains, drop neutral elements."""

    def call(self, graph: Graph) -> PassResult:
        ranges: dict[int, Range] = {}
        applied: dict[str, int] = {}
        for node in graph:
            infer_node_ranges(node, ranges)
            for rule in _RULES:
                replacement = rule(graph, node, ranges)
                if replacement is None:
                    continue
                if replacement.producer is not None and id(replacement) not in ranges:
                    infer_node_ranges(replacement.producer, ranges)
                graph.replace_value(node.outputs[0], replacement)
                unlink(graph, node)
                applied[rule.__name__.lstrip("_")] = applied.get(rule.__name__.lstrip("_"), 0) + 1
                break
        if applied:
            sweep(graph)
            logger.info("simplified %d nodes %s", sum(applied.values()), applied)
        return PassResult(graph, bool(applied), {"rules": applied})


Rule = Callable[[Graph, Node, dict[int, Range]], "Value | None"]


def _single_input(node: Node, op_type: str) -> Value | None:
    if node.op_type != op_type or len(node.outputs) != 1:
        return None
    return node.inputs[0]


# Integer clamp bounds beyond 2**53 do not survive the trip through float ranges exactly.
_EXACT = float(2**53)


def _clamp_bounds(node: Node) -> tuple[float, float] | None:
    """The ``[lo, hi]`` a relu or clamp node forces its input into."""
    if node.op_type == "relu":
        return 0.0, math.inf
    if node.op_type == "clamp":
        lo, hi = node.attributes["min_value"], node.attributes["max_value"]
        if any(isinstance(b, int) and abs(b) > _EXACT for b in (lo, hi)):
            return None
        return float(lo), float(hi)
    return None


def _noop_activation(graph: Graph, node: Node, ranges: dict[int, Range]) -> Value | None:
    bounds = _clamp_bounds(node)
    x = node.inputs[0] if bounds is not None else None
    if x is None or bounds is None:
        return None
    return x if range_of(x, ranges).within(*bounds) else None


def _merge_clamps(graph: Graph, node: Node, ranges: dict[int, Range]) -> Value | None:
    outer = _clamp_bounds(node)
    inner_value = node.inputs[0] if outer is not None else None
    if outer is None or inner_value is None or inner_value.producer is None:
        return None
    inner_node = inner_value.producer
    inner = _clamp_bounds(inner_node)
    if inner is None or only_use(graph, inner_value) is not node:
        return None
    lo, hi = max(inner[0], outer[0]), min(inner[1], outer[1])
    if lo > hi:  # disjoint: the result is a constant; leave it to the backend
        return None
    x = inner_node.inputs[0]
    assert x is not None
    if (lo, hi) == (0.0, math.inf):
        new = insert_node(graph, node, "relu", [x], [x.descriptor])
    else:
        bounds: dict[str, float | int] = {"min_value": lo, "max_value": hi}
        if x.data_type.is_integer:  # integer clamps carry integer bounds (as the builder makes them)
            bounds = {k: int(v) if math.isfinite(v) else v for k, v in bounds.items()}
        new = insert_node(graph, node, "clamp", [x], [x.descriptor], bounds)
    return new.outputs[0]


def _reshape_chain(graph: Graph, node: Node, ranges: dict[int, Range]) -> Value | None:
    x = _single_input(node, "reshape")
    if x is None:
        return None
    if x.shape == node.outputs[0].shape:
        return x
    if x.producer is not None and x.producer.op_type == "reshape":
        inner = x.producer.inputs[0]
        assert inner is not None
        if inner.shape == node.outputs[0].shape:
            return inner
        shape = node.outputs[0].shape
        new = insert_node(graph, node, "reshape", [inner], [node.outputs[0].descriptor], {"new_shape": shape})
        return new.outputs[0]
    return None


def _transpose_chain(graph: Graph, node: Node, ranges: dict[int, Range]) -> Value | None:
    x = _single_input(node, "transpose")
    if x is None:
        return None
    perm = tuple(node.attributes["permutation"])
    if perm == tuple(range(len(perm))):
        return x
    if x.producer is not None and x.producer.op_type == "transpose":
        inner = x.producer.inputs[0]
        assert inner is not None
        first = tuple(x.producer.attributes["permutation"])
        composed = tuple(first[p] for p in perm)
        if composed == tuple(range(len(composed))):
            return inner
        new = insert_node(
            graph, node, "transpose", [inner], [node.outputs[0].descriptor], {"permutation": composed}
        )
        return new.outputs[0]
    return None


def _identity(graph: Graph, node: Node, ranges: dict[int, Range]) -> Value | None:
    return _single_input(node, "identity")


def _is_noop_movement(node: Node) -> bool:
    """Whether a data-movement node copies its input unchanged (same type and shape)."""
    a, op = node.attributes, node.op_type
    if op == "slice":
        return not any(a["starts"]) and all(k == 1 for k in a["strides"])
    if op == "tile":
        return all(r == 1 for r in a["repetitions"])
    if op == "reverse":
        return not a["axes"]
    if op == "pad":
        return not any(a["beginning_padding"]) and not any(a["ending_padding"])
    return op in ("expand", "cast", "concat", "split")


def _noop_data_movement(graph: Graph, node: Node, ranges: dict[int, Range]) -> Value | None:
    if len(node.outputs) != 1 or not node.inputs or node.inputs[0] is None:
        return None
    if len([v for v in node.inputs if v is not None]) != 1:
        return None
    x = node.inputs[0]
    if x.descriptor != node.outputs[0].descriptor or not _is_noop_movement(node):
        return None
    return x


def _double_negation(graph: Graph, node: Node, ranges: dict[int, Range]) -> Value | None:
    x = _single_input(node, "neg")
    if x is None or x.producer is None or x.producer.op_type != "neg":
        return None
    return x.producer.inputs[0]


# op type -> (neutral element, the operand positions it may sit at)
_NEUTRAL: dict[str, tuple[float, tuple[int, ...]]] = {
    "add": (0.0, (0, 1)),
    "sub": (0.0, (1,)),
    "mul": (1.0, (0, 1)),
    "div": (1.0, (1,)),
    "pow": (1.0, (1,)),
}


def _neutral_element(graph: Graph, node: Node, ranges: dict[int, Range]) -> Value | None:
    spec = _NEUTRAL.get(node.op_type)
    if spec is None or len(node.inputs) != 2:
        return None
    neutral, positions = spec
    out: OperandDescriptor = node.outputs[0].descriptor
    for pos in positions:
        other = node.inputs[1 - pos]
        if scalar_constant(node.inputs[pos]) == neutral and other is not None and other.descriptor == out:
            return other
    return None


_RULES: tuple[Rule, ...] = (
    _noop_activation,
    _merge_clamps,
    _reshape_chain,
    _transpose_chain,
    _identity,
    _noop_data_movement,
    _double_negation,
    _neutral_element,
)
