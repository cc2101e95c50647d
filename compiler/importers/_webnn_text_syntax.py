"""The webnn-graph text format's syntax: tokens, the syntax tree, the parser, shared tables.

``webnn_text.py`` describes the format and loads it (through the public MLGraphBuilder);
``_webnn_text_writer.py`` writes it. Both share the tables here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from webnnc.compiler.errors import CompilerError
from webnnc.compiler.ir import DataType

__all__ = [
    "DTYPES",
    "OPERAND_OPTIONS",
    "SHORT_NAMES",
    "WEIGHTS_MAGIC",
    "WEIGHTS_VERSION",
    "ConstDecl",
    "Ident",
    "TextGraph",
    "TextNode",
    "WebNNTextError",
    "camel",
    "parse_webnn_text",
]

WEIGHTS_MAGIC = b"WGWT"
WEIGHTS_VERSION = 1

DTYPES = {
    "f32": DataType.FLOAT32, "f16": DataType.FLOAT16, "i32": DataType.INT32,
    "u32": DataType.UINT32, "i64": DataType.INT64, "u64": DataType.UINT64, "i8": DataType.INT8,
    "u8": DataType.UINT8, "i4": DataType.INT4, "u4": DataType.UINT4,
}
SHORT_NAMES = {v: k for k, v in DTYPES.items()}

# Operators whose trailing operands are options: op -> (number of leading required operands,
# names of the optional operand options in the order the text may give them positionally).
OPERAND_OPTIONS: dict[str, tuple[int, tuple[str, ...]]] = {
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


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)



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


# Deepest list literal accepted: options are at most two levels deep (padding pairs), and a
# deeper literal recursed until Python's RecursionError.
MAX_LITERAL_DEPTH = 32


class _Parser:
    def __init__(self, text: str, where: str) -> None:
        self.toks = _tokenize(text, where)
        self.i = 0
        self.where = where
        self.depth = 0

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
        if t.text not in DTYPES:
            raise WebNNTextError(f"{self.where}:{t.line}: unknown data type {t.text!r}; one of {sorted(DTYPES)}")
        self.take("[")
        dims: list[int] = []
        while not self.peek("]"):
            if self.tok.text == "dyn":
                raise WebNNTextError(
                    f"{self.where}:{self.tok.line}: dynamic dimension dyn(...): webnnc compiles "
                    "static shapes only; replace it with a concrete size"
                )
            dim = self.take(kind="number")
            if not re.fullmatch(r"\d+", dim.text) or int(dim.text) < 1:
                raise WebNNTextError(f"{self.where}:{dim.line}: dimension {dim.text} is not a positive integer")
            dims.append(int(dim.text))
            if not self.peek("]"):
                self.take(",")
        self.take("]")
        return DTYPES[t.text], dims

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
            values = self.literal()
            if not isinstance(values, list) or not all(type(v) is int and 0 <= v <= 255 for v in values):
                raise WebNNTextError(f"{self.where}:{annot.line}: @bytes needs a list of integers in [0, 255]")
            decl = ConstDecl(dt, shape, "bytes", bytes(values))
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
            try:
                return int(t.text) if re.fullmatch(r"-?\d+", t.text) else float(t.text)
            except ValueError:  # more digits than int() accepts
                raise WebNNTextError(f"{self.where}:{t.line}: number {t.text[:20]}... is too long") from None
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
            if self.depth >= MAX_LITERAL_DEPTH:
                raise WebNNTextError(f"{self.where}:{t.line}: list literal nested deeper than {MAX_LITERAL_DEPTH}")
            self.i += 1
            self.depth += 1
            items = []
            while not self.peek("]"):
                items.append(self.value())
                if not self.peek("]"):
                    self.take(",")
            self.take("]")
            self.depth -= 1
            return items
        raise self.fail("a value")


def parse_webnn_text(text: str, where: str = "<text>") -> TextGraph:
    """Parse webnn-graph text into its syntax tree (no weights are read)."""
    return _Parser(text, where).graph()


