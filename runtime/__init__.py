"""webnnc.runtime: run compiled WebNN graphs from the cache.

Importing this package is cheap: it imports only the standard library. ``onnxruntime``,
``numpy`` and ``diskcache`` load with the first graph; the compiler loads only when a
graph is built (``create_graph_builder``), never for ``load()``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from webnnc.runtime.errors import InputMismatchError, RuntimeLoadError, WebNNRuntimeError

if TYPE_CHECKING:
    from webnnc.runtime.context import ML, MLContext
    from webnnc.runtime.graph import MLGraph
    from webnnc.runtime.loader import load

__all__ = [
    # WebNN API
    "ML",
    "MLContext",
    "MLGraph",
    # loading without the compiler
    "load",
    # errors
    "InputMismatchError",
    "RuntimeLoadError",
    "WebNNRuntimeError",
]

_LAZY = {
    "ML": "webnnc.runtime.context",
    "MLContext": "webnnc.runtime.context",
    "MLGraph": "webnnc.runtime.graph",
    "load": "webnnc.runtime.loader",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'webnnc.runtime' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted(__all__)
