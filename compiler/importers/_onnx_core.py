"""The ONNX importer's shared machinery: the op table, the per-node view, the errors.

# NOTE: converters are plain functions registered with :func:`onnx_op`; each declares the
# WebNN operators it emits, so the coverage table (COVERAGE.md) is generated from the same
# registry the importer runs. A converter calls the public ``MLGraphBuilder`` methods only,
# through :meth:`ImportContext.call`, so operators added to the builder later are picked up
# without touching the importer; a builder method that does not exist yet becomes a clear
# "unsupported" problem instead of an AttributeError.
#
# This module never imports onnx: node attributes arrive already decoded (see
# ``onnx_importer._decode_attributes``), which keeps the ONNX dependency in one place.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import numpy as np

from webnnc.compiler.errors import CompilerError, UnsupportedOperatorError
from webnnc.compiler.frontend import MLGraphBuilder, MLOperand
from webnnc.compiler.ops import OP_TO_METHOD, snake_case

__all__ = [
    "CONVERTERS",
    "UNSUPPORTED_ONNX_OPS",
    "Converter",
    "ONNX_TO_NUMPY",
    "ImportContext",
    "OnnxImportError",
    "OnnxNode",
    "Unsupported",
    "UnsupportedOnnxOperatorsError",
    "Tensor",
    "UnsupportedProblem",
    "builder_method",
    "onnx_op",
    "summarize_problems",
]

Tensor: TypeAlias = MLOperand | np.ndarray[Any, Any]  # an operand, or a constant not yet handed to the builder


class OnnxImportError(CompilerError, ValueError):
    """The ONNX model cannot be imported (unreadable file, dynamic shapes, bad opset)."""


@dataclass(frozen=True)
class UnsupportedProblem:
    """One node the importer cannot express in WebNN, and why."""

    node: str
    op_type: str
    opset: int
    reason: str

    def __str__(self) -> str:
        return f"node {self.node!r} ({self.op_type}, opset {self.opset}): {self.reason}"


class UnsupportedOnnxOperatorsError(UnsupportedOperatorError):
    """Every ONNX node (op or attribute) the importer cannot map, reported at once.

    The message groups the nodes that fail the same way (operator, opset, reason) into one
    line with their count and first few names, and opens with the operators that block the
    import: a detector with 180 ``NonZero`` nodes and one ``If`` reads as two lines, not 181.
    ``problems`` keeps every node.
    """

    def __init__(self, problems: Sequence[UnsupportedProblem], model: str = "model") -> None:
        self.problems = tuple(problems)
        super().__init__(summarize_problems(self.problems, model))


_NAMES_SHOWN = 3  # node names shown per group of identical problems
_GROUPS_SHOWN = 25  # groups listed before "... and N more"


def summarize_problems(problems: Sequence[UnsupportedProblem], model: str = "model") -> str:
    """The grouped, bounded report of ``problems`` (see :class:`UnsupportedOnnxOperatorsError`).

    >>> ps = [UnsupportedProblem(f"nz{i}", "NonZero", 11, "data-dependent shape") for i in range(5)]
    >>> print(summarize_problems([*ps, UnsupportedProblem("cond", "If", 11, "control flow")], "ssd.onnx"))
    ssd.onnx: 6 ONNX node(s) cannot be expressed in WebNN; blocking operators: NonZero (5), If (1)
      - 5 NonZero nodes (opset 11): data-dependent shape; nodes 'nz0', 'nz1', 'nz2' and 2 more
      - node 'cond' (If, opset 11): control flow
    """
    groups: dict[tuple[str, int, str], list[str]] = {}
    per_op: dict[str, int] = {}
    for p in problems:
        groups.setdefault((p.op_type, p.opset, p.reason), []).append(p.node)
        per_op[p.op_type] = per_op.get(p.op_type, 0) + 1
    blocking = ", ".join(f"{op} ({n})" for op, n in sorted(per_op.items(), key=lambda kv: -kv[1]))
    lines = [f"{model}: {len(problems)} ONNX node(s) cannot be expressed in WebNN; blocking operators: {blocking}"]
    ordered = sorted(groups.items(), key=lambda kv: -len(kv[1]))  # stable: first seen first among equals
    for (op, opset, reason), nodes in ordered[:_GROUPS_SHOWN]:
        if len(nodes) == 1:
            lines.append(f"  - {UnsupportedProblem(nodes[0], op, opset, reason)}")
            continue
        shown = ", ".join(repr(n) for n in nodes[:_NAMES_SHOWN])
        more = f" and {len(nodes) - _NAMES_SHOWN} more" if len(nodes) > _NAMES_SHOWN else ""
        lines.append(f"  - {len(nodes)} {op} nodes (opset {opset}): {reason}; nodes {shown}{more}")
    if len(ordered) > _GROUPS_SHOWN:
        rest = sum(len(nodes) for _, nodes in ordered[_GROUPS_SHOWN:])
        lines.append(f"  ... and {rest} more node(s) in {len(ordered) - _GROUPS_SHOWN} other groups")
    return "\n".join(lines)


class Unsupported(Exception):  # noqa: N818 - internal signal, converted to UnsupportedProblem
    """Raised by a converter: this node (or one of its attributes) has no WebNN mapping."""


@dataclass(frozen=True)
class Converter:
    """An ONNX operator's mapping: the WebNN operators it becomes, and the function."""

    onnx_op: str
    webnn_ops: tuple[str, ...]
    convert: Callable[[ImportContext, OnnxNode], list[Tensor | None]]
    note: str = ""


CONVERTERS: dict[str, Converter] = {}

# ONNX operators deliberately not mapped, with the reason (also listed in COVERAGE.md).
UNSUPPORTED_ONNX_OPS: dict[str, str] = {
    "Loop": "control flow: WebNN graphs have no loops",
    "If": "control flow: WebNN graphs have no conditionals (inlined when the condition is constant)",
    "Scan": "control flow: WebNN graphs have no loops",
    "NonZero": "output shape depends on the data; WebNN needs static shapes",
    "NonMaxSuppression": "output shape depends on the data; WebNN needs static shapes",
    "Unique": "output shape depends on the data; WebNN needs static shapes",
    "Compress": "output shape depends on the data; WebNN needs static shapes",
    "Mod": "WebNN has no remainder operator",
    "BitShift": "WebNN has no bit-shift operators",
    "Det": "WebNN has no determinant operator",
    "ReverseSequence": "per-batch sequence lengths have no WebNN equivalent",
    "CumProd": "WebNN has cumulativeSum only",
    "BitwiseAnd": "WebNN has no bitwise operators",
    "BitwiseOr": "WebNN has no bitwise operators",
    "BitwiseXor": "WebNN has no bitwise operators",
    "BitwiseNot": "WebNN has no bitwise operators",
    "BitCast": "WebNN cannot reinterpret bits",
    "Sinh": "WebNN has no hyperbolic functions besides tanh",
    "Cosh": "WebNN has no hyperbolic functions besides tanh",
    "Asinh": "WebNN has no inverse hyperbolic functions",
    "Acosh": "WebNN has no inverse hyperbolic functions",
    "Atanh": "WebNN has no inverse hyperbolic functions",
    "Asin": "WebNN has no inverse trigonometric functions",
    "Acos": "WebNN has no inverse trigonometric functions",
    "Atan": "WebNN has no inverse trigonometric functions",
    "DeformConv": "WebNN has no deformable convolution",
    "ImageDecoder": "WebNN has no image decoding",
    "StringConcat": "WebNN has no string data type",
    "StringSplit": "WebNN has no string data type",
    "RegexFullMatch": "WebNN has no string data type",
    "RNN": "WebNN has no plain RNN operator (only gru/lstm)",
    "RoiAlign": "WebNN has no ROI operators",
    "MaxRoiPool": "WebNN has no ROI operators",
    "MaxUnpool": "WebNN has no unpooling operator",
    "RandomNormal": "non-deterministic: WebNN has no random number generators",
    "RandomUniform": "non-deterministic: WebNN has no random number generators",
    "RandomNormalLike": "non-deterministic: WebNN has no random number generators",
    "RandomUniformLike": "non-deterministic: WebNN has no random number generators",
    "Multinomial": "non-deterministic: WebNN has no random number generators",
    "Bernoulli": "non-deterministic: WebNN has no random number generators",
    "StringNormalizer": "WebNN has no string data type",
    "TfIdfVectorizer": "WebNN has no string data type",
    "ConvInteger": "WebNN conv2d has no integer accumulation",
    "MatMulInteger": "WebNN matmul has no integer accumulation",
    "QLinearConv": "WebNN has no fused quantized convolution (use Q/DQ pairs)",
    "QLinearMatMul": "WebNN has no fused quantized matmul (use Q/DQ pairs)",
    "STFT": "WebNN has no spectral operators",
    "DFT": "WebNN has no spectral operators",
    "GridSample": "WebNN has no grid sampling",
    "Col2Im": "WebNN has no col2im",
    "OptionalHasElement": "WebNN has no optional types",
    "SequenceConstruct": "WebNN has no sequence types",
    "SplitToSequence": "WebNN has no sequence types",
    "ConcatFromSequence": "WebNN has no sequence types",
}

ONNX_TO_NUMPY: dict[int, str] = {  # TensorProto.DataType -> numpy dtype name
    1: "float32", 2: "uint8", 3: "int8", 6: "int32", 7: "int64", 9: "bool",
    10: "float16", 11: "float64", 12: "uint32", 13: "uint64", 4: "uint16", 5: "int16",
}
_OPS_WITH_NO_RUNTIME_FORM: frozenset[str] = frozenset(
    {"Constant", "ConstantOfShape", "Shape", "Size", "Range", "EyeLike"}
)


def onnx_op(
    *names: str, webnn: Sequence[str] | Mapping[str, Sequence[str]], note: str = ""
) -> Callable[[Callable[[ImportContext, OnnxNode], list[Tensor | None]]], Callable[..., Any]]:
    """Register a converter for one or more ONNX operator types.

    ``webnn`` lists the WebNN operators emitted, or maps each ONNX name to its own list.
    """

    def register(
        fn: Callable[[ImportContext, OnnxNode], list[Tensor | None]],
    ) -> Callable[[ImportContext, OnnxNode], list[Tensor | None]]:
        for name in names:
            if name in CONVERTERS:
                raise RuntimeError(f"ONNX op {name!r} registered twice")
            ops = webnn[name] if isinstance(webnn, Mapping) else webnn
            CONVERTERS[name] = Converter(name, tuple(ops), fn, note)
        return fn

    return register


def builder_method(webnn_op: str) -> str:
    """The builder method name of a WebNN operator (pywebnn's snake_case).

    >>> builder_method("reduceMean"), builder_method("convTranspose2d"), builder_method("isNaN")
    ('reduce_mean', 'conv_transpose2d', 'is_nan')
    """
    return OP_TO_METHOD.get(webnn_op) or snake_case(webnn_op)


@dataclass
class OnnxNode:
    """A node as converters see it: decoded attributes, resolved inputs, the opset."""

    name: str
    op_type: str
    opset: int
    inputs: list[Tensor | None]
    attrs: dict[str, Any]
    num_outputs: int
    used_outputs: frozenset[int] = field(default_factory=frozenset)

    def attr(self, name: str, default: Any = None) -> Any:
        return self.attrs.get(name, default)

    def input(self, i: int) -> Tensor | None:
        return self.inputs[i] if i < len(self.inputs) else None

    def const(self, i: int, what: str, default: np.ndarray | None = None) -> np.ndarray | None:
        """Input ``i`` as a constant array (None/default when omitted)."""
        t = self.input(i)
        if t is None:
            return default
        if isinstance(t, MLOperand):
            raise Unsupported(
                f"input {i} ({what}) is computed at run time; WebNN needs it as a constant "
                "(give static input shapes so it can be folded)"
            )
        return t

    def ints(self, i: int, what: str) -> list[int] | None:
        arr = self.const(i, what)
        return None if arr is None else [int(v) for v in np.asarray(arr).reshape(-1)]

    def reject_attr(self, name: str, allowed: Any, why: str) -> None:
        """Raise Unsupported when attribute ``name`` is set to something other than ``allowed``."""
        value = self.attrs.get(name, allowed)
        if value != allowed:
            raise Unsupported(f"attribute {name}={value!r} is not supported: {why}")

    def only_first_output(self, what: str = "the extra outputs") -> None:
        if any(i > 0 for i in self.used_outputs):
            raise Unsupported(f"{what} (output index >= 1) are used; WebNN computes only output 0")


class ImportContext:
    """Converter helpers around one builder: constants, shapes, and builder calls."""

    def __init__(self, builder: MLGraphBuilder) -> None:
        self.builder = builder
        self._consts: dict[int, tuple[np.ndarray, MLOperand]] = {}

    # -- operands
    def operand(self, t: Tensor, like: MLOperand | None = None) -> MLOperand:
        """An operand for ``t``; constants are created once (bool becomes uint8 as in WebNN).

        ``like``: cast a constant to that operand's data type (ONNX mixes scalar types in
        places WebNN does not, e.g. Pow's exponent).
        """
        if isinstance(t, MLOperand):
            return t
        arr: np.ndarray[Any, Any] = np.asarray(t)
        if arr.dtype == np.bool_:
            arr = arr.astype(np.uint8)
        elif arr.dtype == np.float64 and like is None:
            arr = arr.astype(np.float32)
        if like is not None:
            arr = arr.astype(like._dt().numpy_dtype)
        key = id(t)
        hit = self._consts.get(key)
        if hit is not None and hit[0] is t and like is None:
            return hit[1]
        if arr.dtype.kind not in "biuf" or arr.dtype in (np.int16, np.uint16, np.float64):
            raise Unsupported(f"constant of numpy type {arr.dtype} has no WebNN data type")
        op = self.builder.constant(arr)
        if like is None:
            self._consts[key] = (t, op)  # keep t alive so its id stays unique
        return op

    def scalar(self, value: float, like: MLOperand, rank: int | None = None) -> MLOperand:
        """A constant of ``like``'s data type, shaped [1]*rank (default: like's rank)."""
        r = like.rank if rank is None else rank
        arr = np.full([1] * r, value, dtype=like._dt().numpy_dtype)
        return self.builder.constant(arr)

    @staticmethod
    def shape(t: Tensor) -> list[int]:
        return list(t.shape)

    # -- builder calls
    def has(self, webnn_op: str) -> bool:
        return callable(getattr(self.builder, builder_method(webnn_op), None))

    def call(self, webnn_op: str, *args: Any, **options: Any) -> Any:
        """Call the builder method of ``webnn_op``; operands may be constants (np arrays)."""
        method = getattr(self.builder, builder_method(webnn_op), None)
        if not callable(method):
            raise Unsupported(f"the webnnc builder has no WebNN operator {webnn_op!r} yet")
        conv: list[Any] = []
        for a in args:
            if isinstance(a, np.ndarray):
                conv.append(self.operand(a))
            elif isinstance(a, list) and a and all(isinstance(x, MLOperand | np.ndarray) for x in a):
                conv.append([self.operand(x) for x in a])
            else:
                conv.append(a)
        opts = {k: (self.operand(v) if isinstance(v, np.ndarray) else v) for k, v in options.items()}
        return method(*conv, **{k: v for k, v in opts.items() if v is not None})

    def reshape(self, x: Tensor, shape: Sequence[int]) -> MLOperand:
        shape = [int(d) for d in shape]
        op = self.operand(x)
        if list(op.shape) == shape:
            return op
        result: MLOperand = self.call("reshape", op, shape)
        return result


def normalize_axis(axis: int, rank: int, what: str = "axis") -> int:
    """Map a possibly negative ONNX axis into ``[0, rank)``.

    >>> normalize_axis(-1, 4)
    3
    """
    a = int(axis)
    if not -rank <= a < max(rank, 1):
        raise Unsupported(f"{what} {axis} is out of range for rank {rank}")
    return a % rank if rank else 0


def prod(values: Sequence[int]) -> int:
    return math.prod(int(v) for v in values)
