"""webnnc.runtime: run compiled WebNN graphs from the cache, without the compiler.

Importing this package is cheap: it imports only the standard library. ``onnxruntime``,
``numpy`` and ``diskcache`` load with the first graph. The runtime never imports the
compiler; building graphs (``webnnc.ML`` / ``webnnc.MLContext``) lives one layer up, in the
``webnnc`` facade, which compiles and then opens the result here (``open_graph``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from webnnc.runtime.errors import InputMismatchError, RuntimeLoadError, WebNNRuntimeError

if TYPE_CHECKING:
    from webnnc.runtime.graph import MLGraph
    from webnnc.runtime.loader import load, open_graph
    from webnnc.runtime.tensor import MLTensor

__all__ = [
    # WebNN API
    "MLGraph",
    "MLTensor",
    # loading without the compiler
    "load",
    "open_graph",
    # errors
    "InputMismatchError",
    "RuntimeLoadError",
    "WebNNRuntimeError",
]

_LAZY = {
    "MLGraph": "webnnc.runtime.graph",
    "MLTensor": "webnnc.runtime.tensor",
    "load": "webnnc.runtime.loader",
    "open_graph": "webnnc.runtime.loader",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'webnnc.runtime' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted(__all__)
