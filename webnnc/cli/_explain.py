"""``webnnc compile --explain``: what each pass did, what the artifact weighs, what the key is made of.

Presentation only: the facts come from the compile result (the driver's ``BuildInfo`` with
the passes' ``PassRecord`` list, and the manifest); this module only lays them out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from webnnc.compiler.driver import CompileResult
    from webnnc.compiler.passes import PassRecord

__all__ = ["explain", "pass_table"]


def _details(details: Mapping[str, Any]) -> str:
    """The non-empty details of a pass record, compactly.

    >>> _details({"rules": {"noop_activation": 99}, "fused": {}, "nodes_removed": 0})
    'rules: noop_activation=99'
    """
    parts = []
    for key, value in details.items():
        if isinstance(value, Mapping):
            if value:
                parts.append(f"{key}: " + ", ".join(f"{k}={v}" for k, v in value.items()))
        elif isinstance(value, list):
            if value:
                parts.append(f"{key}: {len(value)}")
        elif value:
            parts.append(f"{key}={value}")
    return "; ".join(parts)


def pass_table(records: Sequence[PassRecord]) -> list[str]:
    """One line per pass run: name, nodes before -> after, milliseconds, what changed."""
    if not records:
        return ["  (no passes ran)"]
    width = max(len(r.name) for r in records)
    lines = []
    for r in records:
        changed = _details(r.details) if r.modified or r.name == "PlanMemoryPass" else "-"
        lines.append(
            f"  {r.name:<{width}}  {r.nodes_before:>5} -> {r.nodes_after:<5} "
            f"{r.seconds * 1e3:8.2f} ms  {changed}"
        )
    return lines


def explain(result: CompileResult) -> str:
    """A readable account of one ``compile_graph`` result."""
    info, manifest = result.info, result.manifest
    lines = [f"{info.source}, key {info.key}"]
    if info.source == "cache-hit":
        lines.append("passes: none ran (the artifact came from the cache)")
        if info.passes:  # the caller re-ran them for this report (driver.rerun_passes)
            lines += ["passes, re-run for this report:", *pass_table(info.passes)]
        if manifest.timings_ms:
            lines.append(
                "compile timings: " + ", ".join(f"{k} {v:.1f} ms" for k, v in manifest.timings_ms.items())
            )
    else:
        lines += ["passes:", *pass_table(info.passes)]
    lines.append(
        "timings: " + ", ".join(f"{k} {v:.1f} ms" for k, v in info.timings_ms.items())
    )
    lines.append(f"artifact: {manifest.format}, {manifest.artifact_size} bytes")
    plan = manifest.extra.get("memory_plan")
    if plan:
        lines.append(
            f"memory plan: scratch arena {plan['arena_bytes'].get('scratch', 0)} bytes, "
            f"outputs {plan['arena_bytes'].get('outputs', 0)} bytes, "
            f"peak live estimate {plan['peak_live_bytes']} bytes "
            f"(one buffer per value: {plan['unplanned_bytes']})"
        )
    lines.append("cache key parts:")
    lines += [f"  {k} = {v}" for k, v in sorted(manifest.key_parts.items())]
    return "\n".join(lines)
