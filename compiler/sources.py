"""Resolve a model SOURCE given on the command line into a graph-building function.

Supported sources:

- ``package.module:function`` — a Python function that takes an ``MLGraphBuilder`` and
  returns the ``{output name: MLOperand}`` dict to build (see ``webnnc.compiler.workloads``).
- ``path/to/file.py:function`` — the same, from a file.
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

__all__ = ["Source", "SourceError", "resolve_source"]


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


def resolve_source(spec: str, *, input_shapes: Mapping[str, Sequence[int]] | None = None) -> Source:
    """Turn a SOURCE string into a :class:`Source` (``.onnx`` / ``.webnn`` files are imported)."""
    if spec.endswith((".onnx", ".webnn")):
        from webnnc.compiler.importers._sources import file_source

        return file_source(spec, input_shapes)
    if input_shapes:
        raise SourceError(f"{spec!r}: --input-shape applies to .onnx models only")
    return _python_source(spec)
