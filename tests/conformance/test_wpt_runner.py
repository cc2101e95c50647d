"""The WPT runner's own rules: number decoding, ULP / ATOL metrics, tolerance fallback."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conformance.wpt_runner import (
    Tolerance,
    case_tolerance,
    compare_output,
    decode_array,
    load_cases,
    method_name,
    option_name,
)


def _expected(data: object, dtype: str, shape: list[int]) -> dict[str, object]:
    return {"data": data, "descriptor": {"dataType": dtype, "shape": shape}}


def test_names_map_to_builder_methods_and_keywords() -> None:
    assert [method_name(op) for op in ("argMax", "where", "gatherND", "isNaN", "l2Pool2d")] == [
        "arg_max", "where_", "gather_nd", "is_nan", "l2_pool2d"
    ]
    assert option_name("outputShapeRounding") == "output_shape_rounding"


def test_decode_special_numbers_big_ints_and_scalar_fill() -> None:
    f = decode_array(["NaN", "Infinity", "-Infinity", -0.0], {"dataType": "float32", "shape": [4]})
    assert np.isnan(f[0]) and f[1] == np.inf and f[2] == -np.inf and np.signbit(f[3])
    i = decode_array(["9223372036854775807", -9223372036854776000], {"dataType": "int64", "shape": [2]})
    assert i.tolist() == [2**63 - 1, -(2**63)]  # a plain JSON integer is a JS double
    filled = decode_array(3, {"dataType": "uint8", "shape": [2, 2]})
    assert filled.dtype == np.uint8 and filled.tolist() == [[3, 3], [3, 3]]
    with pytest.raises(ValueError, match="does not fit int8"):
        decode_array([300], {"dataType": "int8", "shape": [1]})


def test_float32_ulp_is_sign_magnitude() -> None:
    one_ulp = np.nextafter(np.float32(1), np.float32(2))
    tol = Tolerance("ULP", 1)
    assert compare_output("y", np.array([one_ulp], np.float32), _expected([1.0], "float32", [1]), tol) == []
    two = np.nextafter(one_ulp, np.float32(2))
    assert compare_output("y", np.array([two], np.float32), _expected([1.0], "float32", [1]), tol)
    zero = Tolerance("ULP", 0)
    assert compare_output("y", np.array([-0.0], np.float32), _expected([0.0], "float32", [1]), zero) == []
    # the smallest subnormals either side of zero are 2 apart, not 2**31
    tiny = np.float32(1e-45)
    assert compare_output("y", np.array([-tiny], np.float32), _expected([1e-45], "float32", [1]), Tolerance("ULP", 2)) == []


def test_float16_expected_values_round_half_up_like_wpt() -> None:
    # 1 + 2**-11 is exactly half-way between two float16 values: WPT's toHalf rounds it up
    # (numpy would round to even, down to 1.0)
    halfway = 1 + 2**-11
    up = np.array([np.float16(1) + np.float16(2**-10)], np.float16)
    assert compare_output("y", up, _expected([halfway], "float16", [1]), Tolerance("ULP", 0)) == []
    assert compare_output("y", np.array([1.0], np.float16), _expected([halfway], "float16", [1]), Tolerance("ULP", 0))


def test_nan_inf_and_atol() -> None:
    ulp = Tolerance("ULP", 100)
    nan = np.array([np.nan], np.float32)
    assert compare_output("y", nan, _expected(["NaN"], "float32", [1]), ulp) == []
    big = np.array([np.finfo(np.float32).max], np.float32)
    assert compare_output("y", big, _expected(["Infinity"], "float32", [1]), ulp)  # no ULP slack at inf
    atol = Tolerance("ATOL", 0.01)
    assert compare_output("y", np.array([1.005], np.float32), _expected([1.0], "float32", [1]), atol) == []
    assert compare_output("y", np.array([1.02], np.float32), _expected([1.0], "float32", [1]), atol)
    assert compare_output("y", nan, _expected(["NaN"], "float32", [1]), atol)  # ATOL: NaN never passes


def test_integers_exact_and_types_checked() -> None:
    exact = Tolerance("ULP", 0)
    big = np.array([2**64 - 1], np.uint64)
    assert compare_output("y", big, _expected(["18446744073709551615"], "uint64", [1]), exact) == []
    assert compare_output("y", big - np.uint64(1), _expected(["18446744073709551615"], "uint64", [1]), exact)
    problems = compare_output("y", np.array([1], np.int64), _expected([1], "int32", [1]), exact)
    assert problems == ["y: data type int64 differs from the expected int32"]
    problems = compare_output("y", np.array([[1]], np.int32), _expected([1], "int32", [1]), exact)
    assert problems == ["y: shape [1, 1] differs from the expected [1]"]


def test_missing_tolerance_takes_the_largest_single_op_ulp() -> None:
    cases = [c for c in load_cases() if c.raw.get("tolerance") is None]
    assert cases, "the corpus has cases without a tolerance"
    for case in cases:
        out_type = next(iter(case.raw["expectedOutputs"].values()))["descriptor"]["dataType"]
        tol = case_tolerance(case, out_type)
        assert tol.metric == "ULP" and tol.value > 0 and "largest single-op ULP" in tol.note
