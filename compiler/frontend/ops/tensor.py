"""Shape-manipulating operators: reshape, transpose, concat."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from webnnc.compiler.errors import ValidationError, WebNNTypeError
from webnnc.compiler.frontend._validation import check_axis, int_list
from webnnc.compiler.ir import OperandDescriptor

if TYPE_CHECKING:
    from webnnc.compiler.frontend._operand import MLOperand
    from webnnc.compiler.frontend.builder import MLGraphBuilder as _Base
else:
    _Base = object

__all__ = ["TensorOps"]


OPS: dict[str, str] = {
    "reshape": "reshape",
    "transpose": "transpose",
    "concat": "concat",
}


class TensorOps(_Base):
    """reshape, transpose, concat."""

    def reshape(self, input: MLOperand, new_shape: Sequence[int]) -> MLOperand:
        """Reinterpret ``input`` with ``new_shape`` (same number of elements)."""
        op = "reshape"
        x = self._value(op, "input", input)
        shape = int_list(op, "new_shape", new_shape, minimum=1)
        if math.prod(shape) != x.descriptor.size:
            raise ValidationError(
                f"{op}: new_shape {list(shape)} has {math.prod(shape)} elements; input "
                f"{list(x.shape)} has {x.descriptor.size}"
            )
        return self._add1(op, [x], OperandDescriptor(x.data_type, shape), {"new_shape": shape})

    def transpose(self, input: MLOperand, permutation: Sequence[int] | None = None) -> MLOperand:
        """Permute dimensions (default: reverse them)."""
        op = "transpose"
        x = self._value(op, "input", input)
        perm = tuple(reversed(range(x.rank))) if permutation is None else int_list(op, "permutation", permutation)
        if sorted(perm) != list(range(x.rank)):
            raise ValidationError(
                f"{op}: permutation must be a permutation of [0, {x.rank}); found {list(perm)}"
            )
        shape = tuple(x.shape[p] for p in perm)
        return self._add1(op, [x], OperandDescriptor(x.data_type, shape), {"permutation": perm})

    def concat(self, inputs: Sequence[MLOperand], axis: int) -> MLOperand:
        """Concatenate along ``axis``; other dimensions and data types must match."""
        op = "concat"
        if isinstance(inputs, (str, bytes)) or not isinstance(inputs, Sequence) or not inputs:
            raise WebNNTypeError(f"{op}: inputs must be a non-empty sequence of MLOperand")
        values = [self._value(op, f"inputs[{i}]", o) for i, o in enumerate(inputs)]
        first = values[0]
        axis = check_axis(op, axis, max(first.rank, 1)) if first.rank else check_axis(op, axis, 0)
        total = 0
        for i, v in enumerate(values):
            if v.data_type != first.data_type:
                raise WebNNTypeError(
                    f"{op}: inputs[{i}] data type {v.data_type.value} differs from inputs[0] "
                    f"({first.data_type.value})"
                )
            if v.rank != first.rank:
                raise ValidationError(f"{op}: inputs[{i}] has rank {v.rank}; inputs[0] has rank {first.rank}")
            for d in range(first.rank):
                if d != axis and v.shape[d] != first.shape[d]:
                    raise ValidationError(
                        f"{op}: inputs[{i}] shape {list(v.shape)} differs from inputs[0] "
                        f"{list(first.shape)} in dimension {d} (only axis {axis} may differ)"
                    )
            total += v.shape[axis]
        shape = list(first.shape)
        shape[axis] = total
        return self._add1(op, values, OperandDescriptor(first.data_type, tuple(shape)), {"axis": axis})

