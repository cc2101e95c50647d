"""The CoreML emitter: the saved ML Program's structure, determinism, errors, and numerics.

Numerics run the saved program through ``tests/mil_reference.py`` (CoreML itself predicts
only on macOS) and compare with straightforward float64 numpy, with per-dtype tolerances:
float32 rtol 1e-5 / atol 1e-6 (one or two rounded ops), float16 rtol 1e-2 / atol 1e-3 (each
op rounds to float16: 2^-11 relative per op, a few ops deep).
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from tests.mil_reference import MilProgram
from tests.numpy_reference import NumpyBuilder
from webnnc.compiler.errors import UnsupportedOperatorError
from webnnc.compiler.frontend import MLGraphBuilder
from webnnc.compiler.ir import Graph, Node, OperandDescriptor

pytest.importorskip("coremltools")

from webnnc.compiler.emitters import get_emitter
from webnnc.compiler.emitters.coreml_emitter import EMITTER, MODEL_PATH

TOL: dict[str, Any] = {"float32": {"rtol": 1e-5, "atol": 1e-6}, "float16": {"rtol": 1e-2, "atol": 1e-3}}


def _graph(fn: Callable[[MLGraphBuilder], dict[str, Any]]) -> Graph:
    b = MLGraphBuilder()
    graph: Graph = b.build(fn(b))
    return graph


def _run(graph: Graph, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Emit ``graph`` and evaluate the saved program; outputs by WebNN name."""
    art = EMITTER.emit(graph)
    io_names = art.info["coreml_io"]
    scalars = set(io_names["scalars"])
    carriers = set(io_names["int32_carriers"])  # uint8 travels as int32
    program = MilProgram.from_archive(art.data)
    cfeeds = {
        io_names["inputs"][n]: (x.reshape(1) if n in scalars else x).astype(np.int32 if n in carriers else x.dtype)
        for n, x in feeds.items()
    }
    out = program.run(cfeeds)
    return {
        n: (out[c].reshape(()) if n in scalars else out[c]).astype(np.uint8 if n in carriers else out[c].dtype)
        for n, c in io_names["outputs"].items()
    }


def _spec(data: bytes) -> Any:
    from coremltools.proto import Model_pb2

    spec = Model_pb2.Model()
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        spec.ParseFromString(zf.read(MODEL_PATH))
    return spec


# ---------------------------------------------------------------- structure
def test_get_emitter_returns_the_coreml_emitter() -> None:
    emitter = get_emitter("coreml")
    assert emitter is EMITTER and emitter.name == "coreml"
    issue3 = {
        "add", "sub", "mul", "div", "max", "min", "pow", "relu", "clamp", "sigmoid", "tanh", "exp",
        "abs", "neg", "sqrt", "conv2d", "averagePool2d", "maxPool2d", "reshape", "transpose",
        "concat", "gemm", "matmul", "softmax", "reduceMean", "batchNormalization",
    }
    assert issue3 <= emitter.supported_ops()


def test_artifact_is_a_deterministic_mlpackage_archive() -> None:
    rng = np.random.default_rng(0)
    w = rng.standard_normal([4, 3, 3, 3]).astype(np.float32)

    def fn(b: MLGraphBuilder) -> dict[str, Any]:
        x = b.input("x", [1, 3, 8, 8], "float32")
        return {"y": b.relu(b.conv2d(x, b.constant(w), padding=[1, 1, 1, 1]))}

    first = EMITTER.emit(_graph(fn))
    EMITTER.emit(_graph(lambda b: {"z": b.relu(b.input("q", [2], "float32"))}))  # moves MIL's counters
    second = EMITTER.emit(_graph(fn))
    assert first.format == "mlpackage"
    assert first.data == second.data  # equal graphs, equal bytes
    with zipfile.ZipFile(io.BytesIO(first.data)) as zf:
        names = zf.namelist()
        assert names == sorted(names)
        assert {"Manifest.json", MODEL_PATH} <= set(names)
        assert any(n.startswith("Data/com.apple.CoreML/weights/") for n in names)
        assert {i.date_time for i in zf.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        manifest = json.loads(zf.read("Manifest.json"))
    assert manifest["rootModelIdentifier"] in manifest["itemInfoEntries"]
    spec = _spec(first.data)
    assert "com.github.apple.coremltools.conversion_date" not in spec.description.metadata.userDefined
    assert spec.WhichOneof("Type") == "mlProgram"
    ops = MilProgram.from_archive(first.data).op_types()
    assert "conv" in ops and "relu" in ops


def test_io_types_names_and_scalars() -> None:
    def fn(b: MLGraphBuilder) -> dict[str, Any]:
        x = b.input("my input-1", [2, 3], "float16")
        s = b.input("s", [], "float32")
        return {"out.a": b.relu(x), "out.b": b.relu(x), "echo": b.reshape(x, [2, 3]), "sq": b.sqrt(s)}

    art = EMITTER.emit(_graph(fn))
    io_names = art.info["coreml_io"]
    assert io_names["inputs"] == {"my input-1": "my_input_1", "s": "s"}
    assert io_names["outputs"] == {"out.a": "out_a", "out.b": "out_b", "echo": "echo", "sq": "sq"}
    assert sorted(io_names["scalars"]) == ["s", "sq"]
    desc = _spec(art.data).description
    types = {f.name: (f.type.multiArrayType.dataType, list(f.type.multiArrayType.shape)) for f in [*desc.input, *desc.output]}
    from coremltools.proto import FeatureTypes_pb2 as ft

    fp16, fp32 = ft.ArrayFeatureType.FLOAT16, ft.ArrayFeatureType.FLOAT32
    assert types == {
        "my_input_1": (fp16, [2, 3]), "s": (fp32, [1]),
        "out_a": (fp16, [2, 3]), "out_b": (fp16, [2, 3]), "echo": (fp16, [2, 3]), "sq": (fp32, [1]),
    }
    x = np.array([[-1, 2, -3], [4, -5, 6]], np.float16)
    out = _run(_graph(fn), {"my input-1": x, "s": np.array(9.0, np.float32)})
    assert out["out.a"].dtype == np.float16
    np.testing.assert_array_equal(out["out.a"], np.maximum(x, 0))
    np.testing.assert_array_equal(out["echo"], x)
    assert out["sq"].shape == () and float(out["sq"]) == 3.0


# ---------------------------------------------------------------- errors
def test_unsupported_data_type_is_a_build_time_error() -> None:
    # (int64 is carried as int32 since issue 21; uint32 has no CoreML counterpart)
    g = _graph(lambda b: {"y": b.add(b.input("x", [2], "uint32"), b.input("z", [2], "uint32"))})
    with pytest.raises(UnsupportedOperatorError, match=r"(?s)graph input 'x' \(add node #0\): data type uint32 cannot be a model input on the coreml target.*onnx-cpu"):
        EMITTER.emit(g)


def test_float_only_op_on_int32_names_op_node_and_target() -> None:
    g = _graph(lambda b: {"y": b.pow(b.input("x", [2], "int32"), b.input("z", [2], "int32"))})
    with pytest.raises(UnsupportedOperatorError, match=r"^pow \(node #0\): cannot be lowered to coreml: .*int32"):
        EMITTER.emit(g)


def test_unknown_operator_names_op_node_target_and_alternatives() -> None:
    g = Graph("g")
    x = g.add_input("x", OperandDescriptor("float32", (2,)))
    node = g.append(Node("fancyOp", [x], [OperandDescriptor("float32", (2,))], name="n7"))
    g.outputs["y"] = node.outputs[0]
    with pytest.raises(UnsupportedOperatorError, match=r"fancyOp \(node n7\): cannot be lowered to coreml: no CoreML lowering.*supported: .*conv2d"):
        EMITTER.emit(g)


def test_dilated_conv_transpose_with_computed_filter_is_refused() -> None:
    def fn(b: MLGraphBuilder) -> dict[str, Any]:
        x = b.input("x", [1, 1, 5, 5], "float32")
        w = b.input("w", [1, 1, 2, 2], "float32")
        return {"y": b.conv_transpose2d(x, w, dilations=[2, 2])}

    with pytest.raises(UnsupportedOperatorError, match=r"convTranspose2d \(node #0\): .*constant filter"):
        EMITTER.emit(_graph(fn))


# ---------------------------------------------------------------- numerics
def _dilate(w: np.ndarray, d: tuple[int, int]) -> np.ndarray:
    o, i, kh, kw = w.shape
    out = np.zeros([o, i, (kh - 1) * d[0] + 1, (kw - 1) * d[1] + 1], w.dtype)
    out[:, :, :: d[0], :: d[1]] = w
    return out


def _conv_ref(x: np.ndarray, w: np.ndarray, padding: list[int], strides: list[int], groups: int, dil: tuple[int, int]) -> np.ndarray:
    nb = NumpyBuilder({})
    return np.asarray(nb.conv2d(x.astype(np.float64), _dilate(w.astype(np.float64), dil), padding=padding, strides=strides, groups=groups))


@pytest.mark.parametrize(
    ("input_layout", "filter_layout", "groups", "dil", "const_filter", "const_bias", "dtype"),
    [
        ("nchw", "oihw", 1, (1, 1), True, True, "float32"),
        ("nhwc", "ohwi", 1, (1, 1), True, True, "float32"),
        ("nhwc", "hwio", 2, (1, 1), False, False, "float32"),
        ("nchw", "ihwo", 4, (1, 1), True, False, "float32"),  # depthwise
        ("nchw", "oihw", 2, (2, 1), True, True, "float32"),
        ("nhwc", "hwio", 1, (2, 3), False, True, "float32"),  # dilated computed filter
        ("nhwc", "ohwi", 1, (1, 2), True, True, "float16"),
    ],
)
def test_conv2d_layouts_groups_dilations_bias(
    rng: np.random.Generator, input_layout: str, filter_layout: str, groups: int,
    dil: tuple[int, int], const_filter: bool, const_bias: bool, dtype: str,
) -> None:
    x = rng.standard_normal([1, 4, 7, 6]).astype(dtype)
    w = rng.standard_normal([4, 4 // groups, 3, 2]).astype(dtype)  # oihw
    bias = rng.standard_normal([4]).astype(dtype)
    padding, strides = [1, 0, 2, 1], [2, 1]
    perm_in = (0, 2, 3, 1) if input_layout == "nhwc" else (0, 1, 2, 3)
    w_l = np.transpose(w, ["oihw".index(c) for c in filter_layout])

    def fn(b: MLGraphBuilder) -> dict[str, Any]:
        xi = b.input("x", list(np.transpose(x, perm_in).shape), dtype)
        wi = b.constant(w_l) if const_filter else b.input("w", list(w_l.shape), dtype)
        bi = b.constant(bias) if const_bias else b.input("b", [4], dtype)
        y = b.conv2d(xi, wi, bias=bi, padding=padding, strides=strides, dilations=list(dil), groups=groups,
                     input_layout=input_layout, filter_layout=filter_layout)
        return {"y": y}

    feeds = {"x": np.transpose(x, perm_in), "w": w_l, "b": bias}
    graph = _graph(fn)
    feeds = {v.name: feeds[v.name or ""] for v in graph.inputs}
    got = _run(graph, feeds)["y"]
    ref = _conv_ref(x, w, padding, strides, groups, dil) + bias.astype(np.float64).reshape(1, 4, 1, 1)
    assert got.dtype == np.dtype(dtype)
    tol: Any = TOL["float16"] if dtype == "float16" else {"rtol": 1e-5, "atol": 1e-5}  # 24-term sums
    np.testing.assert_allclose(got, np.transpose(ref, perm_in), **tol)


def _pool_ref(
    x: np.ndarray, k: tuple[int, int], s: tuple[int, int], pad: list[int], out: tuple[int, int], kind: str,
    dil: tuple[int, int] = (1, 1),
) -> np.ndarray:
    n, c = x.shape[:2]
    res = np.zeros([n, c, *out])
    for i in range(out[0]):
        for j in range(out[1]):
            rows = [r for r in (i * s[0] - pad[0] + a * dil[0] for a in range(k[0])) if 0 <= r < x.shape[2]]
            cols = [q for q in (j * s[1] - pad[2] + b * dil[1] for b in range(k[1])) if 0 <= q < x.shape[3]]
            if not rows or not cols:
                continue  # a window wholly in the padding: 0
            win = x[:, :, rows][:, :, :, cols].astype(np.float64)
            if kind == "max":
                res[:, :, i, j] = win.max(axis=(2, 3))
            elif kind == "avg":
                res[:, :, i, j] = win.mean(axis=(2, 3))
            else:
                res[:, :, i, j] = np.sqrt((win**2).sum(axis=(2, 3)))
    return res


@pytest.mark.parametrize("kind", ["max", "avg", "l2"])
@pytest.mark.parametrize(
    ("pad", "rounding", "layout", "dil"),
    [
        ([0, 0, 0, 0], "floor", "nchw", (1, 1)),
        ([1, 0, 0, 2], "ceil", "nhwc", (1, 1)),
        ([1, 1, 1, 1], "ceil", "nchw", (1, 1)),
        ([1, 2, 0, 1], "ceil", "nchw", (2, 2)),
        ([0, 0, 1, 1], "floor", "nhwc", (2, 1)),
    ],
)
def test_pools_with_padding_rounding_dilations(
    rng: np.random.Generator, kind: str, pad: list[int], rounding: str, layout: str, dil: tuple[int, int]
) -> None:
    x = rng.standard_normal([1, 2, 7, 5]).astype(np.float32) - 1.0  # mostly negative: padding must not win a max
    k, s = (3, 2), (3, 2)
    method = {"max": "max_pool2d", "avg": "average_pool2d", "l2": "l2_pool2d"}[kind]
    perm = (0, 2, 3, 1) if layout == "nhwc" else (0, 1, 2, 3)

    def fn(b: MLGraphBuilder) -> dict[str, Any]:
        xi = b.input("x", list(np.transpose(x, perm).shape), "float32")
        return {"y": getattr(b, method)(xi, window_dimensions=list(k), strides=list(s), padding=pad,
                                        rounding_type=rounding, layout=layout, dilations=list(dil))}

    graph = _graph(fn)
    got = _run(graph, {"x": np.transpose(x, perm)})["y"]
    out = graph.outputs["y"].shape
    out_hw = (out[1], out[2]) if layout == "nhwc" else (out[2], out[3])
    ref = np.transpose(_pool_ref(x, k, s, pad, out_hw, kind, dil), perm)
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(("alpha", "beta", "ta", "tb", "c_shape"), [(1.0, 1.0, False, False, [4]), (0.5, 2.0, True, True, [3, 4]), (2.0, 0.0, False, True, None)])
def test_gemm(rng: np.random.Generator, alpha: float, beta: float, ta: bool, tb: bool, c_shape: list[int] | None) -> None:
    a = rng.standard_normal([5, 3] if ta else [3, 5]).astype(np.float32)
    bm = rng.standard_normal([4, 5] if tb else [5, 4]).astype(np.float32)
    c = rng.standard_normal(c_shape).astype(np.float32) if c_shape else None

    def fn(b: MLGraphBuilder) -> dict[str, Any]:
        kw: dict[str, Any] = {"alpha": alpha, "beta": beta, "a_transpose": ta, "b_transpose": tb}
        if c is not None:
            kw["c"] = b.constant(c)
        return {"y": b.gemm(b.input("a", list(a.shape), "float32"), b.constant(bm), **kw)}

    got = _run(_graph(fn), {"a": a})["y"]
    a64, b64 = a.astype(np.float64), bm.astype(np.float64)
    ref = alpha * ((a64.T if ta else a64) @ (b64.T if tb else b64)) + (beta * c if c is not None else 0)
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(("axis", "const_params", "rank"), [(1, True, 4), (3, True, 4), (1, False, 4), (1, True, 2)])
def test_batch_normalization_paths(rng: np.random.Generator, axis: int, const_params: bool, rank: int) -> None:
    shape = [2, 3, 4, 5][:rank]
    c = shape[axis]
    x = rng.standard_normal(shape).astype(np.float32)
    mean, var = rng.standard_normal([c]).astype(np.float32), rng.random([c]).astype(np.float32) + 0.5
    scale, bias = rng.standard_normal([c]).astype(np.float32), rng.standard_normal([c]).astype(np.float32)

    def fn(b: MLGraphBuilder) -> dict[str, Any]:
        def p(name: str, v: np.ndarray) -> Any:
            return b.constant(v) if const_params else b.input(name, [c], "float32")

        y = b.batch_normalization(b.input("x", shape, "float32"), p("m", mean), p("v", var),
                                  scale=p("s", scale), bias=p("b", bias), axis=axis, epsilon=1e-3)
        return {"y": y}

    feeds = {"x": x, "m": mean, "v": var, "s": scale, "b": bias}
    graph = _graph(fn)
    got = _run(graph, {v.name or "": feeds[v.name or ""] for v in graph.inputs})["y"]
    bshape = [1] * rank
    bshape[axis] = c

    def r(v: np.ndarray) -> np.ndarray:
        return v.astype(np.float64).reshape(bshape)

    ref = (x - r(mean)) / np.sqrt(r(var) + 1e-3) * r(scale) + r(bias)
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    ("lo", "hi", "dtype"),
    [(0.0, 6.0, "float32"), (-np.inf, 1.0, "float32"), (-1.0, np.inf, "float16"), (-np.inf, np.inf, "float32"), (-3.0, 2.0, "int32")],
)
def test_clamp_bounds(rng: np.random.Generator, lo: float, hi: float, dtype: str) -> None:
    x = (rng.standard_normal([3, 4]) * 5).astype(dtype)
    got = _run(_graph(lambda b: {"y": b.clamp(b.input("x", [3, 4], dtype), min_value=lo, max_value=hi)}), {"x": x})["y"]
    assert got.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(got, np.clip(x, lo, hi).astype(dtype))


def test_elementwise_chain_float16(rng: np.random.Generator) -> None:
    a = rng.random([2, 3, 4]).astype(np.float16) + np.float16(0.5)
    bb = rng.random([3, 1]).astype(np.float16) + np.float16(0.5)

    def fn(b: MLGraphBuilder) -> dict[str, Any]:
        x, y = b.input("a", [2, 3, 4], "float16"), b.input("b", [3, 1], "float16")
        z = b.div(b.sub(b.mul(b.add(x, y), x), y), y)
        z = b.pow(b.max(b.min(z, x), y), y)
        z = b.softmax(b.tanh(b.sigmoid(b.exp(b.neg(b.abs(b.sqrt(z)))))), axis=2)
        return {"z": b.reduce_mean(b.transpose(b.reshape(z, [6, 4]), permutation=[1, 0]), axes=[1], keep_dimensions=True)}

    got = _run(_graph(fn), {"a": a, "b": bb})["z"]
    x, y = a.astype(np.float64), bb.astype(np.float64)
    z = ((x + y) * x - y) / y
    z = np.power(np.maximum(np.minimum(z, x), y), y)
    z = np.tanh(1 / (1 + np.exp(np.abs(np.sqrt(z)))))
    z = np.exp(z - z.max(axis=2, keepdims=True))
    z = z / z.sum(axis=2, keepdims=True)
    ref = z.reshape(6, 4).T.mean(axis=1, keepdims=True)
    assert got.dtype == np.float16
    np.testing.assert_allclose(got.astype(np.float64), ref, **TOL["float16"])


def test_concat_matmul_float32(rng: np.random.Generator) -> None:
    a, c = rng.standard_normal([2, 3, 4]).astype(np.float32), rng.standard_normal([2, 2, 4]).astype(np.float32)
    m = rng.standard_normal([4, 5]).astype(np.float32)

    def fn(b: MLGraphBuilder) -> dict[str, Any]:
        cat = b.concat([b.input("a", [2, 3, 4], "float32"), b.input("c", [2, 2, 4], "float32")], 1)
        return {"y": b.matmul(cat, b.constant(m))}

    got = _run(_graph(fn), {"a": a, "c": c})["y"]
    np.testing.assert_allclose(got, np.concatenate([a, c], 1).astype(np.float64) @ m, **TOL["float32"])


def test_where_and_comparisons_carry_uint8_as_int32(rng: np.random.Generator) -> None:
    a = rng.standard_normal([2, 1, 3]).astype(np.float32)
    bb = rng.standard_normal([4, 1]).astype(np.float32)
    flags = np.array([[1], [0], [7], [0]], np.uint8)  # nonzero is true

    def fn(b: MLGraphBuilder) -> dict[str, Any]:
        x, y = b.input("a", [2, 1, 3], "float32"), b.input("b", [4, 1], "float32")
        f = b.input("flags", [4, 1], "uint8")
        gt = b.greater(x, y)
        both = b.logical_and(gt, f)
        return {"gt": gt, "pick": b.where_(both, x, y), "nan": b.is_nan(b.div(x, x))}

    graph = _graph(fn)
    art = EMITTER.emit(graph)
    assert art.info["coreml_io"]["int32_carriers"] == ["flags", "gt", "nan"]
    out = _run(graph, {"a": a, "b": bb, "flags": flags})
    gt = a > bb
    assert out["gt"].dtype == np.uint8 and out["gt"].shape == (2, 4, 3)
    np.testing.assert_array_equal(out["gt"], gt.astype(np.uint8))
    np.testing.assert_array_equal(out["pick"], np.where(gt & (flags != 0), a, bb))
    np.testing.assert_array_equal(out["nan"], np.zeros([2, 1, 3], np.uint8))  # x / x is NaN only for x = 0


def test_gather_clamps_out_of_range_indices(rng: np.random.Generator) -> None:
    x = rng.standard_normal([5, 3]).astype(np.float32)
    idx = np.array([[0, -1], [7, -9]], np.int32)  # -1 wraps; 7 and -9 clamp to 4 and -5 (= 0)

    def fn(b: MLGraphBuilder) -> dict[str, Any]:
        xi = b.input("x", [5, 3], "float32")
        return {"dyn": b.gather(xi, b.input("i", [2, 2], "int32")), "const": b.gather(xi, b.constant(idx.astype(np.int64)), axis=0)}

    out = _run(_graph(fn), {"x": x, "i": idx})
    want = x[[[0, 4], [4, 0]]]
    np.testing.assert_array_equal(out["dyn"], want)
    np.testing.assert_array_equal(out["const"], want)


def test_conv_transpose2d_output_padding_nhwc(rng: np.random.Generator) -> None:
    x = rng.standard_normal([1, 3, 4, 2]).astype(np.float32)  # nchw [1, 2, 3, 4] as nhwc
    w = rng.standard_normal([2, 3, 3, 3]).astype(np.float32)  # iohw: C_in 2, C_out 3

    def fn(b: MLGraphBuilder) -> dict[str, Any]:
        y = b.conv_transpose2d(b.input("x", [1, 3, 4, 2], "float32"), b.constant(w), strides=[2, 2],
                               padding=[1, 0, 0, 1], output_padding=[1, 1], input_layout="nhwc")
        return {"y": y}

    got = _run(_graph(fn), {"x": x})["y"]
    xn = np.transpose(x, (0, 3, 1, 2)).astype(np.float64)
    full = np.zeros([1, 3, (3 - 1) * 2 + 3 + 1, (4 - 1) * 2 + 3 + 1])
    for i in range(3):
        for j in range(4):
            full[:, :, 2 * i : 2 * i + 3, 2 * j : 2 * j + 3] += np.einsum("nc,cohw->nohw", xn[:, :, i, j], w.astype(np.float64))
    ref = full[:, :, 1 : 1 + 7, 0 : 0 + 9]  # pads: top 1, bottom 0 (+1 output padding), left 0, right 1 (+1)
    np.testing.assert_allclose(got, np.transpose(ref, (0, 2, 3, 1)), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("mode", ["linear", "nearest-neighbor"])
def test_resample2d_on_nhwc_axes(rng: np.random.Generator, mode: str) -> None:
    x = rng.standard_normal([1, 3, 2, 2]).astype(np.float32)

    def fn(b: MLGraphBuilder) -> dict[str, Any]:
        return {"y": b.resample2d(b.input("x", [1, 3, 2, 2], "float32"), mode=mode, sizes=[6, 4], axes=[1, 2])}

    got = _run(_graph(fn), {"x": x})["y"]
    x64 = x.astype(np.float64)
    if mode == "nearest-neighbor":
        ref = np.repeat(np.repeat(x64, 2, axis=1), 2, axis=2)
    else:
        def taps(n_in: int, n_out: int) -> np.ndarray:
            m = np.zeros([n_out, n_in])
            for i in range(n_out):
                src = float(np.clip((i + 0.5) * n_in / n_out - 0.5, 0, n_in - 1))
                lo = int(np.floor(src))
                m[i, lo] += 1 - (src - lo)
                m[i, min(lo + 1, n_in - 1)] += src - lo
            return m

        ref = np.einsum("ih,nhwc,jw->nijc", taps(3, 6), x64, taps(2, 4))
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind", ["gru", "lstm"])
def test_recurrent_networks_unrolled(rng: np.random.Generator, kind: str) -> None:
    # reference: the float64 numpy transcription of the spec's step formulas used by the
    # builder's own tests
    from tests.compiler.frontend.test_ops_recurrent import _network_ref

    steps, batch, size, hs, dirs = 3, 2, 3, 4, 2
    gates = 3 if kind == "gru" else 4
    arr = {
        "x": rng.standard_normal((steps, batch, size)),
        "w": rng.normal(0, 0.5, (dirs, gates * hs, size)),
        "r": rng.normal(0, 0.5, (dirs, gates * hs, hs)),
        "b": rng.normal(0, 0.5, (dirs, gates * hs)),
        "rb": rng.normal(0, 0.5, (dirs, gates * hs)),
        "h0": rng.standard_normal((dirs, batch, hs)),
    }
    if kind == "lstm":
        arr["p"] = rng.normal(0, 0.5, (dirs, 3 * hs))
    f32 = {k: v.astype(np.float32) for k, v in arr.items()}

    def fn(b: MLGraphBuilder) -> dict[str, Any]:
        op = {k: (b.input(k, list(v.shape), "float32") if k in ("x", "h0") else b.constant(v)) for k, v in f32.items()}
        common = {"bias": op["b"], "recurrent_bias": op["rb"], "initial_hidden_state": op["h0"],
                  "return_sequence": True, "direction": "both"}
        if kind == "gru":
            outs = b.gru(op["x"], op["w"], op["r"], steps, hs, reset_after=False, layout="rzn",
                         activations=["sigmoid", "relu"], **common)
        else:
            outs = b.lstm(op["x"], op["w"], op["r"], steps, hs, peephole_weight=op["p"], layout="ifgo",
                          activations=["sigmoid", "tanh", "relu"], **common)
        return {f"y{i}": o for i, o in enumerate(outs)}

    got = _run(_graph(fn), {"x": f32["x"], "h0": f32["h0"]})
    ref64 = {k: v.astype(np.float64) for k, v in f32.items()}
    opts: dict[str, Any] = {"direction": "both", "b": ref64["b"], "rb": ref64["rb"], "h0": ref64["h0"]}
    if kind == "gru":
        opts.update(layout="rzn", reset_after=False, acts=("sigmoid", "relu"))
    else:
        opts.update(layout="ifgo", acts=("sigmoid", "tanh", "relu"), p=ref64["p"])
    hidden, cell, seq = _network_ref(kind, ref64["x"], ref64["w"], ref64["r"], steps, opts)
    np.testing.assert_allclose(got["y0"], hidden, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got["y2" if kind == "lstm" else "y1"], seq, rtol=1e-5, atol=1e-5)
    if kind == "lstm":
        np.testing.assert_allclose(got["y1"], cell, rtol=1e-5, atol=1e-5)


def test_quantized_constants_fold_and_int32_quantization(rng: np.random.Generator) -> None:
    w_q = rng.integers(-128, 128, [4, 6]).astype(np.int8)
    scale = np.array([[0.5], [0.25]], np.float32)  # block-wise: 2 rows per scale
    zero = np.array([[3], [-2]], np.int8)
    x = rng.standard_normal([3, 4]).astype(np.float32) * 40

    def fn(b: MLGraphBuilder) -> dict[str, Any]:
        w = b.dequantize_linear(b.constant(w_q), b.constant(scale), b.constant(zero))
        xi = b.input("x", [3, 4], "float32")
        q = b.quantize_linear(xi, b.constant(np.float32(0.5).reshape(1, 1)), b.constant(np.int32(7).reshape(1, 1)))
        return {"y": b.matmul(xi, w), "q": q}

    out = _run(_graph(fn), {"x": x})
    w_ref = (w_q.astype(np.float64) - np.repeat(zero, 2, axis=0)) * np.repeat(scale, 2, axis=0)
    np.testing.assert_allclose(out["y"], x.astype(np.float64) @ w_ref, rtol=1e-5, atol=1e-4)
    assert out["q"].dtype == np.int32
    np.testing.assert_array_equal(out["q"], np.round(x.astype(np.float64) / 0.5) + 7)


def test_int32_div_truncates_pad_concatenates_and_l1_sums() -> None:
    a = np.array([[7, -7, 7, -7, 6, 0]], np.int32).T  # [6, 1]
    d = np.array([2, -2, 3], np.int32)  # broadcasts to [6, 3]

    def fn(b: MLGraphBuilder) -> dict[str, Any]:
        x, y = b.input("a", [6, 1], "int32"), b.input("d", [3], "int32")
        return {
            "q": b.div(x, y),
            "p": b.pad(x, [1, 0], [2, 1], value=-5),
            "l1": b.reduce_l1(x, axes=[0]),
            "ss": b.reduce_sum_square(x, axes=[0, 1], keep_dimensions=True),
        }

    out = _run(_graph(fn), {"a": a, "d": d})
    assert out["q"].dtype == np.int32
    np.testing.assert_array_equal(out["q"], np.trunc(a / d).astype(np.int32))
    np.testing.assert_array_equal(out["p"], np.pad(a, [(1, 2), (0, 1)], constant_values=-5))
    np.testing.assert_array_equal(out["l1"], [34])
    np.testing.assert_array_equal(out["ss"], [[(a.astype(np.int64) ** 2).sum()]])


@pytest.mark.parametrize("mode", ["constant", "edge", "reflection", "symmetric"])
@pytest.mark.parametrize("dtype", ["float32", "int32"])
def test_pad_every_mode_on_every_axis(rng: np.random.Generator, mode: str, dtype: str) -> None:
    x = (rng.standard_normal([3, 4, 5]) * 10).astype(dtype)
    begin, end = [2, 1, 0], [1, 3, 2]

    def fn(b: MLGraphBuilder) -> dict[str, Any]:
        return {"y": b.pad(b.input("x", [3, 4, 5], dtype), begin, end, mode=mode, value=7)}

    got = _run(_graph(fn), {"x": x})["y"]
    width = list(zip(begin, end, strict=True))
    np_mode = {"constant": "constant", "edge": "edge", "reflection": "reflect", "symmetric": "symmetric"}[mode]
    ref = np.pad(x, width, mode=np_mode, **({"constant_values": 7} if mode == "constant" else {}))  # type: ignore[call-overload]
    assert got.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(got, ref)


def _conv_transpose_ref(x: np.ndarray, w: np.ndarray, strides: tuple[int, int], pads: list[int],
                        out_hw: tuple[int, int], groups: int) -> np.ndarray:
    """NCHW input, iohw filter: scatter every input cell's weighted filter, then crop."""
    n, cin, h, wd = x.shape
    _, cog, kh, kw = w.shape
    full = np.zeros([n, cog * groups, (h - 1) * strides[0] + kh + 8, (wd - 1) * strides[1] + kw + 8])
    cig = cin // groups
    for g in range(groups):
        for i in range(h):
            for j in range(wd):
                r, c = i * strides[0], j * strides[1]
                full[:, g * cog : (g + 1) * cog, r : r + kh, c : c + kw] += np.einsum(
                    "nc,cohw->nohw", x[:, g * cig : (g + 1) * cig, i, j], w[g * cig : (g + 1) * cig])
    return full[:, :, pads[0] : pads[0] + out_hw[0], pads[2] : pads[2] + out_hw[1]]


@pytest.mark.parametrize(("filter_layout", "groups", "pads", "out_pad"), [
    ("iohw", 1, [0, 0, 0, 0], [0, 0]), ("ohwi", 2, [1, 0, 2, 1], [1, 0]), ("hwoi", 1, [3, 3, 0, 2], [1, 1]),
])
def test_conv_transpose2d_with_computed_filter(
    rng: np.random.Generator, filter_layout: str, groups: int, pads: list[int], out_pad: list[int]
) -> None:
    x = rng.standard_normal([1, 4, 3, 4]).astype(np.float32)
    w = rng.standard_normal([4, 6 // groups, 3, 2]).astype(np.float32)  # iohw
    w_l = np.transpose(w, ["iohw".index(ch) for ch in filter_layout])

    def fn(b: MLGraphBuilder) -> dict[str, Any]:
        y = b.conv_transpose2d(b.input("x", [1, 4, 3, 4], "float32"), b.input("w", list(w_l.shape), "float32"),
                               strides=[2, 3], padding=pads, output_padding=out_pad, groups=groups,
                               filter_layout=filter_layout)
        return {"y": y}

    graph = _graph(fn)
    got = _run(graph, {"x": x, "w": w_l})["y"]
    out = graph.outputs["y"].shape
    ref = _conv_transpose_ref(x.astype(np.float64), w.astype(np.float64), (2, 3), pads, (out[2], out[3]), groups)
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(("qtype", "lo", "hi"), [("int8", -128, 127), ("uint8", 0, 255), ("int4", -8, 7)])
def test_qdq_pairs_travel_as_int32(rng: np.random.Generator, qtype: str, lo: int, hi: int) -> None:
    x = (rng.standard_normal([2, 6]) * 30).astype(np.float32)  # some values saturate
    scale = np.array([[0.5, 0.25, 2.0]], np.float32)  # block-wise along the last axis
    zp_np = {"int8": np.int8, "uint8": np.uint8, "int4": np.int8}[qtype]
    zero = np.array([[1, 3, 0]], zp_np)

    def fn(b: MLGraphBuilder) -> dict[str, Any]:
        zp = b.constant({"dataType": qtype, "shape": [1, 3]}, zero)
        q = b.quantize_linear(b.input("x", [2, 6], "float32"), b.constant(scale), zp)
        return {"y": b.dequantize_linear(q, b.constant(scale), zp)}

    got = _run(_graph(fn), {"x": x})["y"]
    s, z = np.repeat(scale, 2, axis=1).astype(np.float64), np.repeat(zero, 2, axis=1).astype(np.float64)
    q = np.clip(np.round(x.astype(np.float64) / s) + z, lo, hi)
    np.testing.assert_allclose(got, (q - z) * s, rtol=1e-6, atol=1e-6)


def test_narrow_quantize_result_at_the_boundary_is_refused() -> None:
    def fn(b: MLGraphBuilder) -> dict[str, Any]:
        zp = b.constant(np.zeros([1, 1], np.int8))
        return {"q": b.quantize_linear(b.input("x", [2, 2], "float32"), b.constant(np.ones([1, 1], np.float32)), zp)}

    with pytest.raises(UnsupportedOperatorError, match=r"graph output 'q' \(quantizeLinear node #0\): data type int8"):
        EMITTER.emit(_graph(fn))
