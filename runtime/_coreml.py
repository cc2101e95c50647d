"""CoreML graphs: compile a stored ``.mlpackage`` to ``.mlmodelc`` once, load it, run it.

Imported only when a CoreML artifact is loaded; coremltools itself is imported only on
macOS, where it can compile and predict.

# NOTE: the ``.mlmodelc`` is the expensive step (seconds for MobileNetV2), so it is done
# once per (package, macOS version, coremltools version) and stored in the artifact cache as
# a derived entry of its own (format ``mlmodelc``, ``ArtifactStore.put_derived``), keyed by
# the package's sha256 and those versions: a macOS or coremltools upgrade recompiles,
# nothing else does. CoreML loads a compiled model from a folder, so the store unpacks the
# verified archive once into a folder of the cache (``ArtifactStore.unpacked_dir``; see
# ``webnnc.cache.archive`` for why no process sees a half-written one). This module never
# writes into the cache folder itself.
# NOTE: compute units come from the context: power_preference "low-power" -> CPU_AND_NE,
# "high-performance" -> CPU_AND_GPU, otherwise ALL; device_type "cpu" -> CPU_ONLY. The choice
# is recorded in the graph's manifest (``manifest.session["compute_units"]``) and build_info.
"""

from __future__ import annotations

import hashlib
import logging
import platform
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from webnnc.cache.archive import UnsafeArchiveError, materialize, pack_directory, unpack
from webnnc.cache.key import derived_parts, key_digest
from webnnc.cache.manifest import Manifest
from webnnc.runtime.errors import RuntimeLoadError, WebNNRuntimeError
from webnnc.runtime.graph import NUMPY_DTYPES

if TYPE_CHECKING:
    from webnnc.cache.store import ArtifactStore
    from webnnc.runtime.graph import MLGraph

__all__ = [
    "COMPUTE_UNITS",
    "CoreMLSession",
    "UnavailableCoreMLSession",
    "compiled_key",
    "compiled_parts",
    "compute_units_for",
    "load_coreml_graph",
    "macos_skip_reason",
]

logger = logging.getLogger(__name__)

COMPUTE_UNITS: dict[str, str] = {
    "default": "ALL",
    "high-performance": "CPU_AND_GPU",
    "low-power": "CPU_AND_NE",
}


def compute_units_for(power_preference: str, device_type: str = "auto") -> str:
    """The CoreML ``ComputeUnit`` name for a context's options.

    >>> compute_units_for("low-power"), compute_units_for("default", "cpu")
    ('CPU_AND_NE', 'CPU_ONLY')
    """
    if device_type == "cpu":
        return "CPU_ONLY"
    return COMPUTE_UNITS.get(power_preference, "ALL")


def macos_skip_reason() -> str | None:
    """Why CoreML cannot compile or run here, or None on macOS."""
    if sys.platform != "darwin":
        return (
            f"CoreML compilation (.mlmodelc) and prediction need macOS; this is {platform.system()}, "
            "so only the .mlpackage is built and cached"
        )
    return None


def _macos_version() -> str:
    return platform.mac_ver()[0] or platform.release()


def compiled_parts(package_sha256: str, macos_version: str, coremltools_version: str) -> dict[str, str]:
    """The key parts of the ``.mlmodelc`` compiled from one package on one macOS/coremltools."""
    # ``library.coremltools`` is named like a compiler key's library parts, so that
    # `webnnc cache gc` drops the entry when coremltools changes, as it does any other.
    facts = {"package_sha256": package_sha256, "macos": macos_version, "library.coremltools": coremltools_version}
    return derived_parts("coreml-mlmodelc", "coreml", facts)


def compiled_key(package_sha256: str, macos_version: str, coremltools_version: str) -> str:
    """Cache key of :func:`compiled_parts` (hashed like every other key, so it verifies)."""
    return key_digest(compiled_parts(package_sha256, macos_version, coremltools_version))


# ---------------------------------------------------------------- sessions
class UnavailableCoreMLSession:
    """Stands in for a CoreML model where CoreML cannot run; every run says why."""

    def __init__(self, reason: str, key: str) -> None:
        self.reason = reason
        self.key = key

    def run(self, names: Sequence[str] | None, feeds: Mapping[str, Any]) -> list[Any]:
        raise WebNNRuntimeError(
            f"cannot run this CoreML graph: {self.reason}. Its .mlpackage is cached under key "
            f"{self.key[:16]}…; run it on macOS, or build for onnx-cpu here"
        )


class CoreMLSession:
    """A loaded CoreML model behind the ``run(names, feeds)`` call MLGraph makes.

    Translates WebNN names to the model's (sanitized) names, reshapes rank-0 operands,
    and returns outputs in the graph's declared data types.
    """

    def __init__(self, model: Any, manifest: Manifest) -> None:
        self._model = model
        io_names = manifest.extra.get("coreml_io", {})
        self._inputs: dict[str, str] = dict(io_names.get("inputs", {}))
        self._outputs: dict[str, str] = dict(io_names.get("outputs", {}))
        self._specs = {s.name: s for s in manifest.outputs}
        self._scalars = set(io_names.get("scalars", []))
        self._carriers = set(io_names.get("int32_carriers", []))  # uint8 travels as int32
        self._int64 = set(io_names.get("int64_carriers", []))  # int64 travels as int32

    def _feed(self, name: str, x: Any) -> Any:
        if name in self._carriers:
            x = np.asarray(x).astype(np.int32)
        elif name in self._int64:
            x = _narrow_int64(name, x)
        return np.reshape(x, (1,)) if name in self._scalars else x

    def run(self, names: Sequence[str] | None, feeds: Mapping[str, Any]) -> list[np.ndarray]:
        cfeeds = {self._inputs.get(n, n): self._feed(n, x) for n, x in feeds.items()}
        result = self._model.predict(cfeeds)
        out = []
        for n in names if names is not None else list(self._specs):
            spec = self._specs[n]
            y = np.asarray(result[self._outputs.get(n, n)])
            y = y.astype(NUMPY_DTYPES[spec.data_type], copy=False).reshape(spec.shape)
            out.append(y)
        return out


_INT32 = np.iinfo(np.int32)


def _narrow_int64(name: str, x: Any) -> np.ndarray:
    """An int64 input as the int32 the model carries it in; an error when a value does not fit."""
    arr = np.asarray(x)
    if arr.size and (int(arr.min()) < _INT32.min or int(arr.max()) > _INT32.max):
        raise WebNNRuntimeError(
            f"input {name!r}: int64 value {int(arr.min()) if int(arr.min()) < _INT32.min else int(arr.max())} "
            f"does not fit in int32 (expected [{_INT32.min}, {_INT32.max}]); the coreml target "
            "carries int64 inputs as int32"
        )
    return arr.astype(np.int32)


def _compile_and_store(
    ct: Any, package: bytes, manifest: Manifest, store: ArtifactStore | None
) -> tuple[bytes, float]:
    """Compile the package with coremltools; store the packed .mlmodelc as a derived entry."""
    with tempfile.TemporaryDirectory(prefix="webnnc-coreml-") as tmp:
        pkg = Path(tmp) / "model.mlpackage"
        unpack(package, pkg)
        t0 = time.perf_counter()
        compiled = ct.utils.compile_model(str(pkg), destination_path=str(Path(tmp) / "model.mlmodelc"))
        compile_ms = round((time.perf_counter() - t0) * 1e3, 3)
        blob = pack_directory(Path(compiled))
    if store is not None:
        parts = compiled_parts(manifest.artifact_sha256, _macos_version(), str(ct.__version__))
        store.put_derived(
            parts,
            blob,
            source=manifest,
            format="mlmodelc",
            libraries={"coremltools": str(ct.__version__)},
            timings_ms={"compile_mlmodelc": compile_ms},
        )
    return blob, compile_ms


def load_coreml_graph(
    manifest: Manifest,
    *,
    path: str | None,
    data: bytes | None,
    info: dict[str, Any],
    ir_graph: Any = None,
    store: ArtifactStore | None = None,
    power_preference: str = "default",
    device_type: str = "auto",
) -> MLGraph:
    """An MLGraph for a stored ``.mlpackage``: compiled (once) and loaded on macOS.

    Elsewhere the graph is returned with a session that explains, on every run, that CoreML
    needs macOS (building for the coreml target still fills the cache with the package).
    """
    from webnnc.runtime.graph import MLGraph

    t0 = time.perf_counter()
    units = compute_units_for(power_preference, device_type)
    session_info: dict[str, Any] = {"backend": "coreml", "compute_units": units, "format": manifest.format}
    reason = macos_skip_reason()
    session: Any
    if reason is not None:
        logger.info("CoreML graph %s…: %s", manifest.key[:12], reason)
        session_info.update(compiled=False, skipped=reason)
        session = UnavailableCoreMLSession(reason, manifest.key)
    else:
        import coremltools as ct

        parts = compiled_parts(manifest.artifact_sha256, _macos_version(), str(ct.__version__))
        ckey = key_digest(parts)
        hit = store.get_derived(parts) if store is not None else None
        try:
            if hit is not None:
                blob, sha = hit.read_bytes(), hit.manifest.artifact_sha256
                session_info["mlmodelc"] = "cache-hit"
            else:
                package = data if data is not None else Path(path or "").read_bytes()
                blob, compile_ms = _compile_and_store(ct, package, manifest, store)
                sha = hashlib.sha256(blob).hexdigest()
                session_info.update(mlmodelc="compiled", compile_ms=compile_ms)
            if store is not None:
                folder = store.unpacked_dir(blob, sha, folder="coreml", suffix=".mlmodelc")
            else:  # no cache: a private folder for this process
                folder = materialize(blob, sha, None, suffix=".mlmodelc")
        except UnsafeArchiveError as e:
            raise RuntimeLoadError(f"CoreML archive: {e}") from e
        model = ct.models.CompiledMLModel(str(folder), compute_units=getattr(ct.ComputeUnit, units))
        session = CoreMLSession(model, manifest)
        session_info.update(compiled=True, mlmodelc_key=ckey, mlmodelc_path=str(folder),
                            macos=_macos_version(), coremltools=str(ct.__version__))
    info.setdefault("timings_ms", {})["session"] = round((time.perf_counter() - t0) * 1e3, 3)
    info["session"] = session_info
    recorded = manifest.replace(session={**manifest.session, **session_info})
    return MLGraph(recorded, session, build_info=info, ir_graph=ir_graph)
