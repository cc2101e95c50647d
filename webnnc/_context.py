"""ML and MLContext: the entry points of the WebNN API.

They sit in the facade because they join the two halves below them: building runs the
compiler (``webnnc.compiler``) and loading runs the runtime (``webnnc.runtime``), and those
two never import each other (see ARCHITECTURE.md).

# NOTE: this module imports neither the compiler nor onnxruntime at import time, so
# ``import webnnc`` stays as cheap as ``import webnnc.runtime``. The compiler is imported by
# create_graph_builder() (building needs it), onnxruntime when the first graph is loaded.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from webnnc.cache._log import get_logger
from webnnc.runtime.errors import WebNNRuntimeError

if TYPE_CHECKING:
    from webnnc.cache.store import ArtifactStore
    from webnnc.compiler.frontend import MLGraphBuilder
    from webnnc.compiler.ir import Graph
    from webnnc.runtime.graph import MLGraph
    from webnnc.runtime.tensor import MLTensor

__all__ = ["ML", "AsyncMLContext", "MLContext"]

logger = get_logger(__name__)

_PRECISIONS = ("fast", "strict")  # compiler/options.py PRECISIONS (a test keeps them equal)
_POWER = ("default", "high-performance", "low-power")
_DEVICES = ("auto", "cpu", "gpu", "npu")
_TARGETS = ("onnx-cpu", "onnx-cuda", "coreml")


class ML:
    """The WebNN entry point (``navigator.ml`` in a browser)."""

    def create_context(
        self,
        options: Mapping[str, Any] | str | None = None,
        accelerated: bool = False,
        device_type: str = "auto",
        *,
        power_preference: str = "default",
        cache_dir: str | os.PathLike[str] | None = None,
        use_cache: bool = True,
        cuda_graph: bool = True,
        cuda_provider_options: Mapping[str, Any] | None = None,
        target: str | None = None,
        remote_cache: str | None = None,
        remote_mode: str | None = None,
        precision: str = "fast",
    ) -> MLContext:
        """Create a context. ``options`` may be the spec's dict (``{"powerPreference": ...}``)
        or, as in pywebnn's positional form ``create_context(power_preference, accelerated,
        device_type)``, the power preference.

        Args:
            power_preference: "default", "high-performance" or "low-power".
            accelerated: prefer an accelerator when one is available.
            device_type: "auto", "cpu", "gpu" or "npu" (pywebnn's option).
            cache_dir: artifact cache folder (default ``$WEBNNC_CACHE_DIR`` or
                ``$XDG_CACHE_HOME/webnnc`` or ``~/.cache/webnnc``).
            use_cache: False compiles in memory and stores nothing.
            cuda_graph: on the GPU target, capture each graph's kernels once and replay them
                (CUDA graphs); False runs every kernel launch from the host.
            cuda_provider_options: ONNX Runtime CUDA provider options that override
                webnnc's defaults (see ``webnnc.runtime._cuda``), e.g.
                ``{"cudnn_conv_algo_search": "EXHAUSTIVE"}``.
            target: force a compile target ("onnx-cpu", "onnx-cuda" or "coreml") instead of
                choosing one from the options above. "coreml" builds a cached .mlpackage
                anywhere; it runs on macOS only (compute units follow power_preference,
                see ``compiler/emitters/COREML.md``).
            remote_cache: a shared remote tier behind the local cache (``s3://bucket/prefix``,
                ``file:///shared/folder``, ``redis://host:6379/0``; default
                ``$WEBNNC_REMOTE_CACHE``): a local miss pulls a signed entry from it.
            remote_mode: "read-only" (default, ``$WEBNNC_REMOTE_MODE``) or "read-write"
                (also push what this context compiles). See ``cache/REMOTE.md``.
            precision: "fast" (default) lowers each op to ONNX Runtime's native kernel, as ONNX
                Runtime runs the original model; "strict" keeps the spec's exact formulas
                where a native kernel misses WPT's ULP tolerance on some inputs (part of the
                cache key; see ``compiler/emitters/LOWERING.md``).
        """
        if isinstance(options, str):
            power_preference, options = options, None
        if options:
            power_preference = options.get("powerPreference", options.get("power_preference", power_preference))
            accelerated = bool(options.get("accelerated", accelerated))
            device_type = options.get("deviceType", options.get("device_type", device_type))
        if power_preference not in _POWER:
            raise TypeError(f"create_context: power_preference must be one of {list(_POWER)}; found {power_preference!r}")
        if device_type not in _DEVICES:
            raise TypeError(f"create_context: device_type must be one of {list(_DEVICES)}; found {device_type!r}")
        return MLContext(
            power_preference=power_preference,
            accelerated=accelerated,
            device_type=device_type,
            cache_dir=cache_dir,
            use_cache=use_cache,
            cuda_graph=cuda_graph,
            cuda_provider_options=cuda_provider_options,
            target=target,
            remote_cache=remote_cache,
            remote_mode=remote_mode,
            precision=precision,
        )

    createContext = create_context  # noqa: N815 - the spec's spelling


class MLContext:
    """Owns the target choice and the artifact cache; builds, loads and runs graphs."""

    def __init__(
        self,
        *,
        power_preference: str = "default",
        accelerated: bool = False,
        device_type: str = "auto",
        cache_dir: str | os.PathLike[str] | None = None,
        use_cache: bool = True,
        cuda_graph: bool = True,
        cuda_provider_options: Mapping[str, Any] | None = None,
        target: str | None = None,
        remote_cache: str | None = None,
        remote_mode: str | None = None,
        precision: str = "fast",
    ) -> None:
        if precision not in _PRECISIONS:
            raise TypeError(f"create_context: precision must be one of {list(_PRECISIONS)}; found {precision!r}")
        self.precision = precision
        self._target_option = target
        self._remote = (remote_cache, remote_mode)
        self.power_preference = power_preference
        self.accelerated = accelerated
        self.device_type = device_type
        self._cache_dir = os.fspath(cache_dir) if cache_dir is not None else None  # str: no pathlib on a hit
        self._use_cache = use_cache
        self._store: ArtifactStore | None = None
        self._fallback_reason = ""
        self.target = self._choose_target()
        # CUDA graphs replay a captured run: on for the GPU target (WebNN shapes are static)
        self.cuda_graph = self.target == "onnx-cuda" and cuda_graph
        self.cuda_provider_options = dict(cuda_provider_options or {})

    def _choose_target(self) -> str:
        if self._target_option is not None:
            if self._target_option not in _TARGETS:
                raise TypeError(f"create_context: target must be one of {list(_TARGETS)}; found {self._target_option!r}")
            return self._target_option
        if self.device_type == "npu":  # the Neural Engine is reached through CoreML
            from webnnc.runtime._coreml import macos_skip_reason

            reason = macos_skip_reason()
            if reason is None:
                return "coreml"
            self._fallback_reason = f"npu requested: {reason}; running on onnx-cpu"
            logger.warning("%s", self._fallback_reason)
            return "onnx-cpu"
        wants_gpu = self.device_type == "gpu" or (self.accelerated and self.device_type == "auto")
        if not wants_gpu:
            return "onnx-cpu"
        from webnnc.runtime._cuda import cuda_status

        usable, reason = cuda_status()
        if usable:
            return "onnx-cuda"
        self._fallback_reason = f"{reason}; running on onnx-cpu"
        logger.warning("GPU requested but unavailable: %s", self._fallback_reason)
        return "onnx-cpu"

    def backend_info(self) -> dict[str, Any]:
        """Which backend this context runs on, and why."""
        store = self.store()
        info: dict[str, Any] = {
            "target": self.target,
            "device_type": self.device_type,
            "accelerated": self.accelerated,
            "power_preference": self.power_preference,
            "cache_dir": str(store.directory) if store is not None else None,
        }
        if self._fallback_reason:
            info["fallback_reason"] = self._fallback_reason
        if self.target == "onnx-cuda":
            from webnnc.runtime._cuda import gpu_description

            info["gpu"] = gpu_description()
            info["cuda_graph"] = self.cuda_graph
            if self.cuda_provider_options:
                info["cuda_provider_options"] = dict(self.cuda_provider_options)
        return info

    def store(self) -> ArtifactStore | None:
        """The artifact store (opened on first use); None when caching is off or unusable."""
        if not self._use_cache:
            return None
        if self._store is None:
            from webnnc.cache.store import ArtifactStore

            try:
                remote, mode = self._remote
                if remote is not None or os.environ.get("WEBNNC_REMOTE_CACHE"):
                    from webnnc.cache.remote import open_tiered_store  # only when configured

                    self._store = open_tiered_store(self._cache_dir, remote, mode=mode)
                else:
                    self._store = ArtifactStore(self._cache_dir)
            except Exception as e:  # unwritable / unreadable directory: run from memory
                logger.warning("artifact cache unavailable (%s); graphs compile in memory", e)
                self._use_cache = False
                return None
        return self._store

    # -------------------------------------------------------------- building
    def create_graph_builder(self) -> MLGraphBuilder:
        """A new builder whose ``build()`` compiles (or loads from the cache) for this context."""
        from webnnc.compiler.frontend import MLGraphBuilder

        return MLGraphBuilder(self, on_build=self._build)

    createGraphBuilder = create_graph_builder  # noqa: N815 - the spec's spelling

    def op_support_limits(self) -> dict[str, Any]:
        """The spec's ``opSupportLimits()`` for this context's target: per operator and
        operand, the data types and rank range that build and run there (the target's support
        table, the same one its compile path validates with)."""
        from webnnc.compiler.targets import get_target

        return get_target(self.target).support_limits()

    opSupportLimits = op_support_limits  # noqa: N815 - the spec's spelling

    def _build(self, graph: Graph) -> MLGraph:
        from webnnc.compiler.driver import compile_graph
        from webnnc.compiler.options import CompileOptions
        from webnnc.runtime.loader import open_graph

        _register_graph_files()
        t0 = time.perf_counter()
        result = compile_graph(
            graph, CompileOptions(target=self.target, precision=self.precision), store=self.store(), name=graph.meta.get("name")
        )
        compile_ms = (time.perf_counter() - t0) * 1e3
        return open_graph(
            result.manifest,
            path=result.path,
            data=result.data,
            files=result.files,
            held=result.held,
            info={
                "source": result.info.source,
                "key": result.info.key,
                "timings_ms": {**result.info.timings_ms, "build_total": round(compile_ms, 3)},
                "passes": [r.__dict__ for r in result.info.passes],
            },
            ir_graph=graph,
            cuda_graph=self.cuda_graph,
            cuda_options=self.cuda_provider_options,
            store=self.store(),
            power_preference=self.power_preference,
            device_type=self.device_type,
        )

    # -------------------------------------------------------------- running
    def compute(
        self,
        graph: MLGraph,
        inputs: Mapping[str, Any],
        outputs: Mapping[str, Any] | Sequence[str] | None = None,
    ) -> dict[str, Any]:
        """Run ``graph`` once; returns ``{output name: ndarray}`` in the graph's data types.

        Args:
            graph: a graph built by this context (or loaded).
            inputs: input name -> array (see ``MLGraph.run`` for the conversions accepted).
            outputs: pywebnn's (and the first WebNN drafts') preallocated outputs, a dict of
                output name -> numpy array: each is filled in place (numpy's same-kind
                casting, e.g. float32 results into a float64 array) and returned in the
                result in place of a new array. A list of names instead computes only those.

        Raises:
            InputMismatchError: a bad input, or a preallocated output of the wrong shape,
                type or name.
            WebNNRuntimeError: ``graph`` is not an MLGraph.
        """
        if not callable(getattr(graph, "run", None)):  # duck-typed: no import on the per-call path
            raise WebNNRuntimeError(f"compute: graph: expected an MLGraph; found {type(graph).__name__}")
        if outputs is None or not isinstance(outputs, Mapping):
            if isinstance(outputs, str):
                outputs = [outputs]
            return graph.run(inputs, outputs)
        return _fill_outputs(graph, graph.run(inputs), outputs)

    def convert_to_onnx(self, graph: MLGraph, output_path: str | os.PathLike[str]) -> None:
        """Write the graph as a plain (unoptimized) ONNX model to ``output_path``."""
        ir = getattr(graph, "_ir_graph", None)
        if ir is None:
            raise WebNNRuntimeError(
                "convert_to_onnx: this graph was loaded from the cache without its IR; "
                "build it with a builder to export it"
            )
        from webnnc.compiler.emitters import get_emitter

        with open(output_path, "wb") as f:
            f.write(get_emitter("onnx").emit(ir).data)

    # -------------------------------------------------------------- tensors
    def create_tensor(
        self,
        shape: Mapping[str, Any] | Sequence[int],
        data_type: str | None = None,
        readable: bool = True,
        writable: bool = True,
        exportable_to_gpu: bool = False,
    ) -> MLTensor:
        """A buffer where this context's graphs run (device memory on the GPU target).

        ``shape`` is a shape, or the spec's descriptor dict (``{"dataType": "float32", "shape": [...],
        "readable": True, "writable": True}``) or a shape, with ``data_type`` beside it;
        the flags may be given by position, as in pywebnn. Unlike the spec and pywebnn,
        tensors are readable and writable by default.
        """
        from webnnc.runtime.tensor import MLTensor

        dims: Any = shape
        if isinstance(shape, Mapping):
            descriptor = shape
            data_type = descriptor.get("dataType", descriptor.get("data_type", data_type))
            dims = descriptor.get("shape", descriptor.get("dimensions"))
            readable = bool(descriptor.get("readable", readable))
            writable = bool(descriptor.get("writable", writable))
            exportable_to_gpu = bool(descriptor.get("exportableToGPU", descriptor.get("exportable_to_gpu", exportable_to_gpu)))
        if dims is None or data_type is None:
            raise WebNNRuntimeError("create_tensor: a shape and a data type are required")
        device = "gpu" if self.target == "onnx-cuda" else "cpu"
        return MLTensor(
            str(data_type), list(dims), device=device, readable=bool(readable), writable=bool(writable),
            exportable_to_gpu=bool(exportable_to_gpu),
        )

    createTensor = create_tensor  # noqa: N815 - the spec's spelling

    def create_host_tensor(self, shape: Sequence[int], data_type: str) -> MLTensor:
        """pywebnn's host tensor: a readable, writable buffer in host memory."""
        from webnnc.runtime.tensor import MLTensor

        return MLTensor(str(data_type), list(shape), device="cpu")

    def create_device_tensor(
        self, graph: MLGraph, shape: Sequence[int], data_type: str, device: str | None = None
    ) -> MLTensor:
        """pywebnn's device tensor: a buffer where ``graph`` runs (``device`` is ignored: the
        graph's target decides, as for :meth:`create_tensor`)."""
        return self.create_tensor(shape, data_type)

    def write_tensor(self, tensor: MLTensor, data: Any) -> None:
        """Copy host data into ``tensor``."""
        tensor.write(data)

    writeTensor = write_tensor  # noqa: N815 - the spec's spelling

    def read_tensor(self, tensor: MLTensor) -> Any:
        """Copy ``tensor`` to a new host array (synchronous; the spec's is a promise)."""
        return tensor.read()

    readTensor = read_tensor  # noqa: N815 - the spec's spelling

    def dispatch(self, graph: MLGraph, inputs: Mapping[str, MLTensor], outputs: Mapping[str, MLTensor]) -> None:
        """Run ``graph`` on bound tensors: no host copies; results stay in ``outputs``."""
        dispatcher = getattr(graph, "_dispatcher", None)
        if dispatcher is None:
            raise WebNNRuntimeError("dispatch: this graph has no tensor dispatcher (was it built by webnnc?)")
        if getattr(graph, "_upgrade", None) is not None:
            graph._current_session()  # the call that is due switches to the final session (rebinds)
        dispatcher.dispatch(inputs, outputs)

    # pywebnn's explicit spellings: one dispatch serves host and device tensors alike
    dispatch_with_host_tensors = dispatch
    dispatch_with_device_tensors = dispatch



def _fill_outputs(graph: MLGraph, results: dict[str, Any], outputs: Mapping[str, Any]) -> dict[str, Any]:
    """Copy ``results`` into the caller's preallocated arrays (``compute``'s third argument)."""
    import numpy as np

    from webnnc.runtime.errors import InputMismatchError

    for name, target in outputs.items():
        if name not in results:
            raise InputMismatchError(
                f"compute: preallocated output {name!r} is not an output of the graph; "
                f"its outputs are {graph.output_names}"
            )
        value = results[name]
        if not isinstance(target, np.ndarray) or not target.flags.writeable:
            raise InputMismatchError(
                f"compute: preallocated output {name!r} must be a writable numpy array; "
                f"found {type(target).__name__}"
            )
        if target.shape != value.shape or not np.can_cast(value.dtype, target.dtype, "same_kind"):
            raise InputMismatchError(
                f"compute: preallocated output {name!r}: expected {value.dtype}{list(value.shape)} "
                f"(or a same-kind dtype); found {target.dtype}{list(target.shape)}"
            )
        np.copyto(target, value, casting="same_kind")
        results[name] = target
    return results


class AsyncMLContext:
    """pywebnn's asynchronous wrapper of an :class:`MLContext`.

    The ``*_async`` methods and ``dispatch`` run the context's synchronous call in the event
    loop's default executor, so a coroutine can await them; everything else passes through.
    """

    def __init__(self, context: MLContext) -> None:
        self._context = context

    async def dispatch(self, graph: MLGraph, inputs: Mapping[str, MLTensor], outputs: Mapping[str, MLTensor]) -> None:
        """``context.dispatch`` off the event loop."""
        import asyncio

        await asyncio.get_running_loop().run_in_executor(None, self._context.dispatch, graph, inputs, outputs)

    async def read_tensor_async(self, tensor: MLTensor) -> Any:
        """``context.read_tensor`` off the event loop."""
        import asyncio

        return await asyncio.get_running_loop().run_in_executor(None, self._context.read_tensor, tensor)

    async def write_tensor_async(self, tensor: MLTensor, data: Any) -> None:
        """``context.write_tensor`` off the event loop."""
        import asyncio

        await asyncio.get_running_loop().run_in_executor(None, self._context.write_tensor, tensor, data)

    def create_graph_builder(self) -> MLGraphBuilder:
        return self._context.create_graph_builder()

    def create_tensor(
        self, shape: Sequence[int], data_type: str, readable: bool = True, writable: bool = True,
        exportable_to_gpu: bool = False,
    ) -> MLTensor:
        return self._context.create_tensor(shape, data_type, readable, writable, exportable_to_gpu)

    def compute(
        self, graph: MLGraph, inputs: Mapping[str, Any], outputs: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        return self._context.compute(graph, inputs, outputs)

    def read_tensor(self, tensor: MLTensor) -> Any:
        return self._context.read_tensor(tensor)

    def write_tensor(self, tensor: MLTensor, data: Any) -> None:
        self._context.write_tensor(tensor, data)

    @property
    def accelerated(self) -> bool:
        return self._context.accelerated

    @property
    def power_preference(self) -> str:
        return self._context.power_preference


# --------------------------------------------------------------------- MLGraph.save / load
_default_context: MLContext | None = None


def _save_graph(ir: Graph, path: str | os.PathLike[str]) -> None:
    from pathlib import Path

    from webnnc.compiler.importers import save_webnn_text

    save_webnn_text(ir, Path(path))


def _load_graph(
    path: str | os.PathLike[str],
    manifest_path: str | os.PathLike[str] | None = None,
    weights_path: str | os.PathLike[str] | None = None,
) -> MLGraph:
    """``MLGraph.load``: a ``.webnn`` file built for a default CPU context."""
    global _default_context
    from pathlib import Path

    from webnnc.compiler.importers import load_webnn_text

    if _default_context is None:
        _default_context = ML().create_context()
    builder = _default_context.create_graph_builder()
    outputs = load_webnn_text(
        Path(path),
        weights=Path(weights_path) if weights_path is not None else None,
        manifest=Path(manifest_path) if manifest_path is not None else None,
        builder=builder,
    )
    graph: MLGraph = builder.build(outputs)
    return graph


def _register_graph_files() -> None:
    from webnnc.runtime.graph import GRAPH_FILES

    GRAPH_FILES.setdefault("save", _save_graph)
    GRAPH_FILES.setdefault("load", _load_graph)
