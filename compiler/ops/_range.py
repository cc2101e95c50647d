"""The value-range registry: a closed interval ``[lo, hi]`` per value, one rule per op.

The rules live in their op family's file, registered with :func:`range_rule`; the
analysis that runs them over a graph is ``webnnc.compiler.passes.value_range``.

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

from webnnc.compiler.ir import Node

__all__ = [
    "NONNEGATIVE",
    "RANGE_RULES",
    "UNBOUNDED",
    "Range",
    "RangeRule",
    "constant_range",
    "first_range",
    "range_rule",
]


class Range:
    """Every non-NaN element of the value lies in ``[lo, hi]``.

    >>> Range(0.0, 1.0).within(-1.0, 6.0)
    True
    >>> Range(-2.0, 3.0) * Range(-2.0, 3.0)
    Range(lo=-6.0, hi=9.0)
    >>> Range(0.0, 1.0) == Range(0.0, 1.0), len({Range(0.0, 1.0), Range(0.0, 1.0)})
    (True, 1)
    """

    # NOTE: written out rather than ``@dataclass(frozen=True, slots=True)`` (same behaviour):
    # the op catalogue is imported by every build(), a cache hit included, and dataclasses
    # costs ~1 ms to import plus the generation of each class's methods (cache/CACHE.md).
    __slots__ = ("lo", "hi")  # noqa: RUF023 - __init__'s order
    __match_args__ = ("lo", "hi")
    lo: float
    hi: float

    def __init__(self, lo: float, hi: float) -> None:
        object.__setattr__(self, "lo", lo)
        object.__setattr__(self, "hi", hi)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"Range is immutable: cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"Range is immutable: cannot delete field {name!r}")

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not Range:
            return NotImplemented
        assert isinstance(other, Range)
        return self.lo == other.lo and self.hi == other.hi

    def __hash__(self) -> int:
        return hash((self.lo, self.hi))

    def __repr__(self) -> str:
        return f"Range(lo={self.lo!r}, hi={self.hi!r})"

    def __reduce__(self) -> tuple[object, ...]:
        return (Range, (self.lo, self.hi))

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
NONNEGATIVE = Range(0.0, math.inf)


def _sum(a: float, b: float, when_undefined: float) -> float:
    s = a + b
    return when_undefined if math.isnan(s) else s


def _prod(a: float, b: float) -> float:
    p = a * b
    return 0.0 if math.isnan(p) else p  # 0 * inf: the bound is approached by 0 * finite


RangeRule = Callable[[Node, Sequence[Range]], Range]
RANGE_RULES: dict[str, RangeRule] = {}


def range_rule(*ops: str) -> Callable[[RangeRule], RangeRule]:
    """Register ``fn`` as the value-range rule of ``ops`` (the operands' ranges -> output's)."""

    def register(fn: RangeRule) -> RangeRule:
        for op in ops:
            if op in RANGE_RULES:
                raise RuntimeError(f"two value-range rules for operator {op!r}")
            RANGE_RULES[op] = fn
        return fn

    return register


def first_range(node: Node, r: Sequence[Range]) -> Range:
    """Data movement, or a max / mean of elements: the result stays within the input's range."""
    return r[0]


def constant_range(lo: float, hi: float) -> RangeRule:
    """A rule whose result range does not depend on the operands (sigmoid: ``[0, 1]``)."""
    fixed = Range(lo, hi)

    def rule(node: Node, r: Sequence[Range]) -> Range:
        return fixed

    return rule
