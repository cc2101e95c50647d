"""An ONNX file's large weights read once, straight into their arrays, not through protobuf.

# NOTE: protobuf's Python API copies every ``TensorProto.raw_data`` twice on the way to numpy:
# the parse copies it into the message, and reading the field makes a new ``bytes`` (onnx's
# ``numpy_helper.to_array`` then wraps that). Neither onnx nor protobuf offers the byte span
# of a field. On BERT-base (436 MB) the two copies were 0.38 s + 0.33 s of a ~1 s import and
# two copies of every weight alive at once. :func:`split_weights` walks the protobuf wire
# format just deep enough to find each top-level initializer's ``raw_data`` span (ModelProto
# field 7 -> GraphProto field 5 -> TensorProto field 9), and returns the file without those
# fields, for protobuf to parse as usual, plus the spans; :func:`read_weights` then reads
# each span from the file once, into the bytes its array views. Anything this does not
# expect (groups, a repeated singular field, a name that is not UTF-8 or repeats, a size
# that does not match its dims and type, a type other than the plain numeric ones) returns
# None and the caller parses the whole file as before: the walk decides speed, never meaning.
"""

from __future__ import annotations

import math
import sys
from typing import TYPE_CHECKING, Any

import numpy as np

from webnnc.compiler.importers._onnx_core import ONNX_TO_NUMPY

if TYPE_CHECKING:
    import onnx

__all__ = ["MIN_SPLIT_BYTES", "read_weights", "split_weights"]

MIN_SPLIT_BYTES = 1 << 16
"""Raw data smaller than this stays in the message (copying it costs less than a view)."""

_MODEL_GRAPH, _GRAPH_INITIALIZER, _TENSOR_NAME, _TENSOR_RAW_DATA = 7, 5, 8, 9
_LEN = 2


class _UnexpectedLayoutError(Exception):
    """The wire data is not the plain layout this reads: parse the whole file instead."""


def _varint(buf: memoryview, pos: int, end: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= end or shift > 63:
            raise _UnexpectedLayoutError
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def _encode_varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _fields(buf: memoryview, start: int, end: int) -> Any:
    """(field number, wire type, value start, value end, field start) of each field."""
    pos = start
    while pos < end:
        first = pos
        key, pos = _varint(buf, pos, end)
        number, wire = key >> 3, key & 7
        if wire == 0:
            _, stop = _varint(buf, pos, end)
            yield number, wire, pos, stop, first
        elif wire == 1 or wire == 5:
            stop = pos + (8 if wire == 1 else 4)
            yield number, wire, pos, stop, first
        elif wire == _LEN:
            length, pos = _varint(buf, pos, end)
            stop = pos + length
            yield number, wire, pos, stop, first
        else:  # groups (3, 4) and invalid types
            raise _UnexpectedLayoutError
        if stop > end:
            raise _UnexpectedLayoutError
        pos = stop


def _len_field(number: int, payload: bytes) -> bytes:
    return _encode_varint(number << 3 | _LEN) + _encode_varint(len(payload)) + payload


def _tensor(buf: memoryview, start: int, end: int, spans: dict[str, tuple[int, int]], min_bytes: int) -> bytes | None:
    """The tensor's bytes without a large raw_data field (None: kept as it is)."""
    name: str | None = None
    raw: tuple[int, int, int] | None = None  # value start, value end, field start
    for number, wire, vs, ve, fs in _fields(buf, start, end):
        if number == _TENSOR_NAME:
            if wire != _LEN or name is not None:
                raise _UnexpectedLayoutError
            try:
                name = bytes(buf[vs:ve]).decode("utf-8")
            except UnicodeDecodeError:
                raise _UnexpectedLayoutError from None
        elif number == _TENSOR_RAW_DATA:
            if wire != _LEN or raw is not None:
                raise _UnexpectedLayoutError
            raw = (vs, ve, fs)
    if raw is None or raw[1] - raw[0] < min_bytes or name is None:
        return None
    if name in spans:
        raise _UnexpectedLayoutError
    spans[name] = (raw[0], raw[1] - raw[0])
    return bytes(buf[start : raw[2]]) + bytes(buf[raw[1] : end])


def split_weights(
    buf: memoryview, min_bytes: int = MIN_SPLIT_BYTES
) -> tuple[bytes, dict[str, tuple[int, int]]] | None:
    """(the serialized model ``buf`` without the large raw_data of its graph's initializers,
    {initializer name: (offset, length) of that raw_data in ``buf``}); None when there is
    nothing to split or the layout is not the plain one (the caller parses ``buf`` whole)."""
    if sys.byteorder != "little":
        return None
    spans: dict[str, tuple[int, int]] = {}
    try:
        graphs = [(vs, ve, fs) for number, wire, vs, ve, fs in _fields(buf, 0, len(buf)) if number == _MODEL_GRAPH]
        if len(graphs) != 1:
            return None
        gs, ge, gf = graphs[0]
        pieces: list[bytes] = []
        cursor = gs
        for number, wire, vs, ve, fs in _fields(buf, gs, ge):
            if number != _GRAPH_INITIALIZER:
                continue
            if wire != _LEN:
                raise _UnexpectedLayoutError
            stripped = _tensor(buf, vs, ve, spans, min_bytes)
            if stripped is None:
                continue
            pieces.append(bytes(buf[cursor:fs]))
            pieces.append(_len_field(_GRAPH_INITIALIZER, stripped))
            cursor = ve
    except _UnexpectedLayoutError:
        return None
    if not spans:
        return None
    pieces.append(bytes(buf[cursor:ge]))
    graph = b"".join(pieces)
    return bytes(buf[:gf]) + _len_field(_MODEL_GRAPH, graph) + bytes(buf[ge:]), spans


def read_weights(
    file: Any, model: onnx.ModelProto, spans: dict[str, tuple[int, int]]
) -> dict[str, np.ndarray] | None:
    """Each split initializer of ``model`` (parsed from the split file) read from ``file`` (an
    open binary file): a read-only array of its dims and type over the ``bytes`` read, as
    ``numpy_helper.to_array`` gives (so the IR shares it instead of copying); None when one
    does not match them or the file reads short (the caller parses the whole file instead)."""
    arrays: dict[str, np.ndarray] = {}
    for t in model.graph.initializer:
        span = spans.get(t.name)
        if span is None:
            continue
        dtype = ONNX_TO_NUMPY.get(t.data_type)  # the plain numeric types: one element per itemsize
        if dtype is None or t.HasField("raw_data") or t.data_location != 0 or t.HasField("segment"):
            return None
        offset, length = span
        count = math.prod(t.dims)
        if count * np.dtype(dtype).itemsize != length:
            return None
        file.seek(offset)
        data = file.read(length)  # one copy, into an immutable bytes the IR keeps as it is
        if len(data) != length:
            return None
        arrays[t.name] = np.frombuffer(data, dtype=dtype, count=count).reshape(tuple(t.dims))
    return arrays if len(arrays) == len(spans) else None
