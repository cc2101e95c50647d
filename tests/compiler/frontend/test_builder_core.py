"""Builder sources, build(), and validation errors of the issue-3 operators (messages checked)."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest

from webnnc.compiler.errors import ValidationError, WebNNTypeError
from webnnc.compiler.frontend import METHOD_TO_OP, OP_TO_METHOD, MLGraphBuilder


def test_op_table_round_trips_to_real_methods() -> None:
    for op, method in OP_TO_METHOD.items():
        assert METHOD_TO_OP[method] == op
        assert callable(getattr(MLGraphBuilder, method)), method


def test_input_and_constant_descriptors(builder: Any) -> None:
    x = builder.input("x", [1, 3, 4, 4], "float16")
    assert x.shape == [1, 3, 4, 4] and x.data_type == "float16"
    spec = builder.input("s", {"dataType": "int32", "shape": [2]})
    assert spec.data_type == "int32"
    c = builder.constant(np.arange(6, dtype=np.int64).reshape(2, 3))
    assert c.data_type == "int64" and c.shape == [2, 3]
    filled = builder.constant(0.5, shape=[2, 2], data_type="float32")
    assert filled.shape == [2, 2]
    scalar = builder.constant(np.float32(1.5))
    assert scalar.shape == []


@pytest.mark.parametrize(
    ("make", "exc", "pattern"),
    [
        (lambda b: b.input("x", [1, 0, 3], "float32"), ValidationError, r"input 'x': every dimension must be in \[1, 2\^31-1\]; found 0"),
        (lambda b: b.input("x", [2], "float64"), WebNNTypeError, r"input 'x' data type: expected one of .*found 'float64'"),
        (lambda b: b.constant(np.ones(3, np.float64)), WebNNTypeError, r"constant: numpy dtype float64 has no WebNN data type"),
        (lambda b: b.constant([1.0, 2.0], shape=[3]), ValidationError, r"constant: value has 2 elements; shape \[3\] needs 3"),
    ],
)
def test_source_errors(builder: Any, make: Any, exc: type, pattern: str) -> None:
    with pytest.raises(exc, match=pattern):
        make(builder)


def test_duplicate_input_name(builder: Any) -> None:
    builder.input("x", [1], "float32")
    with pytest.raises(ValidationError, match="an input named 'x' already exists"):
        builder.input("x", [1], "float32")


def _x(b: Any, shape: list[int] = [1, 3, 8, 8], dt: str = "float32") -> Any:  # noqa: B006
    return b.input("x", shape, dt)


CASES = [
    # wrong rank
    ("conv2d rank", lambda b: b.conv2d(_x(b, [3, 8, 8]), b.constant(np.ones([4, 3, 3, 3], np.float32))),
     ValidationError, r"conv2d: input must have rank 4; found rank 3 \[3, 8, 8\]"),
    ("gemm rank", lambda b: b.gemm(_x(b, [2, 3, 4]), b.constant(np.ones([4, 2], np.float32))),
     ValidationError, r"gemm: a must have rank 2; found rank 3"),
    ("matmul rank", lambda b: b.matmul(_x(b, [3]), b.constant(np.ones([3, 2], np.float32))),
     ValidationError, r"matmul: a must have rank >= 2; found rank 1"),
    # mismatched types
    ("add types", lambda b: b.add(_x(b, [2], "float32"), b.constant(np.ones(2, np.float16))),
     WebNNTypeError, r"add: a and b must have the same data type; found float32 and float16"),
    ("conv filter type", lambda b: b.conv2d(_x(b), b.constant(np.ones([4, 3, 3, 3], np.float16))),
     WebNNTypeError, r"conv2d: filter data type \(float16\) must match input \(float32\)"),
    ("sigmoid int", lambda b: b.sigmoid(_x(b, [2], "int32")),
     WebNNTypeError, r"sigmoid: input data type must be one of \[float16, float32\]; found int32"),
    # shapes
    ("broadcast", lambda b: b.add(_x(b, [2, 3]), b.constant(np.ones([4], np.float32))),
     ValidationError, r"add: shapes of a \[2, 3\] and b \[4\] are not broadcastable \(dimension -1: 3 vs 4\)"),
    ("conv channels", lambda b: b.conv2d(_x(b, [1, 6, 8, 8]), b.constant(np.ones([4, 3, 3, 3], np.float32))),
     ValidationError, r"conv2d: filter input channels \(3\) must equal input channels / groups \(6 / 1\)"),
    ("matmul inner", lambda b: b.matmul(_x(b, [2, 3]), b.constant(np.ones([4, 2], np.float32))),
     ValidationError, r"matmul: a's last dimension \(3\) must equal b's second to last \(4\)"),
    ("reshape size", lambda b: b.reshape(_x(b, [2, 3]), [4, 2]),
     ValidationError, r"reshape: new_shape \[4, 2\] has 8 elements; input \[2, 3\] has 6"),
    ("concat dims", lambda b: b.concat([_x(b, [2, 3]), b.constant(np.ones([3, 3], np.float32))], 1),
     ValidationError, r"concat: inputs\[1\] shape \[3, 3\] differs from inputs\[0\] \[2, 3\] in dimension 0"),
    ("bn shape", lambda b: b.batch_normalization(_x(b), b.constant(np.ones([4], np.float32)), b.constant(np.ones([3], np.float32))),
     ValidationError, r"batchNormalization: mean must have shape \[3\] \(input dimension 1\); found \[4\]"),
    # bad options
    ("conv padding", lambda b: b.conv2d(_x(b), b.constant(np.ones([4, 3, 3, 3], np.float32)), padding=[1, 1]),
     ValidationError, r"conv2d: padding must have 4 elements; found 2"),
    ("conv strides", lambda b: b.conv2d(_x(b), b.constant(np.ones([4, 3, 3, 3], np.float32)), strides=[0, 1]),
     ValidationError, r"conv2d: strides values must be >= 1; found \[0, 1\]"),
    ("conv layout", lambda b: b.conv2d(_x(b), b.constant(np.ones([4, 3, 3, 3], np.float32)), input_layout="nwhc"),
     WebNNTypeError, r"conv2d: input_layout must be one of \['nchw', 'nhwc'\]; found 'nwhc'"),
    ("conv too big", lambda b: b.conv2d(_x(b, [1, 3, 2, 2]), b.constant(np.ones([4, 3, 3, 3], np.float32))),
     ValidationError, r"conv2d: output size would be 0x0"),
    ("pool output sizes", lambda b: b.max_pool2d(_x(b), window_dimensions=[3, 3], strides=[2, 2], output_sizes=[5, 5]),
     ValidationError, r"maxPool2d: output_sizes \[5, 5\] must be the floor \[3, 3\] or the ceil \[4, 4\]"),
    ("clamp order", lambda b: b.clamp(_x(b), min_value=2.0, max_value=1.0),
     ValidationError, r"clamp: min_value \(2.0\) must be <= max_value \(1.0\)"),
    ("softmax axis", lambda b: b.softmax(_x(b, [2, 3]), 2),
     ValidationError, r"softmax: axis must be in the range \[0, 2\); found 2"),
    ("reduce axes", lambda b: b.reduce_mean(_x(b, [2, 3]), axes=[0, 0]),
     ValidationError, r"reduceMean: axes must not repeat; found \[0, 0\]"),
    ("transpose perm", lambda b: b.transpose(_x(b, [2, 3]), [0, 0]),
     ValidationError, r"transpose: permutation must be a permutation of \[0, 2\); found \[0, 0\]"),
    ("unknown option", lambda b: b.conv2d(_x(b), b.constant(np.ones([4, 3, 3, 3], np.float32)), padd=[0, 0, 0, 0]),
     WebNNTypeError, r"conv2d: unknown options \['padd'\]"),
    ("foreign operand", lambda b: b.relu(MLGraphBuilder().input("x", [1], "float32")),
     ValidationError, r"relu: input was created by another builder"),
    ("not an operand", lambda b: b.relu(np.ones(3)),
     WebNNTypeError, r"relu: input must be an MLOperand; found ndarray"),
]


@pytest.mark.parametrize(("make", "exc", "pattern"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_validation_errors_name_op_operand_expected_found(builder: Any, make: Any, exc: type, pattern: str) -> None:
    with pytest.raises(exc, match=pattern):
        make(builder)


def test_validation_errors_are_builtin_subclasses(builder: Any) -> None:
    with pytest.raises(TypeError):
        builder.add(_x(builder, [2]), builder.constant(np.ones(2, np.int32)))
    with pytest.raises(ValueError):
        builder.reshape(builder.input("y", [2], "float32"), [3])


def test_conv_and_pool_shapes(builder: Any) -> None:
    x = builder.input("x", [1, 8, 8, 6], "float32")  # nhwc
    w = builder.constant(np.ones([3, 3, 3, 4], np.float32))  # hwio with i = 6/2 = 3
    y = builder.conv2d(x, w, padding=[1, 1, 1, 1], strides=[2, 2], groups=2, input_layout="nhwc", filter_layout="hwio",
                       bias=builder.constant(np.zeros(4, np.float32)))
    assert y.shape == [1, 4, 4, 4]
    p = builder.average_pool2d(builder.input("p", [1, 2, 7, 7], "float32"), window_dimensions=[3, 3], strides=[2, 2],
                               rounding_type="ceil")
    assert p.shape == [1, 2, 3, 3]
    assert builder.global_average_pool(builder.input("g", [1, 5, 4, 3], "float32")).shape == [1, 5, 1, 1]


def test_builder_builds_once(builder: Any) -> None:
    x = builder.input("x", [2], "float32")
    builder.build({"y": builder.relu(x)})
    with pytest.raises(ValidationError, match=re.escape("relu: this builder has already built its graph")):
        builder.relu(x)


@pytest.mark.parametrize(
    ("outputs", "pattern"),
    [
        ({}, "outputs must be a non-empty dict"),
        ("x", "outputs must be a non-empty dict"),
    ],
)
def test_build_rejects_bad_outputs(builder: Any, outputs: Any, pattern: str) -> None:
    builder.input("x", [2], "float32")
    with pytest.raises(WebNNTypeError, match=pattern):
        builder.build(outputs)


def test_build_rejects_input_or_constant_outputs(builder: Any) -> None:
    x = builder.input("x", [2], "float32")
    with pytest.raises(ValidationError, match="output 'y' is a graph input"):
        builder.build({"y": x})
