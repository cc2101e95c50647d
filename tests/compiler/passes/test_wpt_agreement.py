"""Optimized and unoptimized graphs agree on every WPT conformance vector.

Each WPT case is built twice without a context; one copy goes through the default
pipeline. Where a pass changed the graph, both copies run under ONNX Runtime (graph
optimizations off) on the case's inputs, and the optimized outputs must match the
unoptimized ones within the case's own WPT tolerance (ULP or ATOL; integers exactly as WPT
says). Cases the builder or the ONNX lowering cannot handle yet are skipped here: the
conformance suite (``tests/conformance``) reports those.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tests.compiler.passes._helpers import run_ort
from tests.conformance.wpt_runner import (
    build_case,
    case_tolerance,
    compare_output,
    load_cases,
    missing_operators,
)
from webnnc.compiler.errors import CompilerError
from webnnc.compiler.frontend import MLGraphBuilder
from webnnc.compiler.passes import default_pipeline


class _NoContext:
    """Stands in for a context: its builders return the IR graph from ``build``."""

    def create_graph_builder(self) -> MLGraphBuilder:
        return MLGraphBuilder()


def _as_expected(array: np.ndarray, descriptor: dict[str, Any]) -> dict[str, Any]:
    # integers as decimal strings, as WPT writes 64-bit values (a float cannot hold them)
    values = [float(v) if array.dtype.kind == "f" else str(int(v)) for v in array.reshape(-1)]
    return {"descriptor": descriptor, "data": values}


def test_optimized_graphs_agree_with_unoptimized_on_wpt_vectors() -> None:
    ctx = _NoContext()
    compared, problems = 0, []
    for case in load_cases():
        if missing_operators(case, MLGraphBuilder):
            continue
        try:
            optimized, feeds = build_case(case, ctx)
            reference, _ = build_case(case, ctx)
        except (ValueError, TypeError):
            continue  # a case that expects a build error
        pm = default_pipeline(verify_each=True)
        optimized = pm(optimized).graph
        if not any(r.modified for r in pm.records if r.name != "PlanMemoryPass"):
            continue
        try:
            expected = run_ort(reference, feeds)
        except (CompilerError, RuntimeError, ValueError):
            continue  # the unoptimized graph does not run here either (conformance reports it)
        got = run_ort(optimized, feeds)
        compared += 1
        for name, exp in case.raw["expectedOutputs"].items():
            tol = case_tolerance(case, str(exp["descriptor"]["dataType"]))
            if tol.value is None:
                continue
            descriptor = {**exp["descriptor"], "shape": list(expected[name].shape)}
            problems += [
                f"{case.id}: {p}"
                for p in compare_output(name, got[name], _as_expected(expected[name], descriptor), tol)
            ]
    assert compared > 50, f"only {compared} WPT cases were changed by the pipeline"
    assert problems == []
