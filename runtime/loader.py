"""Open compiled graphs without the compiler.

``load()`` finds a compiled graph by name or key, in the cache or a bundle; ``open_graph()``
turns one manifest + artifact into a runnable :class:`MLGraph`. ``open_graph()`` is also the
door the facade's build path (``webnnc.MLContext``) goes through after compiling, so a built
graph and a loaded one run on the same session code.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from webnnc.cache._log import get_logger
from webnnc.runtime.errors import RuntimeLoadError

if TYPE_CHECKING:
    from webnnc.cache.manifest import Manifest
    from webnnc.cache.store import ArtifactStore
    from webnnc.runtime.graph import MLGraph

__all__ = ["load", "open_graph"]

logger = get_logger(__name__)

_KEY = re.compile(r"[0-9a-f]{64}")


def load(
    name_or_key: str,
    *,
    target: str = "onnx-cpu",
    cache_dir: str | os.PathLike[str] | None = None,
    bundle: str | os.PathLike[str] | None = None,
    remote: str | None = None,
    trust_unsigned: bool = False,
    prepacking: str | None = None,
) -> MLGraph:
    """Load the newest compiled graph this runtime can run, by model name or key digest.

    Candidates are the entries stored under the name for ``target``, newest first; the first
    one this installation can run (same onnxruntime version, same CPU features for
    machine-specific artifacts) and whose bytes verify is loaded.

    Args:
        name_or_key: the model name given at compile time, or a 64-hex cache key.
        target: the compile target.
        cache_dir: the cache folder (default as for the compiler).
        bundle: load from this bundle file (``webnnc cache export``) instead of the cache.
        remote: a shared remote tier to pull from on a local miss (default
            ``$WEBNNC_REMOTE_CACHE``; see ``cache/REMOTE.md``).
        trust_unsigned: run a ``bundle`` whose entries are unsigned or signed by a key not
            trusted here (by default such a bundle is refused; see cache/CACHE.md).
        prepacking: for graphs compiled with weight prepacking (large GEMM weights):
            ``"deferred"`` (default; also ``$WEBNNC_PREPACKING``) runs the first call at once on
            an unpacked session and switches to the prepacked one at the second
            (``MLGraph.finish_loading()`` switches now); ``"eager"`` prepacks before
            returning; ``"off"`` never prepacks.

    Raises:
        RuntimeLoadError: nothing usable is stored under that name/key for ``target``.
    """
    for what, value in (("name_or_key", name_or_key), ("target", target)):
        if not isinstance(value, str):
            raise RuntimeLoadError(f"load: {what}: expected a str; found {type(value).__name__}")
    t0 = time.perf_counter()
    if target.startswith("onnx-"):
        # onnxruntime is needed for the session anyway, and the compatibility check reads
        # its version: imported first, with the store, so "lookup" times the cache's work
        import webnnc.runtime._session  # noqa: F401
    from webnnc.cache.compat import runtime_incompatibility
    from webnnc.cache.errors import CacheError
    from webnnc.cache.store import ArtifactStore

    import_ms = (time.perf_counter() - t0) * 1e3
    t0 = time.perf_counter()
    is_key = bool(_KEY.fullmatch(name_or_key))
    rejected: list[str] = []
    where: str
    found: tuple[Manifest, bytes | dict[str, bytes], str | None] | None = None
    lookup_timings: dict[str, float] = {}
    held: dict[str, bytes] = {}
    store: ArtifactStore | None = None
    if bundle is not None:
        from webnnc.cache.bundle import BundleError, BundleReader, bundle_keyring
        from webnnc.cache.signing import SignatureError

        where = f"bundle {bundle}"
        try:
            with BundleReader(bundle) as reader:
                # who made it, before anything in it is run (and names only trusted keys signed)
                reader.check_origin(bundle_keyring(), trust_unsigned=trust_unsigned)
                if is_key and name_or_key in reader.manifests:
                    candidates = [reader.manifests[name_or_key]]
                else:
                    candidates = reader.find(name_or_key, target)
                for m in candidates:
                    problem = runtime_incompatibility(m, target)
                    if problem:
                        rejected.append(f"{m.key[:12]}…: {problem}")
                        continue
                    found = (m, reader.artifact(m.key), None)
                    break
        except (BundleError, SignatureError) as e:
            raise RuntimeLoadError(str(e)) from None
    else:
        try:
            if remote is not None or os.environ.get("WEBNNC_REMOTE_CACHE"):  # only then: the remote tier
                from webnnc.cache.remote import open_tiered_store

                store = open_tiered_store(cache_dir, remote)
            else:
                store = ArtifactStore(cache_dir)
        except CacheError as e:  # a cache_dir that is no path
            raise RuntimeLoadError(f"load: {e}") from None
        where = store.root
        keys = [name_or_key] if is_key else [m.key for m in store.find(name_or_key, target)]
        for key in keys:
            hit = store.get(key)
            if hit is None:
                continue
            problem = runtime_incompatibility(hit.manifest, target)
            if problem:
                rejected.append(f"{key[:12]}…: {problem}")
                continue
            found = (hit.manifest, hit.data, hit.folder)
            held = hit.held
            lookup_timings = hit.timings_ms
            break
    if found is None:
        detail = f"; found but unusable here: {'; '.join(rejected)}" if rejected else ""
        raise RuntimeLoadError(
            f"no compiled graph named {name_or_key!r} for target {target!r} in {where}{detail}; "
            f"compile it first (webnnc compile MODULE:FUNCTION --name {name_or_key} --target {target})"
        )
    manifest, data, folder = found
    lookup_ms = (time.perf_counter() - t0) * 1e3
    timings = {
        "imports": round(import_ms, 3),
        "lookup": round(lookup_ms, 3),
        **{f"lookup.{k}": v for k, v in lookup_timings.items()},
    }
    return open_graph(
        manifest,
        path=folder,
        data=data if isinstance(data, bytes) else None,
        files=data if isinstance(data, dict) else None,
        held=held,
        info={"source": "loaded", "key": manifest.key, "timings_ms": timings},
        cuda_graph=target == "onnx-cuda",  # replays CUDA graphs like a built graph
        store=store,  # CoreML keeps the .mlmodelc it compiles from a package in the cache
        prepacking=prepacking,
    )


def _scratch_folder(files: Mapping[str, bytes]) -> tuple[Any, str]:
    """A private temporary folder holding ``files`` (fixed names only), for one session."""
    import tempfile

    from webnnc.cache.manifest import ENTRY_FILES, HELD_FILES

    scratch = tempfile.TemporaryDirectory(prefix="webnnc-load-")
    for name, blob in files.items():
        if name in HELD_FILES:  # handed over as verified bytes, never read from the folder
            continue
        if name not in ENTRY_FILES:
            scratch.cleanup()
            raise RuntimeLoadError(f"unexpected artifact file {name!r}; expected one of {list(ENTRY_FILES)}")
        fd = os.open(os.path.join(scratch.name, name), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(blob)
    return scratch, scratch.name


def _kernel_library(
    manifest: Manifest, files: Mapping[str, bytes] | None, held: Mapping[str, bytes] | None
) -> bytes | None:
    """The verified bytes of the artifact's kernel library, None when it has none."""
    name = "kernels.so"
    if name not in manifest.files:
        return None
    blob = (files or {}).get(name) or (held or {}).get(name)
    if blob is None:
        raise RuntimeLoadError(
            f"artifact {manifest.key[:12]}…: its {name} was not handed over as verified bytes "
            "(a library is never loaded from the cache folder by path)"
        )
    return bytes(blob)


def open_graph(
    manifest: Manifest,
    *,
    path: str | None,
    data: bytes | None,
    info: dict[str, Any],
    files: Mapping[str, bytes] | None = None,
    ir_graph: Any = None,
    cuda_graph: bool = False,
    cuda_options: Mapping[str, Any] | None = None,
    store: ArtifactStore | None = None,
    power_preference: str = "default",
    device_type: str = "auto",
    held: Mapping[str, bytes] | None = None,
    prepacking: str | None = None,
) -> MLGraph:
    """A runnable graph for one compiled artifact: an ONNX Runtime session, or CoreML on macOS.

    Args:
        manifest: the artifact's manifest (its target and format choose the session).
        path: the artifact's file, when it is on disk (else ``data`` is used); for a
            multi-file artifact (``manifest.files``), the folder holding its files.
        data: the artifact's bytes, when there is no file; for a multi-file artifact, its
            verified graph (ONNX Runtime maps the other files from ``path``).
        files: a multi-file artifact held in memory (a bundle, or a build that could not be
            stored): written to a private temporary folder for the session to map.
        info: build/load facts for ``MLGraph.build_info``; the session's own timings and
            settings are added to it.
        ir_graph: the IR the artifact was compiled from, when the caller has it (kept for
            ``MLContext.convert_to_onnx``); None for graphs loaded from the cache.
        cuda_graph: on ``onnx-cuda``, capture the kernels once and replay them; falls back
            to plain runs when ONNX Runtime cannot capture this graph.
        cuda_options: ONNX Runtime CUDA provider options over webnnc's defaults.
        store: the artifact store, where CoreML keeps the ``.mlmodelc`` it compiles.
        power_preference: CoreML compute units follow it.
        device_type: CoreML compute units follow it ("npu" asks for the Neural Engine).
        held: verified bytes of the artifact's held files besides the graph
            (``CachedArtifact.held``: its fused-kernel library), when not in ``files``.
        prepacking: when a manifest that asks for weight prepacking gets it: ``deferred``
            (default, or ``$WEBNNC_PREPACKING``), ``eager`` or ``off`` (``PREPACKING_POLICIES``
            in ``runtime/_session.py``).
    """
    if manifest.format == "mlpackage":  # CoreML: compiled to .mlmodelc once, on macOS only
        from webnnc.runtime._coreml import load_coreml_graph

        return load_coreml_graph(
            manifest, path=path, data=data, info=info, ir_graph=ir_graph, store=store,
            power_preference=power_preference, device_type=device_type,
        )
    from webnnc.runtime._session import create_session, prepacking_policy
    from webnnc.runtime.graph import MLGraph
    from webnnc.runtime.tensor import Dispatcher, HostBridge

    t0 = time.perf_counter()
    on_gpu = manifest.target == "onnx-cuda"
    cuda_graph = cuda_graph and on_gpu
    folder: str | None = None
    scratch: Any = None
    if manifest.files:
        if files is not None and path is None:
            scratch, folder = _scratch_folder(files)
            data = bytes(files["model.onnx"])
        else:
            folder = path
        path = None  # the graph goes in as verified bytes; the folder only resolves its weights
        if folder is None or data is None:
            raise RuntimeLoadError(f"artifact {manifest.key[:12]}…: a multi-file artifact needs its folder and graph")
    settings = dict(manifest.session)
    kernels = _kernel_library(manifest, files, held)
    policy = prepacking_policy(prepacking)
    upgrade_settings: dict[str, Any] | None = None
    if manifest.target == "onnx-cpu" and settings.get("prepacking"):
        if policy == "off":
            settings["prepacking"] = False
        elif policy == "deferred" and folder is not None and settings.get("prepacking_deferred", True):
            # (an artifact whose compile found deferring cannot pay is prepacked at once:
            # ort_optimizer.optimize, "prepacking_deferred")
            upgrade_settings, settings = settings, {**settings, "prepacking": False}
    try:
        try:
            session, session_info = create_session(
                target=manifest.target, fmt=manifest.format, path=path, data=data, cuda_graph=cuda_graph,
                cuda_options=cuda_options, folder=folder, settings=settings, kernels=kernels,
            )
        except Exception as e:  # e.g. a node ONNX Runtime cannot capture in a CUDA graph
            if not cuda_graph:
                raise
            logger.warning("CUDA graph capture unavailable for this graph (%s); running without it", e)
            cuda_graph = False
            session, session_info = create_session(
                target=manifest.target, fmt=manifest.format, path=path, data=data, cuda_options=cuda_options,
                folder=folder, settings=settings, kernels=kernels,
            )
            session_info["cuda_graph_error"] = str(e)
    except BaseException:
        if scratch is not None:
            scratch.cleanup()
        raise
    # the session has mapped (or read) the weights; POSIX keeps them. A deferred prepacked
    # session still has to open them: the folder goes when it has (or with the graph)
    if scratch is not None and upgrade_settings is None:
        scratch.cleanup()
    if on_gpu and "CUDAExecutionProvider" not in session_info["providers"]:
        # onnxruntime-gpu lists the CUDA provider even where it cannot create it (no GPU, no
        # CUDA/cuDNN libraries); the session then fell back to the CPU and the GPU buffers
        # below would fail with ORT's "CUDA Provider not available" deep inside MLTensor
        from webnnc.runtime._cuda import cuda_status

        usable, why = cuda_status()
        raise RuntimeLoadError(
            f"artifact {manifest.key[:12]}… is for onnx-cuda, but onnxruntime {session_info['onnxruntime']} "
            f"could not create the CUDA provider here ({why if not usable else 'CUDA/cuDNN libraries not loadable'}); "
            "load it where onnxruntime-gpu runs on a GPU, or compile for onnx-cpu"
        )
    info.setdefault("timings_ms", {})["session"] = round((time.perf_counter() - t0) * 1e3, 3)
    info["session"] = session_info
    dispatcher = Dispatcher(session, manifest, device="gpu" if on_gpu else "cpu", cuda_graph=cuda_graph)
    runner: Any = HostBridge(session, manifest, dispatcher) if cuda_graph else session
    graph = MLGraph(manifest, runner, build_info=info, ir_graph=ir_graph)
    graph._dispatcher = dispatcher
    if upgrade_settings is not None and folder is not None:
        session_info["prepacking"] = "deferred"
        graph._upgrade = _prepacked_upgrade(manifest, folder, data, upgrade_settings, kernels, scratch)
    return graph


def _prepacked_upgrade(
    manifest: Manifest,
    folder: str,
    graph: bytes | None,
    settings: dict[str, Any],
    kernels: bytes | None,
    scratch: Any = None,
) -> Any:
    """How ``manifest``'s graph gets its prepacked session later (``SessionUpgrade``).

    ``scratch``: the private temporary folder a held artifact was written to, removed once
    the prepacked session is created (or the check refused it); otherwise with the graph.
    """
    from webnnc.runtime._session import SessionUpgrade, create_session

    mapped = sorted(set(manifest.files) - {"model.onnx", "kernels.so"})  # what ORT opens by path

    def identity() -> list[tuple[int, ...] | None]:
        out: list[tuple[int, ...] | None] = []
        for name in mapped:
            try:
                st = os.stat(os.path.join(folder, name))
            except OSError:
                out.append(None)
                continue
            out.append((st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns))
        return out

    opened = identity()

    def check() -> str | None:
        if identity() == opened:
            return None
        if scratch is not None:
            scratch.cleanup()
        return f"the files of entry {manifest.key[:12]}… changed since it was opened"

    def open_with(prepack: bool) -> Any:
        return create_session(
            target=manifest.target, fmt=manifest.format, data=graph, folder=folder,
            settings={**settings, "prepacking": prepack}, kernels=kernels,
        )[0]

    def create() -> Any:
        session = open_with(True)
        if scratch is not None:
            scratch.cleanup()
        return session

    def reopen() -> Any:  # after a failed create: the first session's form, then no folder needed
        try:
            return open_with(False)
        finally:
            if scratch is not None:
                scratch.cleanup()

    return SessionUpgrade(create, reopen=reopen, check=check)
