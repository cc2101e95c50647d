"""A numpy reference evaluator for the CoreML ML Programs webnnc emits.

It reads the *saved* program (``model.mlmodel`` inside the packed ``.mlpackage``, weights
from ``weights/weight.bin``), after coremltools' own MIL passes have run, and evaluates it
op by op in float64, rounding each op's result to the data type the program declares for
it (so float16 programs round after every op, as a float16 device does). It shares no code
with the CoreML emitter: it knows MIL only through the serialized proto, which is exactly
what a CoreML runtime receives. Ops it does not know raise ``NotImplementedError`` naming
the op, so a new lowering cannot pass unnoticed.
"""

from __future__ import annotations

import io
import math
import struct
import zipfile
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = ["MIL_EVALUATORS", "MilProgram"]

MODEL_PATH = "Data/com.apple.CoreML/model.mlmodel"
WEIGHTS_PREFIX = "Data/com.apple.CoreML/weights/"
_BLOB_SENTINEL = 0xDEADBEEF

# MIL proto DataType enum value -> numpy dtype (only the ones our programs use)
_DTYPES: dict[int, Any] = {
    1: np.bool_,  # BOOL
    10: np.float16,  # FLOAT16
    11: np.float32,  # FLOAT32
    12: np.float64,  # FLOAT64
    21: np.int8,
    22: np.int16,
    23: np.int32,
    24: np.int64,
    31: np.uint8,
    32: np.uint16,
    33: np.uint32,
    34: np.uint64,
}
_STRING = 2


def _tensor_type(value_type: Any) -> tuple[Any, tuple[int, ...]]:
    tt = value_type.tensorType
    shape = tuple(int(d.constant.size) for d in tt.dimensions)
    return tt.dataType, shape


class MilProgram:
    """One saved ML Program: its ``main`` function, ready to evaluate."""

    def __init__(self, spec: Any, weights: Mapping[str, bytes]) -> None:
        self.spec = spec
        self._weights = weights
        fn = spec.mlProgram.functions["main"]
        self.opset = fn.opset
        self.function = fn
        self.block = fn.block_specializations[fn.opset]
        self.input_types = {i.name: _tensor_type(i.type) for i in fn.inputs}

    @classmethod
    def from_archive(cls, data: bytes) -> MilProgram:
        """Read a packed ``.mlpackage`` archive (the bytes webnnc stores), after checking
        that it opens as a package (``tests/coreml_package.py``)."""
        from coremltools.proto import Model_pb2

        from tests.coreml_package import check_package

        check_package(data)

        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            spec = Model_pb2.Model()
            spec.ParseFromString(zf.read(MODEL_PATH))
            weights = {
                n[len(WEIGHTS_PREFIX):]: zf.read(n) for n in zf.namelist() if n.startswith(WEIGHTS_PREFIX)
            }
        return cls(spec, weights)

    def op_types(self) -> list[str]:
        return [op.type for op in self.block.operations]

    # -------------------------------------------------------------- values
    def _blob(self, blob: Any, dtype: Any, shape: tuple[int, ...]) -> np.ndarray:
        name = blob.fileName.rsplit("/", 1)[-1]
        raw = self._weights[name]
        sentinel, _code, size, offset = struct.unpack_from("<IIQQ", raw, blob.offset)
        if sentinel != _BLOB_SENTINEL:
            raise ValueError(f"weight blob at {blob.offset} in {name}: bad sentinel {sentinel:#x}")
        arr = np.frombuffer(raw[offset : offset + size], dtype=dtype)
        return arr.reshape(shape).copy()

    def _value(self, value: Any) -> Any:
        code, shape = _tensor_type(value.type)
        if value.HasField("blobFileValue"):
            return self._blob(value.blobFileValue, _DTYPES[code], shape)
        t = value.immediateValue.tensor
        if code == _STRING:
            vals = list(t.strings.values)
            return vals[0] if not shape else vals
        dtype = _DTYPES[code]
        kind = t.WhichOneof("value")
        if kind == "bytes":
            arr = np.frombuffer(t.bytes.values, dtype=dtype)
        elif kind is None:
            arr = np.zeros(0, dtype)
        else:
            arr = np.asarray(list(getattr(t, kind).values)).astype(dtype)
        return arr.reshape(shape)

    # -------------------------------------------------------------- evaluation
    def run(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Evaluate ``main`` on ``feeds`` (CoreML input names); return its outputs by name."""
        env: dict[str, Any] = {}
        for name, (code, shape) in self.input_types.items():
            x = np.asarray(feeds[name])
            if x.shape != shape or x.dtype != _DTYPES[code]:
                raise ValueError(f"input {name}: expected {_DTYPES[code].__name__}{list(shape)}, got {x.dtype}{list(x.shape)}")
            env[name] = x
        for op in self.block.operations:
            args: dict[str, Any] = {}
            for key, arg in op.inputs.items():
                vals = [env[b.name] if b.WhichOneof("binding") == "name" else self._value(b.value) for b in arg.arguments]
                args[key] = vals if len(vals) != 1 or key == "values" else vals[0]
            for key, attr in op.attributes.items():
                if key != "name":
                    args[key] = self._value(attr)
            try:
                fn = MIL_EVALUATORS[op.type]
            except KeyError:
                raise NotImplementedError(f"mil_reference: no evaluator for MIL op {op.type!r}") from None
            result = fn(args)
            results = result if isinstance(result, tuple) else (result,)
            for out, r in zip(op.outputs, results, strict=True):
                code, shape = _tensor_type(out.type)
                arr = np.asarray(r)
                with np.errstate(over="ignore", invalid="ignore"):
                    arr = arr.astype(_DTYPES[code]) if code != _STRING else arr
                if arr.shape != shape:
                    raise AssertionError(f"{op.type} -> {out.name}: evaluated shape {arr.shape}, declared {shape}")
                env[out.name] = arr
        return {name: env[name] for name in self.block.outputs}

    predict = run  # the CompiledMLModel.predict signature


# ---------------------------------------------------------------- op evaluators
Evaluator = Callable[[dict[str, Any]], Any]
MIL_EVALUATORS: dict[str, Evaluator] = {}


def _op(*names: str) -> Callable[[Evaluator], Evaluator]:
    def register(fn: Evaluator) -> Evaluator:
        for n in names:
            MIL_EVALUATORS[n] = fn
        return fn

    return register


def _f(x: Any) -> np.ndarray:
    """Float64 (or int64 for integer / bool inputs) working copy."""
    a = np.asarray(x)
    if a.dtype.kind == "f":
        return a.astype(np.float64)
    if a.dtype.kind in "iu":
        return a.astype(np.int64)
    return a


def _ints(x: Any) -> list[int]:
    return [int(v) for v in np.asarray(x).reshape(-1)]


_op("const")(lambda a: a["val"])
_op("identity")(lambda a: a["x"])


def _binary(fn: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> Evaluator:
    def ev(a: dict[str, Any]) -> np.ndarray:
        with np.errstate(all="ignore"):
            return fn(_f(a["x"]), _f(a["y"]))

    return ev


MIL_EVALUATORS.update({
    "add": _binary(np.add),
    "sub": _binary(np.subtract),
    "mul": _binary(np.multiply),
    "real_div": _binary(np.true_divide),
    "maximum": _binary(np.maximum),
    "minimum": _binary(np.minimum),
    "pow": _binary(np.power),
    "floor_div": _binary(np.floor_divide),
})


def _unary(fn: Callable[[np.ndarray], np.ndarray]) -> Evaluator:
    def ev(a: dict[str, Any]) -> np.ndarray:
        with np.errstate(all="ignore"):
            return fn(_f(a["x"]))

    return ev


MIL_EVALUATORS.update({
    "relu": _unary(lambda x: np.where(x > 0, x, np.zeros_like(x))),
    "sigmoid": _unary(lambda x: 1.0 / (1.0 + np.exp(-x))),
    "tanh": _unary(np.tanh),
    "exp": _unary(np.exp),
    "abs": _unary(np.abs),
    "sqrt": _unary(np.sqrt),
    "square": _unary(np.square),
})


_erf = np.vectorize(math.erf, otypes=[np.float64])

MIL_EVALUATORS.update({
    "silu": _unary(lambda x: x / (1.0 + np.exp(-x))),  # coremltools fuses x * sigmoid(x)
    "softplus": _unary(lambda x: np.logaddexp(0.0, x)),
    "softsign": _unary(lambda x: x / (1.0 + np.abs(x))),
    "ceil": _unary(np.ceil),
    "floor": _unary(np.floor),
    "cos": _unary(np.cos),
    "sin": _unary(np.sin),
    "tan": _unary(np.tan),
    "erf": _unary(lambda x: _erf(x) if x.size else x),
    "round": _unary(np.round),  # MIL: half to even ("0.5 is rounded to 0"), as numpy
    "sign": _unary(np.sign),
})


def _alpha_beta(fn: Callable[[np.ndarray, float, float], np.ndarray], alpha: float, beta: float) -> Evaluator:
    def ev(a: dict[str, Any]) -> np.ndarray:
        with np.errstate(all="ignore"):
            return fn(_f(a["x"]), float(a.get("alpha", alpha)), float(a.get("beta", beta)))

    return ev


MIL_EVALUATORS.update({
    "elu": _alpha_beta(lambda x, al, _: np.where(x > 0, x, al * np.expm1(x)), 1.0, 0.0),
    "leaky_relu": _alpha_beta(lambda x, al, _: np.where(x >= 0, x, al * x), 0.01, 0.0),
    "linear_activation": _alpha_beta(lambda x, al, be: al * x + be, 1.0, 0.0),
    "sigmoid_hard": _alpha_beta(lambda x, al, be: np.minimum(np.maximum(al * x + be, 0.0), 1.0), 0.2, 0.5),
})


@_op("gelu")
def _gelu(a: dict[str, Any]) -> np.ndarray:
    # the mode matters: coremltools fuses GPT-2's tanh formula into gelu(TANH_APPROXIMATION)
    x, mode = _f(a["x"]), str(a.get("mode", "EXACT"))
    if mode == "TANH_APPROXIMATION":
        return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))
    if mode == "SIGMOID_APPROXIMATION":
        return x / (1.0 + np.exp(-1.702 * x))
    if mode != "EXACT":
        raise NotImplementedError(f"mil_reference: gelu mode {mode!r}")
    return 0.5 * x * (1.0 + (_erf(x / math.sqrt(2.0)) if x.size else x))


@_op("log")
def _log(a: dict[str, Any]) -> np.ndarray:
    with np.errstate(all="ignore"):
        return np.log(_f(a["x"]) + float(a.get("epsilon", 1e-45)))


@_op("inverse")
def _inverse(a: dict[str, Any]) -> np.ndarray:
    with np.errstate(all="ignore"):
        return 1.0 / (_f(a["x"]) + float(a.get("epsilon", 1e-4)))


@_op("clip")
def _clip(a: dict[str, Any]) -> np.ndarray:
    return np.minimum(np.maximum(_f(a["x"]), float(a["alpha"])), float(a["beta"]))


@_op("reshape")
def _reshape(a: dict[str, Any]) -> np.ndarray:
    return np.reshape(a["x"], _ints(a["shape"]))


@_op("transpose")
def _transpose(a: dict[str, Any]) -> np.ndarray:
    return np.transpose(a["x"], _ints(a["perm"]))


@_op("concat")
def _concat(a: dict[str, Any]) -> np.ndarray:
    values = a["values"] if isinstance(a["values"], list) else [a["values"]]
    return np.concatenate([np.asarray(v) for v in values], axis=int(a["axis"]))


@_op("matmul")
def _matmul(a: dict[str, Any]) -> np.ndarray:
    x, y = _f(a["x"]), _f(a["y"])
    if bool(a.get("transpose_x", False)):
        x = np.swapaxes(x, -1, -2)
    if bool(a.get("transpose_y", False)):
        y = np.swapaxes(y, -1, -2)
    with np.errstate(all="ignore"):
        return np.matmul(x, y)


@_op("linear")
def _linear(a: dict[str, Any]) -> np.ndarray:
    # y = x @ weight^T + bias
    with np.errstate(all="ignore"):
        y = np.matmul(_f(a["x"]), _f(a["weight"]).T)
        return y + _f(a["bias"]) if "bias" in a else y


@_op("softmax")
def _softmax(a: dict[str, Any]) -> np.ndarray:
    x = _f(a["x"])
    axis = int(a.get("axis", -1))
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def _reduce(fn: Callable[..., np.ndarray]) -> Evaluator:
    def ev(a: dict[str, Any]) -> np.ndarray:
        x = _f(a["x"])
        axes = tuple(_ints(a["axes"])) if "axes" in a else tuple(range(x.ndim))
        return fn(x, axis=axes, keepdims=bool(a.get("keep_dims", False)))

    return ev


MIL_EVALUATORS.update({
    "reduce_mean": _reduce(np.mean),
    "reduce_max": _reduce(np.max),
    "reduce_min": _reduce(np.min),
    "reduce_sum": _reduce(np.sum),
})


def _logsumexp(x: np.ndarray, axis: tuple[int, ...], keepdims: bool) -> np.ndarray:
    m = np.max(x, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    out = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=axis)


with np.errstate(all="ignore"):
    MIL_EVALUATORS.update({
        "reduce_prod": _reduce(np.prod),
        "reduce_l1_norm": _reduce(lambda x, axis, keepdims: np.sum(np.abs(x), axis=axis, keepdims=keepdims)),
        "reduce_l2_norm": _reduce(lambda x, axis, keepdims: np.sqrt(np.sum(np.square(x), axis=axis, keepdims=keepdims))),
        "reduce_log_sum": _reduce(lambda x, axis, keepdims: np.log(np.sum(x, axis=axis, keepdims=keepdims))),
        "reduce_log_sum_exp": _reduce(_logsumexp),
        "reduce_sum_square": _reduce(lambda x, axis, keepdims: np.sum(np.square(x), axis=axis, keepdims=keepdims)),
    })


def _arg(fn: Callable[..., np.ndarray]) -> Evaluator:
    def ev(a: dict[str, Any]) -> np.ndarray:
        x = _f(a["x"])
        axis = int(a.get("axis", -1))
        y = fn(x, axis=axis)  # numpy picks the first of equal values, as WebNN does
        return np.expand_dims(y, axis) if bool(a.get("keep_dims", False)) else y

    return ev


MIL_EVALUATORS.update({"reduce_argmax": _arg(np.argmax), "reduce_argmin": _arg(np.argmin)})


@_op("cumsum")
def _cumsum(a: dict[str, Any]) -> np.ndarray:
    x = _f(a["x"])
    axis = int(a.get("axis", 0))
    if bool(a.get("reverse", False)):
        x = np.flip(x, axis)
    y = np.cumsum(x, axis=axis)
    if bool(a.get("exclusive", False)):
        y = y - x
    return np.flip(y, axis) if bool(a.get("reverse", False)) else y


def _norm(x: np.ndarray, axes: tuple[int, ...], eps: float) -> np.ndarray:
    mean = x.mean(axis=axes, keepdims=True)
    return (x - mean) / np.sqrt(((x - mean) ** 2).mean(axis=axes, keepdims=True) + eps)


@_op("layer_norm")
def _layer_norm(a: dict[str, Any]) -> np.ndarray:
    x = _f(a["x"])
    axes = tuple(sorted(d % x.ndim for d in _ints(a["axes"])))
    y = _norm(x, axes, float(a.get("epsilon", 1e-5)))
    shape = [x.shape[d] if d in axes else 1 for d in range(x.ndim)]
    if "gamma" in a:
        y = y * _f(a["gamma"]).reshape(shape)
    if "beta" in a:
        y = y + _f(a["beta"]).reshape(shape)
    return y


@_op("instance_norm")
def _instance_norm(a: dict[str, Any]) -> np.ndarray:
    x = _f(a["x"])
    y = _norm(x, tuple(range(2, x.ndim)), float(a.get("epsilon", 1e-5)))
    shape = [1, x.shape[1]] + [1] * (x.ndim - 2)
    if "gamma" in a:
        y = y * _f(a["gamma"]).reshape(shape)
    if "beta" in a:
        y = y + _f(a["beta"]).reshape(shape)
    return y


@_op("pad")
def _pad(a: dict[str, Any]) -> np.ndarray:
    x = np.asarray(a["x"])
    pads = _ints(a["pad"])
    n = len(pads) // 2
    width = [(0, 0)] * (x.ndim - n) + [(pads[2 * i], pads[2 * i + 1]) for i in range(n)]
    mode = str(a.get("mode", "constant"))
    if mode == "constant":
        return np.pad(x, width, constant_values=np.asarray(a.get("constant_val", 0)).astype(x.dtype))
    if mode == "reflect":
        return np.pad(x, width, mode="reflect")
    return np.pad(x, width, mode="edge")  # "replicate"


@_op("reverse")
def _reverse(a: dict[str, Any]) -> np.ndarray:
    x = np.asarray(a["x"])
    return np.flip(x, tuple(_ints(a["axes"]))) if "axes" in a else np.flip(x)


@_op("slice_by_index")
def _slice_by_index(a: dict[str, Any]) -> np.ndarray:
    x = np.asarray(a["x"])
    n = x.ndim
    begin, end = _ints(a["begin"]), _ints(a["end"])
    stride = _ints(a["stride"]) if "stride" in a else [1] * n
    bmask = [bool(v) for v in np.asarray(a.get("begin_mask", [False] * n)).reshape(-1)]
    emask = [bool(v) for v in np.asarray(a.get("end_mask", [False] * n)).reshape(-1)]
    sq = [bool(v) for v in np.asarray(a.get("squeeze_mask", [False] * n)).reshape(-1)]
    idx: list[Any] = []
    for d in range(n):
        if sq[d]:
            idx.append(begin[d])
            continue
        idx.append(slice(None if bmask[d] else begin[d], None if emask[d] else end[d], stride[d]))
    return x[tuple(idx)]


@_op("slice_by_size")
def _slice_by_size(a: dict[str, Any]) -> np.ndarray:
    x = np.asarray(a["x"])
    begin, size = _ints(a["begin"]), _ints(a["size"])
    return x[tuple(slice(b, None if s == -1 else b + s) for b, s in zip(begin, size, strict=True))]


@_op("split")
def _split(a: dict[str, Any]) -> tuple[np.ndarray, ...]:
    x = np.asarray(a["x"])
    axis = int(a["axis"])
    if "split_sizes" in a:
        cuts = np.cumsum(_ints(a["split_sizes"]))[:-1]
        return tuple(np.split(x, cuts, axis=axis))
    return tuple(np.split(x, int(a["num_splits"]), axis=axis))


@_op("tile")
def _tile(a: dict[str, Any]) -> np.ndarray:
    return np.tile(np.asarray(a["x"]), _ints(a["reps"]))


@_op("stack")
def _stack(a: dict[str, Any]) -> np.ndarray:
    values = a["values"] if isinstance(a["values"], list) else [a["values"]]
    return np.stack([np.asarray(v) for v in values], axis=int(a["axis"]))


@_op("expand_dims")
def _expand_dims(a: dict[str, Any]) -> np.ndarray:
    x = np.asarray(a["x"])
    for ax in sorted(_ints(a["axes"])):
        x = np.expand_dims(x, ax)
    return x


@_op("squeeze")
def _squeeze(a: dict[str, Any]) -> np.ndarray:
    x = np.asarray(a["x"])
    return np.squeeze(x, tuple(_ints(a["axes"]))) if "axes" in a else np.squeeze(x)


@_op("batch_norm")
def _batch_norm(a: dict[str, Any]) -> np.ndarray:
    x = _f(a["x"])
    shape = [1, x.shape[1]] + [1] * (x.ndim - 2)

    def p(key: str, default: float) -> np.ndarray:
        return _f(a[key]).reshape(shape) if key in a else np.full(shape, default)

    y = (x - p("mean", 0.0)) / np.sqrt(p("variance", 1.0) + float(a.get("epsilon", 1e-5)))
    return y * p("gamma", 1.0) + p("beta", 0.0)


# ---------------------------------------------------------------- convolution and pooling
def _pads(a: dict[str, Any], spatial: tuple[int, ...], kernel: list[int], strides: list[int], dil: list[int]) -> list[int]:
    """[begin0, end0, begin1, end1] for MIL's pad_type ("valid", "custom", "same", "same_lower")."""
    pad_type = str(a.get("pad_type", "valid"))
    n = len(spatial)
    if pad_type == "valid":
        return [0] * (2 * n)
    if pad_type == "custom":
        return _ints(a["pad"])
    pads: list[int] = []
    for size, k, s, d in zip(spatial, kernel, strides, dil, strict=True):
        out = math.ceil(size / s)
        total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
        small, big = total // 2, total - total // 2
        pads += [big, small] if pad_type == "same_lower" else [small, big]
    return pads


@_op("conv")
def _conv(a: dict[str, Any]) -> np.ndarray:
    x, w = _f(a["x"]), _f(a["weight"])
    h, wd = x.shape[2:]
    oc, icg, kh, kw = w.shape
    strides = _ints(a.get("strides", [1, 1]))
    dil = _ints(a.get("dilations", [1, 1]))
    groups = int(a.get("groups", 1))
    t, b, lft, r = _pads(a, (h, wd), [kh, kw], strides, dil)
    xp = np.pad(x, [(0, 0), (0, 0), (t, b), (lft, r)])
    ekh, ekw = (kh - 1) * dil[0] + 1, (kw - 1) * dil[1] + 1
    win = sliding_window_view(xp, (ekh, ekw), axis=(2, 3))[:, :, :: strides[0], :: strides[1], :: dil[0], :: dil[1]]
    ocg = oc // groups
    outs = []
    for g in range(groups):
        xs = win[:, g * icg : (g + 1) * icg]
        ws = w[g * ocg : (g + 1) * ocg]
        outs.append(np.einsum("nchwij,ocij->nohw", xs, ws))
    y = np.concatenate(outs, axis=1)
    if "bias" in a:
        y = y + _f(a["bias"]).reshape(1, oc, 1, 1)
    return y


def _pool_windows(a: dict[str, Any], fill: float, x: np.ndarray | None = None) -> np.ndarray:
    x = _f(a["x"]) if x is None else x
    k = _ints(a["kernel_sizes"])
    s = _ints(a.get("strides", [1, 1]))
    t, b, lft, r = _pads(a, x.shape[2:], k, s, [1, 1])
    if bool(a.get("ceil_mode", False)):
        for i, (size, lo) in enumerate(zip(x.shape[2:], (t, lft), strict=True)):
            hi = (b, r)[i]
            out = math.ceil((size + lo + hi - k[i]) / s[i]) + 1
            extra = max((out - 1) * s[i] + k[i] - (size + lo + hi), 0)
            if i == 0:
                b += extra
            else:
                r += extra
    xp = np.pad(x, [(0, 0), (0, 0), (t, b), (lft, r)], constant_values=fill)
    return sliding_window_view(xp, tuple(k), axis=(2, 3))[:, :, :: s[0], :: s[1]]


@_op("max_pool")
def _max_pool(a: dict[str, Any]) -> np.ndarray:
    return _pool_windows(a, -np.inf).max(axis=(-2, -1))


@_op("avg_pool")
def _avg_pool(a: dict[str, Any]) -> np.ndarray:
    sums = _pool_windows(a, 0.0).sum(axis=(-2, -1))
    if bool(a.get("exclude_padding_from_average", False)):
        ones = np.ones(np.shape(a["x"]))
        counts = _pool_windows(a, 0.0, ones).sum(axis=(-2, -1))
    else:
        counts = np.full(sums.shape, float(np.prod(_ints(a["kernel_sizes"]))))
    with np.errstate(all="ignore"):
        return sums / counts


@_op("l2_pool")
def _l2_pool(a: dict[str, Any]) -> np.ndarray:
    return np.sqrt(np.sum(np.square(_pool_windows(a, 0.0)), axis=(-2, -1)))


@_op("select")
def _select(a: dict[str, Any]) -> np.ndarray:
    return np.where(np.asarray(a["cond"]).astype(bool), _f(a["a"]), _f(a["b"]))


MIL_EVALUATORS.update({
    "equal": _binary(np.equal),
    "not_equal": _binary(np.not_equal),
    "greater": _binary(np.greater),
    "greater_equal": _binary(np.greater_equal),
    "less": _binary(np.less),
    "less_equal": _binary(np.less_equal),
    "logical_and": _binary(np.logical_and),
    "logical_or": _binary(np.logical_or),
    "logical_xor": _binary(np.logical_xor),
    "logical_not": _unary(np.logical_not),
})


def _indices(a: dict[str, Any], size: int | None = None) -> np.ndarray:
    idx = np.asarray(a["indices"]).astype(np.int64)
    return np.where(idx < 0, idx + size, idx) if size is not None else idx


@_op("gather")
def _gather(a: dict[str, Any]) -> np.ndarray:
    x = np.asarray(a["x"])
    axis = int(a.get("axis", 0)) % x.ndim
    return np.take(x, _indices(a, x.shape[axis]), axis=axis)


@_op("gather_along_axis")
def _gather_along_axis(a: dict[str, Any]) -> np.ndarray:
    x = np.asarray(a["x"])
    axis = int(a.get("axis", 0)) % x.ndim
    return np.take_along_axis(x, _indices(a, x.shape[axis]), axis=axis)


@_op("gather_nd")
def _gather_nd(a: dict[str, Any]) -> np.ndarray:
    x = np.asarray(a["x"])
    idx = _indices(a)
    k = idx.shape[-1]
    idx = np.where(idx < 0, idx + np.asarray(x.shape[:k]), idx)
    return x[tuple(idx[..., i] for i in range(k))]


@_op("scatter_along_axis")
def _scatter_along_axis(a: dict[str, Any]) -> np.ndarray:
    if str(a.get("mode", "add")) != "update":
        raise NotImplementedError(f"mil_reference: scatter mode {a.get('mode')}")
    x = np.array(a["data"], copy=True)
    axis = int(a.get("axis", 0)) % x.ndim
    np.put_along_axis(x, np.asarray(a["indices"]).astype(np.int64) % x.shape[axis], np.asarray(a["updates"]), axis)
    return x


@_op("scatter_nd")
def _scatter_nd(a: dict[str, Any]) -> np.ndarray:
    if str(a.get("mode", "add")) != "update":
        raise NotImplementedError(f"mil_reference: scatter mode {a.get('mode')}")
    x = np.array(a["data"], copy=True)
    idx = np.asarray(a["indices"]).astype(np.int64)
    k = idx.shape[-1]
    idx = idx % np.asarray(x.shape[:k])
    upd = np.asarray(a["updates"])
    flat_idx = idx.reshape(-1, k)
    flat_upd = upd.reshape(flat_idx.shape[0], *x.shape[k:])
    for i, u in zip(flat_idx, flat_upd, strict=True):
        x[tuple(i)] = u
    return x


@_op("conv_transpose")
def _conv_transpose(a: dict[str, Any]) -> np.ndarray:
    x, w = _f(a["x"]), _f(a["weight"])  # w: [C_in, C_out / groups, kH, kW]
    n, cin, h, wd = x.shape
    _, cog, kh, kw = w.shape
    groups = int(a.get("groups", 1))
    s = _ints(a.get("strides", [1, 1]))
    d = _ints(a.get("dilations", [1, 1]))
    t, _b, lft, _r = _ints(a["pad"]) if str(a.get("pad_type", "valid")) == "custom" else [0, 0, 0, 0]
    full_h, full_w = (h - 1) * s[0] + (kh - 1) * d[0] + 1, (wd - 1) * s[1] + (kw - 1) * d[1] + 1
    out_h, out_w = _ints(a["output_shape"])[2:] if "output_shape" in a else (full_h - t - _b, full_w - lft - _r)
    y = np.zeros([n, cog * groups, max(full_h, t + out_h), max(full_w, lft + out_w)])
    cig = cin // groups
    for g in range(groups):
        xs = x[:, g * cig : (g + 1) * cig]
        ws = w[g * cig : (g + 1) * cig]
        for p in range(kh):
            for q in range(kw):
                contrib = np.einsum("nchw,co->nohw", xs, ws[:, :, p, q])
                y[:, g * cog : (g + 1) * cog, p * d[0] : p * d[0] + (h - 1) * s[0] + 1 : s[0],
                  q * d[1] : q * d[1] + (wd - 1) * s[1] + 1 : s[1]] += contrib
    y = y[:, :, t : t + out_h, lft : lft + out_w]
    if "bias" in a:
        y = y + _f(a["bias"]).reshape(1, -1, 1, 1)
    return y


def _linear_weights(size_in: int, size_out: int) -> np.ndarray:
    """[size_out, size_in] half-pixel linear interpolation matrix (edges clamp)."""
    m = np.zeros([size_out, size_in])
    for i in range(size_out):
        src = min(max((i + 0.5) * size_in / size_out - 0.5, 0.0), size_in - 1.0)
        lo = math.floor(src)
        hi = min(lo + 1, size_in - 1)
        m[i, lo] += 1.0 - (src - lo)
        m[i, hi] += src - lo
    return m


@_op("resize_bilinear")
def _resize_bilinear(a: dict[str, Any]) -> np.ndarray:
    if str(a.get("sampling_mode", "DEFAULT")) != "UNALIGN_CORNERS":
        raise NotImplementedError(f"mil_reference: resize_bilinear sampling_mode {a.get('sampling_mode')}")
    x = _f(a["x"])
    oh, ow = int(a["target_size_height"]), int(a["target_size_width"])
    mh, mw = _linear_weights(x.shape[-2], oh), _linear_weights(x.shape[-1], ow)
    return np.einsum("ih,...hw,jw->...ij", mh, x, mw)


@_op("upsample_nearest_neighbor")
def _upsample_nearest(a: dict[str, Any]) -> np.ndarray:
    x = np.asarray(a["x"])
    x = np.repeat(x, int(a.get("scale_factor_height", 1)), axis=-2)
    return np.repeat(x, int(a.get("scale_factor_width", 1)), axis=-1)


@_op("cast")
def _cast(a: dict[str, Any]) -> np.ndarray:
    # the declared output type does the conversion; float -> int truncates toward zero
    x = np.asarray(a["x"])
    return np.trunc(x) if x.dtype.kind == "f" and str(a["dtype"]).startswith(("int", "uint")) else x
