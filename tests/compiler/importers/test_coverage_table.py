"""COVERAGE.md is generated from the importer's op table and must be current."""

from __future__ import annotations

from webnnc.compiler.importers._onnx_core import CONVERTERS, UNSUPPORTED_ONNX_OPS
from webnnc.compiler.importers.coverage import COVERAGE_PATH, main, render_coverage


def test_committed_coverage_table_is_current() -> None:
    assert COVERAGE_PATH.read_text() == render_coverage(), (
        "COVERAGE.md is stale: run python -m webnnc.compiler.importers.coverage"
    )
    assert main(["--check"]) == 0


def test_every_mapped_op_lists_a_row_and_no_op_is_both_mapped_and_unmapped() -> None:
    text = render_coverage()
    for name in CONVERTERS:
        assert f"| {name} |" in text
    assert not set(CONVERTERS) & set(UNSUPPORTED_ONNX_OPS)
    assert len(CONVERTERS) >= 100
