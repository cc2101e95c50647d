"""The JSON manifest stored beside every artifact (stdlib only: the runtime reads it).

A manifest says what the artifact is (format, sha256, size), how to call it (inputs and
outputs with data types and shapes), what it was built for (target, key and key parts,
library versions) and how long building took.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from webnnc.cache.errors import CacheCorruptionError

__all__ = ["ENTRY_FILES", "MANIFEST_VERSION", "IOSpec", "Manifest", "tree_digest"]

MANIFEST_VERSION = 1

# The only file names a multi-file artifact may hold (``Manifest.files``): the graph, and the
# external-data file its initializers name by this fixed relative location. Fixed names mean
# no path from a manifest or a graph ever reaches the file system (see cache/CACHE.md).
ENTRY_FILES = ("model.onnx", "weights")


def tree_digest(files: dict[str, dict[str, Any]]) -> str:
    """The sha256 naming a multi-file artifact: over its sorted (name, sha256, size) triples.

    >>> tree_digest({"model.onnx": {"sha256": "ab", "size": 1}})[:12]
    'ddda496623c6'
    """
    rows = [[n, str(f["sha256"]), int(f["size"])] for n, f in sorted(files.items())]
    return hashlib.sha256(json.dumps(rows, separators=(",", ":")).encode()).hexdigest()


@dataclass(frozen=True)
class IOSpec:
    """One graph input or output: its name, WebNN data type and static shape."""

    name: str
    data_type: str
    shape: tuple[int, ...]

    @classmethod
    def from_json(cls, obj: Any) -> IOSpec:
        return cls(str(obj["name"]), str(obj["data_type"]), tuple(int(d) for d in obj["shape"]))


@dataclass(frozen=True)
class Manifest:
    """Everything the runtime needs to know about one stored artifact."""

    key: str
    target: str
    format: str
    artifact_sha256: str
    artifact_size: int
    inputs: tuple[IOSpec, ...]
    outputs: tuple[IOSpec, ...]
    name: str | None = None
    created: float = 0.0
    key_parts: dict[str, str] = field(default_factory=dict)
    libraries: dict[str, str] = field(default_factory=dict)
    timings_ms: dict[str, float] = field(default_factory=dict)
    session: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    artifact_blake3: str = ""  # set by the store when `blake3` is installed; "" when absent
    # A multi-file artifact (a folder: ``model.onnx`` + its external ``weights``): per file
    # {"sha256", "size", "blake3"}; then ``artifact_sha256`` is :func:`tree_digest` of it and
    # ``artifact_size`` the total. Empty for a single-file artifact (one blob).
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    version: int = MANIFEST_VERSION

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> Manifest:
        """Parse and validate a manifest; raise CacheCorruptionError when it is malformed."""
        try:
            obj = json.loads(text)
            if not isinstance(obj, dict):
                raise TypeError("not an object")
            if obj.get("version") != MANIFEST_VERSION:
                raise ValueError(f"manifest version {obj.get('version')!r}, expected {MANIFEST_VERSION}")
            return cls(
                key=str(obj["key"]),
                target=str(obj["target"]),
                format=str(obj["format"]),
                artifact_sha256=str(obj["artifact_sha256"]),
                artifact_size=int(obj["artifact_size"]),
                inputs=tuple(IOSpec.from_json(o) for o in obj["inputs"]),
                outputs=tuple(IOSpec.from_json(o) for o in obj["outputs"]),
                name=obj.get("name"),
                created=float(obj.get("created", 0.0)),
                key_parts=dict(obj.get("key_parts", {})),
                libraries=dict(obj.get("libraries", {})),
                timings_ms=dict(obj.get("timings_ms", {})),
                session=dict(obj.get("session", {})),
                extra=dict(obj.get("extra", {})),
                artifact_blake3=str(obj.get("artifact_blake3", "")),
                files={str(k): dict(v) for k, v in dict(obj.get("files", {})).items()},
            )
        except (ValueError, TypeError, KeyError) as e:
            raise CacheCorruptionError(f"malformed manifest: {e}") from None
