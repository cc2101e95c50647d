"""The operator catalogue is complete: every op exists everywhere it must.

For every WebNN operator in ``webnnc.compiler.ops`` this fails when the op lacks a builder
method (in its own family's mixin), a support-limits entry, a lowering in the ONNX table,
a lowering in the CoreML table (unless its family declares ``LACKS["coreml"]``), or a WPT
vector / unit test that names it (unless it declares ``LACKS["tests"]``). Declared gaps
must be real: an op that gains a CoreML lowering must leave ``LACKS`` in the same change.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from webnnc.compiler.frontend import MLGraphBuilder
from webnnc.compiler.ops import (
    ALL_OP_MIXINS,
    DECLARED_GAPS,
    FAMILIES,
    FOLD_RULES,
    GAP_KINDS,
    KNOWN_OPS,
    METHOD_TO_OP,
    OP_FAMILY,
    OP_SUPPORT,
    OP_TO_METHOD,
    RANGE_RULES,
)

TESTS = Path(__file__).resolve().parents[2]
WPT_DIR = TESTS / "data" / "wpt"
OPS = sorted(KNOWN_OPS)
FAMILY_NAMES = (
    "activation", "conv_pool", "elementwise", "gather_scatter", "linalg", "normalization",
    "quantization", "recurrent", "reduction", "tensor", "unary",
)


# ------------------------------------------------------------------ where the tables live
# NOTE: these two helpers are the only places that name the emitters' table modules.
def onnx_lowerings() -> Mapping[str, Any]:
    """The ONNX target's lowering table: WebNN op -> lowering function."""
    from webnnc.compiler.emitters.onnx import LOWERINGS

    return LOWERINGS


def coreml_lowerings() -> tuple[Mapping[str, Any], Mapping[str, Any]]:
    """The CoreML target's lowering table and its per-op data types."""
    pytest.importorskip("coremltools", reason="the CoreML lowering table needs coremltools")
    from webnnc.compiler.emitters.coreml import LOWERINGS

    return LOWERINGS, {op: entry.data_types for op, entry in LOWERINGS.items()}


def _family(op: str) -> ModuleType:
    return next(f for f in FAMILIES if f.__name__.endswith("." + OP_FAMILY[op]))


def _mixin(family: ModuleType) -> type:
    found = [m for m in ALL_OP_MIXINS if m.__module__ == family.__name__]
    assert len(found) == 1, f"{family.__name__} must define exactly one builder mixin"
    return found[0]


# ------------------------------------------------------------------ families and op tables
def test_families_are_the_agreed_ones() -> None:
    # the emitters' lowering tables use the same family names
    assert tuple(sorted(f.__name__.rsplit(".", 1)[-1] for f in FAMILIES)) == FAMILY_NAMES
    assert len(ALL_OP_MIXINS) == len(FAMILIES)
    assert all(issubclass(MLGraphBuilder, m) for m in ALL_OP_MIXINS)


def test_op_table_round_trips() -> None:
    assert len(METHOD_TO_OP) == len(OP_TO_METHOD), "two ops share one builder method"
    for op, method in OP_TO_METHOD.items():
        assert METHOD_TO_OP[method] == op
        assert OP_TO_METHOD[METHOD_TO_OP[method]] == method
    assert set(OP_TO_METHOD) == set(KNOWN_OPS) == set(OP_FAMILY)


def test_gap_declarations_are_known_kinds() -> None:
    assert set(DECLARED_GAPS) == set(GAP_KINDS)
    for kind, ops in DECLARED_GAPS.items():
        assert ops <= KNOWN_OPS, f"LACKS[{kind!r}] names unknown ops {sorted(ops - KNOWN_OPS)}"


# ------------------------------------------------------------------ per op
@pytest.mark.parametrize("op", OPS)
def test_builder_method_in_its_family(op: str) -> None:
    method = OP_TO_METHOD[op]
    mixin = _mixin(_family(op))
    assert callable(getattr(MLGraphBuilder, method, None)), f"{op}: no builder method {method}"
    assert method in vars(mixin), f"{op}: {method} is not defined by {mixin.__name__}"


@pytest.mark.parametrize("op", OPS)
def test_support_entry_in_its_family(op: str) -> None:
    family = _family(op)
    assert op in family.SUPPORT, f"{op}: no support-limits entry in {family.__name__}.SUPPORT"
    limits = OP_SUPPORT[op]
    assert "output" in limits or "outputs" in limits, f"{op}: the support entry has no output"
    for arg, lim in limits.items():
        assert lim.data_types <= lim.spec, f"{op}.{arg}: runs types the spec does not allow"


@pytest.mark.parametrize("op", OPS)
def test_onnx_lowering(op: str) -> None:
    assert op in onnx_lowerings(), f"{op}: no lowering in the ONNX lowering table"


@pytest.mark.parametrize("op", OPS)
def test_coreml_lowering_or_declared_gap(op: str) -> None:
    lowerings, op_types = coreml_lowerings()
    if op in DECLARED_GAPS["coreml"]:
        assert op not in lowerings, f"{op} has a CoreML lowering now: drop it from LACKS['coreml']"
    else:
        assert op in lowerings, f"{op}: no CoreML lowering (or declare it in LACKS['coreml'])"
        assert op in op_types, f"{op}: the CoreML lowering declares no data types"


@cache
def _wpt_ops() -> frozenset[str]:
    found: set[str] = set()

    def walk(x: Any) -> Iterator[str]:
        if isinstance(x, dict):
            for o in x.get("operators", ()):
                if isinstance(o, dict) and isinstance(o.get("name"), str):
                    yield o["name"]
            for v in x.values():
                yield from walk(v)
        elif isinstance(x, list):
            for v in x:
                yield from walk(v)

    for path in WPT_DIR.glob("*.json"):
        found.update(walk(json.loads(path.read_text(encoding="utf-8"))))
    return frozenset(found)


@cache
def _unit_test_text() -> str:
    here = Path(__file__).resolve()
    return "\n".join(
        p.read_text(encoding="utf-8") for p in sorted(TESTS.rglob("test_*.py")) if p != here
    )


@pytest.mark.parametrize("op", OPS)
def test_wpt_vector_or_unit_test(op: str) -> None:
    method = OP_TO_METHOD[op]
    tested = op in _wpt_ops() or re.search(
        rf"\.{re.escape(method)}\(|[\"']{re.escape(op)}[\"']", _unit_test_text()
    )
    if op in DECLARED_GAPS["tests"]:
        assert not tested, f"{op} is tested now: drop it from LACKS['tests']"
    else:
        assert tested, f"{op}: no WPT vector in tests/data/wpt and no unit test names it"


# ------------------------------------------------------------------ nothing outside the catalogue
def test_every_lowering_names_a_catalogue_op() -> None:
    assert set(onnx_lowerings()) <= KNOWN_OPS
    assert set(coreml_lowerings()[0]) <= KNOWN_OPS


@pytest.mark.parametrize(("table", "registry"), [("folding", FOLD_RULES), ("value-range", RANGE_RULES)])
def test_rules_live_in_their_op_family(table: str, registry: Mapping[str, Any]) -> None:
    for op, rule in registry.items():
        assert op in KNOWN_OPS, f"{table} rule for unknown op {op!r}"
        family = _family(op).__name__
        # a shared helper (e.g. first_range) may be registered, but from the family file
        owner = getattr(rule, "__module__", "")
        assert owner in (family, "webnnc.compiler.ops._range"), (
            f"the {table} rule of {op} lives in {owner}, not in {family}"
        )
