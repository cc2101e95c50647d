"""Size bounds every graph obeys: the largest dimension and the largest tensor.

One check, :func:`check_output`, runs where every builder call records its node
(``BuilderCore._add``), so an option that derives a huge dimension (``pad`` by 2^40,
``expand``/``tile`` to a 50000 x 50000 x 8 tensor, a ``max_pool2d`` padding of 2^40) is a
one-line error naming the operator and its output when the operator is called, not a
``MemoryError`` or an ONNX Runtime error at compile or run time. Constants are checked by
:func:`check_tensor` before their data is made.

Limits (the WebNN spec's ``opSupportLimits().maxTensorByteLength`` is the tensor limit):

- every dimension is at most ``MAX_DIMENSION`` (2^31-1, the spec's ``[EnforceRange]
  unsigned long`` dimensions as ONNX Runtime's int32 index math accepts them);
- every tensor holds at most :func:`max_tensor_bytes` bytes: 2^31-1 by default, raised with
  the environment variable ``WEBNNC_MAX_TENSOR_BYTES`` (for example ``8G``) for models whose
  single tensors are larger (an fp32 embedding table of 128k x 4096 is 2 GiB).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

from webnnc.compiler.errors import ValidationError
from webnnc.compiler.ir import DataType, OperandDescriptor

__all__ = [
    "DEFAULT_MAX_TENSOR_BYTES",
    "MAX_DIMENSION",
    "MAX_OPTION_INTEGER",
    "MAX_TENSOR_BYTES_ENV",
    "check_options",
    "check_output",
    "check_tensor",
    "max_tensor_bytes",
    "parse_size",
]

MAX_DIMENSION = 2**31 - 1
MAX_OPTION_INTEGER = 2**32 - 1
DEFAULT_MAX_TENSOR_BYTES = 2**31 - 1
MAX_TENSOR_BYTES_ENV = "WEBNNC_MAX_TENSOR_BYTES"

_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def parse_size(text: str, what: str) -> int:
    """Bytes from ``"4096"``, ``"512M"``, ``"8G"`` or ``"1.5GiB"`` (binary units).

    >>> parse_size("8G", "x"), parse_size("1.5MiB", "x"), parse_size("100", "x")
    (8589934592, 1572864, 100)
    """
    s = text.strip().upper().removesuffix("IB").removesuffix("B")
    unit = s[-1:] if s[-1:] in _UNITS and s[-1:] else ""
    try:
        value = float(s[: len(s) - len(unit)])
    except ValueError:
        value = -1.0
    if not value > 0 or value != value or value == float("inf"):
        raise ValidationError(f"{what}: expected a positive size such as 4096, 512M or 8G; found {text!r}")
    return int(value * _UNITS[unit])


_cached: tuple[str | None, int] = (None, DEFAULT_MAX_TENSOR_BYTES)


def max_tensor_bytes() -> int:
    """The largest tensor (bytes) a graph may hold: ``$WEBNNC_MAX_TENSOR_BYTES`` or 2^31-1."""
    global _cached
    raw = os.environ.get(MAX_TENSOR_BYTES_ENV)
    if raw != _cached[0]:
        _cached = (raw, DEFAULT_MAX_TENSOR_BYTES if not raw else parse_size(raw, MAX_TENSOR_BYTES_ENV))
    return _cached[1]


def _too_large(op: str, what: str, data_type: DataType, shape: Iterable[int]) -> str | None:
    dims = list(shape)
    big = [d for d in dims if d > MAX_DIMENSION]
    if big:
        return (f"{op}: {what} shape {dims} has dimension {big[0]}, above the largest WebNN "
                f"dimension 2^31-1 ({MAX_DIMENSION})")
    size = 1
    for d in dims:
        size *= d
    nbytes = size * data_type.itemsize
    limit = max_tensor_bytes()
    if nbytes > limit:
        return (f"{op}: {what} {data_type.value}{dims} would hold {nbytes} bytes, above the "
                f"{limit}-byte tensor limit (maxTensorByteLength; set {MAX_TENSOR_BYTES_ENV} to raise it)")
    return None


def check_tensor(op: str, what: str, data_type: DataType, shape: Iterable[int]) -> None:
    """Raise :class:`ValidationError` when a tensor of this type and shape is too large."""
    problem = _too_large(op, what, data_type, shape)
    if problem is not None:
        raise ValidationError(problem)


def check_options(op: str, attributes: Mapping[str, Any] | None) -> None:
    """Raise when an integer list option is outside the spec's widest integer option type.

    WebNN's list options (padding, strides, dilations, window sizes, axes, sizes,
    repetitions) hold ``[EnforceRange] unsigned long`` or ``long`` values: one past 2^32-1 (a
    padding of 2^40 whose stride of 2^41 still gives a one-element output) is refused here.
    Scalar options are not checked: some are MLNumbers of the operand's type (clamp's
    bounds, pad's value), whose range is the operand type's.
    """
    if not attributes:
        return
    for name, value in attributes.items():
        if not isinstance(value, list | tuple):
            continue
        for v in value:
            if type(v) is int and not -MAX_OPTION_INTEGER <= v <= MAX_OPTION_INTEGER:
                raise ValidationError(
                    f"{op}: option {name} {list(value)} holds {v}, outside the WebNN integer "
                    "range [-(2^32-1), 2^32-1]"
                )


def check_output(op: str, outputs: Iterable[OperandDescriptor]) -> None:
    """Raise when any output descriptor of ``op`` is above the dimension or tensor limit."""
    limit = max_tensor_bytes()
    for i, desc in enumerate(outputs):
        # fast path: every dimension is >= 0, so a small byte count bounds them all
        if desc.nbytes <= limit and (not desc.shape or max(desc.shape) <= MAX_DIMENSION):
            continue
        check_tensor(op, "output" if i == 0 else f"output {i}", desc.data_type, desc.shape)
