"""Compile targets as objects: what each target compiles with, keys on, and promises.

A :class:`Target` knows its emitter, its artifact formats, the parts of the cache key that
depend on it (libraries and machine features), its backend compile stage (ONNX Runtime's
offline optimizer for the onnx targets), its support limits and whether it can compile or
run here. The driver asks the target instead of branching on target names.

Adding a target: one instance below (its stdlib-only facts go in ``webnnc.cache.targets``,
which the runtime shares) and, for a new artifact kind, an emitter in
``webnnc.compiler.emitters``. Nothing here imports a target library at module level: the
emitter, onnxruntime and coremltools load only when a target is asked to do something.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from webnnc.cache._log import get_logger
from webnnc.cache.compat import installed_library
from webnnc.cache.machine import cpu_features, gpu_features
from webnnc.cache.targets import TargetInfo, target_info
from webnnc.compiler.errors import CompilerError

if TYPE_CHECKING:
    from webnnc.compiler.emitters import Artifact
    from webnnc.compiler.ir import Graph
    from webnnc.compiler.options import CompileOptions

__all__ = ["TARGETS", "CoreMLTarget", "OnnxRuntimeTarget", "Target", "get_target"]

logger = get_logger(__name__)


def _missing(*modules: str) -> list[str]:
    import importlib.util  # when a target's availability is asked, not with every build()

    return [m for m in modules if importlib.util.find_spec(m) is None]


class Target:
    """One compile target. Subclasses add the backend compile stage and run checks.

    Args:
        name: the target's name (a key of ``webnnc.cache.targets.TARGETS``).
        emitter: the emitter that writes its artifact (a key of ``emitters.EMITTERS``).
        description: one line for listings (``webnnc compile --help``, errors).
        libraries: the libraries, besides webnnc and onnx, whose versions shape its artifact
            (they become ``library.<name>`` key parts).
        extra: the ``pip install 'webnnc[extra]'`` extra that brings its compiler library.
    """

    def __init__(
        self, name: str, *, emitter: str, description: str, libraries: tuple[str, ...], extra: str
    ) -> None:
        self.info: TargetInfo = target_info(name)
        self.name = name
        self.emitter = emitter
        self.description = description
        self.libraries = libraries
        self.extra = extra

    def __repr__(self) -> str:
        return f"<Target {self.name}>"

    @property
    def device(self) -> str:
        """Where its artifacts run: "cpu" or "gpu"."""
        return self.info.device

    @property
    def artifact_formats(self) -> tuple[str, ...]:
        """The ``Manifest.format`` values its artifacts may have."""
        return self.info.artifact_formats

    # ------------------------------------------------------------ key parts
    def library_versions(self) -> dict[str, str]:
        """Installed versions of :attr:`libraries` (``"none"`` when missing)."""
        return {lib: installed_library(lib) for lib in self.libraries}

    def machine_specific(self, options: CompileOptions) -> bool:
        """Whether artifacts compiled with ``options`` depend on this machine's CPU."""
        return False

    def machine_parts(self, options: CompileOptions) -> tuple[tuple[str, str], ...]:
        """The machine features that shape an artifact compiled with ``options``."""
        return (("cpu", cpu_features()),) if self.machine_specific(options) else ()

    # ------------------------------------------------------------ compile stages
    def emit(self, graph: Graph, options: CompileOptions | None = None, *, native_qdq: bool = True) -> Artifact:
        """Stage 4: write the artifact with this target's emitter (``native_qdq``: ONNX only)."""
        from webnnc.compiler.emitters import get_emitter

        emit_options = None if options is None else {"precision": options.precision}
        return get_emitter(self.emitter).emit(graph, emit_options)

    def has_backend_stage(self, options: CompileOptions) -> bool:
        """Whether :meth:`backend_compile` runs after the emitter for ``options``."""
        return False

    def backend_compile(
        self, artifact: Artifact, options: CompileOptions, *, stored: bool = True, out_path: str | None = None
    ) -> Artifact:
        """Stage 5: the backend's own compiler on the emitted artifact (identity by default).

        ``stored`` says whether the result goes into the cache (ONNX targets then keep the
        weights in a separate file the runtime maps; in memory, one self-contained model).
        ``out_path``: where a backend that saves files may write the graph (its other files
        beside it, named in ``Artifact.folder``), instead of returning them as bytes.
        """
        return artifact

    # ------------------------------------------------------------ what it promises
    def support_limits(self) -> dict[str, Any]:
        """The spec's ``MLOpSupportLimits`` dictionary for this target."""
        raise NotImplementedError

    def supported_ops(self) -> frozenset[str]:
        """The WebNN operators its emitter lowers."""
        from webnnc.compiler.emitters import get_emitter

        return get_emitter(self.emitter).supported_ops()

    # ------------------------------------------------------------ availability
    def compile_unavailable_reason(self) -> str | None:
        """Why this target cannot compile here (a library is missing), or None."""
        missing = _missing(*self._compile_modules())
        if missing:
            return (
                f"compiling for {self.name} needs {', '.join(missing)}; "
                f"install it with: pip install 'webnnc[{self.extra}]'"
            )
        return None

    def run_unavailable_reason(self) -> str | None:
        """Why this target's artifacts cannot run here, or None."""
        missing = _missing(self.info.runtime_library)
        return f"running {self.name} artifacts needs {missing[0]}" if missing else None

    def can_compile(self) -> bool:
        return self.compile_unavailable_reason() is None

    def can_run(self) -> bool:
        return self.run_unavailable_reason() is None

    def _compile_modules(self) -> tuple[str, ...]:
        return ("onnx",)


def _onnx_support_limits() -> dict[str, Any]:
    # the one place that reads the operator catalogue's support table
    from webnnc.compiler.ops import op_support_limits

    return op_support_limits()


class OnnxRuntimeTarget(Target):
    """An ONNX Runtime target: ONNX emitter, then ORT's offline optimizer for its provider."""

    def machine_specific(self, options: CompileOptions) -> bool:
        # "all" adds machine-specific layouts on the CPU provider; fused kernels are built
        # for this CPU's instruction sets
        return self.device == "cpu" and (options.optimization_level == "all" or self._fuses(options))

    def machine_parts(self, options: CompileOptions) -> tuple[tuple[str, str], ...]:
        if self.device == "gpu":
            # kernels, fusions and cuDNN choices differ by GPU architecture and CUDA/cuDNN version
            return (("gpu", gpu_features()),)
        parts = super().machine_parts(options)
        if self._fuses(options):
            from webnnc.compiler.kernels import kernels_key_part

            parts = (*parts, ("kernels", kernels_key_part()))
        return parts

    def _fuses(self, options: CompileOptions) -> bool:
        """Whether the fused-kernel stage runs (``options.fusion``, on the CPU, after ORT's optimizer)."""
        return self.device == "cpu" and options.fusion and self.has_backend_stage(options)

    def has_backend_stage(self, options: CompileOptions) -> bool:
        return options.optimization_level != "none"

    def emit(self, graph: Graph, options: CompileOptions | None = None, *, native_qdq: bool = True) -> Artifact:
        """The ONNX emitter; when ORT's optimizer follows, the weights stay in memory
        (``Artifact.arrays``) for it instead of being serialized into the model.
        ``native_qdq=False`` spells quantization out (the driver's fallback, ``_emit``)."""
        from webnnc.compiler.emitters import get_emitter
        from webnnc.compiler.options import CompileOptions

        options = options or CompileOptions(target=self.name)
        emit_options = {
            "precision": options.precision, "external_weights": self.has_backend_stage(options),
            "native_qdq": native_qdq,
        }
        return get_emitter(self.emitter).emit(graph, emit_options)

    def optimizer_settings(self, level: str) -> tuple[list[str] | None, str]:
        """(execution providers, optimization level) for ORT's offline optimizer here."""
        if self.device != "gpu":
            return None, level
        from webnnc.compiler.emitters.ort_optimizer import available_providers

        # Optimized for the CUDA provider. Without a CUDA provider here, only the portable
        # "basic" rewrites apply: "all" would add CPU-only layouts to a GPU artifact.
        if "CUDAExecutionProvider" in available_providers():
            return ["CUDAExecutionProvider", "CPUExecutionProvider"], level
        if level in ("extended", "all"):
            level = "basic"
        return None, level

    def backend_compile(
        self, artifact: Artifact, options: CompileOptions, *, stored: bool = True, out_path: str | None = None
    ) -> Artifact:
        from webnnc.compiler.emitters.ort_optimizer import optimize

        # Saved as ONNX, not ORT format: loaded with optimizations off, the ORT-optimized ONNX
        # of W3 creates its session ~1 ms (10-15%) faster than the same graph in ORT format
        # (ORT 1.32, CPU; benchmarks/bench_passes.py --stages), and runs the same; on the GPU
        # the ORT format is not meant for it at all (it serves CPU-side minimal builds).
        providers, level = self.optimizer_settings(options.optimization_level)
        # Weights go to an external file the runtime maps (ort_optimizer's NOTE has the numbers).
        pad_feeds_pool = bool(artifact.info.get("pad_feeds_pool"))
        gemm_rows = artifact.info.get("gemm_weight_rows")
        activation_bytes = artifact.info.get("activation_bytes")
        result = optimize(
            artifact.data, level=level, providers=providers, save_format="ONNX", external_weights=stored,
            arrays=artifact.arrays, out_path=out_path, pad_feeds_pool=pad_feeds_pool, gemm_rows=gemm_rows,
            activation_bytes=activation_bytes, quantized=bool(artifact.info.get("native_qdq")),
        )
        if providers and providers[0] not in result.info.get("optimized_for", ()):
            # onnxruntime-gpu lists the CUDA provider even where it cannot create it (no GPU,
            # no CUDA libraries); ORT then optimized on the CPU provider, and "extended"/"all"
            # wrote CPU-only kernels (NCHWc convolutions, seen with onnxruntime-gpu 1.31.1 on a
            # CPU-only machine) into a GPU artifact. Redo it with the portable rewrites only.
            portable = "basic" if level in ("extended", "all") else level
            logger.warning(
                "%s: onnxruntime lists %s but could not create it here; optimizing at %r for any provider",
                self.name, providers[0], portable,
            )
            result = optimize(
                artifact.data, level=portable, providers=None, save_format="ONNX", external_weights=stored,
                arrays=artifact.arrays, pad_feeds_pool=pad_feeds_pool, gemm_rows=gemm_rows,
                activation_bytes=activation_bytes, quantized=bool(artifact.info.get("native_qdq")),
            )
        if self._fuses(options):  # after ORT's own fusions (compiler/kernels/KERNELS.md)
            from webnnc.compiler.kernels import fuse_artifact

            result = fuse_artifact(result)
        return result

    def support_limits(self) -> dict[str, Any]:
        return _onnx_support_limits()

    def run_unavailable_reason(self) -> str | None:
        reason = super().run_unavailable_reason()
        if reason is None and self.device == "gpu":
            from webnnc.compiler.emitters.ort_optimizer import available_providers

            if "CUDAExecutionProvider" not in available_providers():
                reason = f"running {self.name} artifacts needs onnxruntime-gpu and a CUDA device"
        return reason

    def _compile_modules(self) -> tuple[str, ...]:
        return ("onnx", "onnxruntime")


class CoreMLTarget(Target):
    """CoreML: the MIL emitter writes an .mlpackage; macOS compiles and runs it at load."""

    def support_limits(self) -> dict[str, Any]:
        # Derived from the ONNX table (operand names, spec types) narrowed by the CoreML
        # lowering registry, so it never promises what the CoreML emitter would reject.
        # The registry's modules import coremltools: without it, say so in one line.
        reason = self.compile_unavailable_reason()
        if reason is not None:
            from webnnc.compiler.errors import UnsupportedOperatorError

            raise UnsupportedOperatorError(f"the {self.name} support table is read from its lowerings: {reason}")
        from webnnc.compiler.emitters.coreml import CARRIED, LOWERINGS, MAX_RANK, MIL_TYPES
        from webnnc.compiler.ir import DataType
        from webnnc.compiler.ops import OP_SUPPORT, op_support_limits

        tensor_types = frozenset(MIL_TYPES) | frozenset(CARRIED)  # int64 is carried as int32
        table = {}
        for op, operands in OP_SUPPORT.items():
            entry = LOWERINGS.get(op)
            if entry is None:
                continue
            limits = {}
            for pos, (arg, lim) in enumerate(operands.items()):
                allowed = entry.data_types if pos == 0 else tensor_types
                allowed = allowed | {c for c, t in CARRIED.items() if t in allowed}
                if pos in entry.bool_operands or (entry.moves_bool and pos not in entry.const_int_operands):
                    allowed = tensor_types | {DataType.UINT8}
                limits[arg] = lim.replace(data_types=lim.data_types & allowed, max_rank=min(lim.max_rank, MAX_RANK))
            table[op] = limits
        out = op_support_limits(table)
        tensor = {
            "dataTypes": [t.value for t in DataType if t in tensor_types],
            "rankRange": {"min": 0, "max": MAX_RANK},
        }
        out.update(input=tensor, constant=tensor, output=tensor)
        return out

    def run_unavailable_reason(self) -> str | None:
        if sys.platform != "darwin":
            return "CoreML compilation (.mlmodelc) and prediction need macOS"
        return super().run_unavailable_reason()

    def _compile_modules(self) -> tuple[str, ...]:
        return ("coremltools",)


TARGETS: dict[str, Target] = {
    t.name: t
    for t in (
        OnnxRuntimeTarget(
            "onnx-cpu", emitter="onnx", description="ONNX Runtime, CPUExecutionProvider",
            libraries=("onnxruntime",), extra="onnx",
        ),
        OnnxRuntimeTarget(
            "onnx-cuda", emitter="onnx", description="ONNX Runtime, CUDAExecutionProvider",
            libraries=("onnxruntime",), extra="onnx",
        ),
        CoreMLTarget(
            "coreml", emitter="coreml", description="CoreML ML Program (.mlpackage; .mlmodelc on macOS)",
            libraries=("coremltools",), extra="coreml",
        ),
    )
}


def get_target(name: str) -> Target:
    """The target named ``name``.

    Raises:
        CompilerError: unknown name; the message lists the known targets.
    """
    try:
        return TARGETS[name]
    except KeyError:
        raise CompilerError(f"unknown target {name!r}; choose one of {sorted(TARGETS)}") from None
