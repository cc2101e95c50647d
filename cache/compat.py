"""Which stored entries can still be used, by this runtime or by any current compiler.

Stdlib only: the runtime uses it to pick the newest artifact it can load for a name, and
``webnnc cache gc`` uses it to find entries that no installed version can ever hit again.
"""

from __future__ import annotations

from webnnc.cache.machine import cpu_features, library_version, onnxruntime_version
from webnnc.cache.manifest import LAYOUT_VERSION, Manifest

__all__ = ["installed_library", "runtime_incompatibility", "unusable_reason"]

# key part "library.<name>" -> the distributions that provide it
_DISTRIBUTIONS: dict[str, tuple[str, ...]] = {
    "onnxruntime": ("onnxruntime", "onnxruntime-gpu"),
    "onnx": ("onnx",),
    "coremltools": ("coremltools",),
    "webnnc": ("webnnc",),
}
# what the runtime needs to match to run a target's artifact (compiler-side ones do not matter)
_RUNTIME_LIBRARIES: dict[str, tuple[str, ...]] = {
    "onnx-cpu": ("onnxruntime",),
    "onnx-cuda": ("onnxruntime",),
    "coreml": ("coremltools",),
}


def installed_library(name: str) -> str:
    """Installed version of a library named in key parts (``"none"`` when missing).

    For onnxruntime, the imported module's version (see ``machine.onnxruntime_version``):
    the compiler records it and the runtime compares it, like with like.
    """
    if name == "onnxruntime":
        return onnxruntime_version()
    return library_version(*_DISTRIBUTIONS.get(name, (name,)))


def _layout_problem(manifest: Manifest) -> str | None:
    layout = manifest.key_parts.get("layout_version")
    if layout != str(LAYOUT_VERSION):
        return f"cache layout version {layout}, this installation uses {LAYOUT_VERSION}"
    return None


def _machine_problem(manifest: Manifest) -> str | None:
    cpu = manifest.key_parts.get("machine.cpu")
    if cpu is not None and cpu != cpu_features():
        return f"compiled for CPU features {cpu!r}; this machine has {cpu_features()!r}"
    gpu = manifest.key_parts.get("machine.gpu")
    if gpu is not None:
        from webnnc.cache.machine import gpu_features  # imports onnxruntime: only when needed

        if gpu != gpu_features():
            return f"compiled for GPU {gpu!r}; this machine has {gpu_features()!r}"
    return None


def runtime_incompatibility(manifest: Manifest, target: str) -> str | None:
    """Why this runtime cannot run ``manifest``'s artifact for ``target``; None when it can."""
    if manifest.target != target:
        return f"compiled for target {manifest.target}, not {target}"
    problem = _layout_problem(manifest) or _machine_problem(manifest)
    if problem:
        return problem
    for lib in _RUNTIME_LIBRARIES.get(target, ("onnxruntime", "coremltools")):
        built = manifest.key_parts.get(f"library.{lib}")
        if built is None:
            continue
        installed = _runtime_library_version(lib)
        if built != installed:
            return f"compiled with {lib} {built}; {installed} is installed"
    return None


def _runtime_library_version(lib: str) -> str:
    # ONNX Runtime is imported next anyway, to create the session: asking the module is
    # cheaper than importlib.metadata's scan of every installed distribution (~20 ms of a
    # ~100 ms cold load), and it is what the compiler recorded (installed_library).
    return installed_library(lib)


def unusable_reason(
    manifest: Manifest, *, format_version: int | None = None, environment: bool = True
) -> str | None:
    """Why no key this installation computes can ever match ``manifest``; None when one can.

    Args:
        format_version: the compiler's FORMAT_VERSION (the cache cannot import the
            compiler, so the caller passes it; None skips that check).
        environment: also count other library versions and another CPU/GPU as unusable
            (False keeps them, for a folder shared by several environments).
    """
    problem = _layout_problem(manifest)
    if problem:
        return problem
    fv = manifest.key_parts.get("format_version")  # absent in derived entries (.mlmodelc)
    if format_version is not None and fv is not None and fv != str(format_version):
        return f"compiler format version {fv}, current is {format_version}"
    if not environment:
        return None
    for part, built in sorted(manifest.key_parts.items()):
        if part.startswith("library."):
            lib = part.removeprefix("library.")
            if built != installed_library(lib):
                return f"built with {lib} {built}; {installed_library(lib)} is installed"
    return _machine_problem(manifest)
