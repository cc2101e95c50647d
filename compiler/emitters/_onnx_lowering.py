"""The ONNX lowering table: one function per WebNN operator.

Each function receives a :class:`LoweringContext` and the node, and appends ONNX nodes
through the context. Only this module and ``onnx_emitter`` import ``onnx``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper

from webnnc.compiler.errors import UnsupportedOperatorError
from webnnc.compiler.ir import DataType, Node, Value

__all__ = ["LOWERINGS", "ONNX_TYPES", "LoweringContext", "in_name", "lower_node", "lowers", "out_name"]

ONNX_TYPES: dict[DataType, int] = {
    DataType.FLOAT32: onnx.TensorProto.FLOAT,
    DataType.FLOAT16: onnx.TensorProto.FLOAT16,
    DataType.INT32: onnx.TensorProto.INT32,
    DataType.UINT32: onnx.TensorProto.UINT32,
    DataType.INT64: onnx.TensorProto.INT64,
    DataType.UINT64: onnx.TensorProto.UINT64,
    DataType.INT8: onnx.TensorProto.INT8,
    DataType.UINT8: onnx.TensorProto.UINT8,
    DataType.INT4: onnx.TensorProto.INT4,
    DataType.UINT4: onnx.TensorProto.UINT4,
}


class LoweringContext:
    """Name authority and node sink shared by all lowering functions of one graph."""

    def __init__(self, reserved: set[str]) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self._names: dict[int, str] = {}
        self._used: set[str] = set(reserved)
        self._counter = 0

    def fresh(self, hint: str = "t") -> str:
        while True:
            name = f"{hint}_{self._counter}"
            self._counter += 1
            if name not in self._used:
                self._used.add(name)
                return name

    def bind(self, value: Value, name: str) -> None:
        self._names[id(value)] = name
        self._used.add(name)

    def name(self, value: Value | None) -> str:
        """ONNX tensor name of an IR value ('' for an omitted optional input)."""
        if value is None:
            return ""
        key = id(value)
        if key not in self._names:
            self._names[key] = self.fresh("v")
        return self._names[key]

    def add(self, op_type: str, inputs: Sequence[str], outputs: Sequence[str] | None = None, **attrs: Any) -> str:
        """Append one ONNX node; return its first output name."""
        outs = list(outputs) if outputs is not None else [self.fresh(op_type.lower())]
        attrs = {k: v for k, v in attrs.items() if v is not None}
        self.nodes.append(helper.make_node(op_type, list(inputs), outs, name=self.fresh("n"), **attrs))
        return outs[0]

    def const(self, array: np.ndarray[Any, Any], hint: str = "c") -> str:
        name = self.fresh(hint)
        # ascontiguousarray would turn a 0-d array into shape [1]
        self.initializers.append(numpy_helper.from_array(np.asarray(array).copy(order="C"), name))
        return name

    def int64s(self, values: Sequence[int], hint: str = "shape") -> str:
        return self.const(np.asarray(values, dtype=np.int64), hint)

    def scalar(self, value: float, data_type: DataType, hint: str = "s") -> str:
        return self.const(np.asarray(value, dtype=data_type.numpy_dtype), hint)


Lowering = Callable[[LoweringContext, Node], None]
LOWERINGS: dict[str, Lowering] = {}


def lowers(*ops: str) -> Callable[[Lowering], Lowering]:
    def register(fn: Lowering) -> Lowering:
        for op in ops:
            LOWERINGS[op] = fn
        return fn

    return register


def in_name(ctx: LoweringContext, node: Node, i: int) -> str:
    return ctx.name(node.inputs[i])


def out_name(ctx: LoweringContext, node: Node, i: int = 0) -> str:
    return ctx.name(node.outputs[i])


# ---------------------------------------------------------------- element-wise
# (the element-wise families live in _onnx_lowering_elementwise / _reduction / _quantization)
_SIMPLE = {"matmul": "MatMul"}


@lowers(*_SIMPLE)
def _simple(ctx: LoweringContext, node: Node) -> None:
    ctx.add(_SIMPLE[node.op_type], [in_name(ctx, node, i) for i in range(len(node.inputs))], [out_name(ctx, node)])


# ---------------------------------------------------------------- linear algebra, normalization
@lowers("gemm")
def _gemm(ctx: LoweringContext, node: Node) -> None:
    a = node.attributes
    inputs = [in_name(ctx, node, 0), in_name(ctx, node, 1)]
    if node.inputs[2] is not None:
        inputs.append(in_name(ctx, node, 2))
    ctx.add(
        "Gemm", inputs, [out_name(ctx, node)], alpha=float(a["alpha"]), beta=float(a["beta"]),
        transA=int(bool(a["a_transpose"])), transB=int(bool(a["b_transpose"])),
    )


def lower_node(ctx: LoweringContext, node: Node) -> None:
    try:
        fn = LOWERINGS[node.op_type]
    except KeyError:
        raise UnsupportedOperatorError(
            f"{node.op_type}: no ONNX lowering for this operator (node {node.name or '?'}); "
            f"supported: {', '.join(sorted(LOWERINGS))}"
        ) from None
    fn(ctx, node)


# Operator families lowered in modules of their own (``_onnx_lowering_<family>.py``) register
# into LOWERINGS with @lowers when imported here, after everything they use is defined.
import webnnc.compiler.emitters._onnx_lowering_conv_pool  # noqa: E402
import webnnc.compiler.emitters._onnx_lowering_elementwise  # noqa: E402
import webnnc.compiler.emitters._onnx_lowering_normalization  # noqa: E402
import webnnc.compiler.emitters._onnx_lowering_quantization  # noqa: E402
import webnnc.compiler.emitters._onnx_lowering_recurrent  # noqa: E402
import webnnc.compiler.emitters._onnx_lowering_reduction  # noqa: E402
import webnnc.compiler.emitters._onnx_lowering_tensor  # noqa: E402, F401
