"""Numpy evaluators for constant folding, one per WebNN operator, in one registry.

An evaluator receives the node and its inputs as arrays (``None`` for omitted optional
operands) and returns one array per output, or ``None`` to decline (for example integer
division by zero, whose result the backend defines differently from numpy). The folding
pass casts and checks what an evaluator returns against the node's output descriptors.

# NOTE: kernels compute in the operand's own numpy type (float16 in float32, then rounded)
# with floating-point warnings silenced: an overflow to inf is a legitimate result that
# the backend would compute too. Kernels read output shapes and types from the node's
# descriptors where the operator allows it, so a new operator family only needs the rule.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from webnnc.compiler.ir import Node

__all__ = ["FOLD_RULES", "FoldRule", "fold_rule"]

Array = np.ndarray[Any, Any]
FoldRule = Callable[[Node, Sequence[Array | None]], Sequence[Array] | None]

FOLD_RULES: dict[str, FoldRule] = {}


def fold_rule(*op_types: str) -> Callable[[FoldRule], FoldRule]:
    """Register ``fn`` as the folding evaluator of ``op_types`` (the one decorator registry)."""

    def register(fn: FoldRule) -> FoldRule:
        for op in op_types:
            if op in FOLD_RULES:
                raise RuntimeError(f"two folding rules for operator {op!r}")
            FOLD_RULES[op] = fn
        return fn

    return register


def _wide(x: Array) -> Array:
    """float16 computes in float32 (then rounds once), like the backends do."""
    return x.astype(np.float32) if x.dtype == np.float16 else x


def _first(args: Sequence[Array | None]) -> Array:
    x = args[0]
    assert x is not None
    return x


# ---------------------------------------------------------------- element-wise binary
_BINARY: dict[str, Callable[[Array, Array], Array]] = {
    "add": np.add,
    "sub": np.subtract,
    "mul": np.multiply,
    "max": np.maximum,
    "min": np.minimum,
}


@fold_rule(*_BINARY)
def _binary(node: Node, args: Sequence[Array | None]) -> Sequence[Array]:
    a, b = args
    assert a is not None and b is not None
    return [_BINARY[node.op_type](_wide(a), _wide(b))]


@fold_rule("div")
def _div(node: Node, args: Sequence[Array | None]) -> Sequence[Array] | None:
    a, b = args
    assert a is not None and b is not None
    if a.dtype.kind in "iu":
        if np.any(b == 0):
            return None  # integer division by zero: leave it to the backend
        q = np.abs(a) // np.abs(b)  # WebNN integer division truncates toward zero
        return [np.where((a < 0) != (b < 0), -q, q) if a.dtype.kind == "i" else q]
    return [np.true_divide(_wide(a), _wide(b))]


@fold_rule("pow")
def _pow(node: Node, args: Sequence[Array | None]) -> Sequence[Array] | None:
    a, b = args
    assert a is not None and b is not None
    if a.dtype.kind in "iu" and np.any(b < 0):
        return None
    return [np.power(_wide(a), _wide(b))]


# ---------------------------------------------------------------- element-wise unary
def _sigmoid(x: Array) -> Array:
    out: Array = 1.0 / (1.0 + np.exp(-x))
    return out


_UNARY: dict[str, Callable[[Array], Array]] = {
    "relu": lambda x: np.maximum(x, np.zeros((), x.dtype)),
    "sigmoid": _sigmoid,
    "tanh": np.tanh,
    "exp": np.exp,
    "log": np.log,
    "abs": np.abs,
    "neg": np.negative,
    "sqrt": np.sqrt,
    "floor": np.floor,
    "ceil": np.ceil,
    "sin": np.sin,
    "cos": np.cos,
    "reciprocal": np.reciprocal,
    "identity": lambda x: x,
}


@fold_rule(*_UNARY)
def _unary(node: Node, args: Sequence[Array | None]) -> Sequence[Array] | None:
    x = _first(args)
    if node.op_type == "reciprocal" and x.dtype.kind in "iu":
        return None
    return [_UNARY[node.op_type](_wide(x))]


@fold_rule("clamp")
def _clamp(node: Node, args: Sequence[Array | None]) -> Sequence[Array]:
    x = _wide(_first(args))
    lo, hi = node.attributes["min_value"], node.attributes["max_value"]
    if x.dtype.kind in "iu":
        # exact integer bounds (a float64 near 2**63 does not round-trip through int64)
        info = np.iinfo(x.dtype)
        lo_i = info.min if lo <= info.min else min(math.ceil(lo), info.max)
        hi_i = info.max if hi >= info.max else max(math.floor(hi), info.min)
        return [np.clip(x, x.dtype.type(lo_i), x.dtype.type(hi_i))]
    lo, hi = float(lo), float(hi)
    return [np.clip(x, x.dtype.type(lo), x.dtype.type(hi))]


@fold_rule("cast")
def _cast(node: Node, args: Sequence[Array | None]) -> Sequence[Array]:
    return [_first(args).astype(node.outputs[0].data_type.numpy_dtype)]


# ---------------------------------------------------------------- shapes
@fold_rule("reshape")
def _reshape(node: Node, args: Sequence[Array | None]) -> Sequence[Array]:
    return [_first(args).reshape(node.outputs[0].shape)]


@fold_rule("expand")
def _expand(node: Node, args: Sequence[Array | None]) -> Sequence[Array]:
    return [np.broadcast_to(_first(args), node.outputs[0].shape)]


@fold_rule("transpose")
def _transpose(node: Node, args: Sequence[Array | None]) -> Sequence[Array]:
    return [np.transpose(_first(args), node.attributes["permutation"])]


@fold_rule("concat")
def _concat(node: Node, args: Sequence[Array | None]) -> Sequence[Array]:
    parts = [a for a in args if a is not None]
    return [np.concatenate(parts, axis=int(node.attributes["axis"]))]


# ---------------------------------------------------------------- linear algebra, normalization
@fold_rule("matmul")
def _matmul(node: Node, args: Sequence[Array | None]) -> Sequence[Array]:
    a, b = args
    assert a is not None and b is not None
    return [np.matmul(_wide(a), _wide(b))]


@fold_rule("gemm")
def _gemm(node: Node, args: Sequence[Array | None]) -> Sequence[Array]:
    a, b, c = args
    assert a is not None and b is not None
    at = node.attributes
    a2 = _wide(a).T if at["a_transpose"] else _wide(a)
    b2 = _wide(b).T if at["b_transpose"] else _wide(b)
    y = a2 @ b2 * a2.dtype.type(at["alpha"])
    if c is not None:
        y = y + _wide(c) * a2.dtype.type(at["beta"])
    return [y]


@fold_rule("softmax")
def _softmax(node: Node, args: Sequence[Array | None]) -> Sequence[Array]:
    x = _wide(_first(args))
    axis = int(node.attributes["axis"])
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return [e / np.sum(e, axis=axis, keepdims=True)]


@fold_rule("reduceMean")
def _reduce_mean(node: Node, args: Sequence[Array | None]) -> Sequence[Array]:
    x = _wide(_first(args))
    axes = tuple(node.attributes["axes"])
    keep = bool(node.attributes["keep_dimensions"])
    return [np.mean(x, axis=axes, keepdims=keep, dtype=x.dtype) if axes else x]


@fold_rule("batchNormalization")
def _batch_normalization(node: Node, args: Sequence[Array | None]) -> Sequence[Array]:
    x, mean, var, scale, bias = (None if a is None else _wide(a) for a in args)
    assert x is not None and mean is not None and var is not None
    axis = int(node.attributes["axis"])
    shape = [1] * x.ndim
    shape[axis] = x.shape[axis]
    eps = x.dtype.type(node.attributes["epsilon"])
    y = (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + eps)
    if scale is not None:
        y = y * scale.reshape(shape)
    if bias is not None:
        y = y + bias.reshape(shape)
    return [y]


# ---------------------------------------------------------------- comparisons, logic, selection
_COMPARE: dict[str, Callable[[Array, Array], Array]] = {
    "equal": np.equal,
    "notEqual": np.not_equal,
    "greater": np.greater,
    "greaterOrEqual": np.greater_equal,
    "lesser": np.less,
    "lesserOrEqual": np.less_equal,
}
_LOGIC: dict[str, Callable[[Array, Array], Array]] = {
    "logicalAnd": np.logical_and,
    "logicalOr": np.logical_or,
    "logicalXor": np.logical_xor,
}


@fold_rule(*_COMPARE, *_LOGIC)
def _compare(node: Node, args: Sequence[Array | None]) -> Sequence[Array]:
    a, b = args
    assert a is not None and b is not None
    if node.op_type in _LOGIC:
        return [_LOGIC[node.op_type](a != 0, b != 0).astype(np.uint8)]
    return [_COMPARE[node.op_type](a, b).astype(np.uint8)]


@fold_rule("logicalNot")
def _logical_not(node: Node, args: Sequence[Array | None]) -> Sequence[Array]:
    return [(_first(args) == 0).astype(np.uint8)]


@fold_rule("isNaN", "isInfinite")
def _classify(node: Node, args: Sequence[Array | None]) -> Sequence[Array]:
    x = _first(args)
    test = np.isnan if node.op_type == "isNaN" else np.isinf
    return [test(x).astype(np.uint8)]


@fold_rule("where")
def _where(node: Node, args: Sequence[Array | None]) -> Sequence[Array]:
    cond, t, f = args
    assert cond is not None and t is not None and f is not None
    return [np.broadcast_to(np.where(cond != 0, t, f), node.outputs[0].shape)]


# ---------------------------------------------------------------- more unary math, activations
_MORE_UNARY: dict[str, Callable[[Array], Array]] = {
    "sign": np.sign,
    "roundEven": np.rint,  # rounds half to even
    "tan": np.tan,
    "softsign": lambda x: x / (1 + np.abs(x)),
    "softplus": lambda x: np.logaddexp(np.zeros((), x.dtype), x),
    "hardSwish": lambda x: x * np.clip(x + 3, 0, 6) / 6,
}


@fold_rule(*_MORE_UNARY)
def _more_unary(node: Node, args: Sequence[Array | None]) -> Sequence[Array]:
    return [_MORE_UNARY[node.op_type](_wide(_first(args)))]


@fold_rule("elu", "leakyRelu", "hardSigmoid", "linear")
def _parametric(node: Node, args: Sequence[Array | None]) -> Sequence[Array]:
    x = _wide(_first(args))
    alpha = x.dtype.type(node.attributes["alpha"])
    if node.op_type == "elu":
        return [np.where(x > 0, x, alpha * np.expm1(x))]
    if node.op_type == "leakyRelu":
        return [np.where(x >= 0, x, alpha * x)]
    beta = x.dtype.type(node.attributes["beta"])
    if node.op_type == "hardSigmoid":
        return [np.clip(alpha * x + beta, 0, 1)]
    return [alpha * x + beta]


# ---------------------------------------------------------------- reductions
def _keep(node: Node) -> tuple[tuple[int, ...], bool]:
    return tuple(node.attributes["axes"]), bool(node.attributes["keep_dimensions"])


_REDUCE: dict[str, Callable[[Array, tuple[int, ...], bool], Array]] = {
    "reduceSum": lambda x, a, k: np.sum(x, axis=a, keepdims=k, dtype=x.dtype),
    "reduceMax": lambda x, a, k: np.max(x, axis=a, keepdims=k),
    "reduceMin": lambda x, a, k: np.min(x, axis=a, keepdims=k),
    "reduceProduct": lambda x, a, k: np.prod(x, axis=a, keepdims=k, dtype=x.dtype),
    "reduceL1": lambda x, a, k: np.sum(np.abs(x), axis=a, keepdims=k, dtype=x.dtype),
    "reduceL2": lambda x, a, k: np.sqrt(np.sum(x * x, axis=a, keepdims=k, dtype=x.dtype)),
    "reduceSumSquare": lambda x, a, k: np.sum(x * x, axis=a, keepdims=k, dtype=x.dtype),
    "reduceLogSum": lambda x, a, k: np.log(np.sum(x, axis=a, keepdims=k, dtype=x.dtype)),
}


@fold_rule(*_REDUCE, "reduceLogSumExp")
def _reduce(node: Node, args: Sequence[Array | None]) -> Sequence[Array] | None:
    x = _wide(_first(args))
    axes, keep = _keep(node)
    if not axes or x.size == 0:
        return None  # the spec's empty-axes and empty-input cases stay with the backend
    if node.op_type == "reduceLogSumExp":
        m = np.max(x, axis=axes, keepdims=True)
        m = np.where(np.isfinite(m), m, 0)
        y = np.log(np.sum(np.exp(x - m), axis=axes, keepdims=True)) + m
        return [y if keep else np.squeeze(y, axis=axes)]
    return [_REDUCE[node.op_type](x, axes, keep)]


# ---------------------------------------------------------------- data movement
@fold_rule("slice")
def _slice(node: Node, args: Sequence[Array | None]) -> Sequence[Array]:
    at = node.attributes
    index = tuple(
        slice(s, s + n, k) for s, n, k in zip(at["starts"], at["sizes"], at["strides"], strict=True)
    )
    return [_first(args)[index]]


@fold_rule("tile")
def _tile(node: Node, args: Sequence[Array | None]) -> Sequence[Array]:
    return [np.tile(_first(args), node.attributes["repetitions"])]


@fold_rule("reverse")
def _reverse(node: Node, args: Sequence[Array | None]) -> Sequence[Array]:
    return [np.flip(_first(args), axis=tuple(node.attributes["axes"]))]


@fold_rule("split")
def _split(node: Node, args: Sequence[Array | None]) -> Sequence[Array]:
    axis = int(node.attributes["axis"])
    bounds = np.cumsum([out.shape[axis] for out in node.outputs])[:-1]
    return np.split(_first(args), bounds, axis=axis)
