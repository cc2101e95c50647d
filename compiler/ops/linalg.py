"""Matrix products: gemm and matmul."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from webnnc.compiler.errors import ValidationError, WebNNTypeError
from webnnc.compiler.ir import Node, OperandDescriptor
from webnnc.compiler.ops._fold import Array, fold_rule, wide
from webnnc.compiler.ops._options import number, parse_options
from webnnc.compiler.ops._support import (
    FLOATS,
    MAX_RANK,
    OperandLimits,
    check_operand,
    operand,
    same_limits,
)
from webnnc.compiler.ops._validation import (
    FLOAT_TYPES,
    broadcast_shapes,
    check_data_type,
    check_rank,
)

if TYPE_CHECKING:
    from webnnc.compiler.frontend._core import BuilderCore as _Base
    from webnnc.compiler.frontend._operand import MLOperand
else:
    _Base = object

__all__ = ["OPS", "SUPPORT", "LinalgOps"]


def _flag(op: str, name: str, value: Any) -> bool:
    if not isinstance(value, bool | int) or value not in (0, 1):
        raise WebNNTypeError(f"{op}: {name} must be a bool; found {value!r}")
    return bool(value)


OPS: dict[str, str] = {
    "gemm": "gemm",
    "matmul": "matmul",
}


class LinalgOps(_Base):
    """gemm, matmul."""

    def gemm(
        self,
        a: MLOperand,
        b: MLOperand,
        c: MLOperand | None = None,
        alpha: float = 1.0,
        beta: float = 1.0,
        a_transpose: bool = False,
        b_transpose: bool = False,
        **kwargs: Any,
    ) -> MLOperand:
        """``alpha * A' @ B' + beta * C`` for 2-D A and B (spec ``gemm``)."""
        op = "gemm"
        opts = parse_options(op, kwargs, ("a_transpose", "b_transpose"))
        a_transpose = _flag(op, "a_transpose", opts.get("a_transpose", a_transpose))
        b_transpose = _flag(op, "b_transpose", opts.get("b_transpose", b_transpose))
        alpha = number(op, "alpha", alpha)
        beta = number(op, "beta", beta)
        va = self._value(op, "a", a)
        vb = self._value(op, "b", b)
        check_rank(op, "a", va.shape, 2)
        check_rank(op, "b", vb.shape, 2)
        check_data_type(op, "a", va.data_type, FLOAT_TYPES)
        if vb.data_type != va.data_type:
            raise WebNNTypeError(f"{op}: b data type ({vb.data_type.value}) must match a ({va.data_type.value})")
        m, k = va.shape[::-1] if a_transpose else va.shape
        k2, n = vb.shape[::-1] if b_transpose else vb.shape
        if k != k2:
            raise ValidationError(
                f"{op}: inner dimensions differ: a{' (transposed)' if a_transpose else ''} is "
                f"[{m}, {k}], b{' (transposed)' if b_transpose else ''} is [{k2}, {n}]"
            )
        vc = None
        if c is not None:
            vc = self._value(op, "c", c)
            if vc.data_type != va.data_type:
                raise WebNNTypeError(f"{op}: c data type ({vc.data_type.value}) must match a ({va.data_type.value})")
            if vc.rank > 2 or broadcast_shapes(op, vc.shape, (m, n), names=("c", "output")) != (m, n):
                raise ValidationError(f"{op}: c {list(vc.shape)} must broadcast to the output [{m}, {n}]")
        attrs = {"alpha": float(alpha), "beta": float(beta), "a_transpose": a_transpose, "b_transpose": b_transpose}
        return self._add1(op, [va, vb, vc], OperandDescriptor(va.data_type, (m, n)), attrs)

    def matmul(self, a: MLOperand, b: MLOperand, **options: Any) -> MLOperand:
        """Batched matrix product of ``[..., M, K]`` and ``[..., K, N]`` with broadcast batch
        dims. Both ranks must be >= 2 (the spec dropped numpy's 1-D promotion)."""
        op = "matmul"
        parse_options(op, options, ())
        va = self._value(op, "a", a)
        vb = self._value(op, "b", b)
        check_rank(op, "a", va.shape, at_least=2)
        check_rank(op, "b", vb.shape, at_least=2)
        check_operand(op, "a", va)  # rank <= MAX_RANK
        check_operand(op, "b", vb)
        check_data_type(op, "a", va.data_type, FLOAT_TYPES)
        if vb.data_type != va.data_type:
            raise WebNNTypeError(f"{op}: b data type ({vb.data_type.value}) must match a ({va.data_type.value})")
        if va.shape[-1] != vb.shape[-2]:
            raise ValidationError(
                f"{op}: a's last dimension ({va.shape[-1]}) must equal b's second to last "
                f"({vb.shape[-2]}); shapes {list(va.shape)} and {list(vb.shape)}"
            )
        batch = broadcast_shapes(op, va.shape[:-2], vb.shape[:-2])
        shape = (*batch, va.shape[-2], vb.shape[-1])
        return self._add1(op, [va, vb], OperandDescriptor(va.data_type, shape))


# ---------------------------------------------------------------- support limits (onnx-cpu)
SUPPORT: dict[str, dict[str, OperandLimits]] = {
    "gemm": {
        "a": operand(FLOATS, ranks=(2, 2)), "b": operand(FLOATS, ranks=(2, 2)),
        "c": operand(FLOATS, ranks=(0, 2)), "output": operand(FLOATS, ranks=(2, 2)),
    },
    "matmul": same_limits(operand(FLOATS, ranks=(2, MAX_RANK)), "a", "b", "output"),
}


# ---------------------------------------------------------------- constant folding
@fold_rule("matmul")
def _fold_matmul(node: Node, args: Sequence[Array | None]) -> Sequence[Array]:
    a, b = args
    assert a is not None and b is not None
    return [np.matmul(wide(a), wide(b))]


@fold_rule("gemm")
def _fold_gemm(node: Node, args: Sequence[Array | None]) -> Sequence[Array]:
    a, b, c = args
    assert a is not None and b is not None
    at = node.attributes
    a2 = wide(a).T if at["a_transpose"] else wide(a)
    b2 = wide(b).T if at["b_transpose"] else wide(b)
    y = a2 @ b2 * a2.dtype.type(at["alpha"])
    if c is not None:
        y = y + wide(c) * a2.dtype.type(at["beta"])
    return [y]
