"""The webnn-graph text format: ``.webnn`` graph + ``.weights`` blob + ``.manifest.json``.

The format (from the rustnn project's webnn-graph tool) describes a WebNN graph as text::

    webnn_graph "resnet_head" v1 {
      inputs { x: f32[1, 2048]; }
      consts {
        W: f32[2048, 1000] @weights("W");
        b: f32[1000] @weights("b");
        k: f32[1] @scalar(0.5);
      }
      nodes {
        logits0 = matmul(x, W);
        logits = add(logits0, b);
        probs = softmax(logits, axis=1);
        [lo, hi] = split(probs, splits=2, axis=1);
      }
      outputs { probs; }
    }

Operands are positional identifiers; options are ``name=value`` in the spec's camelCase
(``inputLayout``, ``windowDimensions``, ``newShape``); an identifier as an option value names
an operand (``bias=b``). Constant data lives in the weights file: the 8-byte header
``b"WGWT"`` + little-endian uint32 version 1, then the tensors; the manifest
(``{"format": "wg-weights-manifest", "version": 1, "tensors": {key: {"dataType", "shape",
"byteOffset", "byteLength"}}}``) gives each tensor's absolute byte range. ``@scalar(v)``
fills a constant with one value and ``@bytes([...])`` inlines its little-endian bytes.

# The syntax (tokenizer, parser, tables) is in ``_webnn_text_syntax.py``, the writer in
# ``_webnn_text_writer.py``; this module loads.
# NOTE: the parser is our own (a tokenizer plus recursive descent over the published
# grammar); loading goes through the public MLGraphBuilder so every node is validated and
# shape-inferred exactly as if built by hand. Non-finite float options (clamp's default
# bounds) are not representable in the grammar and are omitted on save.
"""


from __future__ import annotations

import inspect
import json
import logging
import math
import struct
from pathlib import Path
from typing import Any

import numpy as np

from webnnc.compiler.frontend import MLGraphBuilder, MLOperand
from webnnc.compiler.importers._onnx_core import builder_method
from webnnc.compiler.importers._webnn_text_syntax import (
    OPERAND_OPTIONS,
    WEIGHTS_MAGIC,
    WEIGHTS_VERSION,
    ConstDecl,
    Ident,
    TextGraph,
    TextNode,
    WebNNTextError,
    parse_webnn_text,
)
from webnnc.compiler.importers._webnn_text_writer import save_webnn_text, write_webnn_text
from webnnc.compiler.limits import check_tensor
from webnnc.compiler.ops import METHOD_TO_OP
from webnnc.compiler.ops import snake_case as snake

__all__ = [
    "WebNNTextError",
    "TextGraph",
    "TextNode",
    "build_text_graph",
    "load_webnn_text",
    "parse_webnn_text",
    "save_webnn_text",
    "write_webnn_text",
]

logger = logging.getLogger(__name__)

# --------------------------------------------------------------------------- loading
def _read_weights(weights: Path | None, manifest: Path | None, where: str) -> tuple[bytes, dict[str, Any]]:
    if weights is None or manifest is None or not weights.is_file() or not manifest.is_file():
        missing = [str(p) for p in (weights, manifest) if p is None or not p.is_file()]
        raise WebNNTextError(f"{where}: @weights constants need a weights file and manifest; missing {missing}")
    data = weights.read_bytes()
    try:
        man = json.loads(manifest.read_bytes())
    except (ValueError, RecursionError) as e:  # JSONDecodeError, bad UTF-8, nesting
        raise WebNNTextError(f"{manifest}: not JSON: {e}") from None
    if not isinstance(man, dict) or not isinstance(man.get("tensors", {}), dict):
        raise WebNNTextError(f"{manifest}: expected an object with a 'tensors' object")
    if man.get("format") != "wg-weights-manifest":
        raise WebNNTextError(f"{manifest}: format is {man.get('format')!r}; expected 'wg-weights-manifest'")
    if man.get("endianness", "little") != "little":
        raise WebNNTextError(f"{manifest}: only little-endian weights are supported")
    if data[:4] == WEIGHTS_MAGIC:
        if len(data) < 8:
            raise WebNNTextError(f"{weights}: weights file of {len(data)} bytes ends inside its 8-byte header")
        (version,) = struct.unpack("<I", data[4:8])
        if version != WEIGHTS_VERSION:
            raise WebNNTextError(f"{weights}: weights file version {version}; expected {WEIGHTS_VERSION}")
    return data, dict(man.get("tensors", {}))


def _const_array(name: str, decl: ConstDecl, blob: tuple[bytes, dict[str, Any]] | None, where: str) -> np.ndarray:
    dtype = decl.data_type.numpy_dtype.newbyteorder("<")
    count = math.prod(decl.shape)
    # the declared size is checked before any data is made (an @scalar of 50000 x 50000
    # asked numpy for 9.3 GiB)
    if any(d < 1 for d in decl.shape):
        raise WebNNTextError(f"{where}: constant {name!r} shape {decl.shape}: dimensions must be >= 1")
    try:
        check_tensor(f"constant {name!r}", "operand", decl.data_type, decl.shape)
    except ValueError as e:
        raise WebNNTextError(f"{where}: {e}") from None
    if decl.kind == "scalar":
        if isinstance(decl.value, bool) or not isinstance(decl.value, int | float):
            raise WebNNTextError(f"{where}: constant {name!r}: @scalar needs a number; found {decl.value!r}")
        try:
            return np.full(decl.shape, decl.value, dtype=decl.data_type.numpy_dtype)
        except (OverflowError, ValueError) as e:
            raise WebNNTextError(
                f"{where}: constant {name!r}: @scalar({decl.value!r}) is not a {decl.data_type.value}: {e}"
            ) from None
    if decl.kind == "bytes":
        raw = decl.value
    else:
        assert blob is not None
        data, tensors = blob
        entry = tensors.get(decl.value)
        if entry is None:
            raise WebNNTextError(f"{where}: constant {name!r} refers to weights {decl.value!r}, not in the manifest")
        off = entry.get("byteOffset") if isinstance(entry, dict) else None
        length = entry.get("byteLength") if isinstance(entry, dict) else None
        if not all(type(v) is int and v >= 0 for v in (off, length)):
            raise WebNNTextError(
                f"{where}: manifest entry {decl.value!r} needs non-negative integer byteOffset and "
                f"byteLength; found {entry!r}"[:300]
            )
        assert isinstance(off, int) and isinstance(length, int)
        if off + length > len(data):
            raise WebNNTextError(
                f"{where}: weights {decl.value!r} span bytes [{off}, {off + length}) beyond the "
                f"{len(data)}-byte weights file"
            )
        raw = data[off:off + length]
    if len(raw) != count * dtype.itemsize:
        raise WebNNTextError(
            f"{where}: constant {name!r} is {decl.data_type.value}{decl.shape} ({count * dtype.itemsize} "
            f"bytes); its data has {len(raw)} bytes"
        )
    return np.frombuffer(raw, dtype=dtype).astype(decl.data_type.numpy_dtype).reshape(decl.shape)


def load_webnn_text(
    path: str | Path,
    weights: str | Path | None = None,
    manifest: str | Path | None = None,
    builder: MLGraphBuilder | None = None,
) -> Any:
    """Load a ``.webnn`` file (plus its weights) into a graph.

    Args:
        path: the ``.webnn`` text file.
        weights, manifest: default to ``<stem>.weights`` and ``<stem>.manifest.json`` beside it.
        builder: add the graph to this builder and return ``{output: MLOperand}``;
            by default build and return the IR :class:`~webnnc.compiler.ir.Graph`.

    Returns:
        The built graph, or the output operands when ``builder`` is given.

    Raises:
        WebNNTextError: a syntax error (with its line), a missing or short weights file,
            an unknown operator or operand, or an option the builder rejects.
    """
    p = Path(path)
    if not p.is_file():
        raise WebNNTextError(f"webnn-graph file {str(p)!r} does not exist")
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise WebNNTextError(f"{p}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    tg = parse_webnn_text(text, str(p))
    stem = p.with_suffix("")
    w = Path(weights) if weights is not None else stem.with_suffix(".weights")
    m = Path(manifest) if manifest is not None else Path(f"{stem}.manifest.json")
    blob = None
    if any(c.kind == "weights" for c in tg.consts.values()):
        blob = _read_weights(w, m, str(p))
    return build_text_graph(tg, blob, builder, str(p))


def build_text_graph(
    tg: TextGraph,
    blob: tuple[bytes, dict[str, Any]] | None = None,
    builder: MLGraphBuilder | None = None,
    where: str = "<text>",
) -> Any:
    """Replay a parsed graph into ``builder`` (see :func:`load_webnn_text`)."""
    own = builder is None
    b = builder if builder is not None else MLGraphBuilder()
    env: dict[str, MLOperand] = {}
    try:
        for name, (dt, shape) in tg.inputs.items():
            env[name] = b.input(name, shape, dt)
        for name, decl in tg.consts.items():
            env[name] = b.constant(_const_array(name, decl, blob, where))
    except (ValueError, TypeError) as e:
        if isinstance(e, WebNNTextError):
            raise
        raise WebNNTextError(f"{where}: {e}") from None

    def resolve(v: Any, node: TextNode) -> Any:
        if isinstance(v, Ident):
            if v.name not in env:
                raise WebNNTextError(f"{where}:{node.line}: {node.op}: unknown operand {v.name!r}")
            return env[v.name]
        if isinstance(v, list):
            return [resolve(x, node) for x in v]
        return v

    for node in tg.nodes:
        result = _call(b, node, [resolve(a, node) for a in node.args],
                       {k: resolve(v, node) for k, v in node.options.items()}, where)
        results = list(result) if isinstance(result, list | tuple) else [result]
        if len(results) != len(node.outputs):
            raise WebNNTextError(
                f"{where}:{node.line}: {node.op} returns {len(results)} operand(s); the statement "
                f"names {len(node.outputs)}"
            )
        for out, r in zip(node.outputs, results, strict=True):
            env[out] = r
    outputs: dict[str, MLOperand] = {}
    for out in tg.outputs:
        if out not in env:
            raise WebNNTextError(f"{where}: output {out!r} is not defined")
        outputs[out] = env[out]
    if not own:
        return outputs
    return b.build(outputs, name=tg.name)


def _call(b: MLGraphBuilder, node: TextNode, args: list[Any], options: dict[str, Any], where: str) -> Any:
    # only the operator table is callable: a file must not reach build(), input(),
    # constant() or any private or dunder attribute of the builder
    name = builder_method(node.op)
    method = getattr(b, name, None) if name in METHOD_TO_OP else None
    if not callable(method):
        raise WebNNTextError(f"{where}:{node.line}: unknown or unsupported WebNN operator {node.op!r}")
    kwargs = {snake(k): v for k, v in options.items()}
    operands = [a for a in args if isinstance(a, MLOperand)]
    if node.op in OPERAND_OPTIONS:
        required, optional = OPERAND_OPTIONS[node.op]
        extra = [a for a in args[required:] if isinstance(a, MLOperand)]
        if len(extra) > len(optional):
            raise WebNNTextError(f"{where}:{node.line}: {node.op} takes at most {required + len(optional)} operands")
        for opt, a in zip(optional, extra, strict=False):
            kwargs[snake(opt)] = a
        args = [a for i, a in enumerate(args) if i < required or not isinstance(a, MLOperand)]
    else:
        params = list(inspect.signature(method).parameters)
        if params and params[0] == "inputs" and operands:  # concat(a, b, axis=1)
            args = [operands] + [a for a in args if not isinstance(a, MLOperand)]
    try:
        return method(*args, **kwargs)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError) as e:
        # a malformed option reaches the builder as any of these; one line names the node
        raise WebNNTextError(f"{where}:{node.line}: {node.op}: {type(e).__name__}: {e}") from None


