"""Backend emitters: IR graph -> artifact bytes for one target.

Each emitter module imports its target library (onnx, coremltools) at its top; this
package imports an emitter only when it is asked for, so choosing one target never loads
another target's library.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from webnnc.compiler.errors import UnsupportedOperatorError

if TYPE_CHECKING:
    from webnnc.compiler.ir import Graph

__all__ = ["EMITTERS", "Artifact", "Emitter", "get_emitter"]


@dataclass(frozen=True)
class Artifact:
    """What an emitter produces: the serialized model plus facts for the manifest."""

    data: bytes
    format: str  # "onnx", "ort", "mlpackage"
    info: dict[str, Any] = field(default_factory=dict)
    # the other files of a multi-file artifact, by their fixed names (``weights``: the
    # external initializers ``data`` refers to); empty when ``data`` is the whole artifact
    files: dict[str, bytes] = field(default_factory=dict)
    # initializers ``data`` declares as external (location ``weights``) but that were never
    # serialized: name -> numpy array, for a backend stage to take from memory (ONNX Runtime's
    # add_external_initializers); empty for a self-contained ``data``
    arrays: dict[str, Any] = field(default_factory=dict)
    # set when a backend stage saved the artifact's files straight into this folder (the
    # cache's staging folder): ``data`` is then the graph and the folder also holds its
    # ``weights``, which are never read into memory
    folder: str | None = None


class Emitter(Protocol):
    """Turns an IR graph into an :class:`Artifact`."""

    name: str

    def emit(self, graph: Graph, options: dict[str, Any] | None = None) -> Artifact: ...

    def supported_ops(self) -> frozenset[str]: ...


# target family -> module that defines `EMITTER`
EMITTERS: dict[str, str] = {
    "onnx": "webnnc.compiler.emitters.onnx_emitter",
    "coreml": "webnnc.compiler.emitters.coreml_emitter",
}


def get_emitter(name: str) -> Emitter:
    """Import and return the emitter for ``name`` ("onnx" or "coreml")."""
    try:
        module_name = EMITTERS[name]
    except KeyError:
        raise UnsupportedOperatorError(
            f"unknown emitter {name!r}; available: {sorted(EMITTERS)}"
        ) from None
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        extra = {"coreml": "coreml", "onnx": "onnx"}.get(name, name)
        raise UnsupportedOperatorError(
            f"the {name} emitter needs a library that is not installed ({e.name}); "
            f"install it with: pip install 'webnnc[{extra}]'"
        ) from e
    emitter: Emitter = module.EMITTER
    return emitter
