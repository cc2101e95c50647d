"""The CoreML lowering against the WPT conformance vectors, evaluated by the MIL reference.

Every WPT case whose operators the CoreML emitter supports is built with webnnc's builder,
emitted as a packed .mlpackage, read back, and evaluated by ``tests/mil_reference.py`` (a
numpy evaluator of the saved MIL program); outputs are compared with WPT's own rules and
tolerances (``tests/conformance/wpt_runner.py``). Outcomes:

- a case with an operator the builder or the CoreML emitter lacks is not collected;
- a case CoreML cannot express (an integer data type, a non-constant filter with dilations,
  ...) must raise ``UnsupportedOperatorError`` naming the op and the target: it is checked
  for exactly that, not skipped;
- a case in ``_EXCEPTIONS`` is a strict xfail with its reason;
- every other case must match.

The whole corpus (about 1270 eligible cases) takes ~2.5 min on one core (each case is a full
coremltools conversion), so by default every 15th case of every vector file runs;
``WEBNNC_COREML_WPT=all`` runs them all, and ``python -m tests.compiler.emitters.test_coreml_wpt``
prints per-op outcome counts and the pass rate.
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from typing import Any

import numpy as np
import pytest

from tests.conformance.wpt_runner import (
    WptCase,
    build_case,
    case_tolerance,
    compare_output,
    load_cases,
    missing_operators,
)
from tests.mil_reference import MilProgram
from webnnc.compiler.errors import UnsupportedOperatorError
from webnnc.compiler.frontend import MLGraphBuilder

pytest.importorskip("coremltools")

from webnnc.compiler.emitters.coreml_emitter import EMITTER

# case id -> why the MIL program legitimately differs from the vector
_CT_SCALAR_FP16 = (
    "coremltools 9.0 cannot convert it: its constant elimination infers a float32 value for an "
    "op on a float16 rank-0 constant whose declared type is float16 ('New var ... (fp32) "
    "doesn't have compatible subtype of existing var (fp16)'); the build fails with a clear "
    "CompilerError. Only all-constant float16 scalar graphs are affected"
)
_EXCEPTIONS: dict[str, str] = {
    "reduce_l1::reduceL1 float16 0D constant tensor default options": _CT_SCALAR_FP16,
    "reduce_l1::reduceL1 float16 0D constant tensor empty axes": _CT_SCALAR_FP16,
    "reduce_l2::reduceL2 float16 0D constant tensor default options": _CT_SCALAR_FP16,
    "reduce_log_sum::reduceLogSum float16 0D constant tensor default options": _CT_SCALAR_FP16,
    "reduce_log_sum::reduceLogSum float16 0D constant tensor empty axes": _CT_SCALAR_FP16,
    "reduce_l2::reduceL2 float16 1D constant tensor all positive default options": (
        "the graph is all constants, so coremltools' own constant folding evaluates "
        "reduce_l2_norm in float16 numpy while converting; the sum of squares (272^2 > 65504) "
        "overflows and inf is baked into the model. webnnc's build() folds constants in its "
        "own pass before the emitter runs"
    ),
}


class _IRContext:
    """Stands in for an MLContext: its builders return the IR graph from build()."""

    def create_graph_builder(self) -> MLGraphBuilder:
        return MLGraphBuilder()


def _eligible(case: WptCase) -> bool:
    return not missing_operators(case, MLGraphBuilder) and all(
        op in EMITTER.supported_ops() for op in case.operators
    )


def run_case(case: WptCase) -> str:
    """'pass', 'unsupported: <message>' or 'unfit: <message>' (an int64 input value the
    runtime would refuse); raises AssertionError listing mismatches."""
    try:
        graph, feeds = build_case(case, _IRContext())
    except (TypeError, ValueError) as e:  # the builder rejects the case: not a CoreML matter
        return f"invalid: {e}"
    try:
        art = EMITTER.emit(graph)
    except UnsupportedOperatorError as e:
        return f"unsupported: {e}"
    io_names = art.info["coreml_io"]
    scalars = set(io_names["scalars"])
    carriers = set(io_names["int32_carriers"])  # uint8 travels as int32
    int64 = set(io_names["int64_carriers"])  # int64 too, narrowed by the runtime with a range check
    info = np.iinfo(np.int32)
    for n in int64 & set(feeds):
        if feeds[n].size and (feeds[n].min() < info.min or feeds[n].max() > info.max):
            return f"unfit: int64 input {n!r} holds values outside int32, which the runtime refuses"
    for n in int64 & set(case.raw["expectedOutputs"]):
        want = np.asarray(case.raw["expectedOutputs"][n]["data"], np.float64)
        if want.size and (want.min() < info.min or want.max() > info.max):
            return f"unfit: int64 output {n!r} is expected to hold values outside int32, which int32 cannot carry"
    program = MilProgram.from_archive(art.data)
    cfeeds = {
        io_names["inputs"][n]: (x.reshape(1) if n in scalars else x).astype(np.int32 if n in carriers | int64 else x.dtype)
        for n, x in feeds.items()
    }
    results = program.run(cfeeds)
    problems: list[str] = []
    for name, expected in case.raw["expectedOutputs"].items():
        actual = results[io_names["outputs"][name]]
        if name in scalars:
            actual = actual.reshape(())
        if name in carriers:
            actual = actual.astype(np.uint8)
        if name in int64:
            actual = actual.astype(np.int64)
        tol = case_tolerance(case, str(expected["descriptor"]["dataType"]))
        problems += compare_output(name, actual, expected, tol)
    if problems:
        raise AssertionError(f"{case.id}:\n  " + "\n  ".join(problems))
    return "pass"


SAMPLE_STRIDE = 15


def _selected() -> list[WptCase]:
    """All eligible cases with WEBNNC_COREML_WPT=all, else every 15th case of every file."""
    cases = [c for c in load_cases() if _eligible(c)]
    if os.environ.get("WEBNNC_COREML_WPT") == "all":
        return cases
    by_file: dict[str, list[WptCase]] = {}
    for c in cases:
        by_file.setdefault(c.file, []).append(c)
    return [c for group in by_file.values() for c in group[::SAMPLE_STRIDE]]


def _params() -> list[Any]:
    out = []
    for case in _selected():
        marks = [pytest.mark.xfail(reason=_EXCEPTIONS[case.id], strict=True)] if case.id in _EXCEPTIONS else []
        out.append(pytest.param(case, id=case.id, marks=marks))
    return out


@pytest.mark.parametrize("case", _params())
def test_coreml_wpt(case: WptCase) -> None:
    outcome = run_case(case)
    if outcome.startswith("unsupported: "):
        # Must be a clear build-time refusal naming the op and the target, for a data type or
        # option CoreML lacks, never for a plain float case of a supported op.
        msg = outcome.removeprefix("unsupported: ")
        assert "coreml" in msg and any(op in msg for op in case.operators), msg
        dtypes = {v["descriptor"]["dataType"] for v in case.raw["inputs"].values()}
        dtypes |= {v["descriptor"]["dataType"] for v in case.raw["expectedOutputs"].values()}
        assert dtypes - {"float32", "float16"} or "dilations" in msg or "MIL" in msg, msg
    else:
        assert outcome in ("pass",) or outcome.startswith(("invalid: ", "unfit: ")), outcome


def test_sample_covers_every_vector_file() -> None:
    sampled = {c.file for c in _selected()}
    assert sampled == {c.file for c in load_cases() if _eligible(c)}


def main(files: list[str]) -> int:
    """Run every eligible case (of ``files``, vector file stems, if given); print per-op
    outcome counts, the exceptions, and the totals."""
    per_op: dict[str, Counter[str]] = {}
    totals: Counter[str] = Counter()
    notes: list[str] = []
    for case in [c for c in load_cases() if _eligible(c) and (not files or c.file in files)]:
        try:
            result = run_case(case)
        except AssertionError as e:
            result = f"fail: {e}"
        except Exception as e:  # a report lists everything, crashes included
            result = f"error: {case.id}: {type(e).__name__}: {e}"
        outcome = result.split(":")[0]
        if outcome != "pass":
            notes.append(f"[{outcome}] {case.id}: {result.split(': ', 1)[1][:300]}")
        totals[outcome] += 1
        for op in case.operators:
            per_op.setdefault(op, Counter())[outcome] += 1
    for op in sorted(per_op):
        print(f"{op:22s} " + "  ".join(f"{k} {v}" for k, v in sorted(per_op[op].items())))
    print("\n".join(notes))
    ran = totals["pass"] + totals["fail"] + totals["error"]
    print(f"{sum(totals.values())} eligible cases: {dict(totals)}; "
          f"{totals['pass']} of {ran} expressible cases pass ({100 * totals['pass'] / max(ran, 1):.1f}%)")
    return 0


if __name__ == "__main__":
    np.seterr(all="ignore")
    sys.exit(main(sys.argv[1:]))
