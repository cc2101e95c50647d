"""What each operator accepts: data types and ranks per operand, for the onnx-cpu target.

One table, :data:`OP_SUPPORT`, assembled from each op family's ``SUPPORT`` dict (see
``webnnc.compiler.ops``), serves two readers:

- builder validation (:func:`check_operand`), so a graph that builds is one that runs, and an
  operand type the spec allows but ONNX Runtime's CPU provider does not execute fails at
  build time with "unsupported data type for <op> on onnx-cpu";
- ``MLContext.op_support_limits()`` (:func:`op_support_limits`), the spec's
  ``opSupportLimits()`` dictionary, which therefore never promises what would not build.

Each entry maps the spec's operand names (plus ``"output"``) to :class:`OperandLimits`. The
``spec`` set is what the WebNN spec allows; ``data_types`` is the subset webnnc runs on
onnx-cpu (measured against onnxruntime 1.32: every listed type has a test that builds and
runs it, see ``tests/compiler/frontend/test_op_support.py``).

To add an operator: add one entry to its family's ``SUPPORT`` with :func:`operand` values,
e.g.::

    "conv2d": {"input": operand(FLOATS, ranks=(4, 4)), "filter": operand(FLOATS, ranks=(4, 4)),
               "bias": operand(FLOATS, ranks=(1, 1)), "output": operand(FLOATS, ranks=(4, 4))},
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from webnnc.cache.manifest import FrozenRecord
from webnnc.compiler.errors import ValidationError, WebNNTypeError
from webnnc.compiler.ir import DataType, Value

__all__ = [
    "ALL",
    "BACKEND",
    "FLOATS",
    "INDEX",
    "INT4S",
    "MAX_RANK",
    "NUMERIC",
    "OP_SUPPORT",
    "QUANTIZED",
    "SIGNED",
    "SUMMABLE",
    "UINT8",
    "OperandLimits",
    "binary_limits",
    "check_operand",
    "limits_for",
    "op_support_limits",
    "operand",
    "register_support",
    "same_limits",
    "unary_limits",
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
INDEX = frozenset({_T.INT32, _T.INT64})
# reduceSum & co. (spec): floats and the 32/64-bit integers
SUMMABLE = frozenset({_T.FLOAT32, _T.FLOAT16, _T.INT32, _T.UINT32, _T.INT64, _T.UINT64})
QUANTIZED = frozenset({_T.INT4, _T.UINT4, _T.INT8, _T.UINT8, _T.INT32})


class OperandLimits(FrozenRecord):
    """Data types and rank range one operand may have."""

    __slots__ = ("data_types", "spec", "min_rank", "max_rank")  # noqa: RUF023 - __init__'s order
    data_types: frozenset[DataType]
    spec: frozenset[DataType]
    min_rank: int
    max_rank: int

    def __init__(
        self, data_types: frozenset[DataType], spec: frozenset[DataType], min_rank: int = 0, max_rank: int = MAX_RANK
    ) -> None:
        self._fill(data_types, spec, min_rank, max_rank)

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


def same_limits(limits: OperandLimits, *names: str) -> dict[str, OperandLimits]:
    """The same limits for each operand in ``names``."""
    return dict.fromkeys(names, limits)


def binary_limits(
    types: Iterable[DataType], spec: Iterable[DataType] = ALL
) -> dict[str, OperandLimits]:
    """``a``, ``b`` and ``output`` of one element-wise binary operator."""
    return same_limits(operand(types, spec=spec), "a", "b", "output")


def unary_limits(
    types: Iterable[DataType], spec: Iterable[DataType] | None = None
) -> dict[str, OperandLimits]:
    """``input`` and ``output`` of one operator that keeps its operand's type."""
    return same_limits(operand(types, spec=spec), "input", "output")


# The catalogue (``webnnc.compiler.ops``) fills this from each family's ``SUPPORT`` dict when
# the package is imported, before any builder method can run.
OP_SUPPORT: dict[str, dict[str, OperandLimits]] = {}


def register_support(table: Mapping[str, dict[str, OperandLimits]], family: str) -> None:
    """Add one family's support entries to :data:`OP_SUPPORT` (an op belongs to one family)."""
    for op, limits in table.items():
        if op in OP_SUPPORT:
            raise RuntimeError(f"{family}: operator {op!r} already has a support entry")
        OP_SUPPORT[op] = limits


def _names(types: Iterable[DataType]) -> str:
    return ", ".join(sorted(t.value for t in types))


def limits_for(op: str, arg: str) -> OperandLimits:
    """The limits of operand ``arg`` of ``op`` (a KeyError names what is missing)."""
    try:
        return OP_SUPPORT[op][arg]
    except KeyError:
        raise KeyError(f"no support entry for {op}.{arg}; add it to its family's SUPPORT") from None


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
