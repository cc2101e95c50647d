"""What each operator accepts: data types and ranks per operand, for the onnx-cpu target.

One table, :data:`OP_SUPPORT`, serves two readers:

- builder validation (:func:`check_operand`), so a graph that builds is one that runs, and an
  operand type the spec allows but ONNX Runtime's CPU provider does not execute fails at
  build time with "unsupported data type for <op> on onnx-cpu";
- ``MLContext.op_support_limits()`` (:func:`op_support_limits`), the spec's
  ``opSupportLimits()`` dictionary, which therefore never promises what would not build.

Each entry maps the spec's operand names (plus ``"output"``) to :class:`OperandLimits`. The
``spec`` set is what the WebNN spec allows; ``data_types`` is the subset webnnc runs on
onnx-cpu (measured against onnxruntime 1.32: every listed type has a test that builds and
runs it, see ``tests/compiler/frontend/test_op_support.py``).

To add an operator: add one entry with :func:`operand` values, e.g.::

    "conv2d": {"input": operand(FLOATS, ranks=(4, 4)), "filter": operand(FLOATS, ranks=(4, 4)),
               "bias": operand(FLOATS, ranks=(1, 1)), "output": operand(FLOATS, ranks=(4, 4))},
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from webnnc.compiler.errors import ValidationError, WebNNTypeError
from webnnc.compiler.ir import DataType, Value

__all__ = [
    "ALL",
    "BACKEND",
    "FLOATS",
    "INT4S",
    "MAX_RANK",
    "NUMERIC",
    "OP_SUPPORT",
    "SIGNED",
    "UINT8",
    "OperandLimits",
    "check_operand",
    "limits_for",
    "op_support_limits",
    "operand",
]

BACKEND = "onnx-cpu"
MAX_RANK = 8
"""Largest operand rank webnnc accepts (checked at build time for every listed operand)."""

_T = DataType
ALL = frozenset(DataType)
INT4S = frozenset({_T.INT4, _T.UINT4})
NUMERIC = ALL - INT4S  # every type ONNX Runtime's CPU kernels handle as a plain tensor
FLOATS = frozenset({_T.FLOAT32, _T.FLOAT16})
SIGNED = frozenset({_T.FLOAT32, _T.FLOAT16, _T.INT32, _T.INT64, _T.INT8})
UINT8 = frozenset({_T.UINT8})
_INDEX = frozenset({_T.INT32, _T.INT64})
# reduceSum & co. (spec): floats and the 32/64-bit integers
_SUMMABLE = frozenset({_T.FLOAT32, _T.FLOAT16, _T.INT32, _T.UINT32, _T.INT64, _T.UINT64})
_QUANTIZED = frozenset({_T.INT4, _T.UINT4, _T.INT8, _T.UINT8, _T.INT32})


@dataclass(frozen=True)
class OperandLimits:
    """Data types and rank range one operand may have."""

    data_types: frozenset[DataType]
    spec: frozenset[DataType]
    min_rank: int = 0
    max_rank: int = MAX_RANK

    def as_dict(self) -> dict[str, Any]:
        """The spec's ``MLTensorLimits`` form: ``{"dataTypes": [...], "rankRange": {...}}``."""
        return {
            "dataTypes": [t.value for t in DataType if t in self.data_types],
            "rankRange": {"min": self.min_rank, "max": self.max_rank},
        }


def operand(
    data_types: Iterable[DataType],
    *,
    spec: Iterable[DataType] | None = None,
    ranks: tuple[int, int] = (0, MAX_RANK),
) -> OperandLimits:
    """Limits of one operand: ``data_types`` run on onnx-cpu; ``spec`` (default: the same) is
    what the WebNN spec allows; ``ranks`` is the inclusive rank range."""
    types = frozenset(data_types)
    return OperandLimits(types, frozenset(spec) if spec is not None else types, ranks[0], ranks[1])


def _same(limits: OperandLimits, *names: str) -> dict[str, OperandLimits]:
    return dict.fromkeys(names, limits)


def _binary(types: Iterable[DataType], spec: Iterable[DataType] = ALL) -> dict[str, OperandLimits]:
    lim = operand(types, spec=spec)
    return _same(lim, "a", "b", "output")


def _unary(types: Iterable[DataType], spec: Iterable[DataType] | None = None) -> dict[str, OperandLimits]:
    lim = operand(types, spec=spec)
    return _same(lim, "input", "output")


_COMPARE = {"a": operand(NUMERIC, spec=ALL), "b": operand(NUMERIC, spec=ALL), "output": operand(UINT8)}
_LOGICAL = _same(operand(UINT8), "a", "b", "output")
_REDUCE_SUM = _unary(_SUMMABLE)
_REDUCE_FLOAT = _unary(FLOATS)
_ARG = {"input": operand(NUMERIC, spec=ALL, ranks=(1, MAX_RANK)), "output": operand(_INDEX)}

# Operators that only move data run every type but the packed 4-bit ones (issue 4B).
_MOVE = operand(NUMERIC, spec=ALL)
_MOVE1 = operand(NUMERIC, spec=ALL, ranks=(1, MAX_RANK))
_GATHER_INDEX = operand({_T.INT32, _T.UINT32, _T.INT64}, ranks=(0, MAX_RANK))
_TENSOR_4B: dict[str, dict[str, OperandLimits]] = {
    "concat": {"inputs": _MOVE1, "output": _MOVE1},
    "expand": _same(_MOVE, "input", "output"),
    "pad": _same(_MOVE, "input", "output"),
    "reshape": _same(_MOVE, "input", "output"),
    "reverse": _same(_MOVE, "input", "output"),
    "slice": _same(_MOVE, "input", "output"),
    "split": {"input": _MOVE1, "outputs": _MOVE1},
    "tile": _same(_MOVE, "input", "output"),
    "transpose": _same(_MOVE, "input", "output"),
    "triangular": _same(operand(NUMERIC, spec=ALL, ranks=(2, MAX_RANK)), "input", "output"),
    "gather": {"input": _MOVE1, "indices": _GATHER_INDEX, "output": _MOVE},
    "gatherElements": {"input": _MOVE1, "indices": operand(_GATHER_INDEX.data_types, ranks=(1, MAX_RANK)), "output": _MOVE1},
    "gatherND": {"input": _MOVE1, "indices": operand(_GATHER_INDEX.data_types, ranks=(1, MAX_RANK)), "output": _MOVE},
    "scatterElements": {
        "input": _MOVE1, "indices": operand(_GATHER_INDEX.data_types, ranks=(1, MAX_RANK)), "updates": _MOVE1,
        "output": _MOVE1,
    },
    "scatterND": {
        "input": _MOVE1, "indices": operand(_GATHER_INDEX.data_types, ranks=(1, MAX_RANK)), "updates": _MOVE,
        "output": _MOVE1,
    },
}
_F4 = operand(FLOATS, ranks=(4, 4))
_F1 = operand(FLOATS, ranks=(1, 1))
_SPATIAL_4B: dict[str, dict[str, OperandLimits]] = {
    "conv2d": {"input": _F4, "filter": _F4, "bias": _F1, "output": _F4},
    "convTranspose2d": {"input": _F4, "filter": _F4, "bias": _F1, "output": _F4},
    "averagePool2d": _same(_F4, "input", "output"),
    "maxPool2d": _same(_F4, "input", "output"),
    "l2Pool2d": _same(_F4, "input", "output"),
    "resample2d": _same(_F4, "input", "output"),
    "gemm": {
        "a": operand(FLOATS, ranks=(2, 2)), "b": operand(FLOATS, ranks=(2, 2)),
        "c": operand(FLOATS, ranks=(0, 2)), "output": operand(FLOATS, ranks=(2, 2)),
    },
    "matmul": _same(operand(FLOATS, ranks=(2, MAX_RANK)), "a", "b", "output"),
    "batchNormalization": {
        "input": operand(FLOATS, ranks=(1, MAX_RANK)), **_same(_F1, "mean", "variance", "scale", "bias"),
        "output": operand(FLOATS, ranks=(1, MAX_RANK)),
    },
    "instanceNormalization": {"input": _F4, "scale": _F1, "bias": _F1, "output": _F4},
    "layerNormalization": _same(operand(FLOATS), "input", "scale", "bias", "output"),
}


def _rnn(ranks: dict[str, int], outputs: tuple[int, int], key: str = "outputs") -> dict[str, OperandLimits]:
    limits = {name: operand(FLOATS, ranks=(r, r)) for name, r in ranks.items()}
    return limits | {key: operand(FLOATS, ranks=outputs)}


_RNN = {"input": 3, "weight": 3, "recurrentWeight": 3, "bias": 2, "recurrentBias": 2, "initialHiddenState": 3}
_CELL = {"input": 2, "weight": 2, "recurrentWeight": 2, "hiddenState": 2, "bias": 1, "recurrentBias": 1}
_RECURRENT_4B: dict[str, dict[str, OperandLimits]] = {
    "gru": _rnn(_RNN, (3, 4)),
    "lstm": _rnn(_RNN | {"peepholeWeight": 2, "initialCellState": 3}, (3, 4)),
    "gruCell": _rnn(_CELL, (2, 2), key="output"),
    "lstmCell": _rnn(_CELL | {"cellState": 2, "peepholeWeight": 1}, (2, 2)),
}

OP_SUPPORT: dict[str, dict[str, OperandLimits]] = {
    # element-wise binary
    "add": _binary(NUMERIC),
    "sub": _binary(NUMERIC),
    "mul": _binary(NUMERIC),
    "div": _binary(NUMERIC),
    "max": _binary(NUMERIC),
    "min": _binary(NUMERIC),
    "pow": _binary(NUMERIC - {_T.UINT64}),
    # comparisons and logical operators (outputs are uint8 0 / 1)
    "equal": _COMPARE,
    "notEqual": _COMPARE,
    "greater": _COMPARE,
    "greaterOrEqual": _COMPARE,
    "lesser": _COMPARE,
    "lesserOrEqual": _COMPARE,
    "logicalAnd": _LOGICAL,
    "logicalOr": _LOGICAL,
    "logicalXor": _LOGICAL,
    "logicalNot": _same(operand(UINT8), "a", "output"),
    "where": {
        "condition": operand(UINT8),
        "trueValue": operand(NUMERIC, spec=ALL),
        "falseValue": operand(NUMERIC, spec=ALL),
        "output": operand(NUMERIC, spec=ALL),
    },
    # element-wise unary
    "abs": _unary(SIGNED),
    "neg": _unary(SIGNED),
    "sign": _unary(SIGNED),
    "ceil": _unary(FLOATS),
    "floor": _unary(FLOATS),
    "roundEven": _unary(FLOATS),
    "cos": _unary(FLOATS),
    "sin": _unary(FLOATS),
    "tan": _unary(FLOATS),
    "erf": _unary(FLOATS),
    "exp": _unary(FLOATS),
    "log": _unary(FLOATS),
    "reciprocal": _unary(FLOATS),
    "sqrt": _unary(FLOATS),
    "identity": _unary(NUMERIC, spec=ALL),
    "isNaN": {"input": operand(FLOATS), "output": operand(UINT8)},
    "isInfinite": {"input": operand(FLOATS), "output": operand(UINT8)},
    "cast": {"input": operand(ALL), "output": operand(ALL)},
    # activations
    "relu": _unary(SIGNED),
    "sigmoid": _unary(FLOATS),
    "tanh": _unary(FLOATS),
    "elu": _unary(FLOATS),
    "gelu": _unary(FLOATS),
    "hardSigmoid": _unary(FLOATS),
    "hardSwish": _unary(FLOATS),
    "leakyRelu": _unary(FLOATS),
    "linear": _unary(FLOATS),
    "softplus": _unary(FLOATS),
    "softsign": _unary(FLOATS),
    "softmax": _unary(FLOATS) | {"input": operand(FLOATS, ranks=(1, MAX_RANK))},
    "clamp": _unary(NUMERIC, spec=ALL),
    "prelu": _same(operand(SIGNED), "input", "slope", "output"),
    # reductions
    "reduceL1": _REDUCE_SUM,
    "reduceProduct": _REDUCE_SUM,
    "reduceSum": _REDUCE_SUM,
    "reduceSumSquare": _REDUCE_SUM,
    "reduceL2": _REDUCE_FLOAT,
    "reduceLogSum": _REDUCE_FLOAT,
    "reduceLogSumExp": _REDUCE_FLOAT,
    "reduceMean": _REDUCE_FLOAT,
    "reduceMax": _unary(NUMERIC, spec=ALL),
    "reduceMin": _unary(NUMERIC, spec=ALL),
    "argMax": _ARG,
    "argMin": _ARG,
    "cumulativeSum": _unary(_SUMMABLE) | {"input": operand(_SUMMABLE, ranks=(1, MAX_RANK))},
    # quantization
    "quantizeLinear": {
        "input": operand(FLOATS),
        "scale": operand(FLOATS),
        "zeroPoint": operand(_QUANTIZED),
        "output": operand(_QUANTIZED),
    },
    "dequantizeLinear": {
        "input": operand(_QUANTIZED),
        "scale": operand(FLOATS),
        "zeroPoint": operand(_QUANTIZED),
        "output": operand(FLOATS),
    },
    # ---- issue 4B: tensor, gather/scatter, conv/pool, linear algebra, normalization, recurrent
    **_TENSOR_4B,
    **_SPATIAL_4B,
    **_RECURRENT_4B,
}


def _names(types: Iterable[DataType]) -> str:
    return ", ".join(sorted(t.value for t in types))


def limits_for(op: str, arg: str) -> OperandLimits:
    """The limits of operand ``arg`` of ``op`` (a KeyError names what is missing)."""
    try:
        return OP_SUPPORT[op][arg]
    except KeyError:
        raise KeyError(f"no support entry for {op}.{arg}; add it to OP_SUPPORT") from None


def check_operand(op: str, arg: str, value: Value, *, what: str | None = None) -> None:
    """Raise the spec's error when ``value`` cannot be operand ``arg`` of ``op``.

    A data type outside the spec's set is a ``TypeError`` naming the allowed types; one the
    spec allows but onnx-cpu does not run is a ``TypeError`` that says so ("unsupported data
    type for <op> on onnx-cpu"); a rank out of range is a ``ValueError``.
    """
    lim = limits_for(op, arg)
    label = what or arg
    dt = value.data_type
    if dt not in lim.spec:
        raise WebNNTypeError(
            f"{op}: {label} data type must be one of [{_names(lim.spec)}]; found {dt.value}"
        )
    if dt not in lim.data_types:
        raise WebNNTypeError(
            f"{op}: unsupported data type for {op} on {BACKEND}: {label} is {dt.value}; "
            f"supported: [{_names(lim.data_types)}]"
        )
    if not lim.min_rank <= value.rank <= lim.max_rank:
        rng = (
            f"{lim.min_rank}"
            if lim.min_rank == lim.max_rank
            else f"in [{lim.min_rank}, {lim.max_rank}]"
        )
        raise ValidationError(
            f"{op}: {label} rank must be {rng}; found rank {value.rank} {list(value.shape)}"
        )


def op_support_limits(
    table: Mapping[str, Mapping[str, OperandLimits]] | None = None,
) -> dict[str, Any]:
    """The spec's ``MLOpSupportLimits`` dictionary for onnx-cpu."""
    table = OP_SUPPORT if table is None else table
    tensor = operand(NUMERIC | INT4S, ranks=(0, MAX_RANK)).as_dict()
    out: dict[str, Any] = {
        "preferredInputLayout": "nchw",
        "maxTensorByteLength": 2**31 - 1,
        "input": tensor,
        "constant": tensor,
        "output": tensor,
    }
    for op in sorted(table):
        out[op] = {arg: lim.as_dict() for arg, lim in table[op].items()}
    return out
