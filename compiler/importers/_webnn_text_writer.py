"""Writing the webnn-graph text format (``webnn_text.py`` describes it): graph -> text + weights."""

from __future__ import annotations

import json
import logging
import math
import re
import struct
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from webnnc.compiler.importers._webnn_text_syntax import (
    OPERAND_OPTIONS,
    SHORT_NAMES,
    WEIGHTS_MAGIC,
    WEIGHTS_VERSION,
    WebNNTextError,
    camel,
)
from webnnc.compiler.ir import DataType, Graph, Value

__all__ = ["save_webnn_text", "write_webnn_text"]

logger = logging.getLogger(__name__)

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
    return f"{SHORT_NAMES[v.data_type]}[{', '.join(str(d) for d in v.shape)}]"


def _stmt(node: Any, outs: list[str], names: Mapping[int, str]) -> str:
    args: list[str] = []
    inputs = list(node.inputs)
    required, optional = OPERAND_OPTIONS.get(node.op_type, (len(inputs), ()))
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
            args.append(f"{camel(key)}={text}")
    if node.op_type in ("argMax", "argMin") and "output_data_type" not in node.attributes:
        args.append(f'outputDataType="{node.outputs[0].data_type.value}"')  # kept in the descriptor
    lhs = outs[0] if len(outs) == 1 else "[" + ", ".join(outs) + "]"
    return f"{lhs} = {node.op_type}({', '.join(args)});"


def save_webnn_text(graph: Any, path: str | Path, *, inline_weights: bool = False) -> list[Path]:
    """Write ``graph`` to ``path`` (``.webnn``) plus ``.weights`` and ``.manifest.json`` beside it.

    ``graph`` is an IR :class:`Graph` or an ``MLGraph`` built by a builder (its graph as
    built is written). Returns the files written (only the ``.webnn`` file when nothing needs
    a weights file).

    Raises:
        TypeError: ``graph`` is neither (e.g. an ``MLGraph`` loaded without its IR).
    """
    if not isinstance(graph, Graph):
        built = getattr(graph, "_ir_graph", None)  # an MLGraph (the compiler cannot import it)
        if not isinstance(built, Graph):
            raise TypeError(
                f"save_webnn_text: expected a Graph or an MLGraph built with a builder; found "
                f"{type(graph).__name__}{' loaded without its graph' if hasattr(graph, '_ir_graph') else ''}"
            )
        graph = built
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

