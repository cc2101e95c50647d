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
    lo, hi = float(node.attributes["min_value"]), float(node.attributes["max_value"])
    if x.dtype.kind in "iu":
        # exact integer bounds (a float64 near 2**63 does not round-trip through int64)
        info = np.iinfo(x.dtype)
        lo_i = info.min if lo <= info.min else min(math.ceil(lo), info.max)
        hi_i = info.max if hi >= info.max else max(math.floor(hi), info.min)
        return [np.clip(x, x.dtype.type(lo_i), x.dtype.type(hi_i))]
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
