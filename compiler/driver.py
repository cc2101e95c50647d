"""compile_graph(): key -> cache lookup -> (on a miss) passes -> emit -> optimize -> store.

The whole pipeline reads top to bottom; each stage is timed into :class:`BuildInfo`.
Nothing here imports onnx or onnxruntime until a miss actually compiles.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from webnnc.cache import CacheKey, IOSpec, Manifest
from webnnc.cache.machine import cpu_features, library_version
from webnnc.compiler._version import FORMAT_VERSION, __version__
from webnnc.compiler.ir import Graph, structural_digest, verify
from webnnc.compiler.options import CompileOptions

if TYPE_CHECKING:
    from webnnc.cache.store import ArtifactStore
    from webnnc.compiler.passes import PassRecord

__all__ = ["BuildInfo", "CompileResult", "cache_key", "compile_graph"]

logger = logging.getLogger(__name__)


@dataclass
class BuildInfo:
    """How a compiled graph was obtained, and what each step cost."""

    source: str  # "cache-hit", "compiled", or "compiled-uncached"
    key: str
    timings_ms: dict[str, float] = field(default_factory=dict)
    passes: list[PassRecord] = field(default_factory=list)
    note: str = ""

    @property
    def cache_hit(self) -> bool:
        return self.source == "cache-hit"


@dataclass
class CompileResult:
    """A compiled artifact: on disk in the cache (``path``) or in memory (``data``)."""

    manifest: Manifest
    info: BuildInfo
    path: str | None = None
    data: bytes | None = None


def _libraries(options: CompileOptions) -> tuple[tuple[str, str], ...]:
    libs = {"webnnc": __version__, "onnx": library_version("onnx")}
    if options.target.startswith("onnx"):
        libs["onnxruntime"] = library_version("onnxruntime", "onnxruntime-gpu")
    if options.target == "coreml":
        libs["coremltools"] = library_version("coremltools")
    return tuple(sorted(libs.items()))


def cache_key(graph: Graph, options: CompileOptions) -> CacheKey:
    """The cache key of compiling ``graph`` with ``options`` on this machine."""
    machine: tuple[tuple[str, str], ...] = ()
    if options.machine_specific:
        machine = (("cpu", cpu_features()),)
    return CacheKey(
        graph_digest=structural_digest(graph),
        target=options.target,
        options=options.canonical_items(),
        format_version=FORMAT_VERSION,
        libraries=_libraries(options),
        machine=machine,
    )


def _io(graph: Graph) -> tuple[tuple[IOSpec, ...], tuple[IOSpec, ...]]:
    inputs = tuple(IOSpec(v.name or "", v.data_type.value, v.shape) for v in graph.inputs)
    outputs = tuple(IOSpec(n, v.data_type.value, v.shape) for n, v in graph.outputs.items())
    return inputs, outputs


def _ms(t0: float) -> float:
    return round((time.perf_counter() - t0) * 1e3, 3)


def compile_graph(
    graph: Graph,
    options: CompileOptions | None = None,
    *,
    store: ArtifactStore | None = None,
    name: str | None = None,
    verify_ir: bool = False,
) -> CompileResult:
    """Compile ``graph`` for ``options.target``, or fetch it from ``store``.

    Args:
        graph: the IR graph (as built; it is optimized on a copy-free in-place basis only
            after a cache miss).
        options: target and optimization options.
        store: the artifact store; None compiles in memory without caching.
        name: register the result under this model name (for ``runtime.load(name)``).
        verify_ir: verify the IR before and after every pass.
    """
    options = options or CompileOptions()
    timings: dict[str, float] = {}

    # 1. key: structural digest of the graph as built + everything that shapes the artifact
    t0 = time.perf_counter()
    if verify_ir:
        verify(graph)
    key = cache_key(graph, options)
    digest = key.digest()
    timings["key"] = _ms(t0)

    # 2. lookup
    if store is not None:
        t0 = time.perf_counter()
        try:
            hit = store.get(digest)
        except Exception as e:  # an unreadable cache must not stop a build
            logger.warning("cache lookup failed (%s); compiling without the cache", e)
            hit, store = None, None
        timings["lookup"] = _ms(t0)
        if hit is not None:
            logger.info("cache hit %s… for %s", digest[:12], options.target)
            return CompileResult(hit.manifest, BuildInfo("cache-hit", digest, timings), path=hit.path)

    # 3. optimize the IR
    records: list[PassRecord] = []
    if options.passes:
        from webnnc.compiler.passes import default_pipeline

        t0 = time.perf_counter()
        pm = default_pipeline(target=options.target, verify_each=verify_ir or None)
        graph = pm(graph).graph
        records = pm.records
        timings["passes"] = _ms(t0)

    # 4. emit, 5. backend optimizer
    data, fmt, extra = _emit(graph, options, timings)
    plan = graph.meta.get("memory_plan")
    if plan is not None:  # the runtime pools its output buffers by this plan
        extra["memory_plan"] = plan.to_json()

    inputs, outputs = _io(graph)
    manifest = Manifest(
        key=digest,
        target=options.target,
        format=fmt,
        artifact_sha256=hashlib.sha256(data).hexdigest(),
        artifact_size=len(data),
        inputs=inputs,
        outputs=outputs,
        name=name,
        created=time.time(),
        key_parts=key.parts(),
        libraries=dict(key.libraries),
        timings_ms=dict(timings),
        extra=extra,
    )

    # 6. store
    if store is not None:
        t0 = time.perf_counter()
        try:
            stored = store.put(manifest, data)
        except Exception as e:
            logger.warning("could not store the artifact in the cache (%s); running from memory", e)
        else:
            timings["store"] = _ms(t0)
            return CompileResult(stored.manifest, BuildInfo("compiled", digest, timings, records), path=stored.path)
    return CompileResult(manifest, BuildInfo("compiled-uncached", digest, timings, records), data=data)


def _emit(graph: Graph, options: CompileOptions, timings: dict[str, float]) -> tuple[bytes, str, dict[str, Any]]:
    from webnnc.compiler.emitters import get_emitter

    if options.target.startswith("onnx"):
        t0 = time.perf_counter()
        art = get_emitter("onnx").emit(graph)
        timings["emit"] = _ms(t0)
        if options.optimization_level == "none":
            return art.data, "onnx", dict(art.info)
        from webnnc.compiler.emitters.ort_optimizer import optimize

        t0 = time.perf_counter()
        providers = ["CUDAExecutionProvider", "CPUExecutionProvider"] if options.target == "onnx-cuda" else None
        opt = optimize(art.data, level=options.optimization_level, providers=providers)
        timings["backend_optimize"] = _ms(t0)
        return opt.data, opt.format, {**art.info, **opt.info}
    t0 = time.perf_counter()
    art = get_emitter(options.target).emit(graph)
    timings["emit"] = _ms(t0)
    return art.data, art.format, dict(art.info)
