"""Shared validation helpers for builder methods; errors use the spec's terms."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from webnnc.compiler.errors import ValidationError, WebNNTypeError
from webnnc.compiler.ir import DataType

__all__ = [
    "ALL_TYPES",
    "FLOAT_TYPES",
    "SIGNED_TYPES",
    "broadcast_shapes",
    "check_axes",
    "check_axis",
    "check_data_type",
    "check_rank",
    "int_list",
    "pick",
]

FLOAT_TYPES = frozenset({DataType.FLOAT32, DataType.FLOAT16})
SIGNED_TYPES = frozenset(
    {DataType.FLOAT32, DataType.FLOAT16, DataType.INT32, DataType.INT64, DataType.INT8, DataType.INT4}
)
ALL_TYPES = frozenset(DataType)


def _names(types: Iterable[DataType]) -> str:
    return ", ".join(sorted(t.value for t in types))


def check_data_type(op: str, arg: str, found: DataType, allowed: Iterable[DataType]) -> None:
    allowed = frozenset(allowed)
    if found not in allowed:
        raise WebNNTypeError(
            f"{op}: {arg} data type must be one of [{_names(allowed)}]; found {found.value}"
        )


def check_rank(op: str, arg: str, shape: Sequence[int], *ranks: int, at_least: int | None = None) -> None:
    rank = len(shape)
    if at_least is not None:
        if rank < at_least:
            raise ValidationError(f"{op}: {arg} must have rank >= {at_least}; found rank {rank} {list(shape)}")
        return
    if rank not in ranks:
        want = " or ".join(str(r) for r in ranks)
        raise ValidationError(f"{op}: {arg} must have rank {want}; found rank {rank} {list(shape)}")


def broadcast_shapes(op: str, a: Sequence[int], b: Sequence[int], *, names: tuple[str, str] = ("a", "b")) -> tuple[int, ...]:
    """Bidirectional (numpy-style) broadcast, raising a named error when impossible.

    >>> broadcast_shapes("add", [2, 1, 4], [3, 1])
    (2, 3, 4)
    """
    out: list[int] = []
    for i in range(1, max(len(a), len(b)) + 1):
        da = a[-i] if i <= len(a) else 1
        db = b[-i] if i <= len(b) else 1
        if da != db and da != 1 and db != 1:
            raise ValidationError(
                f"{op}: shapes of {names[0]} {list(a)} and {names[1]} {list(b)} are not "
                f"broadcastable (dimension {-i}: {da} vs {db})"
            )
        out.append(max(da, db) if da != 0 and db != 0 else 0)
    return tuple(reversed(out))


def check_axis(op: str, axis: Any, rank: int, *, arg: str = "axis") -> int:
    if not isinstance(axis, int) or isinstance(axis, bool):
        raise WebNNTypeError(f"{op}: {arg} must be an integer; found {axis!r}")
    if not 0 <= axis < rank:
        raise ValidationError(f"{op}: {arg} must be in the range [0, {rank}); found {axis}")
    return axis


def check_axes(op: str, axes: Any, rank: int) -> tuple[int, ...]:
    """Validate a list of distinct axes in [0, rank)."""
    values = int_list(op, "axes", axes)
    for a in values:
        if not 0 <= a < rank:
            raise ValidationError(f"{op}: axes must be in the range [0, {rank}); found {a} in {list(values)}")
    if len(set(values)) != len(values):
        raise ValidationError(f"{op}: axes must not repeat; found {list(values)}")
    return values


def int_list(op: str, arg: str, value: Any, *, length: int | None = None, minimum: int | None = None) -> tuple[int, ...]:
    """Coerce a sequence of integers, checking its length and lower bound."""
    try:
        items = tuple(value)
    except TypeError:
        raise WebNNTypeError(f"{op}: {arg} must be a sequence of integers; found {value!r}") from None
    out: list[int] = []
    for v in items:
        if isinstance(v, bool) or not hasattr(v, "__index__"):
            raise WebNNTypeError(f"{op}: {arg} must contain integers; found {v!r} in {list(items)}")
        out.append(int(v))
    if length is not None and len(out) != length:
        raise ValidationError(f"{op}: {arg} must have {length} elements; found {len(out)} ({out})")
    if minimum is not None:
        for v in out:
            if v < minimum:
                raise ValidationError(f"{op}: {arg} values must be >= {minimum}; found {out}")
    return tuple(out)


def pick(op: str, kwargs: dict[str, Any], *names: str, default: Any = None) -> Any:
    """Take one option that may be spelled several ways (spec name first, pywebnn aliases after)."""
    found = [n for n in names if n in kwargs and kwargs[n] is not None]
    if len(found) > 1:
        raise WebNNTypeError(f"{op}: options {found} are aliases of each other; give only one")
    return kwargs.pop(found[0]) if found else default
