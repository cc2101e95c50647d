"""IR graph -> ONNX model bytes (the only module, with the lowering package ``onnx``, that imports onnx)."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
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


def to_model(
    graph: Graph,
    *,
    name: str = "webnnc",
    precision: str = "fast",
    external: dict[str, Any] | None = None,
    external_min_bytes: int = 1024,
    native_qdq: bool = True,
    stats: dict[str, int] | None = None,
) -> onnx.ModelProto:
    """Lower ``graph`` to an ONNX ModelProto (not yet optimized).

    Args:
        graph: the IR graph.
        name: the ONNX graph's name.
        precision: "fast" lowers each op to ONNX Runtime's native kernel; "strict" keeps the
            spec's exact formula where that kernel is measurably less exact, unless the
            value-range analysis proves the operand inside the range where it is exact.
        external: when given, constants of at least ``external_min_bytes`` are not copied
            into the model: each becomes an initializer with external data at ``weights``
            and its array is put in this dict under the initializer's name.
        native_qdq: lower quantizeLinear / dequantizeLinear to ONNX's own operators where
            they compute the same (``onnx/quantization.py``); False spells them out.
        stats: when given, receives ``native_qdq``: how many were lowered natively.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; choose one of {list(PRECISIONS)}")
    reserved = {v.name or "" for v in graph.inputs} | set(graph.outputs)
    ranges = None
    if precision == "strict":
        from webnnc.compiler.passes.value_range import value_ranges

        ranges = value_ranges(graph)
    ctx = LoweringContext(reserved, precision=precision, ranges=ranges, native_qdq=native_qdq)
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
        if external is not None and c.const.nbytes >= external_min_bytes and c.data_type.value not in ("int4", "uint4"):
            initializers.append(_external_stub(name, c.const))
            external[name] = np.ascontiguousarray(c.const)
            continue
        tensor = numpy_helper.from_array(c.const, name)
        if c.data_type.value in ("int4", "uint4"):
            tensor = helper.make_tensor(name, ONNX_TYPES[c.data_type], c.shape, c.const.reshape(-1).tolist())
        initializers.append(tensor)
    for node in graph.nodes:
        lower_node(ctx, node, LOWERINGS)
    if stats is not None:
        stats["native_qdq"] = ctx.native_qdq_nodes
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


def _external_stub(name: str, array: Any) -> onnx.TensorProto:
    """An initializer whose data lives in ``weights`` (here: in memory, handed over separately)."""
    stub = onnx.TensorProto(name=name, data_type=helper.np_dtype_to_tensor_dtype(array.dtype), dims=array.shape)
    stub.data_location = onnx.TensorProto.EXTERNAL
    stub.external_data.add(key="location", value="weights")
    return stub


def _check(model: onnx.ModelProto) -> None:
    """onnx.checker on ``model``, its external initializers declared as typed inputs instead
    (the checker would look for their file; their arrays are checked by ONNX Runtime)."""
    if not any(t.data_location == onnx.TensorProto.EXTERNAL for t in model.graph.initializer):
        onnx.checker.check_model(model, full_check=False)
        return
    copy = onnx.ModelProto()
    copy.CopyFrom(model)  # small: its weights are not in it
    kept = [t for t in copy.graph.initializer if t.data_location != onnx.TensorProto.EXTERNAL]
    gone = [t for t in copy.graph.initializer if t.data_location == onnx.TensorProto.EXTERNAL]
    del copy.graph.initializer[:]
    copy.graph.initializer.extend(kept)
    copy.graph.input.extend(helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)) for t in gone)
    onnx.checker.check_model(copy, full_check=False)


_POOLS = frozenset({"AveragePool", "MaxPool", "LpPool"})


def _pad_feeds_pool(graph: onnx.GraphProto) -> bool:
    """Whether a Pad's result is read by a pooling node (explicit pooling pads that ONNX's
    ``pads`` attribute cannot hold, or a WebNN ``pad`` before a pool)."""
    padded = {n.output[0] for n in graph.node if n.op_type == "Pad"}
    return bool(padded) and any(n.op_type in _POOLS and n.input[0] in padded for n in graph.node)


def gemm_weight_rows(graph: Graph) -> dict[str, int]:
    """Bytes of constant GEMM weights (``matmul`` / ``gemm`` with a constant B) by the rows of
    the activation they multiply: ``{"multi": ..., "one": ...}``.

    Prepacking a weight pays only where each run multiplies it by several rows (a sequence,
    a batch, pixels); a batch-1 classifier multiplies a vector (``ort_optimizer``'s NOTE on
    prepacking has the measurements). Read from the IR, which knows every shape; the
    optimized ONNX graph holds no shapes past ONNX Runtime's own kernels.
    """
    rows = {"multi": 0, "one": 0}
    for node in graph:
        if node.op_type not in ("matmul", "gemm") or len(node.inputs) < 2:
            continue
        a, b = node.inputs[0], node.inputs[1]
        if a is None or b is None or not b.is_constant:
            continue
        shape = a.shape
        if node.op_type == "gemm":
            m = shape[1] if node.attributes.get("a_transpose") else shape[0]
        else:
            m = int(np.prod(shape[:-1])) if len(shape) >= 2 else 1
        size = int(np.prod(b.shape)) * b.data_type.numpy_dtype.itemsize
        rows["multi" if m > 1 else "one"] += size
    return rows


class OnnxEmitter:
    """The ``onnx`` emitter: canonical IR -> ONNX bytes."""

    name = "onnx"

    def emit(self, graph: Graph, options: dict[str, Any] | None = None) -> Artifact:
        """Options: ``precision``; ``check`` (default True: onnx.checker on the result);
        ``external_weights`` (default False): leave constants of 1 KiB or more out of the
        bytes, in ``Artifact.arrays``, for ONNX Runtime's optimizer to take from memory;
        ``native_qdq`` (default True): see :func:`to_model`. ``Artifact.info["native_qdq"]``
        counts the quantization nodes lowered to ONNX's own operators.

        # NOTE: copying BERT-base's 437 MB of constants into the proto, serializing it twice
        # (checker + result) and ORT parsing it again took 3.2 s of its 7.3 s compile (2 shared
        # cores); with ``external_weights`` no weight byte is copied before ORT writes them.
        """
        precision = str((options or {}).get("precision", "fast"))
        arrays: dict[str, Any] | None = {} if (options or {}).get("external_weights") else None
        stats: dict[str, int] = {}
        model = to_model(graph, precision=precision, external=arrays,
                         native_qdq=bool((options or {}).get("native_qdq", True)), stats=stats)
        if (options or {}).get("check", True):
            _check(model)
        data = model.SerializeToString()
        logger.debug("emitted ONNX: %d nodes, %d bytes", len(model.graph.node), len(data))
        info: dict[str, Any] = {"opset": OPSET, "ir_version": IR_VERSION, "onnx": onnx.__version__}
        if _pad_feeds_pool(model.graph):
            info["pad_feeds_pool"] = True  # ort_optimizer.optimize's NOTE on Pad_Fusion says why
        info["gemm_weight_rows"] = gemm_weight_rows(graph)  # for the prepacking choice
        if stats["native_qdq"]:
            info["native_qdq"] = stats["native_qdq"]
        plan = graph.meta.get("memory_plan")
        if plan is not None:  # for the memory-pattern choice (ort_optimizer.memory_pattern_pays)
            info["activation_bytes"] = int(plan.arena_bytes.get("scratch", 0))
        return Artifact(data=data, format="onnx", info=info, arrays=arrays or {})

    def supported_ops(self) -> frozenset[str]:
        return frozenset(LOWERINGS)


EMITTER = OnnxEmitter()
