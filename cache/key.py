"""Cache keys: every input that shapes an artifact, gathered, sorted and hashed."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

__all__ = ["CacheKey"]


@dataclass(frozen=True)
class CacheKey:
    """The inputs of one compilation.

    Attributes:
        graph_digest: structural digest of the graph (embeds constant content digests).
        target: e.g. ``"onnx-cpu"``.
        options: compile options as sorted ``(name, value)`` string pairs.
        format_version: the compiler's artifact format version (bump to invalidate all).
        libraries: versions of the libraries that shape the artifact.
        machine: facts that make the artifact machine-specific (CPU features, GPU arch);
            empty for portable artifacts.
    """

    graph_digest: str
    target: str
    options: tuple[tuple[str, str], ...] = ()
    format_version: int = 1
    libraries: tuple[tuple[str, str], ...] = ()
    machine: tuple[tuple[str, str], ...] = field(default=())

    def parts(self) -> dict[str, str]:
        """The key's parts as a flat, sorted string dict (stored in manifests)."""
        out = {
            "graph": self.graph_digest,
            "target": self.target,
            "format_version": str(self.format_version),
        }
        out.update({f"option.{k}": v for k, v in self.options})
        out.update({f"library.{k}": v for k, v in self.libraries})
        out.update({f"machine.{k}": v for k, v in self.machine})
        return dict(sorted(out.items()))

    def digest(self) -> str:
        """Hex sha256 of the canonical JSON of :meth:`parts`."""
        text = json.dumps(self.parts(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    def debug_lines(self, other: CacheKey | None = None) -> list[str]:
        """One line per part; with ``other``, only the parts that differ (explains a miss)."""
        mine = self.parts()
        if other is None:
            return [f"{k} = {v}" for k, v in mine.items()]
        theirs = other.parts()
        return [
            f"{k}: {theirs.get(k, '<absent>')} -> {mine.get(k, '<absent>')}"
            for k in sorted(set(mine) | set(theirs))
            if mine.get(k) != theirs.get(k)
        ]
