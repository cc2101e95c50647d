"""IR graph -> ONNX model bytes (the only module, with the lowering package ``onnx``, that imports onnx)."""

from __future__ import annotations

import logging
from typing import Any

import onnx
from onnx import helper, numpy_helper

from webnnc.compiler.emitters import Artifact
from webnnc.compiler.emitters.onnx import (
    LOWERINGS,
    ONNX_TYPES,
    LoweringContext,
    lower_node,
)
from webnnc.compiler.ir import DataType, Graph

__all__ = ["EMITTER", "IR_VERSION", "OPSET", "PRECISIONS", "OnnxEmitter", "to_model"]

logger = logging.getLogger(__name__)

# NOTE: opset 21 / IR version 10 are read by every onnxruntime release since 1.20 (the CUDA
# build on the GPU machine included); onnx itself would write a newer IR version by default.
OPSET = 21
IR_VERSION = 10
# NOTE: numpy, hence onnxruntime's Python API, has no 4-bit type: int4 / uint4 graph inputs
# and outputs travel as int8 / uint8 (the runtime's arrays) and are cast at the boundary.
_WIDE_IO = {"int4": "int8", "uint4": "uint8"}


PRECISIONS = ("fast", "strict")


def to_model(graph: Graph, *, name: str = "webnnc", precision: str = "fast") -> onnx.ModelProto:
    """Lower ``graph`` to an ONNX ModelProto (not yet optimized).

    Args:
        graph: the IR graph.
        name: the ONNX graph's name.
        precision: "fast" lowers each op to ONNX Runtime's native kernel; "strict" keeps the
            spec's exact formula where that kernel is measurably less exact, unless the
            value-range analysis proves the operand inside the range where it is exact.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; choose one of {list(PRECISIONS)}")
    reserved = {v.name or "" for v in graph.inputs} | set(graph.outputs)
    ranges = None
    if precision == "strict":
        from webnnc.compiler.passes.value_range import value_ranges

        ranges = value_ranges(graph)
    ctx = LoweringContext(reserved, precision=precision, ranges=ranges)
    for v in graph.inputs:
        if v.data_type.value in _WIDE_IO:
            ctx.bind(v, ctx.fresh("narrow"))
            ctx.add("Cast", [v.name or ""], [ctx.name(v)], to=ONNX_TYPES[v.data_type])
        else:
            ctx.bind(v, v.name or "")
    # A value that is exactly one graph output takes the output's name; other outputs
    # (a value exported under two names) get an Identity.
    claimed: set[int] = set()
    extra_outputs: list[tuple[str, str]] = []
    for out_name, v in graph.outputs.items():
        if id(v) in claimed or v.producer is None or v.data_type.value in _WIDE_IO:
            extra_outputs.append((out_name, ctx.name(v)))
        else:
            ctx.bind(v, out_name)
            claimed.add(id(v))
    initializers = []
    for c in graph.constants:
        assert c.const is not None
        name = ctx.name(c)
        tensor = numpy_helper.from_array(c.const, name)
        if c.data_type.value in ("int4", "uint4"):
            tensor = helper.make_tensor(name, ONNX_TYPES[c.data_type], c.shape, c.const.reshape(-1).tolist())
        initializers.append(tensor)
    for node in graph.nodes:
        lower_node(ctx, node, LOWERINGS)
    for out_name, src in extra_outputs:
        wide = _WIDE_IO.get(graph.outputs[out_name].data_type.value)
        if wide is not None:
            ctx.add("Cast", [src], [out_name], to=ONNX_TYPES[DataType(wide)])
        else:
            ctx.add("Identity", [src], [out_name])

    def info(name: str, desc: Any) -> onnx.ValueInfoProto:
        dt = DataType(_WIDE_IO.get(desc.data_type.value, desc.data_type.value))
        return helper.make_tensor_value_info(name, ONNX_TYPES[dt], list(desc.shape))

    onnx_graph = helper.make_graph(
        ctx.nodes,
        name,
        [info(v.name or "", v.descriptor) for v in graph.inputs],
        [info(n, v.descriptor) for n, v in graph.outputs.items()],
        initializer=initializers + ctx.initializers,
    )
    model = helper.make_model(
        onnx_graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="webnnc",
    )
    model.ir_version = IR_VERSION
    return model


class OnnxEmitter:
    """The ``onnx`` emitter: canonical IR -> ONNX bytes."""

    name = "onnx"

    def emit(self, graph: Graph, options: dict[str, Any] | None = None) -> Artifact:
        precision = str((options or {}).get("precision", "fast"))
        model = to_model(graph, precision=precision)
        if (options or {}).get("check", True):
            onnx.checker.check_model(model, full_check=False)
        data = model.SerializeToString()
        logger.debug("emitted ONNX: %d nodes, %d bytes", len(model.graph.node), len(data))
        return Artifact(
            data=data, format="onnx", info={"opset": OPSET, "ir_version": IR_VERSION, "onnx": onnx.__version__},
        )

    def supported_ops(self) -> frozenset[str]:
        return frozenset(LOWERINGS)


EMITTER = OnnxEmitter()
