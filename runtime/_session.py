"""ONNX Runtime sessions for stored artifacts (imports onnxruntime on first use)."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from typing import Any

import onnxruntime as ort

from webnnc.cache._log import get_logger

__all__ = ["PREPACKING_POLICIES", "PROVIDERS", "SessionUpgrade", "create_session", "ort_version", "prepacking_policy"]

logger = get_logger(__name__)

PROVIDERS: dict[str, list[str]] = {
    "onnx-cpu": ["CPUExecutionProvider"],
    "onnx-cuda": ["CUDAExecutionProvider", "CPUExecutionProvider"],
}


PREPACKING_POLICIES = ("deferred", "eager", "off")
"""When a graph whose manifest asks for weight prepacking gets it (``load(prepacking=...)``,
``$WEBNNC_PREPACKING``): ``deferred`` opens it unpacked and switches to a prepacked session
built in the background once the graph runs again (see :class:`SessionUpgrade`); ``eager``
prepacks while opening; ``off`` never prepacks."""


def prepacking_policy(policy: str | None) -> str:
    """The policy to use: ``policy``, else ``$WEBNNC_PREPACKING``, else ``deferred``."""
    chosen = policy if policy is not None else os.environ.get("WEBNNC_PREPACKING") or "deferred"
    if chosen not in PREPACKING_POLICIES:
        where = "prepacking" if policy is not None else "$WEBNNC_PREPACKING"
        raise ValueError(f"{where} must be one of {', '.join(PREPACKING_POLICIES)}; found {chosen!r}")
    return chosen


def ort_version() -> str:
    return str(ort.__version__)


def create_session(
    *,
    target: str,
    fmt: str,
    path: str | None = None,
    data: bytes | None = None,
    intra_op_threads: int | None = None,
    cuda_graph: bool = False,
    cuda_options: Mapping[str, Any] | None = None,
    folder: str | None = None,
    settings: Mapping[str, Any] | None = None,
    kernels: bytes | None = None,
) -> tuple[ort.InferenceSession, dict[str, Any]]:
    """Create the one session a compiled graph uses for its whole life.

    The artifact is already optimized (webnnc passes + ONNX Runtime's optimizer at compile
    time), so graph optimizations are switched off here: creation only deserializes.

    Args:
        folder: where the graph's external weights are (a multi-file artifact): ONNX Runtime
            resolves the graph's ``weights`` location inside it, and memory-maps the file.
        settings: the manifest's ``session`` record (``prepacking``: bool, chosen at compile
            time).
        kernels: the verified bytes of the artifact's fused-kernel library (``kernels.so``),
            registered as the custom ops its graph names (``runtime/_kernels.py``).
    """
    settings = settings or {}
    so = ort.SessionOptions()
    so.log_severity_level = 3
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    if fmt == "ort":
        so.add_session_config_entry("session.load_model_format", "ORT")
    prepack = bool(settings.get("prepacking", False))
    if target == "onnx-cpu" and not prepack:
        # Prepacking re-lays weights for MLAS at creation. On MobileNetV2 (W3, ORT 1.32, 2-core
        # x86) it costs 1-4 ms of a 5-9 ms creation and saves ~2% of a 3.6 ms run: the NCHWc
        # convolutions the offline optimizer chose carry their own reordered weights, only the
        # classifier's gemm still benefits. On BERT-base with mapped weights it is 2.0 s of
        # creation against 0.09-0.15 s without, and every prepacked weight is a private copy
        # (peak RSS). Loading fast is what the cache is for; a manifest may turn it on.
        so.add_session_config_entry("session.disable_prepacking", "1")
    if folder is not None:
        so.add_session_config_entry("session.model_external_initializers_file_folder_path", folder)
    if intra_op_threads:
        so.intra_op_num_threads = intra_op_threads
    providers: list[Any] = list(PROVIDERS.get(target, ["CPUExecutionProvider"]))
    if target == "onnx-cuda":
        from webnnc.runtime._cuda import CUDA_PROVIDER, cuda_provider_options

        options = cuda_provider_options(cuda_graph=cuda_graph, overrides=cuda_options)
        providers = [(CUDA_PROVIDER, options), "CPUExecutionProvider"]
    source: Any = path if path is not None else data
    if source is None:
        raise ValueError("create_session needs a path or bytes")
    loaded = None
    if kernels is not None:
        from webnnc.runtime._kernels import register_kernels

        loaded = register_kernels(so, kernels)
    try:
        session = ort.InferenceSession(source, so, providers=providers)
    finally:
        if loaded is not None:  # ONNX Runtime holds the library now
            loaded.close()
    info = {
        "providers": session.get_providers(),
        "format": fmt,
        "optimization_at_load": "disabled",
        "prepacking": "on" if target == "onnx-cpu" and prepack else "off",
        "external_weights": folder is not None,
        "cuda_graph": cuda_graph,
        "onnxruntime": ort.__version__,
        "fused_kernels": kernels is not None,
    }
    return session, info


class SessionUpgrade:
    """The final session of a graph, created on a background thread while a first one runs.

    Weight prepacking makes ONNX Runtime re-lay every constant GEMM weight while it creates a
    session: on BERT-base 0.4-0.5 s of a 0.5 s creation, for runs 8-12% faster afterwards.
    A cache hit should give its first result at once, and a process that runs a graph once
    never gets that time back. So a graph whose manifest asks for prepacking opens without it
    and runs at once; when it is run again (the process is evidently running it repeatedly),
    this creates the prepacked session on a worker thread (ONNX Runtime releases the GIL while
    it works) and the graph switches to it at the start of the first run after it is ready
    (``MLGraph``). ``MLGraph.finish_loading()`` starts it and waits, for callers that want
    the final speed before their first timed run.

    The worker is not a daemon thread: an interpreter that exits mid-creation waits for it
    rather than tearing ONNX Runtime down under it. Before creating, ``check`` re-reads the
    identity of the files the first session mapped (a cache entry is immutable; one that was
    removed or replaced since is not opened again): a non-empty answer, like any error,
    leaves the graph on its first session, with one warning.
    """

    START_AT_CALL = 2
    """The call (run or dispatch) that starts the worker: the first one runs a graph that is
    perhaps never run again."""

    def __init__(self, create: Callable[[], Any], *, check: Callable[[], str | None]) -> None:
        self._create = create
        self._check = check
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._session: Any = None
        self._problem: str | None = None
        self._calls = 0
        self.created_ms: float | None = None
        self.done = False
        """True once the result (a session or a problem) has been handed over."""

    def start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name="webnnc-prepack", daemon=False)
                self._thread.start()

    def _work(self) -> None:
        import time

        t0 = time.perf_counter()
        try:
            problem = self._check()
            if problem:
                self._problem = problem
                return
            self._session = self._create()
            self.created_ms = round((time.perf_counter() - t0) * 1e3, 3)
        except Exception as e:  # a failed upgrade keeps the working session (one warning)
            self._problem = f"{type(e).__name__}: {e}".splitlines()[0]

    def on_call(self) -> Any:
        """Count a call; the prepacked session when it is ready (handed over once), else None."""
        self._calls += 1
        thread = self._thread
        if thread is None:
            if self._calls >= self.START_AT_CALL:
                self.start()
            return None
        return None if thread.is_alive() else self._take()

    def wait(self, timeout: float | None = None) -> Any:
        """Start the worker if it has not started, wait up to ``timeout`` s; as ``on_call``."""
        self.start()
        assert self._thread is not None
        self._thread.join(timeout)
        return None if self._thread.is_alive() else self._take()

    def _take(self) -> Any:
        with self._lock:
            if self.done:
                return None
            self.done = True
            session, self._session = self._session, None
        if session is None:
            logger.warning("weight prepacking: staying on the unpacked session (%s)", self._problem)
        return session
