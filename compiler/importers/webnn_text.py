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
import re
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from webnnc.compiler.errors import CompilerError
from webnnc.compiler.frontend import MLGraphBuilder, MLOperand
from webnnc.compiler.importers._onnx_core import builder_method
from webnnc.compiler.ir import DataType, Graph, Value
from webnnc.compiler.ops import snake_case as _snake

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

WEIGHTS_MAGIC = b"WGWT"
WEIGHTS_VERSION = 1
_HEADER = len(WEIGHTS_MAGIC) + 4

_DTYPES = {
    "f32": DataType.FLOAT32, "f16": DataType.FLOAT16, "i32": DataType.INT32,
    "u32": DataType.UINT32, "i64": DataType.INT64, "u64": DataType.UINT64, "i8": DataType.INT8,
    "u8": DataType.UINT8, "i4": DataType.INT4, "u4": DataType.UINT4,
}
_SHORT = {v: k for k, v in _DTYPES.items()}

# Operators whose trailing operands are options: op -> (number of leading required operands,
# names of the optional operand options in the order the text may give them positionally).
_OPERAND_OPTIONS: dict[str, tuple[int, tuple[str, ...]]] = {
    "conv2d": (2, ("bias",)),
    "convTranspose2d": (2, ("bias",)),
    "batchNormalization": (3, ("scale", "bias")),
    "layerNormalization": (1, ("scale", "bias")),
    "instanceNormalization": (1, ("scale", "bias")),
    "gemm": (2, ("c",)),
    "gru": (3, ("bias", "recurrentBias", "initialHiddenState")),
    "lstm": (3, ("bias", "recurrentBias", "initialHiddenState", "peepholeWeight", "initialCellState")),
}


class WebNNTextError(CompilerError, ValueError):
    """A webnn-graph file is malformed or refers to something missing."""


# --------------------------------------------------------------------------- AST
@dataclass
class Ident:
    """A bare identifier used as a value: a reference to an operand."""

    name: str


@dataclass
class TextNode:
    outputs: list[str]
    op: str
    args: list[Any]  # positional: Ident or literal
    options: dict[str, Any]  # name -> Ident or literal
    line: int = 0


@dataclass
class ConstDecl:
    data_type: DataType
    shape: list[int]
    kind: str  # "weights" | "scalar" | "bytes"
    value: Any


@dataclass
class TextGraph:
    name: str = "graph"
    version: int = 1
    inputs: dict[str, tuple[DataType, list[int]]] = field(default_factory=dict)
    consts: dict[str, ConstDecl] = field(default_factory=dict)
    nodes: list[TextNode] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- tokenizer
_TOKEN = re.compile(
    r"""(?P<ws>[ \t\r\n]+|\#[^\n]*)
      | (?P<string>"(?:\\.|[^"\\])*")
      | (?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
      | (?P<annot>@[A-Za-z_]+)
      | (?P<ident>[A-Za-z_/$][A-Za-z0-9_./]*)
      | (?P<punct>[{}\[\]();:,=])""",
    re.VERBOSE,
)


@dataclass
class _Tok:
    kind: str
    text: str
    line: int


def _tokenize(text: str, where: str) -> list[_Tok]:
    toks: list[_Tok] = []
    pos, line = 0, 1
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise WebNNTextError(f"{where}:{line}: unexpected character {text[pos]!r}")
        kind = m.lastgroup or ""
        if kind != "ws":
            toks.append(_Tok(kind, m.group(), line))
        line += m.group().count("\n")
        pos = m.end()
    toks.append(_Tok("eof", "", line))
    return toks


def _unquote(s: str) -> str:
    return s[1:-1].replace('\\"', '"').replace("\\\\", "\\")


class _Parser:
    def __init__(self, text: str, where: str) -> None:
        self.toks = _tokenize(text, where)
        self.i = 0
        self.where = where

    @property
    def tok(self) -> _Tok:
        return self.toks[self.i]

    def fail(self, expected: str) -> WebNNTextError:
        t = self.tok
        found = "end of file" if t.kind == "eof" else repr(t.text)
        return WebNNTextError(f"{self.where}:{t.line}: expected {expected}; found {found}")

    def take(self, text: str | None = None, kind: str | None = None) -> _Tok:
        t = self.tok
        if (text is not None and t.text != text) or (kind is not None and t.kind != kind):
            raise self.fail(repr(text) if text else kind or "token")
        self.i += 1
        return t

    def peek(self, text: str) -> bool:
        return self.tok.text == text and self.tok.kind in ("punct", "ident")

    def graph(self) -> TextGraph:
        g = TextGraph()
        self.take("webnn_graph")
        g.name = _unquote(self.take(kind="string").text)
        version = self.take(kind="ident")
        if not re.fullmatch(r"v\d+", version.text):
            raise WebNNTextError(f"{self.where}:{version.line}: expected a version like v1; found {version.text!r}")
        g.version = int(version.text[1:])
        if self.tok.kind == "annot" and self.tok.text == "@quantized":
            self.i += 1
        self.take("{")
        while not self.peek("}"):
            block = self.take(kind="ident")
            self.take("{")
            if block.text == "inputs":
                while not self.peek("}"):
                    name = self.take(kind="ident").text
                    self.take(":")
                    g.inputs[name] = self.type_()
                    self.take(";")
            elif block.text == "consts":
                while not self.peek("}"):
                    name = self.take(kind="ident").text
                    self.take(":")
                    dt, shape = self.type_()
                    g.consts[name] = self.const_init(name, dt, shape)
                    self.take(";")
            elif block.text == "nodes":
                while not self.peek("}"):
                    g.nodes.append(self.stmt())
            elif block.text == "outputs":
                while not self.peek("}"):
                    g.outputs.append(self.take(kind="ident").text)
                    if self.peek(",") or self.peek(";"):
                        self.i += 1
            else:
                raise WebNNTextError(
                    f"{self.where}:{block.line}: unknown block {block.text!r}; expected inputs, "
                    "consts, nodes or outputs"
                )
            self.take("}")
        self.take("}")
        if self.tok.kind != "eof":
            raise self.fail("end of file")
        return g

    def type_(self) -> tuple[DataType, list[int]]:
        t = self.take(kind="ident")
        if t.text not in _DTYPES:
            raise WebNNTextError(f"{self.where}:{t.line}: unknown data type {t.text!r}; one of {sorted(_DTYPES)}")
        self.take("[")
        dims: list[int] = []
        while not self.peek("]"):
            if self.tok.text == "dyn":
                raise WebNNTextError(
                    f"{self.where}:{self.tok.line}: dynamic dimension dyn(...): webnnc compiles "
                    "static shapes only; replace it with a concrete size"
                )
            dims.append(int(self.take(kind="number").text))
            if not self.peek("]"):
                self.take(",")
        self.take("]")
        return _DTYPES[t.text], dims

    def const_init(self, name: str, dt: DataType, shape: list[int]) -> ConstDecl:
        if self.tok.kind != "annot":
            return ConstDecl(dt, shape, "weights", name)
        annot = self.take(kind="annot")
        self.take("(")
        if annot.text == "@weights":
            decl = ConstDecl(dt, shape, "weights", _unquote(self.take(kind="string").text))
        elif annot.text == "@scalar":
            decl = ConstDecl(dt, shape, "scalar", self.literal())
        elif annot.text == "@bytes":
            decl = ConstDecl(dt, shape, "bytes", bytes(int(v) for v in self.literal()))
        else:
            raise WebNNTextError(f"{self.where}:{annot.line}: unknown annotation {annot.text}")
        self.take(")")
        return decl

    def stmt(self) -> TextNode:
        line = self.tok.line
        if self.peek("["):
            self.i += 1
            outs = [self.take(kind="ident").text]
            while self.peek(","):
                self.i += 1
                outs.append(self.take(kind="ident").text)
            self.take("]")
        else:
            outs = [self.take(kind="ident").text]
        self.take("=")
        op = self.take(kind="ident").text
        args: list[Any] = []
        options: dict[str, Any] = {}
        if not self.peek("("):  # `a = b;` is an alias
            self.take(";")
            return TextNode(outs, "identity", [Ident(op)], {}, line)
        self.take("(")
        while not self.peek(")"):
            if self.tok.kind == "ident" and self.toks[self.i + 1].text == "=":
                key = self.take(kind="ident").text
                self.take("=")
                options[key] = self.value()
            else:
                args.append(self.value())
            if not self.peek(")"):
                self.take(",")
        self.take(")")
        self.take(";")
        return TextNode(outs, op, args, options, line)

    def value(self) -> Any:
        if self.tok.kind == "ident" and self.tok.text not in ("true", "false", "null"):
            return Ident(self.take().text)
        return self.literal()

    def literal(self) -> Any:
        t = self.tok
        if t.kind == "number":
            self.i += 1
            return int(t.text) if re.fullmatch(r"-?\d+", t.text) else float(t.text)
        if t.kind == "string":
            self.i += 1
            return _unquote(t.text)
        if t.text in ("true", "false"):
            self.i += 1
            return t.text == "true"
        if t.text == "null":
            self.i += 1
            return None
        if t.text == "[":
            self.i += 1
            items = []
            while not self.peek("]"):
                items.append(self.value())
                if not self.peek("]"):
                    self.take(",")
            self.take("]")
            return items
        raise self.fail("a value")


def parse_webnn_text(text: str, where: str = "<text>") -> TextGraph:
    """Parse webnn-graph text into its syntax tree (no weights are read)."""
    return _Parser(text, where).graph()


# --------------------------------------------------------------------------- loading
def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def _read_weights(weights: Path | None, manifest: Path | None, where: str) -> tuple[bytes, dict[str, Any]]:
    if weights is None or manifest is None or not weights.is_file() or not manifest.is_file():
        missing = [str(p) for p in (weights, manifest) if p is None or not p.is_file()]
        raise WebNNTextError(f"{where}: @weights constants need a weights file and manifest; missing {missing}")
    data = weights.read_bytes()
    try:
        man = json.loads(manifest.read_text())
    except json.JSONDecodeError as e:
        raise WebNNTextError(f"{manifest}: not JSON: {e}") from None
    if man.get("format") != "wg-weights-manifest":
        raise WebNNTextError(f"{manifest}: format is {man.get('format')!r}; expected 'wg-weights-manifest'")
    if man.get("endianness", "little") != "little":
        raise WebNNTextError(f"{manifest}: only little-endian weights are supported")
    if data[:4] == WEIGHTS_MAGIC:
        (version,) = struct.unpack("<I", data[4:8])
        if version != WEIGHTS_VERSION:
            raise WebNNTextError(f"{weights}: weights file version {version}; expected {WEIGHTS_VERSION}")
    return data, dict(man.get("tensors", {}))


def _const_array(name: str, decl: ConstDecl, blob: tuple[bytes, dict[str, Any]] | None, where: str) -> np.ndarray:
    dtype = decl.data_type.numpy_dtype.newbyteorder("<")
    count = math.prod(decl.shape)
    if decl.kind == "scalar":
        return np.full(decl.shape, decl.value, dtype=decl.data_type.numpy_dtype)
    if decl.kind == "bytes":
        raw = decl.value
    else:
        assert blob is not None
        data, tensors = blob
        entry = tensors.get(decl.value)
        if entry is None:
            raise WebNNTextError(f"{where}: constant {name!r} refers to weights {decl.value!r}, not in the manifest")
        off, length = int(entry["byteOffset"]), int(entry["byteLength"])
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
    tg = parse_webnn_text(p.read_text(), str(p))
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
    for name, (dt, shape) in tg.inputs.items():
        env[name] = b.input(name, shape, dt)
    for name, decl in tg.consts.items():
        env[name] = b.constant(_const_array(name, decl, blob, where))

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
    method = getattr(b, builder_method(node.op), None)
    if not callable(method):
        raise WebNNTextError(f"{where}:{node.line}: unknown or unsupported WebNN operator {node.op!r}")
    kwargs = {_snake(k): v for k, v in options.items()}
    operands = [a for a in args if isinstance(a, MLOperand)]
    if node.op in _OPERAND_OPTIONS:
        required, optional = _OPERAND_OPTIONS[node.op]
        extra = [a for a in args[required:] if isinstance(a, MLOperand)]
        if len(extra) > len(optional):
            raise WebNNTextError(f"{where}:{node.line}: {node.op} takes at most {required + len(optional)} operands")
        for opt, a in zip(optional, extra, strict=False):
            kwargs[_snake(opt)] = a
        args = [a for i, a in enumerate(args) if i < required or not isinstance(a, MLOperand)]
    else:
        params = list(inspect.signature(method).parameters)
        if params and params[0] == "inputs" and operands:  # concat(a, b, axis=1)
            args = [operands] + [a for a in args if not isinstance(a, MLOperand)]
    try:
        return method(*args, **kwargs)
    except (ValueError, TypeError) as e:
        raise WebNNTextError(f"{where}:{node.line}: {node.op}: {e}") from e


# --------------------------------------------------------------------------- saving
_IDENT = re.compile(r"[A-Za-z_/$][A-Za-z0-9_./]*\Z")
_KEYWORDS = {"true", "false", "null", "dyn"}


def _ident(name: str) -> str:
    clean = re.sub(r"[^A-Za-z0-9_./]", "_", name)
    if not _IDENT.match(clean) or clean in _KEYWORDS:
        clean = "_" + clean
    if clean != name:
        logger.warning("name %r is not a webnn-graph identifier; written as %r", name, clean)
    return clean


def _fmt(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, DataType):
        return f'"{value.value}"'
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, tuple | list):
        items = [_fmt(v) for v in value]
        if any(i is None for i in items):
            return None
        return "[" + ", ".join(i for i in items if i is not None) + "]"
    raise WebNNTextError(f"cannot write option value {value!r}")


def write_webnn_text(graph: Graph, *, inline_weights: bool = False) -> tuple[str, bytes, dict[str, Any]]:
    """Render ``graph`` as webnn-graph text; returns (text, weights bytes, manifest dict)."""
    names: dict[int, str] = {}
    taken: set[str] = set()

    def claim(value: Value, wanted: str) -> str:
        base = _ident(wanted)
        name, k = base, 1
        while name in taken:
            name, k = f"{base}_{k}", k + 1
        taken.add(name)
        names[id(value)] = name
        return name

    input_ids = {id(v) for v in graph.inputs}
    out_ids: dict[int, str] = {}
    for out_name, v in graph.outputs.items():
        if id(v) in input_ids or v.const is not None or id(v) in out_ids:
            raise WebNNTextError(
                f"output {out_name!r} is a graph input, a constant or another output's value; the "
                "webnn-graph format names each output after the node that computes it"
            )
        out_ids[id(v)] = out_name
    for v in graph.inputs:
        claim(v, v.name or "input")
    for v in graph.outputs.values():
        claim(v, out_ids[id(v)])

    lines = [f'webnn_graph {_fmt(str(graph.meta.get("name", graph.name)))} v1 {{']
    lines.append("  inputs {")
    for v in graph.inputs:
        lines.append(f"    {names[id(v)]}: {_type(v)};")
    lines.append("  }")

    blob = bytearray(WEIGHTS_MAGIC + struct.pack("<I", WEIGHTS_VERSION))
    tensors: dict[str, Any] = {}
    used_consts = [c for c in graph.constants if c._uses]
    lines.append("  consts {")
    for i, c in enumerate(used_consts):
        name = claim(c, f"c{i}")
        arr = np.ascontiguousarray(c.const)
        le = arr.astype(arr.dtype.newbyteorder("<"))
        if arr.size == 1 and arr.dtype.kind in "iub":
            annot = f" @scalar({int(arr.reshape(-1)[0])})"
        elif arr.size == 1 and np.isfinite(arr).all():
            annot = f" @scalar({float(arr.reshape(-1)[0])!r})"
        elif inline_weights:
            annot = f" @bytes([{', '.join(str(x) for x in le.tobytes())}])"
        else:
            raw = le.tobytes()
            tensors[name] = {"dataType": c.data_type.value, "shape": list(c.shape),
                             "byteOffset": len(blob), "byteLength": len(raw), "layout": "row-major"}
            blob += raw
            annot = f' @weights("{name}")'
        lines.append(f"    {name}: {_type(c)}{annot};")
    lines.append("  }")

    lines.append("  nodes {")
    counter = 0
    for node in graph.nodes:
        outs = []
        for o in node.outputs:
            if id(o) not in names:
                claim(o, f"v{counter}")
                counter += 1
            outs.append(names[id(o)])
        lines.append(f"    {_stmt(node, outs, names)}")
    lines.append("  }")
    lines.append("  outputs { " + " ".join(f"{names[id(v)]};" for v in graph.outputs.values()) + " }")
    lines.append("}")
    manifest = {"format": "wg-weights-manifest", "version": 1, "endianness": "little", "tensors": tensors}
    return "\n".join(lines) + "\n", bytes(blob), manifest


def _type(v: Value) -> str:
    return f"{_SHORT[v.data_type]}[{', '.join(str(d) for d in v.shape)}]"


def _stmt(node: Any, outs: list[str], names: Mapping[int, str]) -> str:
    args: list[str] = []
    inputs = list(node.inputs)
    required, optional = _OPERAND_OPTIONS.get(node.op_type, (len(inputs), ()))
    for i, v in enumerate(inputs[:required]):
        if v is None:
            raise WebNNTextError(f"{node.op_type}: operand {i} is missing")
        args.append(names[id(v)])
    for opt, v in zip(optional, inputs[required:], strict=False):
        if v is not None:
            args.append(f"{opt}={names[id(v)]}")
    for key, value in node.attributes.items():
        if node.op_type == "resample2d" and key == "sizes" and node.attributes.get("scales"):
            continue  # derived from scales by the builder (given both, sizes would win)
        text = _fmt(value)
        if text is not None:
            args.append(f"{_camel(key)}={text}")
    if node.op_type in ("argMax", "argMin") and "output_data_type" not in node.attributes:
        args.append(f'outputDataType="{node.outputs[0].data_type.value}"')  # kept in the descriptor
    lhs = outs[0] if len(outs) == 1 else "[" + ", ".join(outs) + "]"
    return f"{lhs} = {node.op_type}({', '.join(args)});"


def save_webnn_text(graph: Graph, path: str | Path, *, inline_weights: bool = False) -> list[Path]:
    """Write ``graph`` to ``path`` (``.webnn``) plus ``.weights`` and ``.manifest.json`` beside it.

    Returns the files written (only the ``.webnn`` file when nothing needs a weights file).
    """
    p = Path(path)
    text, blob, manifest = write_webnn_text(graph, inline_weights=inline_weights)
    p.write_text(text)
    written = [p]
    if manifest["tensors"]:
        stem = p.with_suffix("")
        wpath, mpath = stem.with_suffix(".weights"), Path(f"{stem}.manifest.json")
        wpath.write_bytes(blob)
        mpath.write_text(json.dumps(manifest, indent=2) + "\n")
        written += [wpath, mpath]
    return written
