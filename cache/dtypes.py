"""WebNN data types and the numpy dtype each is stored in: one table for compiler and runtime.

The compiler (``DataType.numpy_dtype``) and the runtime (graph inputs and outputs, MLTensor,
CoreML outputs) both need this mapping, and the runtime may not import the compiler; the
cache layer, which both already read for manifests, is the shared data-formats layer. Names
only (no numpy import), so importing it costs nothing.
"""

from __future__ import annotations

__all__ = ["NUMPY_STORAGE", "WIDENED"]

NUMPY_STORAGE: dict[str, str] = {
    "float32": "float32",
    "float16": "float16",
    "int32": "int32",
    "uint32": "uint32",
    "int64": "int64",
    "uint64": "uint64",
    "int8": "int8",
    "uint8": "uint8",
    "int4": "int8",
    "uint4": "uint8",
}
"""numpy dtype name holding each WebNN data type (``MLOperandDataType``), in spec order."""

WIDENED: frozenset[str] = frozenset(k for k, v in NUMPY_STORAGE.items() if k != v)
"""Data types numpy has no dtype for: int4/uint4 travel one value per int8/uint8 byte."""
