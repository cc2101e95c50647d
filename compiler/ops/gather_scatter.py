"""Indexed reads and writes: gather, gatherElements, gatherND, scatterElements, scatterND.

Indices are int32, uint32 or int64. The spec leaves out-of-range index values to the
implementation but forbids reading or writing outside the tensor; webnnc clamps every index
to ``[-size, size - 1]`` (negative values count from the end, as in the spec's examples).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from webnnc.compiler.errors import ValidationError
from webnnc.compiler.ir import DataType, OperandDescriptor
from webnnc.compiler.ops._options import check_same_type, parse_options
from webnnc.compiler.ops._range import first_range, range_rule
from webnnc.compiler.ops._support import (
    ALL,
    MAX_RANK,
    NUMERIC,
    OperandLimits,
    check_operand,
    operand,
)
from webnnc.compiler.ops._validation import check_axis, check_data_type

if TYPE_CHECKING:
    from webnnc.compiler.frontend._core import BuilderCore as _Base
    from webnnc.compiler.frontend._operand import MLOperand
    from webnnc.compiler.ir import Value
else:
    _Base = object

__all__ = ["OPS", "SUPPORT", "INDEX_TYPES", "GatherScatterOps"]

INDEX_TYPES = frozenset({DataType.INT32, DataType.UINT32, DataType.INT64})

OPS: dict[str, str] = {
    "gather": "gather",
    "gatherElements": "gather_elements",
    "gatherND": "gather_nd",
    "scatterElements": "scatter_elements",
    "scatterND": "scatter_nd",
}


class GatherScatterOps(_Base):
    """gather, gather_elements, gather_nd, scatter_elements, scatter_nd."""

    def _indexed(self, op: str, input: MLOperand, indices: MLOperand) -> tuple[Value, Value]:
        x = self._value(op, "input", input)
        idx = self._value(op, "indices", indices)
        check_data_type(op, "indices", idx.data_type, INDEX_TYPES)
        if x.rank == 0:
            raise ValidationError(f"{op}: input must have rank >= 1; found a scalar")
        check_operand(op, "input", x)
        return x, idx

    def _updates(self, op: str, x: Value, updates: MLOperand, shape: tuple[int, ...]) -> Value:
        upd = self._value(op, "updates", updates)
        check_same_type(op, "updates", upd.data_type, "input", x.data_type)
        if upd.shape != shape:
            raise ValidationError(
                f"{op}: updates must have shape {list(shape)}; found {list(upd.shape)}"
            )
        return upd

    def gather(self, input: MLOperand, indices: MLOperand, axis: int | None = None, **options: Any) -> MLOperand:
        """Take slices of ``input`` along ``axis`` (default 0) at ``indices``; the output
        shape is ``input.shape[:axis] + indices.shape + input.shape[axis+1:]``."""
        op = "gather"
        opts = parse_options(op, {"axis": axis, **options}, ("axis",))
        x, idx = self._indexed(op, input, indices)
        axis = check_axis(op, opts.get("axis", 0), x.rank)
        shape = (*x.shape[:axis], *idx.shape, *x.shape[axis + 1 :])
        return self._add1(op, [x, idx], OperandDescriptor(x.data_type, shape), {"axis": axis})

    def gather_elements(
        self, input: MLOperand, indices: MLOperand, axis: int | None = None, **options: Any
    ) -> MLOperand:
        """``output[i][j][k] = input[indices[i][j][k]][j][k]`` for axis 0 (and likewise for
        other axes); the output has the shape of ``indices``."""
        op = "gatherElements"
        opts = parse_options(op, {"axis": axis, **options}, ("axis",))
        x, idx = self._indexed(op, input, indices)
        axis = check_axis(op, opts.get("axis", 0), x.rank)
        _check_elementwise_indices(op, x.shape, idx.shape, axis)
        return self._add1(op, [x, idx], OperandDescriptor(x.data_type, idx.shape), {"axis": axis})

    def gather_nd(self, input: MLOperand, indices: MLOperand, **options: Any) -> MLOperand:
        """Gather slices addressed by the last dimension of ``indices`` (``k`` leading input
        coordinates); output ``indices.shape[:-1] + input.shape[k:]``."""
        op = "gatherND"
        parse_options(op, options, ())
        x, idx = self._indexed(op, input, indices)
        k = _index_depth(op, x.shape, idx.shape)
        shape = (*idx.shape[:-1], *x.shape[k:])
        return self._add1(op, [x, idx], OperandDescriptor(x.data_type, shape))

    def scatter_elements(
        self,
        input: MLOperand,
        indices: MLOperand,
        updates: MLOperand,
        axis: int | None = None,
        **options: Any,
    ) -> MLOperand:
        """A copy of ``input`` with ``updates`` written at ``indices`` along ``axis``
        (the inverse of gatherElements)."""
        op = "scatterElements"
        opts = parse_options(op, {"axis": axis, **options}, ("axis",))
        x, idx = self._indexed(op, input, indices)
        axis = check_axis(op, opts.get("axis", 0), x.rank)
        _check_elementwise_indices(op, x.shape, idx.shape, axis)
        upd = self._updates(op, x, updates, idx.shape)
        return self._add1(op, [x, idx, upd], x.descriptor, {"axis": axis})

    def scatter_nd(
        self, input: MLOperand, indices: MLOperand, updates: MLOperand, **options: Any
    ) -> MLOperand:
        """A copy of ``input`` with the slices ``updates`` written at the coordinates in the
        last dimension of ``indices`` (the inverse of gatherND)."""
        op = "scatterND"
        parse_options(op, options, ())
        x, idx = self._indexed(op, input, indices)
        k = _index_depth(op, x.shape, idx.shape)
        upd = self._updates(op, x, updates, (*idx.shape[:-1], *x.shape[k:]))
        return self._add1(op, [x, idx, upd], x.descriptor)


def _check_elementwise_indices(
    op: str, shape: tuple[int, ...], ishape: tuple[int, ...], axis: int
) -> None:
    if len(ishape) != len(shape):
        raise ValidationError(
            f"{op}: indices must have the input's rank ({len(shape)}); found rank {len(ishape)} "
            f"{list(ishape)}"
        )
    for d, (s, i) in enumerate(zip(shape, ishape, strict=True)):
        if d != axis and s != i:
            raise ValidationError(
                f"{op}: indices shape {list(ishape)} must equal the input shape {list(shape)} "
                f"in every dimension but axis {axis}; dimension {d} differs"
            )


def _index_depth(op: str, shape: tuple[int, ...], ishape: tuple[int, ...]) -> int:
    if not ishape:
        raise ValidationError(f"{op}: indices must have rank >= 1; found a scalar")
    k = ishape[-1]
    if k > len(shape):
        raise ValidationError(
            f"{op}: the last dimension of indices ({k}) must not exceed the input rank "
            f"({len(shape)}); indices {list(ishape)}, input {list(shape)}"
        )
    return k


# ---------------------------------------------------------------- support limits (onnx-cpu)
# Operators that only move data run every type but the packed 4-bit ones (issue 4B).
_MOVE = operand(NUMERIC, spec=ALL)
_MOVE1 = operand(NUMERIC, spec=ALL, ranks=(1, MAX_RANK))
_INDICES = frozenset({DataType.INT32, DataType.UINT32, DataType.INT64})
_INDICES0 = operand(_INDICES, ranks=(0, MAX_RANK))
_INDICES1 = operand(_INDICES, ranks=(1, MAX_RANK))

SUPPORT: dict[str, dict[str, OperandLimits]] = {
    "gather": {"input": _MOVE1, "indices": _INDICES0, "output": _MOVE},
    "gatherElements": {"input": _MOVE1, "indices": _INDICES1, "output": _MOVE1},
    "gatherND": {"input": _MOVE1, "indices": _INDICES1, "output": _MOVE},
    "scatterElements": {"input": _MOVE1, "indices": _INDICES1, "updates": _MOVE1, "output": _MOVE1},
    "scatterND": {"input": _MOVE1, "indices": _INDICES1, "updates": _MOVE, "output": _MOVE1},
}


# ---------------------------------------------------------------- value ranges
range_rule("gather")(first_range)
