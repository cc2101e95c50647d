"""ONNX Runtime's offline optimizer as a compile stage: ONNX bytes -> optimized model.

The stored artifact is what ONNX Runtime produced after its own graph optimizations, so
loading it needs no re-optimization (the runtime disables optimizations at load time).

# NOTE: external weights. With ``external_weights`` the optimized graph is saved as a small
# ``model.onnx`` whose initializers of at least ``EXTERNAL_MIN_BYTES`` live in one file named
# ``weights`` (a fixed relative location, checked here). ONNX Runtime memory-maps that file
# at load instead of parsing and copying every weight out of a protobuf: on BERT-base
# (437 MB, ORT 1.32, 2 shared cores) session creation from the embedded model took 5.8-7 s
# and 1293 MiB peak RSS, from graph + mapped weights (prepacking off) 86-153 ms and 400 MiB.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import onnxruntime as ort

from webnnc.compiler.emitters import Artifact

if TYPE_CHECKING:  # onnx is imported where a graph is read, not with available_providers()
    import onnx

__all__ = [
    "EXTERNAL_MIN_BYTES", "LEVELS", "MEMORY_PATTERN_MAX_BYTES", "WEIGHTS", "available_providers",
    "check_external_locations", "memory_pattern_pays", "optimize",
]

logger = logging.getLogger(__name__)

LEVELS: dict[str, Any] = {
    "none": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
    "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
    "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
    "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
}


WEIGHTS = "weights"  # the one external-data location a stored graph may name
# Initializers below this stay inside the graph: a few scalars and shape tensors cost less
# inline than as mapped slivers of the weights file (ORT's own default threshold).
EXTERNAL_MIN_BYTES = 1024


def available_providers() -> list[str]:
    """The execution providers this ONNX Runtime build offers here."""
    return list(ort.get_available_providers())


def optimize(
    model: bytes,
    *,
    level: str = "all",
    providers: list[str] | None = None,
    save_format: str = "ORT",
    external_weights: bool = False,
    arrays: Mapping[str, Any] | None = None,
    out_path: str | None = None,
    pad_feeds_pool: bool = False,
    gemm_rows: Mapping[str, int] | None = None,
    activation_bytes: int | None = None,
    quantized: bool = False,
) -> Artifact:
    """Run ONNX Runtime's optimizer on ``model`` and return the optimized model.

    Args:
        model: serialized ONNX model.
        level: "none", "basic", "extended" or "all" ("all" adds machine-specific layouts).
        providers: execution providers to optimize for (default CPU).
        save_format: "ORT" (flatbuffer, fast to load) or "ONNX".
        external_weights: (ONNX only) store initializers of at least
            :data:`EXTERNAL_MIN_BYTES` in ``Artifact.files["weights"]``, which the graph names
            by the relative location ``weights``.
        arrays: the initializers ``model`` declares external at ``weights`` but does not
            hold (``Artifact.arrays``): handed to ONNX Runtime from memory, without a copy.
        out_path: (with ``external_weights``) where ONNX Runtime saves the graph, its
            ``weights`` beside it; the result then names that folder (``Artifact.folder``)
            and holds the graph only, so the weights are never read back or copied.
        pad_feeds_pool: the model has a Pad whose result a pooling node reads (the ONNX
            emitter's ``Artifact.info``): ORT's pad fusion rule is then switched off (NOTE below).
        gemm_rows: the ONNX emitter's ``gemm_weight_rows`` (constant GEMM weight bytes by the
            rows they multiply), for the prepacking choice; without it the graph is read.
        activation_bytes: the planned size of the graph's intermediate values (the memory
            plan's ``scratch`` arena, from the ONNX emitter), for the memory-pattern choice
            (:func:`memory_pattern_pays`); without it ONNX Runtime's default stands.
        quantized: the model holds native QuantizeLinear / DequantizeLinear (the ONNX
            emitter's ``native_qdq``): a failed optimization is retried once without ORT's
            QDQ propagation (NOTE in the body).

    # NOTE: ORT's rewrite rule "Pad_Fusion" folds a constant zero Pad into the next Conv,
    # AveragePool or MaxPool's ``pads``. onnxruntime 1.31.1 (the current onnxruntime-gpu) does
    # so even when the sum reaches the window, and the pool kernel then refuses to be created
    # ("Pad should be smaller than kernel"): an average pool whose padding is >= its window,
    # which the emitter pads explicitly for that very reason, failed to compile. 1.32 checks
    # the sum. Only models with a Pad before a pool lose the fusion (Pad+Conv keeps it).
    """
    so = ort.SessionOptions()
    so.graph_optimization_level = LEVELS[level]
    so.log_severity_level = 3
    # NOTE: this session only optimizes and saves; it never runs. Prepacking (on by default)
    # would re-lay every constant GEMM weight for MLAS and throw the copy away: BERT-base's
    # optimizer session took 0.99-1.35 s with it, 0.28-0.54 s without, saving the same bytes
    # (ORT 1.32, 2 shared cores; the saved graph + weights hash identically).
    so.add_session_config_entry("session.disable_prepacking", "1")
    suffix = ".ort" if save_format == "ORT" else ".onnx"
    external = external_weights and save_format == "ONNX"
    files: dict[str, bytes] = {}
    folder = os.path.dirname(out_path) if out_path is not None and external else None
    with tempfile.TemporaryDirectory(prefix="webnnc-ort-") as tmp:
        if folder is None:
            out_path = os.path.join(tmp, "optimized" + suffix)
        assert out_path is not None
        so.optimized_model_filepath = out_path
        so.add_session_config_entry("session.save_model_format", save_format)
        if external:
            so.add_session_config_entry("session.optimized_model_external_initializers_file_name", WEIGHTS)
            so.add_session_config_entry(
                "session.optimized_model_external_initializers_min_size_in_bytes", str(EXTERNAL_MIN_BYTES)
            )
        if arrays:
            # zero-copy views; ORT keeps them until the session (created just below) is gone
            values = [ort.OrtValue.ortvalue_from_numpy(a) for a in arrays.values()]
            so.add_external_initializers(list(arrays), values)
        disabled = ["Pad_Fusion"] if pad_feeds_pool else []
        retried: list[str] = []
        try:
            session = ort.InferenceSession(
                model, so, providers=providers or ["CPUExecutionProvider"], disabled_optimizers=disabled or None,
            )
        except Exception:
            if not quantized:
                raise
            # NOTE: onnxruntime 1.32 fails on some opset-21 QDQ graphs with int8 activations
            # (a Reshape feeding a quantized MatMul): QDQ propagation writes a QuantizeLinear
            # with output_dtype INT8, whose zero point the x86 rewrite of int8 activations to
            # uint8 then changes ("output_dtype INT8 does not match y_zero_point type UINT8").
            # Without propagation the graph keeps its integer kernels (tests/compiler/emitters/
            # test_native_qdq.py: as many as ORT builds from the original; without the uint8
            # rewrite instead, the convolutions stayed float); should it still fail, the
            # driver spells quantization out (compiler/driver.py, _emit).
            retried = ["QDQPropagationTransformer"]
            logger.info("ORT's optimizer failed on the quantized graph; again without %s", retried[0])
            session = ort.InferenceSession(
                model, so, providers=providers or ["CPUExecutionProvider"], disabled_optimizers=disabled + retried,
            )
        # the providers ORT really created: a listed provider it cannot create (onnxruntime-gpu
        # without a GPU or CUDA libraries) is dropped with a log line, not an error
        created = list(session.get_providers())
        del session
        with open(out_path, "rb") as f:
            data = f.read()
        weights = os.path.join(folder or tmp, WEIGHTS)
        has_weights = external and os.path.exists(weights)
        weights_size = os.path.getsize(weights) if has_weights else 0
        if has_weights and folder is None:
            with open(weights, "rb") as f:
                files[WEIGHTS] = f.read()
    on_cpu = not providers or providers[0] == "CPUExecutionProvider"
    if external or on_cpu:
        import onnx

        parsed = onnx.load_model_from_string(data)  # read once, for both checks below
        if external:
            check_external_locations(parsed, has_weights=has_weights)
    prepack, why = prepacking_pays(parsed, gemm_rows) if on_cpu else (True, "")
    settings: dict[str, Any] = {"prepacking": prepack, "prepacking_reason": why}
    if on_cpu and prepack and gemm_rows is not None and int(gemm_rows.get("multi", 0)) < PREPACK_MIN_BYTES:
        # Only integer kernels ask for it: their 8-bit weights pack in tens of milliseconds,
        # and unpacked they run about twice as long, so a deferred first call loses what it
        # saves (resnet50 QDQ, fresh processes: first result 204-270 ms eager, 227-240
        # deferred, then 25-30 ms against 74 for the deferred second call). The runtime
        # prepacks such artifacts while opening them (runtime/loader.py).
        settings["prepacking_deferred"] = False
    if on_cpu and activation_bytes is not None:
        settings["memory_pattern"], settings["memory_pattern_reason"] = memory_pattern_pays(activation_bytes)
    logger.debug(
        "ORT optimizer (%s, %s): %d -> %d bytes (+ %s B external)",
        level, save_format, len(model), len(data),
        weights_size,
    )
    return Artifact(
        data=data,
        format="ort" if save_format == "ORT" else "onnx",
        info={
            "optimization_level": level,
            "onnxruntime": ort.__version__,
            "optimized_for": created,
            "session": settings,
            **({"optimizers_disabled": retried} if retried else {}),
        },
        files=files,
        folder=folder if has_weights else None,
    )


# NOTE: weight prepacking. At session creation ONNX Runtime's CPU provider re-lays the constant
# B operand of every MatMul / Gemm for MLAS's GEMM kernels; creation then costs a copy of those
# weights, and every run skips packing them again. Measured on the stored artifacts (ORT 1.32,
# 2 shared cores, fresh processes, 3 interleaved rounds; benchmarks/bench_prepacking.py):
#   distilbert (66M params, seq 128)  off: session 11-24 ms, warm 198-324 ms
#                                      on:  session 197-246 ms, warm 162-184 ms
#   densenet121 / efficientnet_b0     on vs off: warm within noise (their convolutions run as
#                                      NCHWc kernels whose weights the offline optimizer
#                                      already reordered), creation +10-20 ms
# So prepacking is chosen per artifact: on where GEMM weights are a large share of the work
# (transformers: never slower warm than ORT on the original, which prepacks), off elsewhere
# (the faster start costs nothing warm). Only weights multiplied by more than one row count
# (``gemm_rows``, from the IR): a batch-1 CNN's classifier multiplies one vector, and packing
# its weights saved nothing. Warm, prepacked / unpacked, on the stored artifacts (fresh
# processes, 5 alternating pairs, medians; wave 2 session 5): resnet50 0.995, densenet121
# 1.009, mobilenet_v3_large 0.984, efficientnet_b0 1.003, inception_v3 1.003, W3 0.988
# (1-5 MiB classifiers, one row each); convnext_tiny 0.920, distilbert 0.882, swin_t 0.905,
# whisper_tiny_encoder 0.973 (weights multiplied by tokens or pixels).
# Saving the prepacked weights at compile time
# (session.save_external_prepacked_constant_initializers) cut distilbert's creation only to
# 136-160 ms for a 64% larger weights file in MLAS's machine-specific layout: not taken.
# Quantized models (QDQ, lowered natively: compiler/emitters/onnx/quantization.py) run ONNX
# Runtime's integer kernels, which pack their constant weights at every run unless prepacked:
# resnet50 quantized with ORT's QDQ tool, one thread, 95 ms unpacked against 48 prepacked (and
# 48 for ORT on the original). So any of them with a constant weight asks for prepacking.
PREPACKED_OPS = frozenset({"MatMul", "Gemm", "FusedMatMul", "FusedGemm", "Attention", "MultiHeadAttention"})
QUANTIZED_PREPACKED_OPS: dict[str, int] = {  # op type -> the index of its weight input
    "QLinearConv": 3, "QLinearMatMul": 3, "QGemm": 3, "QAttention": 1, "MatMulInteger": 1,
    "ConvInteger": 1, "MatMulIntegerToFloat": 1, "DynamicQuantizeMatMul": 1, "MatMulNBits": 1,
}
PREPACK_MIN_BYTES = 1 << 20  # below 1 MiB of GEMM weights the run-time saving is lost in noise


def prepacking_pays(graph: bytes | onnx.ModelProto, gemm_rows: Mapping[str, int] | None = None) -> tuple[bool, str]:
    """Whether ``graph`` (an optimized ONNX model) runs faster with weight prepacking, and why.

    Integer kernels with a constant weight (``QUANTIZED_PREPACKED_OPS``) always ask for it.
    Otherwise ``gemm_rows`` (the IR's constant GEMM weight bytes by the rows they multiply:
    ``multi``, ``one``) decides when given: only weights multiplied by more than one row count.
    """
    import onnx

    model = onnx.load_model_from_string(graph) if isinstance(graph, bytes) else graph
    constants = {t.name for t in model.graph.initializer}
    quantized = [
        n.op_type for n in model.graph.node
        if n.op_type in QUANTIZED_PREPACKED_OPS and len(n.input) > QUANTIZED_PREPACKED_OPS[n.op_type]
        and n.input[QUANTIZED_PREPACKED_OPS[n.op_type]] in constants
    ]
    if quantized:
        kinds = ", ".join(sorted(set(quantized)))
        return True, f"{len(quantized)} integer kernels ({kinds}) pack their constant weights at every run otherwise"
    if gemm_rows is not None:
        multi, one = int(gemm_rows.get("multi", 0)), int(gemm_rows.get("one", 0))
        vector = f"; {one / 2**20:.1f} MiB multiply one row, where prepacking saves nothing" if one else ""
        if multi >= PREPACK_MIN_BYTES:
            return True, f"{multi / 2**20:.1f} MiB of constant GEMM weights multiply several rows{vector}"
        small = f"(< {PREPACK_MIN_BYTES >> 20} MiB)"
        return False, f"{multi / 2**20:.1f} MiB of constant GEMM weights multiply several rows {small}{vector}"
    sizes: dict[str, int] = {}
    for t in model.graph.initializer:
        n = 1
        for d in t.dims:
            n *= d
        sizes[t.name] = n * max(1, onnx.helper.tensor_dtype_to_np_dtype(t.data_type).itemsize)
    gemm_bytes = sum(
        sizes.get(node.input[1], 0)
        for node in model.graph.node
        if node.op_type in PREPACKED_OPS and len(node.input) > 1
    )
    if gemm_bytes >= PREPACK_MIN_BYTES:
        return True, f"{gemm_bytes / 2**20:.1f} MiB of constant GEMM weights"
    return False, f"{gemm_bytes / 2**20:.1f} MiB of constant GEMM weights (< {PREPACK_MIN_BYTES >> 20} MiB)"


# NOTE: the memory pattern. With ``enable_mem_pattern`` (ORT's default) ONNX Runtime records
# the first run's allocations and, from the second run on, places every intermediate value in
# one block of the pattern's size, taken from its CPU arena. The arena keeps the first run's
# chunks, which the block does not fit into, so a process that runs a graph more than once
# holds its activation memory twice. Measured on the stored artifacts (ORT 1.32, 2 cores;
# steady peak RSS after 4 runs, pattern on -> off; CPU time, one thread, off / on, interleaved,
# medians): whisper_tiny_encoder (113 MiB planned) 280 -> 232 MiB, 1.002; r3d_18 (45 MiB)
# 348 -> 273 MiB, 1.004; convnext_tiny (17 MiB) 210 -> 193 MiB, 0.991; dpt 1.001, gpt2_small
# 0.993 (no RSS change: its block fits the arena's free chunks); swin_t 0.994. Where
# activations are small the block costs little and saves per-value allocations that are a
# visible share of a short run: W3 1.013, squeezenet1_1 1.018, mobilenet_v3_large 1.007,
# efficientnet_b0 1.005 with the pattern off. So it is switched off from
# ``MEMORY_PATTERN_MAX_BYTES`` of planned activations up.
MEMORY_PATTERN_MAX_BYTES = 16 << 20


def memory_pattern_pays(activation_bytes: int) -> tuple[bool, str]:
    """Whether a CPU session keeps ONNX Runtime's memory pattern (NOTE above), and why.

    >>> memory_pattern_pays(6 << 20)[0], memory_pattern_pays(64 << 20)[0]
    (True, False)
    """
    size = f"{activation_bytes / 2**20:.1f} MiB of planned activations"
    if activation_bytes >= MEMORY_PATTERN_MAX_BYTES:
        return False, f"{size}: the pattern's block would hold them a second time"
    return True, f"{size} (< {MEMORY_PATTERN_MAX_BYTES >> 20} MiB)"


def check_external_locations(graph: bytes | onnx.ModelProto, *, has_weights: bool) -> None:
    """Raise ValueError unless every external tensor of ``graph`` lives in ``weights``.

    The publish-time half of "no path can escape the entry": a stored graph may name only
    the fixed file beside it (the loader also lets ONNX Runtime resolve it inside the entry
    folder only, and ORT 1.32 itself refuses locations that climb out of it).
    """
    import onnx

    model = onnx.load_model_from_string(graph) if isinstance(graph, bytes) else graph
    for tensor in _all_tensors(model.graph):
        if tensor.data_location != onnx.TensorProto.EXTERNAL:
            continue
        where = {e.key: e.value for e in tensor.external_data}
        if where.get("location") != WEIGHTS or not has_weights:
            raise ValueError(
                f"optimized graph: initializer {tensor.name!r} has external data at "
                f"{where.get('location')!r}; expected {WEIGHTS!r} beside the graph"
            )


def _all_tensors(graph: Any) -> Any:
    yield from graph.initializer
    for sparse in graph.sparse_initializer:
        yield sparse.values
        yield sparse.indices
    for node in graph.node:
        for attr in node.attribute:
            if attr.HasField("t"):
                yield attr.t
            yield from attr.tensors
            if attr.HasField("g"):
                yield from _all_tensors(attr.g)
            for sub in attr.graphs:
                yield from _all_tensors(sub)
