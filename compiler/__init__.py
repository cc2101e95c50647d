"""webnnc.compiler: WebNN builder front end, IR, passes, emitters and the compile driver."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from webnnc.compiler._version import FORMAT_VERSION, __version__
from webnnc.compiler.driver import BuildInfo, CompileResult, cache_key, compile_graph
from webnnc.compiler.errors import (
    CompilerError,
    PassError,
    UnsupportedOperatorError,
    ValidationError,
    VerificationError,
    WebNNTypeError,
)
from webnnc.compiler.frontend import MLGraphBuilder, MLOperand
from webnnc.compiler.ir import DataType, Graph, OperandDescriptor
from webnnc.compiler.options import TARGETS, CompileOptions

if TYPE_CHECKING:
    from webnnc.compiler.importers import import_onnx

__all__ = [
    # building
    "MLGraphBuilder",
    "MLOperand",
    # importing
    "import_onnx",
    # IR
    "DataType",
    "Graph",
    "OperandDescriptor",
    # compiling
    "TARGETS",
    "BuildInfo",
    "CompileOptions",
    "CompileResult",
    "cache_key",
    "compile_graph",
    # versions
    "FORMAT_VERSION",
    "__version__",
    # errors
    "CompilerError",
    "PassError",
    "UnsupportedOperatorError",
    "ValidationError",
    "VerificationError",
    "WebNNTypeError",
]


def __getattr__(name: str) -> Any:
    if name == "import_onnx":  # lazy: the importers load only when used
        from webnnc.compiler.importers import import_onnx

        return import_onnx
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
