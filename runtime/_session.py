"""ONNX Runtime sessions for stored artifacts (imports onnxruntime on first use)."""

from __future__ import annotations

import _thread
import os
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
at its second call (see :class:`SessionUpgrade`), unless its manifest says deferring cannot
pay (``prepacking_deferred``: integer kernels, cheap to pack and slow unpacked), which are
prepacked while opening; ``eager`` prepacks while opening; ``off`` never prepacks."""


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
        settings: the manifest's ``session`` record (``prepacking``, ``memory_pattern``:
            bools chosen at compile time; a missing ``memory_pattern`` keeps ORT's default).
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
        # x86) it costs 1-4 ms of a 5-9 ms creation and saves nothing warm (0.99, fresh-process
        # pairs): the NCHWc convolutions carry their own reordered weights, and the classifier's
        # gemm multiplies one row (ort_optimizer.prepacking_pays counts only several-row ones).
        # On BERT-base with mapped weights it is 2.0 s of
        # creation against 0.09-0.15 s without, and every prepacked weight is a private copy
        # (peak RSS). Loading fast is what the cache is for; a manifest may turn it on.
        so.add_session_config_entry("session.disable_prepacking", "1")
    pattern = settings.get("memory_pattern", True) is not False
    if target == "onnx-cpu" and not pattern:
        # The compiler found this graph's activations large: ORT's memory pattern would hold
        # them twice in a process that runs the graph repeatedly (ort_optimizer's NOTE).
        so.enable_mem_pattern = False
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
        "memory_pattern": "off" if target == "onnx-cpu" and not pattern else "on",
        "external_weights": folder is not None,
        "cuda_graph": cuda_graph,
        "onnxruntime": ort.__version__,
        "fused_kernels": kernels is not None,
    }
    return session, info


class SessionUpgrade:
    """How a graph gets from its first session (unpacked) to its final one (prepacked).

    Weight prepacking makes ONNX Runtime re-lay every constant GEMM weight while it creates a
    session: on BERT-base 0.40-0.52 s of a 0.42-0.55 s creation, for runs 8-12% faster
    afterwards. A cache hit should give its first result at once, and a process that runs a
    graph once never gets that time back. So a graph whose manifest asks for prepacking opens
    without it; its second call (the process is evidently running it repeatedly) lets the
    first session go and creates the prepacked one before it runs (``MLGraph``), as does
    ``MLGraph.finish_loading()``.

    The first session goes *before* the final one is created: ONNX Runtime maps the weights
    per session, and with both alive a process held them twice (measured peak RSS with the
    final session built beside the first: GPT-2 1222 MiB against 855 MiB for ONNX Runtime on
    the original; freed first, the peak is that of an eager load). The price is that the
    second call waits for the creation, as a load with eager prepacking waits before its
    first. Before it lets the first session go, ``check`` re-reads the identity of the files
    it mapped (a cache entry is immutable; one removed or replaced since is not opened again):
    a non-empty answer, like a failed creation, keeps the graph unpacked (``reopen`` gives a
    first session back when one was let go), with one warning.
    """

    START_AT_CALL = 2
    """The call (run or dispatch) that switches: the first may be the only one."""

    def __init__(
        self, create: Callable[[], Any], *, reopen: Callable[[], Any], check: Callable[[], str | None]
    ) -> None:
        self.create = create
        self.reopen = reopen
        self.check = check
        self.lock = _thread.allocate_lock()  # threading.Lock, without importing threading (0.7 ms)
        self.calls = 0
        self.created_ms: float | None = None
        self.problem: str | None = None

    def _stay_unpacked(self, problem: str) -> None:
        self.problem = problem
        logger.warning("weight prepacking: staying on the unpacked session (%s)", problem)

    def refused(self) -> bool:
        """Whether the final session must not be opened (``problem`` says why; warned once)."""
        try:
            problem = self.check()
        except Exception as e:  # e.g. a folder that is no longer readable
            problem = f"{type(e).__name__}: {e}".splitlines()[0]
        if problem:
            self._stay_unpacked(problem)
        return bool(problem)

    def final(self) -> Any:
        """The prepacked session, or None (why in ``problem``; warned once)."""
        import time

        t0 = time.perf_counter()
        try:
            session = self.create()
        except Exception as e:  # a failed upgrade keeps the graph working, unpacked
            self._stay_unpacked(f"{type(e).__name__}: {e}".splitlines()[0])
            return None
        self.created_ms = round((time.perf_counter() - t0) * 1e3, 3)
        return session
