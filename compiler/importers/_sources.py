"""Model files as compile SOURCEs: ``model.onnx`` and ``graph.webnn`` (see webnnc.compiler.sources)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from webnnc.compiler.sources import Source, SourceError

__all__ = ["FILE_SUFFIXES", "file_source"]

FILE_SUFFIXES = (".onnx", ".webnn")


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
