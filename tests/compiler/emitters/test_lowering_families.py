"""Each lowering table is organised in the front end's operator families."""

from __future__ import annotations

import importlib

import pytest

FAMILIES = (
    "activation", "conv_pool", "elementwise", "gather_scatter", "linalg", "normalization",
    "quantization", "recurrent", "reduction", "tensor", "unary",
)


def _frontend_ops(family: str) -> set[str]:
    return set(importlib.import_module(f"webnnc.compiler.ops.{family}").OPS)


@pytest.mark.parametrize("family", FAMILIES)
def test_onnx_family_lowers_exactly_its_frontend_family(family: str) -> None:
    pytest.importorskip("onnx")
    table = importlib.import_module(f"webnnc.compiler.emitters.onnx.{family}").LOWERINGS
    assert set(table) == _frontend_ops(family)


@pytest.mark.parametrize("family", FAMILIES)
def test_coreml_family_lowers_only_ops_of_its_frontend_family(family: str) -> None:
    pytest.importorskip("coremltools")
    table = importlib.import_module(f"webnnc.compiler.emitters.coreml.{family}").LOWERINGS
    assert set(table) <= _frontend_ops(family)


def test_merged_tables_hold_every_family() -> None:
    pytest.importorskip("coremltools")
    from webnnc.compiler.emitters import coreml, onnx

    for package in (onnx, coreml):
        assert [f.__name__.rsplit(".", 1)[1] for f in package.FAMILIES] == list(FAMILIES)
        assert set(package.LOWERINGS) == set().union(*(f.LOWERINGS for f in package.FAMILIES))
