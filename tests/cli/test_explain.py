"""``explain()``: the ``webnnc compile --explain`` account of a compile result."""

from __future__ import annotations

import re
from pathlib import Path

from tests.compiler.passes._helpers import build
from webnnc.cache.store import ArtifactStore
from webnnc.cli._explain import explain
from webnnc.compiler.driver import compile_graph, rerun_passes
from webnnc.compiler.options import CompileOptions
from webnnc.compiler.workloads import w2_complex


def test_explain_names_passes_sizes_plan_and_key_parts(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    text = explain(compile_graph(build(w2_complex), CompileOptions(optimization_level="basic"), store=store))
    assert re.search(r"SimplifyAlgebraPass +201 -> 102 ", text)
    assert "noop_activation=99" in text
    assert "artifact: " in text and "bytes" in text
    assert "peak live estimate" in text
    assert "graph = " in text and "target = onnx-cpu" in text
    hit = explain(compile_graph(build(w2_complex), CompileOptions(optimization_level="basic"), store=store))
    assert hit.startswith("cache-hit") and "none ran" in hit


def test_explain_on_a_hit_shows_the_rerun_pass_report_and_compile_timings(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    options = CompileOptions(optimization_level="basic")
    compile_graph(build(w2_complex), options, store=store)
    result = compile_graph(build(w2_complex), options, store=store)
    assert result.info.cache_hit
    result.info.passes = rerun_passes(build(w2_complex), options)  # as `compile --explain` does
    hit = explain(result)
    assert "none ran" in hit and "passes, re-run for this report:" in hit
    assert re.search(r"SimplifyAlgebraPass +201 -> 102 ", hit), hit
    assert "compile timings: " in hit and "emit " in hit


def test_force_recompiles_and_replaces_the_entry(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    options = CompileOptions(optimization_level="basic")
    first = compile_graph(build(w2_complex), options, store=store)
    forced = compile_graph(build(w2_complex), options, store=store, force=True)
    assert first.info.source == "compiled" and forced.info.source == "compiled"
    assert forced.info.key == first.info.key and forced.manifest.created >= first.manifest.created
    assert compile_graph(build(w2_complex), options, store=store).info.source == "cache-hit"
    assert len(list(store)) == 1


def test_stage_timings_open_the_manifest_timings_and_progress_sees_each_stage(tmp_path: Path) -> None:
    seen: list[str] = []
    result = compile_graph(
        build(w2_complex), CompileOptions(), store=ArtifactStore(tmp_path),
        stage_timings={"import": 12.5}, progress=lambda stage, ms: seen.append(stage),
    )
    assert next(iter(result.manifest.timings_ms)) == "import"
    assert {"key", "passes", "emit", "backend_optimize", "store"} <= set(seen)
    assert set(result.info.timings_ms) >= set(seen)
