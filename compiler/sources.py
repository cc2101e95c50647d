"""Resolve a model SOURCE given on the command line into a graph-building function.

Supported sources:

- ``package.module:function`` — a Python function that takes an ``MLGraphBuilder`` and
  returns the ``{output name: MLOperand}`` dict to build (see ``webnnc.compiler.workloads``).
- ``path/to/file.py:function`` — the same, from a file.
- ``model.onnx`` — an ONNX model, through the ONNX importer.
- ``graph.webnn`` — a webnn-graph text file.

# NOTE: this module owns :class:`Source` and calls into ``webnnc.compiler.importers`` (lazily,
# so a Python source never loads onnx); the importers know nothing of sources, which keeps
# the dependency one-way.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from webnnc.compiler.errors import CompilerError

__all__ = ["FILE_SUFFIXES", "Source", "SourceError", "file_source", "resolve_source"]

FILE_SUFFIXES = (".onnx", ".webnn")


class SourceError(CompilerError, ValueError):
    """A SOURCE argument cannot be resolved."""


@dataclass(frozen=True)
class Source:
    """A resolved source: a default model name and a function building into a builder."""

    spec: str
    name: str
    build: Callable[[Any], dict[str, Any]]


def _python_source(spec: str) -> Source:
    module_part, _, func_name = spec.rpartition(":")
    if not module_part or not func_name:
        raise SourceError(f"{spec!r}: expected MODULE:FUNCTION (e.g. webnnc.compiler.workloads:w1_simple)")
    try:
        if module_part.endswith(".py"):
            path = Path(module_part)
            if not path.is_file():
                raise SourceError(f"{spec!r}: file {path} does not exist")
            mod_spec = importlib.util.spec_from_file_location(path.stem, path)
            assert mod_spec is not None and mod_spec.loader is not None
            module = importlib.util.module_from_spec(mod_spec)
            sys.modules.setdefault(path.stem, module)
            mod_spec.loader.exec_module(module)
        else:
            module = importlib.import_module(module_part)
    except SourceError:
        raise
    except ImportError as e:
        raise SourceError(f"{spec!r}: cannot import {module_part!r}: {e}") from None
    fn = getattr(module, func_name, None)
    if not callable(fn):
        raise SourceError(f"{spec!r}: {module_part!r} has no function {func_name!r}")
    return Source(spec, func_name, fn)


def file_source(spec: str, input_shapes: Mapping[str, Sequence[int]] | None = None) -> Source:
    """A :class:`Source` that imports an ONNX file or loads a webnn-graph text file."""
    path = Path(spec)
    if not path.is_file():
        raise SourceError(f"{spec!r}: file does not exist")
    if path.suffix == ".onnx":

        def build_onnx(builder: Any) -> dict[str, Any]:
            from webnnc.compiler.importers.onnx_importer import import_onnx

            outputs: dict[str, Any] = import_onnx(path, input_shapes=input_shapes, builder=builder)
            return outputs

        return Source(spec, path.stem, build_onnx)
    if input_shapes:
        raise SourceError(f"{spec!r}: --input-shape applies to ONNX models only (.webnn shapes are static)")

    def build_text(builder: Any) -> dict[str, Any]:
        from webnnc.compiler.importers.webnn_text import load_webnn_text

        outputs: dict[str, Any] = load_webnn_text(path, builder=builder)
        return outputs

    return Source(spec, path.stem, build_text)


def resolve_source(spec: str, *, input_shapes: Mapping[str, Sequence[int]] | None = None) -> Source:
    """Turn a SOURCE string into a :class:`Source` (``.onnx`` / ``.webnn`` files are imported)."""
    if spec.endswith(FILE_SUFFIXES):
        return file_source(spec, input_shapes)
    if input_shapes:
        raise SourceError(f"{spec!r}: --input-shape applies to .onnx models only")
    return _python_source(spec)
