"""Issue 15 item 6: builder options that derive a dimension above 2^31-1 or a tensor above the
byte limit fail when the operator is called, with one line naming the operator."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from webnnc.compiler.errors import ValidationError
from webnnc.compiler.frontend import MLGraphBuilder

Case = Callable[[MLGraphBuilder, Any], Any]

CASES: dict[str, tuple[Case, str]] = {
    "max_pool2d padding 2^40": (lambda b, x: b.max_pool2d(x, padding=[2**40, 2**40, 0, 0]), "maxPool2d"),
    "max_pool2d padding 2^40 with a huge stride": (
        lambda b, x: b.max_pool2d(x, window_dimensions=[1, 1], padding=[2**40, 0, 0, 0], strides=[2**41, 1]),
        "maxPool2d",
    ),
    "pad 2^40": (lambda b, x: b.pad(x, [0, 0, 2**40, 0], [0, 0, 0, 0]), "pad"),
    "pad to 7 GB": (lambda b, x: b.pad(x, [0, 0, 30000, 30000], [0, 0, 30000, 0]), "pad"),
    "expand to 160 GB": (lambda b, x: b.expand(x, [50000, 50000, 4, 4]), "expand"),
    "tile 2^32": (lambda b, x: b.tile(x, [1, 1, 2**32, 1]), "tile"),
    "resample2d sizes 2^31": (lambda b, x: b.resample2d(x, sizes=[2**31, 2**31]), "resample2d"),
    "conv_transpose2d strides 2^30": (
        lambda b, x: b.conv_transpose2d(x, b.constant(0.0, [1, 1, 3, 3]), strides=[2**30, 2**30]),
        "convTranspose2d",
    ),
    "scalar constant filled to 10 GB": (lambda b, x: b.constant(0.0, [50000, 50000]), "constant"),
    "input of 10 GB": (lambda b, x: b.input("y", [50000, 50000]), "input 'y'"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_derived_dimension_or_size_over_the_limit_is_one_line_error(name: str) -> None:
    build, op = CASES[name]
    b = MLGraphBuilder()
    x = b.input("x", [1, 1, 4, 4])
    with pytest.raises(ValidationError) as info:
        build(b, x)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{op}:"), message
    assert "2^31-1" in message or "byte tensor limit" in message or "2^32-1" in message


def test_the_tensor_limit_can_be_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    b = MLGraphBuilder()
    x = b.input("x", [1, 1, 4, 4])
    with pytest.raises(ValidationError, match="WEBNNC_MAX_TENSOR_BYTES"):
        b.expand(x, [40000, 10000, 4, 4])  # 25.6 GB of float32, no data made
    monkeypatch.setenv("WEBNNC_MAX_TENSOR_BYTES", "32G")
    assert b.expand(x, [40000, 10000, 4, 4]).shape == [40000, 10000, 4, 4]
    monkeypatch.setenv("WEBNNC_MAX_TENSOR_BYTES", "lots")
    with pytest.raises(ValidationError, match="WEBNNC_MAX_TENSOR_BYTES: expected a positive size"):
        b.expand(x, [2, 1, 4, 4])
