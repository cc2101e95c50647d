"""The JSON manifest stored beside every artifact (stdlib only: the runtime reads it).

A manifest says what the artifact is (format, sha256, size), how to call it (inputs and
outputs with data types and shapes), what it was built for (target, key and key parts,
library versions) and how long building took.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from webnnc.cache.errors import CacheCorruptionError

__all__ = ["MANIFEST_VERSION", "IOSpec", "Manifest"]

MANIFEST_VERSION = 1


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
            )
        except (ValueError, TypeError, KeyError) as e:
            raise CacheCorruptionError(f"malformed manifest: {e}") from None
