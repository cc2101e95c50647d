"""webnnc: an ahead-of-time compiler and persistent model cache for W3C WebNN graphs.

    import webnnc
    ml = webnnc.ML()
    context = ml.create_context()
    builder = context.create_graph_builder()
    ...

pywebnn code runs with ``import webnnc as webnn``: the same public names are exported here
(see COMPAT.md in this package). They are re-exported lazily, so ``import webnnc`` stays as
cheap as ``import webnnc.runtime``.
"""

from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING, Any

# NOTE: the three sub-packages live in top-level folders mapped into this namespace (see
# DESIGN.md). extend_path lets an installed copy complete a source checkout's `webnnc/`
# folder when the checkout's root is on sys.path ahead of site-packages. An installed copy
# holds `runtime/` itself and needs none of it: importing pkgutil costs 12-15 ms of a cold
# start (python -X importtime, wheel install), so it is imported only for the checkout case.
if not os.path.isdir(os.path.join(__path__[0], "runtime")):
    import pkgutil

    __path__ = pkgutil.extend_path(__path__, __name__)

if TYPE_CHECKING:
    from webnnc._context import ML, AsyncMLContext, MLContext
    from webnnc._hub import Hub
    from webnnc.compiler.frontend import MLGraphBuilder, MLOperand
    from webnnc.runtime import MLGraph, MLTensor, load

__version__ = "0.1.0"

__all__ = [
    # the WebNN API (pywebnn's names)
    "ML",
    "AsyncMLContext",
    "Hub",
    "MLContext",
    "MLGraph",
    "MLGraphBuilder",
    "MLOperand",
    "MLTensor",
    # webnnc's own
    "__version__",
    "load",
]

_LAZY = {
    "ML": "webnnc._context",
    "MLContext": "webnnc._context",
    "AsyncMLContext": "webnnc._context",
    "Hub": "webnnc._hub",
    "MLGraph": "webnnc.runtime.graph",
    "MLTensor": "webnnc.runtime.tensor",
    "load": "webnnc.runtime.loader",
    "MLGraphBuilder": "webnnc.compiler.frontend",
    "MLOperand": "webnnc.compiler.frontend",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'webnnc' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    if name == "MLGraph":  # MLGraph.load / save reach the compiler through the facade
        importlib.import_module("webnnc._context")._register_graph_files()
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
