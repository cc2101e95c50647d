"""The support table is true: every (op, operand, data type) it lists builds and runs on
onnx-cpu and yields the declared output type; every type it leaves out fails at build time
with the promised error. Also checks ``context.op_support_limits()``'s shape."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import webnnc
from webnnc.compiler.errors import WebNNTypeError
from webnnc.compiler.frontend import MLGraphBuilder
from webnnc.compiler.ops import OP_TO_METHOD
from webnnc.compiler.ops import OP_SUPPORT
from webnnc.compiler.ir import DataType

SHAPE = (2, 3)
Call = Callable[[Any, Any], Any]  # (builder, operand of the varied type) -> output operand


def _binary(method: str) -> Call:
    return lambda b, x: getattr(b, method)(x, x)


def _unary(method: str) -> Call:
    return lambda b, x: getattr(b, method)(x)


def _uint8(b: Any) -> Any:
    return b.constant(np.array([[1, 0, 1], [0, 1, 1]], np.uint8))


# (op, operand whose type varies) -> how to call it
CALLS: dict[tuple[str, str], Call] = {}
for _op in ("add", "sub", "mul", "div", "max", "min", "pow", "equal", "notEqual", "greater",
            "greaterOrEqual", "lesser", "lesserOrEqual", "logicalAnd", "logicalOr", "logicalXor"):
    CALLS[(_op, "a")] = _binary(OP_TO_METHOD[_op])
for _op in ("abs", "ceil", "cos", "erf", "exp", "floor", "log", "neg", "reciprocal", "sin",
            "sqrt", "tan", "sign", "roundEven", "isNaN", "isInfinite", "relu", "sigmoid", "tanh",
            "elu", "gelu", "hardSigmoid", "hardSwish", "leakyRelu", "linear", "softplus",
            "softsign", "logicalNot"):
    CALLS[(_op, "a" if _op == "logicalNot" else "input")] = _unary(OP_TO_METHOD[_op])
for _op in ("reduceL1", "reduceL2", "reduceLogSum", "reduceLogSumExp", "reduceMax", "reduceMean",
            "reduceMin", "reduceProduct", "reduceSum", "reduceSumSquare"):
    CALLS[(_op, "input")] = (lambda m: lambda b, x: getattr(b, m)(x, axes=[1]))(OP_TO_METHOD[_op])
CALLS[("argMax", "input")] = lambda b, x: b.arg_max(x, 1)
CALLS[("argMin", "input")] = lambda b, x: b.arg_min(x, 1, output_data_type="int64")
CALLS[("cumulativeSum", "input")] = lambda b, x: b.cumulative_sum(x, 1)
CALLS[("softmax", "input")] = lambda b, x: b.softmax(x, 1)
CALLS[("clamp", "input")] = lambda b, x: b.clamp(x, min_value=1, max_value=3)
CALLS[("prelu", "input")] = lambda b, x: b.prelu(x, x)
CALLS[("cast", "input")] = lambda b, x: b.cast(x, "float32")
CALLS[("where", "trueValue")] = lambda b, x: b.where_(_uint8(b), x, x)
CALLS[("quantizeLinear", "input")] = lambda b, x: b.quantize_linear(
    x, b.constant(np.full([1, 1], 0.5), data_type=x.data_type), b.constant(np.zeros([1, 1], np.uint8))
)
CALLS[("dequantizeLinear", "input")] = lambda b, x: b.dequantize_linear(
    x, b.constant(np.full([1, 1], 0.5, np.float32)), b.constant(np.zeros([1, 1]), data_type=x.data_type)
)

_VALUES = np.array([[1, 2, 3], [3, 2, 1]])


def _cases() -> list[Any]:
    out = []
    for (op, arg), call in CALLS.items():
        for dt in DataType:
            out.append(pytest.param(op, arg, call, dt, id=f"{op}-{arg}-{dt.value}"))
    return out


@pytest.fixture(scope="module")
def ctx() -> Any:
    return webnnc.ML().create_context(use_cache=False)


def test_every_table_op_is_a_builder_method() -> None:
    missing = [op for op in OP_SUPPORT if not hasattr(MLGraphBuilder, OP_TO_METHOD.get(op, "?"))]
    assert not missing, f"support entries without a builder method: {missing}"


def test_sample_covers_the_element_wise_families() -> None:
    ours = {op for op, _ in CALLS}
    assert len(ours) >= 60, sorted(ours)


@pytest.mark.parametrize(("op", "arg", "call", "dt"), _cases())
def test_listed_types_run_and_unlisted_types_fail_clearly(
    ctx: Any, op: str, arg: str, call: Call, dt: DataType
) -> None:
    lim = OP_SUPPORT[op][arg]
    b = ctx.create_graph_builder()
    x = b.input("x", list(SHAPE), dt.value)
    if dt not in lim.data_types:
        want = (
            rf"unsupported data type for {op} on onnx-cpu: {arg} is {dt.value}"
            if dt in lim.spec
            else rf"{op}: {arg} data type must be one of \["
        )
        with pytest.raises(WebNNTypeError, match=want):
            call(b, x)
        return
    y = call(b, x)
    assert DataType(y.data_type) in OP_SUPPORT[op]["output"].data_types
    graph = b.build({"y": y})
    out = ctx.compute(graph, {"x": _VALUES.astype(dt.numpy_dtype)})["y"]
    assert out.dtype == DataType(y.data_type).numpy_dtype, (op, dt, out.dtype, y.data_type)
    assert list(out.shape) == y.shape


def test_op_support_limits_has_the_spec_shape(ctx: Any) -> None:
    limits = ctx.op_support_limits()
    assert limits["preferredInputLayout"] == "nchw"
    for key in ("input", "constant", "output"):
        assert set(limits[key]) == {"dataTypes", "rankRange"}
    assert limits["argMax"]["output"]["dataTypes"] == ["int32", "int64"]
    assert limits["argMax"]["input"]["rankRange"] == {"min": 1, "max": 8}
    assert "uint64" not in limits["pow"]["a"]["dataTypes"]
    assert limits["logicalNot"]["a"]["dataTypes"] == ["uint8"]
    for op, operands in OP_SUPPORT.items():
        assert set(limits[op]) == set(operands)
        for arg, lim in operands.items():
            assert limits[op][arg]["dataTypes"] == [t.value for t in DataType if t in lim.data_types]


def test_rank_limit_is_enforced(ctx: Any) -> None:
    b = ctx.create_graph_builder()
    x = b.input("x", [1] * 9, "float32")
    with pytest.raises(ValueError, match=r"add: a rank must be in \[0, 8\]; found rank 9"):
        b.add(x, x)
    s = b.input("s", [], "float32")
    with pytest.raises(ValueError, match=r"softmax: input rank must be in \[1, 8\]; found rank 0"):
        b.softmax(s, 0)
