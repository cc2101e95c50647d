"""compile_graph(): key -> cache lookup -> (on a miss) passes -> emit -> optimize -> store.

The whole pipeline reads top to bottom; each stage is timed into :class:`BuildInfo`.
Nothing here imports onnx or onnxruntime until a miss actually compiles.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from webnnc.cache import CacheKey, IOSpec, Manifest
from webnnc.cache._hash import sha256_hex
from webnnc.cache._log import get_logger
from webnnc.cache.machine import library_version
from webnnc.cache.manifest import tree_digest
from webnnc.compiler._version import FORMAT_VERSION, __version__
from webnnc.compiler.ir import Graph, structural_digest, verify
from webnnc.compiler.ops import KNOWN_OPS
from webnnc.compiler.options import CompileOptions
from webnnc.compiler.targets import get_target

if TYPE_CHECKING:
    from webnnc.cache._publish import Staging
    from webnnc.cache.locks import BuildLock
    from webnnc.cache.store import ArtifactStore, CachedArtifact
    from webnnc.compiler.passes import PassRecord

__all__ = ["BuildInfo", "CompileResult", "cache_key", "compile_graph", "gc_paused", "rerun_passes"]

logger = get_logger(__name__)


class BuildInfo:
    """How a compiled graph was obtained, and what each step cost.

    ``source``: ``"cache-hit"``, ``"compiled"`` or ``"compiled-uncached"``. (A plain class,
    as are the cache's records: a build() hit defines no dataclass, cache/CACHE.md.)
    """

    def __init__(
        self,
        source: str,
        key: str,
        timings_ms: dict[str, float] | None = None,
        passes: list[PassRecord] | None = None,
        note: str = "",
    ) -> None:
        self.source = source
        self.key = key
        self.timings_ms: dict[str, float] = {} if timings_ms is None else timings_ms
        self.passes: list[PassRecord] = [] if passes is None else passes
        self.note = note

    def __repr__(self) -> str:
        return f"BuildInfo(source={self.source!r}, key={self.key!r}, timings_ms={self.timings_ms!r}, note={self.note!r})"

    @property
    def cache_hit(self) -> bool:
        return self.source == "cache-hit"


class CompileResult:
    """A compiled artifact: on disk in the cache (``path``) or in memory (``data``).

    For a multi-file artifact (``manifest.files``), ``data`` is the graph and ``path`` the
    cache folder holding every file, or, when nothing was stored, ``files`` holds them.
    ``held``: verified held files besides the graph (a kernel library).
    """

    def __init__(
        self,
        manifest: Manifest,
        info: BuildInfo,
        path: str | None = None,
        data: bytes | None = None,
        files: dict[str, bytes] | None = None,
        held: dict[str, bytes] | None = None,
    ) -> None:
        self.manifest = manifest
        self.info = info
        self.path = path
        self.data = data
        self.files = files
        self.held = held

    def __repr__(self) -> str:
        return f"CompileResult(key={self.manifest.key[:12]}…, source={self.info.source!r}, path={self.path!r})"


def _libraries(options: CompileOptions) -> tuple[tuple[str, str], ...]:
    # webnnc and onnx (the IR's importers and emitters) shape every target's artifact
    libs = {"webnnc": __version__, "onnx": library_version("onnx")}
    libs.update(get_target(options.target).library_versions())
    return tuple(sorted(libs.items()))


def cache_key(graph: Graph, options: CompileOptions) -> CacheKey:
    """The cache key of compiling ``graph`` with ``options`` on this machine."""
    return CacheKey(
        graph_digest=structural_digest(graph),
        target=options.target,
        options=options.canonical_items(),
        format_version=FORMAT_VERSION,
        libraries=_libraries(options),
        machine=get_target(options.target).machine_parts(options),
    )


def _io(graph: Graph) -> tuple[tuple[IOSpec, ...], tuple[IOSpec, ...]]:
    inputs = tuple(IOSpec(v.name or "", v.data_type.value, v.shape) for v in graph.inputs)
    outputs = tuple(IOSpec(n, v.data_type.value, v.shape) for n, v in graph.outputs.items())
    return inputs, outputs


def _ms(t0: float) -> float:
    return round((time.perf_counter() - t0) * 1e3, 3)


Progress = Callable[[str, float], None]


class _Timings(dict[str, float]):
    """``timings_ms``, which also tells ``progress`` (stage name, ms) as each stage ends."""

    def __init__(self, first: Mapping[str, float] | None, progress: Progress | None) -> None:
        super().__init__(first or {})
        self._progress = progress

    def __setitem__(self, stage: str, ms: float) -> None:
        super().__setitem__(stage, ms)
        if self._progress is not None:
            self._progress(stage, ms)


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a compile builds and rewrites graphs.

    # NOTE: a compile allocates many long-lived objects (a node and its values per op), and
    # each collection of the oldest generation walks all of them: on a 100,000-op chain the
    # collector took 0.6-1.1 s of the graph clone and 0.5 s of CSE (clone 1.6 s -> 0.5 s, CSE
    # 0.77 -> 0.23 s with it paused), and made the whole compile grow faster than linearly
    # under load. The graphs' cycles are collected as usual once the collector resumes.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def compile_graph(
    graph: Graph,
    options: CompileOptions | None = None,
    *,
    store: ArtifactStore | None = None,
    name: str | None = None,
    verify_ir: bool = False,
    force: bool = False,
    stage_timings: Mapping[str, float] | None = None,
    progress: Progress | None = None,
) -> CompileResult:
    """Compile ``graph`` for ``options.target``, or fetch it from ``store``.

    Args:
        graph: the IR graph as built; on a cache miss the passes run on a copy, so the
            caller's graph is left unchanged.
        options: target and optimization options.
        store: the artifact store; None compiles in memory without caching.
        name: register the result under this model name (for ``runtime.load(name)``).
        verify_ir: verify the IR before and after every pass.
        force: compile even when ``store`` holds the entry, and replace it.
        stage_timings: milliseconds of the stages the caller ran before (``import``, ``build``);
            they open ``timings_ms`` so that its sum is the whole compile.
        progress: called with (stage, milliseconds) as each stage ends.
    """
    with gc_paused():
        return _compile_graph(graph, options, store, name, verify_ir, force, stage_timings, progress)


def _compile_graph(
    graph: Graph,
    options: CompileOptions | None,
    store: ArtifactStore | None,
    name: str | None,
    verify_ir: bool,
    force: bool,
    stage_timings: Mapping[str, float] | None,
    progress: Progress | None,
) -> CompileResult:
    options = options or CompileOptions()
    timings: dict[str, float] = _Timings(stage_timings, progress)

    # 1. key: structural digest of the graph as built + everything that shapes the artifact
    t0 = time.perf_counter()
    if verify_ir:
        verify(graph, known_ops=KNOWN_OPS)
    key = cache_key(graph, options)
    digest = key.digest()
    timings["key"] = _ms(t0)

    # 2. lookup; on a miss, take the key's cross-process build lock and look again, so that
    #    N processes building one graph compile it once (see cache/CACHE.md, "Concurrency")
    lock: BuildLock | None = None
    if store is not None and force:
        try:
            if store.drop(digest):
                logger.info("--force: removed the cached entry %s…", digest[:12])
        except Exception as e:  # the compile below still replaces it (or runs from memory)
            logger.warning("could not remove the cached entry (%s)", e)
    if store is not None:
        t0 = time.perf_counter()
        hit, lock, store = _lookup(store, digest, name, timings)
        timings["lookup"] = _ms(t0)
        if hit is not None:
            logger.info("cache hit %s… for %s", digest[:12], options.target)
            # the verified bytes, not the path: what runs is exactly what was hashed (a
            # multi-file artifact's weights stay in its folder, for ONNX Runtime to map)
            timings.update({f"lookup.{k}": v for k, v in hit.timings_ms.items()})
            return CompileResult(
                hit.manifest, BuildInfo("cache-hit", digest, dict(timings)), path=hit.folder, data=hit.data,
                held=hit.held,
            )
    try:
        return _compile_and_store(
            graph, options, key, digest, timings, store=store, name=name, verify_ir=verify_ir
        )
    finally:
        if lock is not None:
            lock.release()


def _lookup(
    store: ArtifactStore, digest: str, name: str | None, timings: dict[str, float]
) -> tuple[CachedArtifact | None, BuildLock | None, ArtifactStore | None]:
    """(hit, None, store) or, on a miss, (None, the held build lock or None, store or None)."""
    lock: BuildLock | None = None
    try:
        hit = store.get(digest, name=name)
        if hit is not None:
            return hit, None, store
        from webnnc.cache.locks import LockTimeout  # writers' module: not on a hit's import path

        t0 = time.perf_counter()
        lock = store.build_lock(digest)
        try:
            lock.acquire()
        except LockTimeout as e:
            logger.warning("%s; compiling without it", e)
            return None, None, store
        timings["lock_wait"] = _ms(t0)
        hit = store.get(digest, name=name)  # built by the previous holder while we waited
        if hit is not None:
            lock.release()
            return hit, None, store
        return None, lock, store
    except Exception as e:  # an unreadable cache must not stop a build
        if lock is not None:
            lock.release()
        logger.warning("cache lookup failed (%s); compiling without the cache", e)
        return None, None, None


def _compile_and_store(
    graph: Graph,
    options: CompileOptions,
    key: CacheKey,
    digest: str,
    timings: dict[str, float],
    *,
    store: ArtifactStore | None,
    name: str | None,
    verify_ir: bool,
) -> CompileResult:
    # 3. optimize the IR
    records: list[PassRecord] = []
    if options.passes:
        from webnnc.compiler.passes import default_pipeline

        t0 = time.perf_counter()
        pm = default_pipeline(target=options.target, verify_each=verify_ir or None)
        graph = pm(graph.clone()).graph  # the caller keeps the graph as built
        records = pm.records
        timings["passes"] = _ms(t0)

    # 4. emit, 5. backend optimizer: a stored multi-file artifact is saved by the backend
    #    straight into the store's staging folder, and published from there (cache/_publish.py)
    with _staging(store) as staging:
        data, fmt, extra, files, staged = _emit(graph, options, timings, store=store, staging=staging)
        plan = graph.meta.get("memory_plan")
        if plan is not None:  # the runtime pools its output buffers by this plan
            extra["memory_plan"] = plan.to_json()

        session = extra.pop("session", {})  # session settings the backend stage chose (prepacking)
        inputs, outputs = _io(graph)
        t_store = time.perf_counter()
        parts: dict[str, dict[str, Any]] = {}
        if staged:
            assert staging is not None
            try:  # hashed once, in place, by the store (fsynced as it goes)
                parts = staging.file_facts()
            except OSError as e:
                logger.warning("could not store the artifact in the cache (%s); running from memory", e)
                store, staged, files = None, False, _staged_files(staging)
        if files:  # a graph + its external weights, stored as one folder (cache/_tree.py)
            every = {"model.onnx": data, **files}
            parts = {n: {"sha256": sha256_hex(b), "size": len(b)} for n, b in every.items()}
        manifest = Manifest(
            key=digest,
            target=options.target,
            format=fmt,
            artifact_sha256=tree_digest(parts) if parts else sha256_hex(data),
            artifact_size=sum(p["size"] for p in parts.values()) if parts else len(data),
            files=parts,
            inputs=inputs,
            outputs=outputs,
            name=name,
            created=time.time(),
            key_parts=key.parts(),
            libraries=dict(key.libraries),
            timings_ms=dict(timings),  # "store" is added to the returned manifest's copy below
            extra=extra,
            session=session,
        )

        # 6. store (None: the store could not write and has said so once; run from memory)
        if store is not None:
            try:
                if staged:  # through put(), which a remote tier extends (it pushes what is stored)
                    assert staging is not None
                    stored = store.put(manifest, staging)
                else:
                    stored = store.put(manifest, {"model.onnx": data, **files} if files else data)
            except Exception as e:
                logger.warning("could not store the artifact in the cache (%s); running from memory", e)
                stored = None
            if stored is not None:
                timings["store"] = _ms(t_store)
                info = BuildInfo("compiled", digest, dict(timings), records)
                return CompileResult(stored.manifest, info, path=stored.folder, data=data, held=stored.held)
            if staged:
                assert staging is not None
                files = _staged_files(staging)
    info = BuildInfo("compiled-uncached", digest, dict(timings), records)
    return CompileResult(manifest, info, data=data, files={"model.onnx": data, **files} if files else None)


@contextmanager
def _staging(store: ArtifactStore | None) -> Iterator[Staging | None]:
    """The store's staging folder for this compile's files, or None (no store, or unwritable)."""
    if store is None or not store.writable:
        yield None
        return
    try:
        staging = store.staging()
    except OSError as e:  # put() below then meets the same problem, and says so once
        logger.debug("no staging folder in the cache (%s)", e)
        yield None
        return
    with staging:
        yield staging


def _staged_files(staging: Staging) -> dict[str, bytes]:
    """The staged files but the graph, read into memory (to run from memory after all)."""
    every = staging.read()
    every.pop("model.onnx", None)
    return every


def _emit(
    graph: Graph, options: CompileOptions, timings: dict[str, float], *,
    store: ArtifactStore | None, staging: Staging | None,
) -> tuple[bytes, str, dict[str, Any], dict[str, bytes], bool]:
    """(graph bytes, format, info, the other files in memory, whether they were staged instead)."""
    target = get_target(options.target)
    t0 = time.perf_counter()
    art = target.emit(graph, options)
    timings["emit"] = _ms(t0)
    if not target.has_backend_stage(options):
        return art.data, art.format, dict(art.info), dict(art.files), False
    t0 = time.perf_counter()
    # stored: weights in their own file for the runtime to map; in memory: one model
    stored = store is not None and store.writable
    out_path = None if staging is None else str(staging.path / "model.onnx")
    try:
        opt = target.backend_compile(art, options, stored=stored, out_path=out_path)
    except Exception as e:
        if art.info.get("native_qdq"):
            # ONNX Runtime's QDQ rewrites fail on a few graphs (1.32: int8 activations beside a
            # layout transpose, "output_dtype INT8 does not match y_zero_point type UINT8"):
            # the same graph with its quantization spelled out compiles, as a float one
            logger.warning("ONNX Runtime's optimizer failed on the quantized graph (%s); "
                           "compiling it with quantization as float arithmetic", e)
            art = target.emit(graph, options, native_qdq=False)
        elif out_path is None:
            raise
        else:  # e.g. the cache's disk is full: compile again outside it (a model error raises again)
            logger.warning("could not compile into the cache's staging folder (%s); compiling in memory", e)
            out_path = None
        opt = target.backend_compile(art, options, stored=stored, out_path=out_path)
    timings["backend_optimize"] = _ms(t0)
    return opt.data, opt.format, {**art.info, **opt.info}, dict(opt.files), opt.folder is not None


def rerun_passes(graph: Graph, options: CompileOptions | None = None) -> list[PassRecord]:
    """The pass records a compile of ``graph`` makes, from a run of the passes alone.

    For ``webnnc compile --explain`` on a cache hit: the pipeline is deterministic, and
    re-running it (70 ms on BERT-base) costs less than storing every report in the manifests
    that count against the cache's size limit.
    """
    from webnnc.compiler.passes import default_pipeline

    options = options or CompileOptions()
    if not options.passes:
        return []
    pm = default_pipeline(target=options.target, verify_each=None)
    pm(graph.clone())
    return list(pm.records)
