"""COVERAGE.md is generated from the importer's op table and must be current; doctests pass."""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest

from webnnc.compiler.importers._onnx_core import CONVERTERS, UNSUPPORTED_ONNX_OPS
from webnnc.compiler.importers.coverage import main, render_coverage

# The committed file in the checkout (the installed package may be a wheel without it).
COMMITTED = Path(__file__).resolve().parents[3] / "compiler" / "importers" / "COVERAGE.md"


def test_committed_coverage_table_is_current() -> None:
    assert COMMITTED.read_text() == render_coverage(), (
        "COVERAGE.md is stale: run python -m webnnc.compiler.importers.coverage"
    )
    assert main(["--check", "--output", str(COMMITTED)]) == 0


def test_every_mapped_op_lists_a_row_and_no_op_is_both_mapped_and_unmapped() -> None:
    text = render_coverage()
    for name in CONVERTERS:
        assert f"| {name} |" in text
    assert not set(CONVERTERS) & set(UNSUPPORTED_ONNX_OPS)
    assert len(CONVERTERS) >= 100


@pytest.mark.parametrize("module", ["_onnx_core", "onnx_importer"])
def test_doctests(module: str) -> None:
    result = doctest.testmod(importlib.import_module(f"webnnc.compiler.importers.{module}"))
    assert result.attempted > 0 and result.failed == 0
