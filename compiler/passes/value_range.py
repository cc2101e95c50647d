"""A small forward value-range analysis: a closed interval ``[lo, hi]`` per value.

Algebraic simplification asks it one kind of question: is this operand already inside the
range an activation or clamp would force it into? (Then the activation is a no-op.)

# NOTE: NaN is outside every interval: the analysis reasons about the non-NaN values a
# tensor can hold. WebNN does not say whether relu/clamp map NaN to NaN or to a bound, so a
# NaN that reaches a relu removed as a no-op comes out as NaN, as ONNX Runtime's Relu
# also returns it. Infinities are inside the
# intervals (``inf + inf`` is ``inf``, ``inf * inf`` is ``inf``); bounds that would be
# undefined (``inf - inf``, ``0 * inf``) are widened, never narrowed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from webnnc.compiler.ir import Graph, Node, Value

__all__ = ["UNBOUNDED", "Range", "infer_node_ranges", "range_of", "value_ranges"]


@dataclass(frozen=True, slots=True)
class Range:
    """Every non-NaN element of the value lies in ``[lo, hi]``.

    >>> Range(0.0, 1.0).within(-1.0, 6.0)
    True
    >>> Range(-2.0, 3.0) * Range(-2.0, 3.0)
    Range(lo=-6.0, hi=9.0)
    """

    lo: float
    hi: float

    @property
    def nonnegative(self) -> bool:
        return self.lo >= 0.0

    def within(self, lo: float, hi: float) -> bool:
        return lo <= self.lo and self.hi <= hi

    def union(self, other: Range) -> Range:
        return Range(min(self.lo, other.lo), max(self.hi, other.hi))

    def clamp(self, lo: float, hi: float) -> Range:
        return Range(min(max(self.lo, lo), hi), max(min(self.hi, hi), lo))

    def __add__(self, other: Range) -> Range:
        return Range(_sum(self.lo, other.lo, -math.inf), _sum(self.hi, other.hi, math.inf))

    def __mul__(self, other: Range) -> Range:
        products = [_prod(a, b) for a in (self.lo, self.hi) for b in (other.lo, other.hi)]
        return Range(min(products), max(products))

    def __neg__(self) -> Range:
        return Range(-self.hi, -self.lo)


UNBOUNDED = Range(-math.inf, math.inf)
_NONNEG = Range(0.0, math.inf)


def _sum(a: float, b: float, when_undefined: float) -> float:
    s = a + b
    return when_undefined if math.isnan(s) else s


def _prod(a: float, b: float) -> float:
    p = a * b
    return 0.0 if math.isnan(p) else p  # 0 * inf: the bound is approached by 0 * finite


def range_of(value: Value, ranges: dict[int, Range]) -> Range:
    """The range of ``value``: computed from the data for constants, else looked up."""
    known = ranges.get(id(value))
    if known is not None:
        return known
    if value.const is not None and value.const.size:
        data = value.const[~np.isnan(value.const)] if value.data_type.is_float else value.const
        r = Range(float(np.min(data)), float(np.max(data))) if data.size else UNBOUNDED
        ranges[id(value)] = r
        return r
    return UNBOUNDED


RangeRule = Callable[[Node, Sequence[Range]], Range]
_RULES: dict[str, RangeRule] = {}


def _rule(*ops: str) -> Callable[[RangeRule], RangeRule]:
    def register(fn: RangeRule) -> RangeRule:
        for op in ops:
            _RULES[op] = fn
        return fn

    return register


@_rule("relu")
def _relu(node: Node, r: Sequence[Range]) -> Range:
    return r[0].clamp(0.0, math.inf)


@_rule("clamp")
def _clamp(node: Node, r: Sequence[Range]) -> Range:
    return r[0].clamp(float(node.attributes["min_value"]), float(node.attributes["max_value"]))


@_rule("exp", "sqrt", "abs")
def _nonneg(node: Node, r: Sequence[Range]) -> Range:
    if node.op_type == "abs":
        hi = max(abs(r[0].lo), abs(r[0].hi))
        lo = 0.0 if r[0].lo <= 0.0 <= r[0].hi else min(abs(r[0].lo), abs(r[0].hi))
        return Range(lo, hi)
    return _NONNEG


@_rule("sigmoid", "softmax")
def _unit(node: Node, r: Sequence[Range]) -> Range:
    return Range(0.0, 1.0)


@_rule("tanh", "softsign", "sign")
def _signed_unit(node: Node, r: Sequence[Range]) -> Range:
    return Range(-1.0, 1.0)


@_rule("hardSigmoid", "isNaN", "isInfinite", "logicalNot", "logicalAnd", "logicalOr",
       "logicalXor", "equal", "notEqual", "greater", "greaterOrEqual", "lesser", "lesserOrEqual")
def _zero_one(node: Node, r: Sequence[Range]) -> Range:
    return Range(0.0, 1.0)


@_rule("softplus", "reduceL1", "reduceL2", "reduceSumSquare")
def _nonneg_result(node: Node, r: Sequence[Range]) -> Range:
    return _NONNEG


@_rule("where")
def _where(node: Node, r: Sequence[Range]) -> Range:
    return r[1].union(r[2])


@_rule("neg")
def _neg(node: Node, r: Sequence[Range]) -> Range:
    return -r[0]


@_rule("add")
def _add(node: Node, r: Sequence[Range]) -> Range:
    return r[0] + r[1]


@_rule("sub")
def _sub(node: Node, r: Sequence[Range]) -> Range:
    return r[0] + (-r[1])


@_rule("mul")
def _mul(node: Node, r: Sequence[Range]) -> Range:
    if node.inputs[0] is node.inputs[1]:  # x * x: a square is never negative
        hi = max(r[0].lo * r[0].lo, r[0].hi * r[0].hi)
        lo = 0.0 if r[0].lo <= 0.0 <= r[0].hi else min(r[0].lo * r[0].lo, r[0].hi * r[0].hi)
        return Range(lo, hi)
    return r[0] * r[1]


@_rule("max")
def _max(node: Node, r: Sequence[Range]) -> Range:
    return Range(max(r[0].lo, r[1].lo), max(r[0].hi, r[1].hi))


@_rule("min")
def _min(node: Node, r: Sequence[Range]) -> Range:
    return Range(min(r[0].lo, r[1].lo), min(r[0].hi, r[1].hi))


@_rule(
    "reshape", "transpose", "identity", "expand", "maxPool2d", "averagePool2d", "reduceMean",
    "reduceMax", "reduceMin", "slice", "tile", "reverse", "gather",
)
def _same(node: Node, r: Sequence[Range]) -> Range:
    # Data movement, or a max / mean of elements: the result stays within the input's range.
    return r[0]


@_rule("concat")
def _concat(node: Node, r: Sequence[Range]) -> Range:
    out = r[0]
    for other in r[1:]:
        out = out.union(other)
    return out


def infer_node_ranges(node: Node, ranges: dict[int, Range]) -> None:
    """Record the range of ``node``'s outputs in ``ranges`` (operands must be recorded)."""
    rule = _RULES.get(node.op_type)
    if rule is None or len(node.outputs) != 1:
        return
    operands = [UNBOUNDED if v is None else range_of(v, ranges) for v in node.inputs]
    if node.op_type in ("add", "sub", "mul", "max", "min") and len(operands) != 2:
        return
    r = rule(node, operands)
    if r != UNBOUNDED:
        ranges[id(node.outputs[0])] = r


def value_ranges(graph: Graph) -> dict[int, Range]:
    """Ranges of every value that has a bounded one, keyed by ``id(value)``."""
    ranges: dict[int, Range] = {}
    for node in graph.nodes:
        infer_node_ranges(node, ranges)
    return ranges
