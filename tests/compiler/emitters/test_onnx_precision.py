"""The ONNX lowering's precision switch: native kernels by default, exact formulas on request."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pytest

from webnnc.compiler.errors import CompilerError
from webnnc.compiler.frontend import MLGraphBuilder
from webnnc.compiler.options import CompileOptions

onnx = pytest.importorskip("onnx")


def _ops(make: Any, precision: str) -> Counter[str]:
    from webnnc.compiler.emitters.onnx_emitter import to_model

    b = MLGraphBuilder()
    graph = b.build(make(b))
    return Counter(n.op_type for n in to_model(graph, precision=precision).graph.node)


@pytest.mark.parametrize(("op", "native"), [
    ("sigmoid", "Sigmoid"), ("hard_swish", "HardSwish"), ("elu", "Elu"),
    ("layer_normalization", "LayerNormalization"), ("instance_normalization", "InstanceNormalization"),
])
def test_fast_is_one_native_op_and_strict_the_formula(op: str, native: str) -> None:
    def make(b: Any) -> dict[str, Any]:
        return {"y": getattr(b, op)(b.input("x", [1, 3, 4, 4], "float32"))}

    fast, strict = _ops(make, "fast"), _ops(make, "strict")
    assert fast == Counter({native: 1})
    assert native not in strict and sum(strict.values()) > 1


def test_batch_normalization_is_native_on_4d_and_centred_first_elsewhere() -> None:
    def make(rank: int) -> Any:
        def m(b: Any) -> dict[str, Any]:
            x = b.input("x", [2, 3, 4, 5][:rank], "float32")
            c = [b.constant(np.full([3], v, np.float32)) for v in (0.5, 2.0)]
            return {"y": b.batch_normalization(x, c[0], c[1])}
        return m

    assert _ops(make(4), "fast")["BatchNormalization"] == 1 and _ops(make(4), "fast")["Sub"] == 0
    assert _ops(make(2), "fast")["Sub"] == 1
    assert _ops(make(4), "strict")["BatchNormalization"] == 0


def test_strict_uses_the_kernel_where_value_ranges_prove_it_exact() -> None:
    def make(b: Any) -> dict[str, Any]:
        return {"y": b.sigmoid(b.relu(b.input("x", [8], "float32")))}  # relu: x >= 0

    assert _ops(make, "strict")["Sigmoid"] == 1


def test_precision_is_an_option_in_the_cache_key() -> None:
    assert ("precision", "fast") in CompileOptions().canonical_items()
    assert ("precision", "strict") in CompileOptions(precision="strict").canonical_items()
    with pytest.raises(CompilerError, match="precision"):
        CompileOptions(precision="loose")


def test_strict_sigmoid_keeps_relative_precision_in_the_tail() -> None:
    ort = pytest.importorskip("onnxruntime")
    from webnnc.compiler.emitters.onnx_emitter import to_model

    x = np.linspace(-30, -8, 64, dtype=np.float32)
    b = MLGraphBuilder()
    graph = b.build({"y": b.sigmoid(b.input("x", [64], "float32"))})
    expected = 1.0 / (1.0 + np.exp(-x.astype(np.float64)))
    for precision, rtol in (("strict", 1e-6), ("fast", None)):
        data = to_model(graph, precision=precision).SerializeToString()
        got = ort.InferenceSession(data, providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
        if rtol is not None:
            np.testing.assert_allclose(got, expected, rtol=rtol)
        else:  # the native kernel: small absolute error, the documented trade
            assert np.max(np.abs(got - expected)) < 1e-6
