"""The core of the ONNX lowering: the context every lowering writes through, type codes,
the per-family table type and the helpers the families share.

A lowering function receives a :class:`LoweringContext` and the node, and appends ONNX nodes
through the context. Only this package and ``onnx_emitter`` import ``onnx``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper

from webnnc.compiler.errors import UnsupportedOperatorError
from webnnc.compiler.ir import DataType, Node, Value

__all__ = [
    "ONNX_TYPES",
    "Lowering",
    "LoweringContext",
    "LoweringTable",
    "cast",
    "in_name",
    "lower_node",
    "operand",
    "out_name",
    "proven_within",
]

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

    def __init__(
        self, reserved: set[str], *, precision: str = "fast", ranges: Mapping[int, Any] | None = None,
        native_qdq: bool = True,
    ) -> None:
        #: "fast": ONNX Runtime's native kernel wherever one exists; "strict": the spec's
        #: exact formula where the native kernel is measurably less exact (see
        #: ``compiler/emitters/LOWERING.md``), unless ``ranges`` proves the input safe.
        self.strict = precision == "strict"
        #: value ranges (``id(value)`` -> ``Range``), computed for strict lowering only
        self.ranges: Mapping[int, Any] = ranges or {}
        #: lower quantizeLinear / dequantizeLinear to ONNX's own operators where they compute
        #: the same (``quantization.py``); ``native_qdq_nodes`` counts those written
        self.native_qdq = native_qdq
        self.native_qdq_nodes = 0
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


class LoweringTable(dict[str, Lowering]):
    """One family's lowerings (WebNN op name -> function), filled by :meth:`lowers`.

    Each family module owns one table; ``webnnc.compiler.emitters.onnx`` merges them into
    ``LOWERINGS`` from an explicit tuple of families.
    """

    def lowers(self, *ops: str) -> Callable[[Lowering], Lowering]:
        """Decorator: register the function as the lowering of ``ops``."""

        def register(fn: Lowering) -> Lowering:
            for op in ops:
                if op in self:
                    raise ValueError(f"{op}: two ONNX lowerings in one family")
                self[op] = fn
            return fn

        return register

    @classmethod
    def merged(cls, tables: Sequence[Mapping[str, Lowering]]) -> LoweringTable:
        """One table holding every family's entries; an op lowered twice is an error."""
        out = cls()
        for table in tables:
            twice = sorted(set(out) & set(table))
            if twice:
                raise ValueError(f"ops lowered by two ONNX families: {', '.join(twice)}")
            out.update(table)
        return out


def in_name(ctx: LoweringContext, node: Node, i: int) -> str:
    return ctx.name(node.inputs[i])


def out_name(ctx: LoweringContext, node: Node, i: int = 0) -> str:
    return ctx.name(node.outputs[i])


def operand(node: Node, i: int = 0) -> Value:
    """Input ``i`` of ``node``, which the op requires (the builder has checked it)."""
    v = node.inputs[i]
    assert v is not None, f"{node.op_type}: input {i} is required"
    return v


def cast(ctx: LoweringContext, name: str, to: DataType | int, out: str | None = None) -> str:
    """Append a Cast of ``name`` to ``to`` (a WebNN type or an ONNX type code)."""
    onnx_to = ONNX_TYPES[to] if isinstance(to, DataType) else to
    return ctx.add("Cast", [name], [out] if out else None, to=onnx_to)


def proven_within(ctx: LoweringContext, value: Value | None, lo: float, hi: float) -> bool:
    """Whether the value-range analysis proves every element of ``value`` in ``[lo, hi]``."""
    r = None if value is None else ctx.ranges.get(id(value))
    return r is not None and bool(r.within(lo, hi))


def lower_node(ctx: LoweringContext, node: Node, lowerings: Mapping[str, Lowering]) -> None:
    """Lower one node through ``lowerings`` (the merged table)."""
    try:
        fn = lowerings[node.op_type]
    except KeyError:
        raise UnsupportedOperatorError(
            f"{node.op_type}: no ONNX lowering for this operator (node {node.name or '?'}); "
            f"supported: {', '.join(sorted(lowerings))}"
        ) from None
    fn(ctx, node)
