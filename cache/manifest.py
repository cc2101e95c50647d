"""The JSON manifest stored beside every artifact (stdlib only: the runtime reads it).

A manifest says what the artifact is (format, sha256, size), how to call it (inputs and
outputs with data types and shapes), what it was built for (target, key and key parts,
library versions) and how long building took.
"""

from __future__ import annotations

import json
import math
from typing import Any

from webnnc.cache._hash import sha256_hex
from webnnc.cache.errors import CacheCorruptionError

__all__ = [
    "ENTRY_FILES", "LAYOUT_VERSION", "HELD_FILES", "MANIFEST_VERSION", "MAX_JSON_BYTES", "FrozenRecord", "IOSpec",
    "Manifest", "key_digest", "load_json", "tree_digest",
]

MANIFEST_VERSION = 1

# The cache's own on-disk layout version (``cache/CACHE.md``). It is a key part, like the
# compiler's FORMAT_VERSION: bumping either makes every old key miss, and ``webnnc cache gc``
# then removes the entries nothing can use any more.
# 3: ONNX artifacts are a folder (graph + mapped weights); 4: entries are tagged blake2b-256, not
# hmac-sha256 (an earlier webnnc drops such an entry as unauthenticated: its own keys differ)
LAYOUT_VERSION = 4


def key_digest(parts: dict[str, str]) -> str:
    """Hex sha256 of the canonical JSON of a key's parts (what :meth:`CacheKey.digest` hashes).

    Manifests carry their key's parts, so any reader can re-derive the key from them and
    refuse a manifest filed under a key it does not belong to.

    >>> key_digest({"graph": "g", "target": "onnx-cpu"})[:16]
    'f4e66968a92b6cb8'
    """
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"))
    return sha256_hex(text.encode())


# Bounds on JSON read from a cache folder or a bundle (issue 15): a real manifest is 1-30 KB
# (the corpus's largest, bert_base, holds 3 IO specs and a memory plan), a bundle index
# about 300 B per entry. 4 MiB leaves room for graphs with thousands of IO specs while
# refusing a planted multi-GB file before it is read, let alone parsed.
MAX_JSON_BYTES = 4 << 20
_MAX_RANK = 64  # ONNX Runtime's own limit on tensor rank is lower
_MAX_DIM = 2**62  # larger dims cannot describe a tensor any machine holds
_MAX_CREATED = 1e11  # seconds since 1970: year 5138; 1e300 is a planted value, not a time

# The only file names a multi-file artifact may hold (``Manifest.files``): the graph, the
# external-data file its initializers name by this fixed relative location, and the compiled
# kernel library of its fused regions (compiler/kernels/KERNELS.md). Fixed names mean no path
# from a manifest or a graph ever reaches the file system (see cache/CACHE.md).
ENTRY_FILES = ("model.onnx", "weights", "kernels.so")
# The files a read hands over as the very bytes it hashed (read whole into memory on every
# hit, never reopened by path): the graph, and code. The others (weights) are mapped by path.
HELD_FILES = ("model.onnx", "kernels.so")


def tree_digest(files: dict[str, dict[str, Any]]) -> str:
    """The sha256 naming a multi-file artifact: over its sorted (name, sha256, size) triples.

    >>> tree_digest({"model.onnx": {"sha256": "ab", "size": 1}})[:12]
    'ddda496623c6'
    """
    rows = [[n, str(f["sha256"]), int(f["size"])] for n, f in sorted(files.items())]
    return sha256_hex(json.dumps(rows, separators=(",", ":")).encode())


class FrozenRecord:
    """An immutable record with value equality: what ``@dataclass(frozen=True)`` gives, written out.

    The classes every cache hit creates are plain classes (``__slots__`` and an explicit
    ``__init__``) because defining them as dataclasses costs 2-4 ms of each cold start (the
    decorator generates and compiles their methods at import; the Manifest alone 2.3 ms)
    plus 1.1 ms for importing dataclasses. Subclasses list their fields in ``__slots__``, in
    the order of their ``__init__``'s parameters, and assign them with :meth:`_fill`.

    >>> spec = IOSpec("x", "float32", (1, 3))
    >>> spec.replace(shape=(2, 3))
    IOSpec(name='x', data_type='float32', shape=(2, 3))
    >>> spec == IOSpec("x", "float32", (1, 3)), spec == spec.replace(name="y")
    (True, False)
    >>> spec.name = "y"
    Traceback (most recent call last):
    ...
    AttributeError: IOSpec is immutable: cannot set 'name' (use .replace(name=...))
    """

    __slots__: tuple[str, ...] = ()

    def _fill(self, *values: Any) -> None:
        """Set every field, in ``__slots__`` order (what ``__init__`` calls)."""
        for field, value in zip(self.__slots__, values, strict=True):
            object.__setattr__(self, field, value)

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, f) for f in self.__slots__)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable: cannot set {name!r} (use .replace({name}=...))")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable: cannot delete {name!r}")

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._values() == other._values()  # type: ignore[attr-defined]

    def __hash__(self) -> int:  # raises TypeError for a record holding dicts, like a frozen dataclass
        return hash((self.__class__.__name__, self._values()))

    def __repr__(self) -> str:
        fields = ", ".join(f"{f}={getattr(self, f)!r}" for f in self.__slots__)
        return f"{type(self).__name__}({fields})"

    def replace(self, **changes: Any) -> Any:
        """A copy with ``changes`` (what ``dataclasses.replace`` does for a dataclass)."""
        unknown = set(changes) - set(self.__slots__)
        if unknown:
            raise TypeError(f"{type(self).__name__} has no field {sorted(unknown)[0]!r}")
        return type(self)(**{f: changes.get(f, getattr(self, f)) for f in self.__slots__})

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # copy, deepcopy and pickle rebuild through __init__ (the default would setattr the
        # slots, which __setattr__ refuses); __slots__ lists the fields in __init__'s order
        return type(self), tuple(getattr(self, f) for f in self.__slots__)


class IOSpec(FrozenRecord):
    """One graph input or output: its name, WebNN data type and static shape."""

    __slots__ = ("name", "data_type", "shape")  # noqa: RUF023 - declaration order (repr, __init__)
    name: str
    data_type: str
    shape: tuple[int, ...]

    def __init__(self, name: str, data_type: str, shape: tuple[int, ...]) -> None:
        self._fill(name, data_type, shape)

    def to_obj(self) -> dict[str, Any]:
        return {"name": self.name, "data_type": self.data_type, "shape": list(self.shape)}

    @classmethod
    def from_json(cls, obj: Any) -> IOSpec:
        from webnnc.cache.dtypes import NUMPY_STORAGE

        if not isinstance(obj, dict):
            raise TypeError(f"an IO spec is a {type(obj).__name__}, not an object")
        name, dtype, shape = obj["name"], obj["data_type"], obj["shape"]
        if not isinstance(name, str) or not isinstance(dtype, str) or dtype not in NUMPY_STORAGE:
            raise ValueError(f"IO spec {name!r}: data type {dtype!r} is not a WebNN data type")
        if not isinstance(shape, list) or len(shape) > _MAX_RANK:
            raise ValueError(f"IO spec {name!r}: shape is not a list of at most {_MAX_RANK} dims")
        if not all(type(d) is int and 0 <= d <= _MAX_DIM for d in shape):
            raise ValueError(f"IO spec {name!r}: shape {shape[:8]!r} holds a non-integer or out-of-range dim")
        return cls(name, dtype, tuple(shape))


def load_json(text: str | bytes, what: str, limit: int = MAX_JSON_BYTES) -> Any:
    """``json.loads`` for files from a cache folder or a bundle: bounded in size and depth.

    Raises:
        ValueError: ``text`` is over ``limit`` bytes, nested too deeply, or not JSON (one line
            naming ``what``).
    """
    if len(text) > limit:
        raise ValueError(f"{what} is {len(text)} B, over the {limit} B limit (refused unread)")
    try:
        return json.loads(text)
    except RecursionError:  # a deeply nested literal: the size bound keeps this cheap to reach
        raise ValueError(f"{what} is nested too deeply") from None
    except ValueError as e:
        raise ValueError(f"{what} is not JSON ({e})") from None


def _str(obj: dict[str, Any], field: str, default: str | None = None) -> str:
    value = obj.get(field, default)
    if not isinstance(value, str):
        raise TypeError(f"{field} is a {type(value).__name__}, not a string")
    return value


def _dict(obj: dict[str, Any], field: str, values: type | tuple[type, ...] = object) -> dict[str, Any]:
    value = obj.get(field, {})
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise TypeError(f"{field} is not an object with string keys")
    if values is not object and not all(isinstance(v, values) and not isinstance(v, bool) for v in value.values()):
        raise TypeError(f"{field} holds a value that is not {values}")
    return value


class Manifest(FrozenRecord):
    """Everything the runtime needs to know about one stored artifact."""

    __slots__ = (  # noqa: RUF023 - declaration order (repr, __init__)
        "key", "target", "format", "artifact_sha256", "artifact_size", "inputs", "outputs", "name", "created",
        "key_parts", "libraries", "timings_ms", "session", "extra", "artifact_blake3", "files", "version",
    )
    key: str
    target: str
    format: str
    artifact_sha256: str
    artifact_size: int
    inputs: tuple[IOSpec, ...]
    outputs: tuple[IOSpec, ...]
    name: str | None
    created: float
    key_parts: dict[str, str]
    libraries: dict[str, str]
    timings_ms: dict[str, float]
    session: dict[str, Any]
    extra: dict[str, Any]
    artifact_blake3: str  # set by the store when `blake3` is installed; "" when absent
    # A multi-file artifact (a folder: ``model.onnx`` + its external ``weights``): per file
    # {"sha256", "size", "blake3"}; then ``artifact_sha256`` is :func:`tree_digest` of it and
    # ``artifact_size`` the total. Empty for a single-file artifact (one blob).
    files: dict[str, dict[str, Any]]
    version: int

    def __init__(
        self,
        key: str,
        target: str,
        format: str,
        artifact_sha256: str,
        artifact_size: int,
        inputs: tuple[IOSpec, ...],
        outputs: tuple[IOSpec, ...],
        name: str | None = None,
        created: float = 0.0,
        key_parts: dict[str, str] | None = None,
        libraries: dict[str, str] | None = None,
        timings_ms: dict[str, float] | None = None,
        session: dict[str, Any] | None = None,
        extra: dict[str, Any] | None = None,
        artifact_blake3: str = "",
        files: dict[str, dict[str, Any]] | None = None,
        version: int = MANIFEST_VERSION,
    ) -> None:
        self._fill(
            key, target, format, artifact_sha256, artifact_size, inputs, outputs, name, created,
            {} if key_parts is None else key_parts, {} if libraries is None else libraries,
            {} if timings_ms is None else timings_ms, {} if session is None else session,
            {} if extra is None else extra, artifact_blake3, {} if files is None else files, version,
        )

    def _plain(self) -> dict[str, Any]:
        # the JSON form over the manifest's own values (not copies: for serializing only)
        obj = {f: getattr(self, f) for f in self.__slots__}
        obj["inputs"] = [s.to_obj() for s in self.inputs]
        obj["outputs"] = [s.to_obj() for s in self.outputs]
        return obj

    def to_obj(self) -> dict[str, Any]:
        """The manifest as JSON-ready values (copies: editing them leaves the manifest alone)."""
        import copy

        return copy.deepcopy(self._plain())

    def to_json(self) -> str:
        return json.dumps(self._plain(), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> Manifest:
        """Parse and validate a manifest; raise CacheCorruptionError when it is malformed."""
        return cls.from_obj(cls.parse(text))

    @staticmethod
    def parse(text: str | bytes) -> Any:
        """The bounded JSON parse of a manifest file (:func:`load_json`)."""
        try:
            return load_json(text, "the manifest")
        except ValueError as e:
            raise CacheCorruptionError(f"malformed manifest: {e}") from None

    @classmethod
    def from_obj(cls, obj: Any) -> Manifest:
        """Validate a parsed manifest: every field's type and range (CacheCorruptionError if not).

        Fields the format does not know (such as the store's ``auth`` tag) are ignored.
        """
        try:
            if not isinstance(obj, dict):
                raise TypeError("not an object")
            if obj.get("version") != MANIFEST_VERSION:
                raise ValueError(f"manifest version {obj.get('version')!r}, expected {MANIFEST_VERSION}")
            size, created, name = obj["artifact_size"], obj.get("created", 0.0), obj.get("name")
            if type(size) is not int or not 0 <= size <= _MAX_DIM:
                raise ValueError(f"artifact_size {size!r} is not a size")
            if type(created) not in (int, float) or not (math.isfinite(created) and 0 <= created <= _MAX_CREATED):
                raise ValueError(f"created {created!r} is not a time")
            if name is not None and not isinstance(name, str):
                raise TypeError(f"name is a {type(name).__name__}, not a string")
            if not isinstance(obj["inputs"], list) or not isinstance(obj["outputs"], list):
                raise TypeError("inputs and outputs must be lists")
            timings = _dict(obj, "timings_ms", (int, float))
            if not all(math.isfinite(v) for v in timings.values()):
                raise ValueError("timings_ms holds a non-finite value")
            files = _dict(obj, "files", dict)
            return cls(
                key=_str(obj, "key"),
                target=_str(obj, "target"),
                format=_str(obj, "format"),
                artifact_sha256=_str(obj, "artifact_sha256"),
                artifact_size=size,
                inputs=tuple(IOSpec.from_json(o) for o in obj["inputs"]),
                outputs=tuple(IOSpec.from_json(o) for o in obj["outputs"]),
                name=name,
                created=float(created),
                key_parts=_dict(obj, "key_parts", str),
                libraries=_dict(obj, "libraries", str),
                timings_ms=timings,
                session=_dict(obj, "session"),
                extra=_dict(obj, "extra"),
                artifact_blake3=_str(obj, "artifact_blake3", ""),
                files={k: dict(v) for k, v in files.items()},
            )
        except (ValueError, TypeError, KeyError) as e:
            raise CacheCorruptionError(f"malformed manifest: {e}") from None
