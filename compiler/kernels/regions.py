"""Elementwise regions of an ONNX Runtime-optimized graph, and the cost model that keeps them.

A region is a run of consecutive float32 elementwise nodes (in the graph's topological
order) that all produce the same static shape, optionally closed by one reduction over
trailing axes (``GlobalAveragePool``, ``ReduceMean`` / ``ReduceSum`` with trailing axes).
Consecutive runs cannot form a cycle when they become one node: a path from one region
node to another through an outside node would need that outside node between them.

# NOTE: why after ONNX Runtime's optimizer, on ONNX, and not as an IR pass. ONNX Runtime
# fuses Conv + Add + Relu (NCHWc "Sum" fusion), Add + LayerNormalization
# (SkipLayerNormalization), Add + Gelu (BiasGelu), x * Sigmoid(x) (QuickGelu) and moves
# convolution chains to the blocked NCHWc layout. A region formed earlier would take those
# adds and activations away from it and force layout reorders around an opaque node.
# Formed afterwards, a region holds only what ONNX Runtime left as separate passes over
# memory. Shapes come from ONNX shape inference on the optimized graph with its stored
# value_info dropped: a tensor produced by an ONNX Runtime-internal op (NCHWc convolutions,
# reorders: com.microsoft domains) gets no shape, so nothing in a blocked layout is fused.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import onnx

__all__ = ["ELEMENTWISE", "MIN_ELEMENTS", "MIN_OPS", "Region", "find_regions"]

logger = logging.getLogger(__name__)

# ONNX op -> number of tensor operands the kernel generator computes (codegen.py)
ELEMENTWISE: dict[str, int] = {
    "Add": 2, "Sub": 2, "Mul": 2, "Div": 2, "Max": 2, "Min": 2,
    "Relu": 1, "Neg": 1, "Abs": 1, "Sqrt": 1, "LeakyRelu": 1, "Clip": 1, "Identity": 1,
}
REDUCTIONS = frozenset({"GlobalAveragePool", "ReduceMean", "ReduceSum"})
_FLOAT = 1  # onnx.TensorProto.FLOAT

# Cost model (benchmarks/bench_kernels.py): a region replaces k ONNX Runtime kernels, each
# one pass over memory plus ~1-3 us of dispatch, by one pass and one dispatch. One op alone
# gains nothing (ORT's kernel is already one vectorized pass); tensors under MIN_ELEMENTS
# are dispatch-bound on both sides, so the saving is within noise.
MIN_OPS = 2
MIN_ELEMENTS = 4096


@dataclass
class Region:
    """One fused region: its nodes, its external operands and the values it must write.

    Attributes:
        nodes: the elementwise nodes, in order.
        reduction: the closing reduction node, or None.
        shape: the iteration shape (every elementwise node's output shape).
        inputs: external tensor operands (graph inputs, initializers, other nodes' outputs),
            with their static shapes, in first-use order.
        scalars: constant single-element operands, inlined in the kernel as literals.
        outputs: values the rest of the graph (or the graph's outputs) reads.
        reduced_axes: number of trailing axes the reduction sums over (0 without one).
        reduce_mean: the reduction divides by the count.
    """

    nodes: list[Any]
    shape: tuple[int, ...]
    reduction: Any = None
    inputs: dict[str, tuple[int, ...]] = field(default_factory=dict)
    scalars: dict[str, float] = field(default_factory=dict)
    outputs: list[str] = field(default_factory=list)
    output_shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)
    reduced_axes: int = 0
    reduce_mean: bool = True

    @property
    def elements(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n


def _static_shapes(model: onnx.ModelProto) -> tuple[dict[str, tuple[int, ...]], set[str]]:
    """(name -> static shape, names of float32 tensors) from shape inference on ``model``."""
    import onnx

    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    del probe.graph.value_info[:]  # stale after ORT's layout changes: infer afresh
    for t in probe.graph.initializer:  # shapes only: inference never needs the bytes
        t.ClearField("raw_data")
        t.ClearField("float_data")
        del t.external_data[:]
        t.data_location = onnx.TensorProto.DEFAULT
    try:
        inferred = onnx.shape_inference.infer_shapes(probe, strict_mode=False)
    except Exception as e:  # an op ONNX does not know more than shape inference can skip
        logger.debug("shape inference failed (%s); no regions", e)
        return {}, set()
    shapes: dict[str, tuple[int, ...]] = {}
    floats: set[str] = set()
    values = [*inferred.graph.input, *inferred.graph.output, *inferred.graph.value_info]
    for v in values:
        tt = v.type.tensor_type
        if not tt.HasField("shape"):
            continue
        dims = [d.dim_value if d.HasField("dim_value") else -1 for d in tt.shape.dim]
        if any(d < 0 for d in dims):
            continue
        shapes[v.name] = tuple(dims)
        if tt.elem_type == _FLOAT:
            floats.add(v.name)
    for t in model.graph.initializer:
        shapes[t.name] = tuple(t.dims)
        if t.data_type == _FLOAT:
            floats.add(t.name)
    return shapes, floats


def _broadcasts_to(shape: tuple[int, ...], full: tuple[int, ...]) -> bool:
    if len(shape) > len(full):
        return False
    return all(a in (1, b) for a, b in zip(reversed(shape), reversed(full), strict=False))


def _scalar_constants(model: onnx.ModelProto) -> dict[str, float]:
    """Single-element float32 initializers stored inside the graph (inlined as literals)."""
    from onnx import numpy_helper

    out: dict[str, float] = {}
    for t in model.graph.initializer:
        n = 1
        for d in t.dims:
            n *= d
        if n == 1 and t.data_type == _FLOAT and t.data_location != 1:  # 1: EXTERNAL
            out[t.name] = float(numpy_helper.to_array(t).reshape(()))
    return out


def _node_ok(node: Any, shapes: dict[str, tuple[int, ...]], floats: set[str], scalars: dict[str, float]) -> bool:
    if node.domain not in ("", "ai.onnx") or node.op_type not in ELEMENTWISE or len(node.output) != 1:
        return False
    out = node.output[0]
    if out not in shapes or out not in floats:
        return False
    operands = ELEMENTWISE[node.op_type]
    if node.op_type == "Clip":  # min / max must be constants to become literals
        if len(node.input) > 3 or not node.input[0]:
            return False
        if any(name and name not in scalars for name in node.input[1:]):
            return False
        if any(a.name in ("min", "max") for a in node.attribute):  # opset < 11 form
            return False
    elif len(node.input) != operands:
        return False
    for name in node.input[:operands]:
        if name not in shapes or name not in floats or not _broadcasts_to(shapes[name], shapes[out]):
            return False
    return True


def _reduction(node: Any, model: onnx.ModelProto, shape: tuple[int, ...]) -> tuple[int, bool] | None:
    """(trailing axes reduced, mean) when ``node`` reduces its input of ``shape`` over trailing axes."""
    rank = len(shape)
    if node.domain not in ("", "ai.onnx") or node.op_type not in REDUCTIONS or len(node.output) != 1:
        return None
    if node.op_type == "GlobalAveragePool":
        return (rank - 2, True) if rank >= 3 else None
    attrs = {a.name: a for a in node.attribute}
    if "noop_with_empty_axes" in attrs and attrs["noop_with_empty_axes"].i:
        return None
    axes: list[int] | None = None
    if "axes" in attrs:
        axes = list(attrs["axes"].ints)
    elif len(node.input) > 1 and node.input[1]:
        from onnx import numpy_helper

        for t in model.graph.initializer:
            if t.name == node.input[1]:
                axes = [int(a) for a in numpy_helper.to_array(t).reshape(-1)]
                break
        else:
            return None
    if not axes:
        return None
    norm = sorted(a + rank if a < 0 else a for a in axes)
    if norm != list(range(rank - len(norm), rank)):
        return None
    return len(norm), node.op_type == "ReduceMean"


def find_regions(model: onnx.ModelProto, *, min_ops: int = MIN_OPS, min_elements: int = MIN_ELEMENTS) -> list[Region]:
    """The regions of ``model`` the cost model keeps, in graph order."""
    shapes, floats = _static_shapes(model)
    if not shapes:
        return []
    scalars = _scalar_constants(model)
    nodes = list(model.graph.node)
    consumers: dict[str, int] = {}
    for n in nodes:
        for name in n.input:
            consumers[name] = consumers.get(name, 0) + 1
    graph_outputs = {o.name for o in model.graph.output}
    regions: list[Region] = []
    i = 0
    while i < len(nodes):
        if not _node_ok(nodes[i], shapes, floats, scalars):
            i += 1
            continue
        shape = shapes[nodes[i].output[0]]
        j = i
        while j < len(nodes) and _node_ok(nodes[j], shapes, floats, scalars) and shapes[nodes[j].output[0]] == shape:
            j += 1
        run = nodes[i:j]
        red = None
        if j < len(nodes) and nodes[j].input and any(nodes[j].input[0] == n.output[0] for n in run):
            facts = _reduction(nodes[j], model, shape)
            # a reduction over extents of 1 only is a copy: left to ONNX Runtime
            if facts is not None and facts[0] > 0 and math.prod(shape[-facts[0] :]) > 1 and nodes[j].output[0] in shapes:
                red = (nodes[j], facts)
        region = _make_region(run, red, shape, shapes, scalars, consumers, graph_outputs)
        if len(run) + (red is not None) >= min_ops and region.elements >= max(min_elements, 1):
            regions.append(region)
        i = j + (red is not None)
    return regions


def _make_region(
    run: list[Any],
    red: tuple[Any, tuple[int, bool]] | None,
    shape: tuple[int, ...],
    shapes: dict[str, tuple[int, ...]],
    scalars: dict[str, float],
    consumers: dict[str, int],
    graph_outputs: set[str],
) -> Region:
    region = Region(nodes=run, shape=shape)
    produced: dict[str, int] = {}
    internal_uses: dict[str, int] = {}
    for n in run:
        for name in n.input[: ELEMENTWISE[n.op_type]]:
            if name in produced:
                internal_uses[name] = internal_uses.get(name, 0) + 1
            elif name in scalars:
                region.scalars[name] = scalars[name]
            elif name not in region.inputs:
                region.inputs[name] = shapes[name]
        if n.op_type == "Clip":
            for name in n.input[1:]:
                if name:
                    region.scalars[name] = scalars[name]
        produced[n.output[0]] = 1
    if red is not None:
        node, (axes, mean) = red
        internal_uses[node.input[0]] = internal_uses.get(node.input[0], 0) + 1
        region.reduction, region.reduced_axes, region.reduce_mean = node, axes, mean
    for n in run:
        name = n.output[0]
        if name in graph_outputs or consumers.get(name, 0) > internal_uses.get(name, 0):
            region.outputs.append(name)
            region.output_shapes[name] = shape
    if red is not None:
        region.outputs.append(red[0].output[0])
        region.output_shapes[red[0].output[0]] = shapes[red[0].output[0]]
    return region
