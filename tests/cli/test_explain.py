"""``explain()``: the ``webnnc compile --explain`` account of a compile result."""

from __future__ import annotations

import re
from pathlib import Path

from tests.compiler.passes._helpers import build
from webnnc.cache.store import ArtifactStore
from webnnc.cli._explain import explain
from webnnc.compiler.driver import compile_graph
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
