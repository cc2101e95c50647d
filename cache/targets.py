"""The facts about each compile target that the compiler and the runtime both need.

Stdlib only (the runtime imports it): the target's name, the device its artifacts run on,
the formats its manifests carry and the library the runtime needs to run them. What only the
compiler needs (emitter, backend compile stage, support limits) lives in
``webnnc.compiler.targets``, which builds on these descriptors.
"""

from __future__ import annotations

from webnnc.cache.manifest import FrozenRecord

__all__ = ["TARGETS", "TargetInfo", "target_info"]


class TargetInfo(FrozenRecord):
    """One compile target as the cache and the runtime see it.

    Attributes:
        name: the target's name in options, keys and manifests (``"onnx-cpu"``).
        device: where its artifacts run: ``"cpu"`` or ``"gpu"`` (the runtime's buffers).
        artifact_formats: the ``Manifest.format`` values its artifacts may have.
        runtime_library: the key library the runtime needs to run them.
    """

    __slots__ = ("name", "device", "artifact_formats", "runtime_library")  # noqa: RUF023 - __init__'s order
    name: str
    device: str
    artifact_formats: tuple[str, ...]
    runtime_library: str

    def __init__(self, name: str, device: str, artifact_formats: tuple[str, ...], runtime_library: str) -> None:
        self._fill(name, device, artifact_formats, runtime_library)


TARGETS: dict[str, TargetInfo] = {
    t.name: t
    for t in (
        TargetInfo("onnx-cpu", "cpu", ("onnx", "ort"), "onnxruntime"),
        TargetInfo("onnx-cuda", "gpu", ("onnx", "ort"), "onnxruntime"),
        TargetInfo("coreml", "cpu", ("mlpackage",), "coremltools"),
    )
}


def target_info(name: str) -> TargetInfo:
    """The descriptor of target ``name``.

    Raises:
        ValueError: ``name`` is not a known target (the message lists the known ones).

    >>> target_info("onnx-cuda").device
    'gpu'
    """
    try:
        return TARGETS[name]
    except KeyError:
        raise ValueError(f"unknown target {name!r}; known targets: {', '.join(TARGETS)}") from None
