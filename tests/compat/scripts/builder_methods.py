# pywebnn-style script: every MLGraphBuilder method of pywebnn 0.5.12, called in pywebnn's
# keyword form, checked against numpy (float64 reference, float32 tolerance).
import math

import numpy as np

import webnnc as webnn

rng = np.random.default_rng(2)
X = (rng.random([1, 2, 3, 4]) + 0.1).astype(np.float32)  # positive: log, sqrt, pow
S = rng.standard_normal([1, 2, 3, 4]).astype(np.float32)  # signed
context = webnn.ML().create_context(device_type="cpu")


def erf(v):
    return np.vectorize(math.erf)(v)


def run(build, *, data=X):
    builder = context.create_graph_builder()
    x = builder.input("x", list(data.shape), "float32")
    graph = builder.build({"out": build(builder, x)})
    return context.compute(graph, {"x": data})["out"]


def const(builder, array):
    return builder.constant(np.asarray(array))


CASES = {
    # one input, pywebnn's `x=` keyword
    "abs": (lambda b, x: b.abs(x=x), lambda v: np.abs(v), S),
    "ceil": (lambda b, x: b.ceil(x=x), np.ceil, S),
    "cos": (lambda b, x: b.cos(x=x), np.cos, S),
    "erf": (lambda b, x: b.erf(x=x), erf, S),
    "exp": (lambda b, x: b.exp(x=x), np.exp, S),
    "floor": (lambda b, x: b.floor(x=x), np.floor, S),
    "identity": (lambda b, x: b.identity(x=x), lambda v: v, S),
    "log": (lambda b, x: b.log(x=x), np.log, X),
    "neg": (lambda b, x: b.neg(x=x), np.negative, S),
    "reciprocal": (lambda b, x: b.reciprocal(x=x), lambda v: 1 / v, X),
    "relu": (lambda b, x: b.relu(x=x), lambda v: np.maximum(v, 0), S),
    "sigmoid": (lambda b, x: b.sigmoid(x=x), lambda v: 1 / (1 + np.exp(-v)), S),
    "sign": (lambda b, x: b.sign(x=x), np.sign, S),
    "sin": (lambda b, x: b.sin(x=x), np.sin, S),
    "sqrt": (lambda b, x: b.sqrt(x=x), np.sqrt, X),
    "tan": (lambda b, x: b.tan(x=x), np.tan, S),
    "tanh": (lambda b, x: b.tanh(x=x), np.tanh, S),
    "softmax": (lambda b, x: b.softmax(x=x, axis=3), lambda v: np.exp(v) / np.exp(v).sum(3, keepdims=True), S),
    "reshape": (lambda b, x: b.reshape(x=x, new_shape=[6, 4]), lambda v: v.reshape(6, 4), S),
    # activations with options
    "elu": (lambda b, x: b.elu(input=x, alpha=0.5), lambda v: np.where(v >= 0, v, 0.5 * (np.exp(v) - 1)), S),
    "gelu": (lambda b, x: b.gelu(input=x), lambda v: 0.5 * v * (1 + erf(v / np.sqrt(2))), S),
    "hard_sigmoid": (lambda b, x: b.hard_sigmoid(input=x, alpha=0.2, beta=0.5), lambda v: np.clip(0.2 * v + 0.5, 0, 1), S),
    "hard_swish": (lambda b, x: b.hard_swish(input=x), lambda v: v * np.clip(v / 6 + 0.5, 0, 1), S),
    "leaky_relu": (lambda b, x: b.leaky_relu(input=x, alpha=0.1), lambda v: np.where(v >= 0, v, 0.1 * v), S),
    "softplus": (lambda b, x: b.softplus(input=x), lambda v: np.log1p(np.exp(v)), S),
    "softsign": (lambda b, x: b.softsign(input=x), lambda v: v / (1 + np.abs(v)), S),
    "prelu": (lambda b, x: b.prelu(input=x, slope=const(b, np.full([4], 0.25, np.float32))), lambda v: np.where(v >= 0, v, 0.25 * v), S),
    "clamp": (lambda b, x: b.clamp(input=x, min_value=-0.5, max_value=0.5), lambda v: np.clip(v, -0.5, 0.5), S),
    # binary
    "add": (lambda b, x: b.add(a=x, b=x), lambda v: v + v, S),
    "sub": (lambda b, x: b.sub(x, const(b, np.float32(1))), lambda v: v - 1, S),
    "mul": (lambda b, x: b.mul(x, x), lambda v: v * v, S),
    "div": (lambda b, x: b.div(x, const(b, np.float32(2))), lambda v: v / 2, S),
    "matmul": (lambda b, x: b.matmul(a=x, b=const(b, np.eye(4, dtype=np.float32))), lambda v: v, S),
    "gemm": (lambda b, x: b.gemm(a=b.reshape(x, [6, 4]), b=const(b, np.ones([3, 4], np.float32)), c=None, alpha=2.0, beta=1.0, a_transpose=False, b_transpose=True),
             lambda v: 2 * v.reshape(6, 4) @ np.ones([4, 3]), S),
    # comparisons and logic (uint8 results)
    "equal": (lambda b, x: b.cast(b.equal(x, x), "float32"), lambda v: np.ones_like(v), S),
    "greater": (lambda b, x: b.cast(b.greater(x, const(b, np.float32(0))), "float32"), lambda v: (v > 0).astype(float), S),
    "greater_or_equal": (lambda b, x: b.cast(b.greater_or_equal(x, const(b, np.float32(0))), "float32"), lambda v: (v >= 0).astype(float), S),
    "lesser": (lambda b, x: b.cast(b.lesser(x, const(b, np.float32(0))), "float32"), lambda v: (v < 0).astype(float), S),
    "lesser_or_equal": (lambda b, x: b.cast(b.lesser_or_equal(x, const(b, np.float32(0))), "float32"), lambda v: (v <= 0).astype(float), S),
    "logical_and": (lambda b, x: b.cast(b.logical_and(b.greater(x, const(b, np.float32(0))), b.lesser(x, const(b, np.float32(1)))), "float32"),
                    lambda v: ((v > 0) & (v < 1)).astype(float), S),
    "logical_or": (lambda b, x: b.cast(b.logical_or(b.greater(x, const(b, np.float32(1))), b.lesser(x, const(b, np.float32(-1)))), "float32"),
                   lambda v: ((v > 1) | (v < -1)).astype(float), S),
    "logical_xor": (lambda b, x: b.cast(b.logical_xor(b.greater(x, const(b, np.float32(0))), b.greater(x, const(b, np.float32(1)))), "float32"),
                    lambda v: ((v > 0) ^ (v > 1)).astype(float), S),
    "logical_not": (lambda b, x: b.cast(b.logical_not(x=b.greater(x, const(b, np.float32(0)))), "float32"), lambda v: (v <= 0).astype(float), S),
    "where_": (lambda b, x: b.where_(condition=b.greater(x, const(b, np.float32(0))), true_value=x, false_value=b.neg(x)), np.abs, S),
    "cast": (lambda b, x: b.cast(b.cast(input=x, data_type="int32"), data_type="float32"), np.trunc, S),
    # reductions
    "reduce_l1": (lambda b, x: b.reduce_l1(input=x, axes=[3], keep_dimensions=False), lambda v: np.abs(v).sum(3), S),
    "reduce_l2": (lambda b, x: b.reduce_l2(input=x, axes=[3], keep_dimensions=True), lambda v: np.sqrt((v * v).sum(3, keepdims=True)), S),
    "reduce_log_sum": (lambda b, x: b.reduce_log_sum(input=x, axes=[3]), lambda v: np.log(v.sum(3)), X),
    "reduce_log_sum_exp": (lambda b, x: b.reduce_log_sum_exp(input=x, axes=[3]), lambda v: np.log(np.exp(v).sum(3)), S),
    "reduce_max": (lambda b, x: b.reduce_max(input=x, axes=[1, 2]), lambda v: v.max((1, 2)), S),
    "reduce_mean": (lambda b, x: b.reduce_mean(input=x, axes=[3]), lambda v: v.mean(3), S),
    "reduce_min": (lambda b, x: b.reduce_min(input=x, axes=[3]), lambda v: v.min(3), S),
    "reduce_product": (lambda b, x: b.reduce_product(input=x, axes=[3]), lambda v: v.prod(3), S),
    "reduce_sum": (lambda b, x: b.reduce_sum(input=x, axes=[0, 3]), lambda v: v.sum((0, 3)), S),
    "reduce_sum_square": (lambda b, x: b.reduce_sum_square(input=x, axes=[3]), lambda v: (v * v).sum(3), S),
    "arg_max": (lambda b, x: b.cast(b.arg_max(input=x, axis=3, keep_dimensions=False, output_data_type="int32"), "float32"), lambda v: v.argmax(3), S),
    "arg_min": (lambda b, x: b.cast(b.arg_min(input=x, axis=3, keep_dimensions=False, output_data_type="int32"), "float32"), lambda v: v.argmin(3), S),
    # layout and data movement
    "concat": (lambda b, x: b.concat(inputs=[x, x], axis=1), lambda v: np.concatenate([v, v], 1), S),
    "expand": (lambda b, x: b.expand(input=x, new_shape=[2, 2, 3, 4]), lambda v: np.broadcast_to(v, [2, 2, 3, 4]), S),
    "gather": (lambda b, x: b.gather(input=x, indices=const(b, np.array([2, 0], np.int32)), axis=3), lambda v: v[..., [2, 0]], S),
    "pad": (lambda b, x: b.pad(input=x, padding=[0, 0, 1, 0, 0, 0, 0, 2], mode="constant", value=0.0), lambda v: np.pad(v, ((0, 0), (0, 0), (1, 0), (0, 2))), S),
    "slice": (lambda b, x: b.slice(input=x, starts=[0, 1, 0, 1], sizes=[1, 1, 2, 2], strides=None), lambda v: v[:, 1:2, 0:2, 1:3], S),
    "split": (lambda b, x: b.split(input=x, splits=2, axis=3)[1], lambda v: v[..., 2:], S),
    "squeeze": (lambda b, x: b.squeeze(input=x, axes=[0]), lambda v: v[0], S),
    "unsqueeze": (lambda b, x: b.unsqueeze(input=x, axes=[0]), lambda v: v[None], S),
    "tile": (lambda b, x: b.tile(input=x, repetitions=[1, 1, 1, 2]), lambda v: np.tile(v, [1, 1, 1, 2]), S),
    "transpose": (lambda b, x: b.transpose(input=x, permutation=[0, 3, 1, 2]), lambda v: v.transpose(0, 3, 1, 2), S),
    "triangular": (lambda b, x: b.triangular(input=x, upper=True, diagonal=0), lambda v: np.triu(v), S),
    "scatter_elements": (lambda b, x: b.scatter_elements(input=x, indices=const(b, np.zeros([1, 2, 3, 1], np.int32)), updates=b.slice(x, [0, 0, 0, 3], [1, 2, 3, 1]), axis=3),
                         lambda v: np.concatenate([v[..., 3:], v[..., 1:]], 3), S),
    "scatter_nd": (lambda b, x: b.scatter_nd(input=x, indices=const(b, np.array([[0, 1]], np.int32)), updates=const(b, np.zeros([1, 3, 4], np.float32))),
                   lambda v: np.concatenate([v[:, :1], np.zeros([1, 1, 3, 4])], 1), S),
    # normalization, pooling, convolution
    "batch_normalization": (lambda b, x: b.batch_normalization(input=x, mean=const(b, np.float32([0, 1])), variance=const(b, np.float32([1, 4])), scale=None, bias=None, epsilon=1e-5, axis=1),
                            lambda v: (v - np.array([0, 1]).reshape(1, 2, 1, 1)) / np.sqrt(np.array([1, 4]).reshape(1, 2, 1, 1) + 1e-5), S),
    "instance_normalization": (lambda b, x: b.instance_normalization(input=x, scale=None, bias=None, epsilon=1e-5, layout="nchw"),
                               lambda v: (v - v.mean((2, 3), keepdims=True)) / np.sqrt(v.var((2, 3), keepdims=True) + 1e-5), S),
    "layer_normalization": (lambda b, x: b.layer_normalization(input=x, scale=None, bias=None, epsilon=1e-5, axes=[3]),
                            lambda v: (v - v.mean(3, keepdims=True)) / np.sqrt(v.var(3, keepdims=True) + 1e-5), S),
    "average_pool2d": (lambda b, x: b.average_pool2d(input=x, window_dimensions=[3, 4], strides=None, dilations=None, pads=None, layout="nchw"), lambda v: v.mean((2, 3), keepdims=True), S),
    "max_pool2d": (lambda b, x: b.max_pool2d(input=x, window_dimensions=[3, 4], pads=[0, 0, 0, 0], layout="nchw"), lambda v: v.max((2, 3), keepdims=True), S),
    "global_average_pool": (lambda b, x: b.global_average_pool(input=x, layout=None), lambda v: v.mean((2, 3), keepdims=True), S),
    "global_max_pool": (lambda b, x: b.global_max_pool(input=x, layout="nchw"), lambda v: v.max((2, 3), keepdims=True), S),
    "conv2d": (lambda b, x: b.conv2d(input=x, filter=const(b, np.ones([1, 2, 1, 1], np.float32)), strides=None, dilations=None, pads=None, groups=1, input_layout="nchw", filter_layout="oihw", bias=None),
               lambda v: v.sum(1, keepdims=True), S),
    "conv_transpose2d": (lambda b, x: b.conv_transpose2d(input=x, filter=const(b, np.ones([2, 1, 1, 1], np.float32)), strides=None, pads=None, groups=1, input_layout="nchw", filter_layout="iohw"),
                         lambda v: v.sum(1, keepdims=True), S),
    # quantization
    "quantize_linear": (lambda b, x: b.cast(b.quantize_linear(input=x, scale=const(b, np.full([1, 1, 1, 1], 0.1, np.float32)), zero_point=const(b, np.zeros([1, 1, 1, 1], np.int8))), "float32"),
                        lambda v: np.clip(np.round(v / np.float32(0.1)), -128, 127), S),
    "dequantize_linear": (lambda b, x: b.add(x, b.dequantize_linear(input=const(b, np.int8([1, 2, 3, 4])), scale=const(b, np.float32([0.5])), zero_point=const(b, np.int8([0])))),
                          lambda v: v + np.array([0.5, 1, 1.5, 2]), S),
}

for name, (build, reference, data) in CASES.items():
    got = run(build, data=data)
    want = reference(data.astype(np.float64))
    np.testing.assert_allclose(np.asarray(got, np.float64), want, rtol=1e-4, atol=1e-5, err_msg=name)
print("ok", len(CASES))
