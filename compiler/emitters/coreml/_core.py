"""The core of the CoreML lowering: MIL types, the context, the per-family table type, the
helpers the families share, and the per-node check and lowering driver.

A lowering function receives a :class:`MilContext` and the node and returns the MIL
variable(s) for the node's outputs. Only this package and ``coreml_emitter`` import
``coremltools``.

# NOTE: every MIL operation gets an explicit name derived from a per-graph counter. The MIL
# builder's automatic names come from a process-wide counter, so relying on them would make
# the same graph produce different bytes depending on what was converted before it.
# NOTE: after each lowering the MIL type inference's output shape is checked against the
# IR's descriptor; a mismatch is a lowering bug and fails the build instead of producing a
# model whose outputs disagree with the manifest.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from coremltools.converters.mil import Builder as mb  # noqa: N813 - the MIL idiom
from coremltools.converters.mil.mil import Var, types

from webnnc.compiler.errors import CompilerError, UnsupportedOperatorError
from webnnc.compiler.ir import DataType, Node, Value

__all__ = [
    "CARRIED",
    "FLOATS",
    "MAX_RANK",
    "MIL_DTYPE_NAMES",
    "MIL_TYPES",
    "NARROW_INTS",
    "NUMERIC",
    "Lowering",
    "LoweringTable",
    "MilContext",
    "OpLowering",
    "as_bool",
    "as_int",
    "broadcast_to",
    "check_node",
    "computes_as",
    "input_type",
    "lower_node",
    "narrow_int64",
    "node_label",
    "op_name",
    "operand",
    "qdq_carrier",
    "unsupported",
]

logger = logging.getLogger(__name__)

TARGET = "coreml"

# WebNN data type -> MIL tensor element type. CoreML's MLMultiArray holds float32, float16
# and int32 (plus float64, which WebNN has no use for); MIL computes in fp16, fp32, int32
# and bool. int64 is *carried* as int32 (see CARRIED); every other WebNN type (uint32,
# uint64, int8, uint8 arithmetic, int4, uint4) has no CoreML counterpart and is rejected at
# build time.
MIL_TYPES: dict[DataType, Any] = {
    DataType.FLOAT32: types.fp32,
    DataType.FLOAT16: types.fp16,
    DataType.INT32: types.int32,
}
# NOTE: int64 is carried as int32 inside the model, as Core ML's own converters do: token
# ids, positions and masks are int64 in every exported language model, and none of them
# comes near 2**31. Constants are narrowed at build time (saturating, with a warning when a
# value does not fit); int64 graph inputs and outputs are int32 in the model and the runtime
# converts them at the boundary, refusing an input value that does not fit in int32.
CARRIED: dict[DataType, DataType] = {DataType.INT64: DataType.INT32}
MAX_RANK = 5  # CoreML's limit for every tensor in a model
FLOATS = frozenset({DataType.FLOAT32, DataType.FLOAT16})
NUMERIC = frozenset({DataType.FLOAT32, DataType.FLOAT16, DataType.INT32})
# WebNN type -> the name MIL's cast takes
MIL_DTYPE_NAMES = {
    DataType.FLOAT32: "fp32", DataType.FLOAT16: "fp16", DataType.INT32: "int32", DataType.INT64: "int32",
}
NARROW_INTS: dict[DataType, tuple[int, int]] = {
    DataType.INT8: (-128, 127), DataType.UINT8: (0, 255), DataType.INT4: (-8, 7), DataType.UINT4: (0, 15),
}


def computes_as(data_type: DataType) -> DataType:
    """The type a WebNN type computes in inside the model (int64 is carried as int32)."""
    return CARRIED.get(data_type, data_type)


def narrow_int64(array: np.ndarray[Any, Any], what: str = "an int64 constant") -> np.ndarray[Any, Any]:
    """``array`` as int32, saturated; a warning when a value had to be clamped."""
    info = np.iinfo(np.int32)
    arr = np.asarray(array)
    if arr.size and (arr.min() < info.min or arr.max() > info.max):
        logger.warning("%s holds values outside int32; they are saturated (CoreML carries int64 as int32)", what)
    return np.clip(arr, info.min, info.max).astype(np.int32)


def node_label(node: Node) -> str:
    """The node's name, else its position in its graph (``#3``): builders rarely name nodes."""
    if node.name:
        return node.name
    if node.graph is not None:
        for i, n in enumerate(node.graph.nodes):
            if n is node:
                return f"#{i}"
    return "?"


def unsupported(node: Node, why: str, hint: str = "") -> UnsupportedOperatorError:
    """An error naming the op, the node and the target, saying why, with an optional hint."""
    msg = f"{node.op_type} (node {node_label(node)}): cannot be lowered to {TARGET}: {why}"
    if hint:
        msg += f"; {hint}"
    return UnsupportedOperatorError(msg)


class MilContext:
    """Maps IR values to MIL variables and hands out deterministic op names."""

    def __init__(self, views: Mapping[int, tuple[int, ...]] | None = None) -> None:
        self._vars: dict[int, Var] = {}
        self._counter = 0
        # values of rank > 5 held in a lower-rank MIL shape (same elements, same order); see _rank
        self.views: Mapping[int, tuple[int, ...]] = views or {}

    def shape_of(self, value: Value) -> tuple[int, ...]:
        """The shape of the value's MIL variable: its IR shape, or its lower-rank view."""
        return self.views.get(id(value), value.shape)

    def fresh(self, hint: str) -> str:
        name = f"{hint}_{self._counter}"
        self._counter += 1
        return name

    def bind(self, value: Value, var: Var) -> None:
        self._vars[id(value)] = var

    def var(self, value: Value | None) -> Var:
        """The MIL variable of an IR value; constants become ``const`` ops on first use."""
        if value is None:
            raise CompilerError("internal: asked for the MIL variable of an omitted operand")
        key = id(value)
        if key not in self._vars:
            if value.const is None:
                raise CompilerError(f"internal: value {value!r} has no MIL variable yet")
            array = value.const
            if value.data_type == DataType.UINT8:  # a boolean (see as_bool): exact in int32
                array = array.astype(np.int32)
            elif value.data_type in CARRIED:
                array = narrow_int64(array)
            self._vars[key] = mb.const(val=_mil_array(array), name=self.fresh("const"))
        return self._vars[key]

    def const(self, array: Any, data_type: DataType, hint: str = "c") -> Var:
        if data_type in CARRIED:
            return mb.const(val=_mil_array(narrow_int64(np.asarray(array, np.int64))), name=self.fresh(hint))
        return mb.const(val=_mil_array(np.asarray(array, data_type.numpy_dtype)), name=self.fresh(hint))


def _mil_array(array: np.ndarray[Any, Any]) -> Any:
    # MIL wants numpy scalars for rank 0 and contiguous arrays otherwise
    arr = np.asarray(array)
    return np.ascontiguousarray(arr) if arr.ndim else arr[()]


Lowering = Callable[[MilContext, Node], "Var | Sequence[Var]"]
_NONE: frozenset[int] = frozenset()


@dataclass(frozen=True)
class OpLowering:
    """One op's lowering and the operand types it accepts.

    Attributes:
        fn: the lowering function.
        data_types: the types it computes on (its first computed operand is checked).
        bool_operands: positions (inputs, then outputs) that may be uint8, WebNN's boolean:
            MIL computes them on bool, and uint8 graph inputs / outputs travel as int32.
        const_int_operands: positions that may hold any integer type when constant (indices,
            quantized weights, zero points): they are folded or converted at build time.
        moves_bool: a data-movement op (reshape, gather, concat, ...): every operand but the
            ``const_int_operands`` may be uint8 too, moved as it is (the lowering casts a MIL
            bool to int32 where the MIL op does not take bool).
    """

    fn: Lowering
    data_types: frozenset[DataType] = NUMERIC
    bool_operands: frozenset[int] = _NONE
    const_int_operands: frozenset[int] = _NONE
    moves_bool: bool = False


class LoweringTable(dict[str, OpLowering]):
    """One family's lowerings (WebNN op name -> :class:`OpLowering`), filled by :meth:`lowers`.

    Each family module owns one table; ``webnnc.compiler.emitters.coreml`` merges them into
    ``LOWERINGS`` from an explicit tuple of families.
    """

    def lowers(
        self,
        *ops: str,
        data_types: frozenset[DataType] = NUMERIC,
        bool_operands: frozenset[int] = _NONE,
        const_int_operands: frozenset[int] = _NONE,
        moves_bool: bool = False,
    ) -> Callable[[Lowering], Lowering]:
        """Decorator: register the function as the lowering of ``ops`` (see :class:`OpLowering`)."""

        def register(fn: Lowering) -> Lowering:
            for op in ops:
                if op in self:
                    raise ValueError(f"{op}: two CoreML lowerings in one family")
                self[op] = OpLowering(fn, data_types, bool_operands, const_int_operands, moves_bool)
            return fn

        return register

    @classmethod
    def merged(cls, tables: Sequence[Mapping[str, OpLowering]]) -> LoweringTable:
        """One table holding every family's entries; an op lowered twice is an error."""
        out = cls()
        for table in tables:
            twice = sorted(set(out) & set(table))
            if twice:
                raise ValueError(f"ops lowered by two CoreML families: {', '.join(twice)}")
            out.update(table)
        return out


def operand(node: Node, i: int = 0) -> Value:
    """Input ``i`` of ``node``, which the op requires."""
    v = node.inputs[i]
    if v is None:
        raise CompilerError(f"internal: {node.op_type} has no operand {i}")
    return v


def input_type(node: Node) -> DataType:
    """The type the node's first operand computes in (most ops compute in it; int64 is int32)."""
    return computes_as(operand(node).data_type)


def op_name(ctx: MilContext, node: Node) -> str:
    """A fresh MIL op name for the op that produces the node's result."""
    return ctx.fresh(node.op_type)


def as_bool(ctx: MilContext, value: Value | None) -> Var:
    """A MIL bool for a WebNN uint8 operand (nonzero is true)."""
    var = ctx.var(value)
    if var.dtype == types.bool:
        return var
    if var.dtype != types.int32:  # a uint8 constant: ctx.var made it int32 already
        raise CompilerError(f"internal: a boolean operand is {types.builtin_to_string(var.dtype)}")
    return mb.not_equal(x=var, y=np.int32(0), name=ctx.fresh("to_bool"))


def as_int(ctx: MilContext, value: Value | None) -> Var:
    """The operand's MIL variable, a MIL bool made int32 (0 / 1) for ops that take no bool."""
    var = ctx.var(value)
    if var.dtype == types.bool:
        return mb.cast(x=var, dtype="int32", name=ctx.fresh("bool_int"))
    return var


def broadcast_to(ctx: MilContext, var: Var, shape: tuple[int, ...], out: tuple[int, ...]) -> Var:
    """``var`` (of ``shape``) tiled to ``out`` (numpy broadcasting rules)."""
    if shape == out:
        return var
    padded = (1,) * (len(out) - len(shape)) + shape
    if padded != shape:
        var = mb.reshape(x=var, shape=np.asarray(padded, np.int32), name=ctx.fresh("bcast_rank"))
    reps = [o // i for o, i in zip(out, padded, strict=True)]
    return mb.tile(x=var, reps=reps, name=ctx.fresh("bcast")) if any(r != 1 for r in reps) else var


def qdq_carrier(v: Value) -> bool:
    """Whether ``v`` is a quantizeLinear result read only by dequantizeLinear (a QDQ pair):
    its narrow integers then travel inside the model as int32, never crossing its boundary."""
    p = v.producer
    if p is None or p.op_type != "quantizeLinear" or v.data_type not in NARROW_INTS or not v.uses:
        return False
    if p.graph is not None and any(o is v for o in p.graph.outputs.values()):
        return False
    return all(n.op_type == "dequantizeLinear" and i == 0 for n, i in v.uses)


def check_node(node: Node, lowerings: Mapping[str, OpLowering], held: Collection[int] = ()) -> None:
    """Raise UnsupportedOperatorError if ``node`` cannot be lowered (op or data types).

    ``held``: ids of the rank > 5 values the program holds at a lower rank (see ``_rank``).
    """
    entry = lowerings.get(node.op_type)
    if entry is None:
        raise unsupported(
            node,
            "no CoreML lowering for this operator",
            f"supported: {', '.join(sorted(lowerings))}; or compile for onnx-cpu",
        )
    for v in [*node.inputs, *node.outputs]:
        if v is not None and v.rank > MAX_RANK and id(v) not in held:
            raise unsupported(
                node,
                f"CoreML tensors have rank <= {MAX_RANK}; found rank {v.rank}",
                "a rank > 5 value is held at a lower rank only between reshape and transpose ops "
                "whose permutation keeps at most 5 groups of adjacent dimensions",
            )
    allowed = entry.data_types
    bool_ok = entry.bool_operands
    const_ok = entry.const_int_operands
    n_in = len(node.inputs)

    def moved_bool(pos: int, v: Value) -> bool:  # a uint8 operand a data-movement op moves
        return entry.moves_bool and v.data_type == DataType.UINT8 and pos not in const_ok

    for pos, v in [*enumerate(node.inputs), *((n_in + i, o) for i, o in enumerate(node.outputs))]:
        if v is None or computes_as(v.data_type) in MIL_TYPES:
            continue
        if v.data_type == DataType.UINT8 and pos in bool_ok:
            continue
        if moved_bool(pos, v) or qdq_carrier(v):
            continue
        if pos in const_ok and v.is_constant and v.data_type.is_integer:
            continue
        raise unsupported(
            node,
            f"data type {v.data_type.value} has no CoreML counterpart here "
            f"(CoreML computes on {', '.join(t.value for t in MIL_TYPES)}, and int64 as int32"
            f"{'; uint8 only as a boolean' if bool_ok or entry.moves_bool else ''})",
            "cast to one of those, or compile for onnx-cpu",
        )
    computed = [
        computes_as(v.data_type) for i, v in enumerate(node.inputs)
        if v is not None and i not in bool_ok and not (i in const_ok and v.is_constant)
        and not qdq_carrier(v) and not moved_bool(i, v)
    ]
    for dt in computed[:1]:
        if dt not in allowed:
            raise unsupported(
                node,
                f"MIL computes {node.op_type} on {', '.join(sorted(t.value for t in allowed))} only; "
                f"found {dt.value}",
                "compile for onnx-cpu",
            )


def lower_node(ctx: MilContext, node: Node, lowerings: Mapping[str, OpLowering]) -> None:
    """Lower one node through ``lowerings`` and bind its outputs; check MIL's shapes against the IR's."""
    check_node(node, lowerings, ctx.views)
    result = lowerings[node.op_type].fn(ctx, node)
    outs = [result] if isinstance(result, Var) else list(result)
    if len(outs) != len(node.outputs):
        raise CompilerError(
            f"internal: the CoreML lowering of {node.op_type} made {len(outs)} outputs, expected {len(node.outputs)}"
        )
    for value, var in zip(node.outputs, outs, strict=True):
        got = tuple(int(d) for d in var.shape)
        if got != ctx.shape_of(value):
            raise CompilerError(
                f"internal: the CoreML lowering of {node.op_type} (node {node_label(node)}) gives shape "
                f"{list(got)}, the IR says {list(ctx.shape_of(value))}"
            )
        ctx.bind(value, var)
