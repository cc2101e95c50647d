"""MLGraph: a compiled graph bound to one ONNX Runtime session."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from webnnc.runtime.errors import InputMismatchError

if TYPE_CHECKING:
    from webnnc.cache.manifest import IOSpec, Manifest

__all__ = ["MLGraph"]

_NUMPY = {
    "float32": np.float32, "float16": np.float16, "int32": np.int32, "uint32": np.uint32,
    "int64": np.int64, "uint64": np.uint64, "int8": np.int8, "uint8": np.uint8,
    "int4": np.int8, "uint4": np.uint8,
}


def _fmt(spec: IOSpec) -> str:
    return f"{spec.data_type}{list(spec.shape)}"


class MLGraph:
    """A compiled WebNN graph. Run it with ``context.compute(graph, inputs)`` or ``graph.run``.

    Attributes:
        build_info: how the graph was obtained (``source``: cache-hit / compiled /
            compiled-uncached / loaded, the cache key, and per-step timings in ms).
    """

    def __init__(
        self,
        manifest: Manifest,
        session: Any,
        *,
        build_info: dict[str, Any],
        ir_graph: Any = None,
    ) -> None:
        self._manifest = manifest
        self._session = session
        self._ir_graph = ir_graph
        self.build_info = build_info
        self._inputs = [(s.name, np.dtype(_NUMPY[s.data_type]), tuple(s.shape), s) for s in manifest.inputs]
        self._input_names = frozenset(s.name for s in manifest.inputs)
        self._output_names = [s.name for s in manifest.outputs]

    # -- description
    @property
    def input_names(self) -> list[str]:
        return [s.name for s in self._manifest.inputs]

    @property
    def output_names(self) -> list[str]:
        return list(self._output_names)

    @property
    def input_specs(self) -> tuple[IOSpec, ...]:
        return self._manifest.inputs

    @property
    def output_specs(self) -> tuple[IOSpec, ...]:
        return self._manifest.outputs

    @property
    def manifest(self) -> Manifest:
        return self._manifest

    @property
    def cache_hit(self) -> bool:
        return bool(self.build_info.get("source") in ("cache-hit", "loaded"))

    def __repr__(self) -> str:
        ins = ", ".join(f"{s.name}: {_fmt(s)}" for s in self._manifest.inputs)
        outs = ", ".join(f"{s.name}: {_fmt(s)}" for s in self._manifest.outputs)
        return f"<MLGraph ({ins}) -> ({outs}) [{self._manifest.target}, {self.build_info.get('source')}]>"

    # -- execution
    def _feeds(self, inputs: Mapping[str, Any]) -> dict[str, Any]:
        if not isinstance(inputs, Mapping):
            raise InputMismatchError(f"inputs must be a dict of name -> array; found {type(inputs).__name__}")
        feeds: dict[str, Any] = {}
        for name, dtype, shape, spec in self._inputs:
            try:
                x = inputs[name]
            except KeyError:
                expected = ", ".join(f"{s.name}: {_fmt(s)}" for s in self._manifest.inputs)
                raise InputMismatchError(
                    f"missing input {name!r}; the graph expects {{{expected}}}, got {sorted(inputs)}"
                ) from None
            if type(x) is not np.ndarray or x.dtype != dtype:
                try:
                    x = np.asarray(x)
                    if x.dtype != dtype:
                        x = x.astype(dtype, casting="same_kind")
                except (TypeError, ValueError) as e:
                    raise InputMismatchError(
                        f"input {name!r}: expected {_fmt(spec)}; cannot convert {getattr(x, 'dtype', type(x).__name__)} data ({e})"
                    ) from None
            if x.shape != shape:
                raise InputMismatchError(
                    f"input {name!r}: expected shape {list(shape)} ({_fmt(spec)}); found {list(x.shape)}"
                )
            feeds[name] = x
        if len(inputs) != len(feeds):
            extra = sorted(set(inputs) - self._input_names)
            raise InputMismatchError(f"unknown inputs {extra}; the graph's inputs are {self.input_names}")
        return feeds

    def run(self, inputs: Mapping[str, Any], outputs: Sequence[str] | None = None) -> dict[str, np.ndarray]:
        """Run once: named arrays in, named arrays (in the graph's data types) out."""
        feeds = self._feeds(inputs)
        names = self._output_names if outputs is None else list(outputs)
        results = self._session.run(names, feeds)
        return dict(zip(names, results, strict=True))

    __call__ = run
