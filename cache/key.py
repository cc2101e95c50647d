"""Cache keys: every input that shapes an artifact, gathered, sorted and hashed."""

from __future__ import annotations

from collections.abc import Mapping

from webnnc.cache.manifest import LAYOUT_VERSION, FrozenRecord, key_digest

__all__ = ["LAYOUT_VERSION", "CacheKey", "derived_parts", "key_digest"]

# LAYOUT_VERSION and key_digest live in manifest.py (a hit re-derives the key from the
# manifest's parts without loading this module's CacheKey); they are part of this module's API.


def derived_parts(kind: str, target: str, facts: Mapping[str, str]) -> dict[str, str]:
    """The key parts of an entry derived from another entry's artifact.

    A derived entry (the compiled ``.mlmodelc`` of a stored ``.mlpackage``) is keyed by what
    it is (``kind``), its target, the cache's layout version, and the facts it was derived
    from: the source artifact's sha256 and the versions of the tools that derived it (use
    ``library.<name>`` for those, so ``webnnc cache gc`` checks them like a compiler key's).
    Its key is :func:`key_digest` of these parts, so a derived entry verifies like any other.

    >>> p = derived_parts("coreml-mlmodelc", "coreml", {"package_sha256": "ab"})
    >>> sorted(p)
    ['kind', 'layout_version', 'package_sha256', 'target']
    """
    reserved = {"kind", "target", "layout_version"} & set(facts)
    if reserved:
        raise ValueError(f"derived key facts may not redefine {sorted(reserved)}")
    parts = {"kind": kind, "target": target, "layout_version": str(LAYOUT_VERSION), **facts}
    return dict(sorted(parts.items()))


class CacheKey(FrozenRecord):
    """The inputs of one compilation.

    Attributes:
        graph_digest: structural digest of the graph (embeds constant content digests).
        target: e.g. ``"onnx-cpu"``.
        options: compile options as sorted ``(name, value)`` string pairs.
        format_version: the compiler's artifact format version (bump to invalidate all).
        layout_version: the cache's on-disk layout version (:data:`LAYOUT_VERSION`).
        libraries: versions of the libraries that shape the artifact.
        machine: facts that make the artifact machine-specific (CPU features, GPU arch);
            empty for portable artifacts.
    """

    __slots__ = (  # noqa: RUF023 - __init__'s order (FrozenRecord)
        "graph_digest", "target", "options", "format_version", "libraries", "machine", "layout_version",
    )
    graph_digest: str
    target: str
    options: tuple[tuple[str, str], ...]
    format_version: int
    libraries: tuple[tuple[str, str], ...]
    machine: tuple[tuple[str, str], ...]
    layout_version: int

    def __init__(
        self,
        graph_digest: str,
        target: str,
        options: tuple[tuple[str, str], ...] = (),
        format_version: int = 1,
        libraries: tuple[tuple[str, str], ...] = (),
        machine: tuple[tuple[str, str], ...] = (),
        layout_version: int = LAYOUT_VERSION,
    ) -> None:
        self._fill(graph_digest, target, options, format_version, libraries, machine, layout_version)

    def parts(self) -> dict[str, str]:
        """The key's parts as a flat, sorted string dict (stored in manifests)."""
        out = {
            "graph": self.graph_digest,
            "target": self.target,
            "format_version": str(self.format_version),
            "layout_version": str(self.layout_version),
        }
        out.update({f"option.{k}": v for k, v in self.options})
        out.update({f"library.{k}": v for k, v in self.libraries})
        out.update({f"machine.{k}": v for k, v in self.machine})
        return dict(sorted(out.items()))

    def digest(self) -> str:
        """Hex sha256 of the canonical JSON of :meth:`parts`."""
        return key_digest(self.parts())

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
