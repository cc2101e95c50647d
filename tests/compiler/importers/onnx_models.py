"""Small but architecturally faithful ONNX models, built with onnx.helper (no downloads).

Each factory returns an ``onnx.ModelProto`` with random (seeded) weights and a few channels, so
the importer sees the real operator patterns of each family while tests stay fast:

- ResNet: conv-BN-relu stem, max pool, basic residual blocks (identity and 1x1-projection
  shortcuts), global average pool, flatten, Gemm.
- DenseNet: dense blocks (BN-relu-conv, concat growth) and a transition (conv + average pool).
- Inception: parallel 1x1 / 3x3 / 5x5 / pool-projection branches concatenated on channels.
- SqueezeNet: fire modules (squeeze 1x1, expand 1x1 + 3x3, concat), ceil-mode max pool,
  dropout, global average pool, softmax.
- ShuffleNet (v1): grouped 1x1 convs, channel shuffle (reshape-transpose-reshape), depthwise
  3x3, stride-2 units concatenating an average-pooled shortcut.
- VGG: stacked 3x3 conv-relu, max pools, flatten, Gemm-relu-dropout-Gemm, softmax.
- BERT encoder layer: an int64 attention mask turned into an additive bias (Unsqueeze, Cast,
  Sub, Mul), Q/K/V MatMul+Add, multi-head reshape/transpose, scaled QK^T with an
  additive mask, softmax, context, output projection, residual + LayerNormalization, GELU
  feed-forward (Erf form, as exported by PyTorch), residual + LayerNormalization; plus the
  Shape/Gather/Concat subgraphs that exporters emit for the head reshapes.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17


class _Net:
    """A tiny graph-building helper around onnx.helper with fresh names and seeded weights."""

    def __init__(self, name: str, seed: int = 0, opset: int = OPSET) -> None:
        self.name = name
        self.opset = opset
        self.rng = np.random.default_rng(seed)
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.inputs: list[onnx.ValueInfoProto] = []
        self.count = 0

    def fresh(self, hint: str) -> str:
        self.count += 1
        return f"{hint}_{self.count}"

    def input(self, name: str, shape: Sequence[int | str], elem: int = TensorProto.FLOAT) -> str:
        self.inputs.append(helper.make_tensor_value_info(name, elem, list(shape)))
        return name

    def const(self, array: np.ndarray, hint: str = "w") -> str:
        name = self.fresh(hint)
        self.inits.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def weight(self, shape: Sequence[int], scale: float | None = None) -> str:
        fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else int(shape[0])
        s = scale if scale is not None else 1.0 / np.sqrt(max(fan_in, 1))
        return self.const((self.rng.standard_normal(shape) * s).astype(np.float32))

    def op(self, op_type: str, inputs: Sequence[str], n_out: int = 1, **attrs: object) -> list[str]:
        outs = [self.fresh(op_type.lower()) for _ in range(n_out)]
        self.nodes.append(helper.make_node(op_type, list(inputs), outs, name=self.fresh(op_type), **attrs))
        return outs

    def op1(self, op_type: str, inputs: Sequence[str], **attrs: object) -> str:
        return self.op(op_type, inputs, **attrs)[0]

    # -- common blocks
    def conv(self, x: str, cin: int, cout: int, k: int, stride: int = 1, pad: int | None = None,
             group: int = 1, bias: bool = True) -> str:
        p = k // 2 if pad is None else pad
        ins = [x, self.weight([cout, cin // group, k, k])]
        if bias:
            ins.append(self.const((self.rng.standard_normal(cout) * 0.1).astype(np.float32), "b"))
        return self.op1("Conv", ins, kernel_shape=[k, k], strides=[stride, stride],
                        pads=[p, p, p, p], group=group)

    def bn(self, x: str, c: int) -> str:
        r = self.rng
        scale = self.const((1 + 0.1 * r.standard_normal(c)).astype(np.float32), "gamma")
        bias = self.const((0.1 * r.standard_normal(c)).astype(np.float32), "beta")
        mean = self.const((0.1 * r.standard_normal(c)).astype(np.float32), "mean")
        var = self.const((0.5 + r.random(c)).astype(np.float32), "var")
        return self.op1("BatchNormalization", [x, scale, bias, mean, var], epsilon=1e-5)

    def conv_bn_relu(self, x: str, cin: int, cout: int, k: int, stride: int = 1, group: int = 1) -> str:
        return self.op1("Relu", [self.bn(self.conv(x, cin, cout, k, stride, group=group, bias=False), cout)])

    def model(self, outputs: Sequence[tuple[str, Sequence[int]]]) -> onnx.ModelProto:
        outs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, list(s)) for n, s in outputs]
        graph = helper.make_graph(self.nodes, self.name, self.inputs, outs, self.inits)
        m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", self.opset)],
                              producer_name="webnnc-tests")
        m.ir_version = 8
        onnx.checker.check_model(m)
        return m


def resnet(batch: int = 1, size: int = 16, opset: int = OPSET) -> onnx.ModelProto:
    n = _Net("resnet", seed=1, opset=opset)
    x = n.input("input", [batch, 3, size, size])
    y = n.conv_bn_relu(x, 3, 8, 3, stride=2)
    y = n.op1("MaxPool", [y], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    for cin, cout, stride in ((8, 8, 1), (8, 16, 2)):
        h = n.conv_bn_relu(y, cin, cout, 3, stride)
        h = n.bn(n.conv(h, cout, cout, 3, bias=False), cout)
        short = y if (cin == cout and stride == 1) else n.bn(n.conv(y, cin, cout, 1, stride, pad=0, bias=False), cout)
        y = n.op1("Relu", [n.op1("Add", [h, short])])
    y = n.op1("GlobalAveragePool", [y])
    y = n.op1("Flatten", [y], axis=1)
    logits = n.op1("Gemm", [y, n.weight([10, 16]), n.const(np.zeros(10, np.float32))], transB=1)
    return n.model([(logits, [batch, 10])])


def densenet(size: int = 12) -> onnx.ModelProto:
    n = _Net("densenet", seed=2)
    x = n.input("input", [1, 3, size, size])
    y = n.conv(x, 3, 8, 3)
    c, growth = 8, 4
    for _ in range(3):
        h = n.op1("Relu", [n.bn(y, c)])
        h = n.conv(h, c, 2 * growth, 1, pad=0, bias=False)
        h = n.op1("Relu", [n.bn(h, 2 * growth)])
        h = n.conv(h, 2 * growth, growth, 3, bias=False)
        y = n.op1("Concat", [y, h], axis=1)
        c += growth
    y = n.conv(n.op1("Relu", [n.bn(y, c)]), c, c // 2, 1, pad=0, bias=False)
    y = n.op1("AveragePool", [y], kernel_shape=[2, 2], strides=[2, 2])
    y = n.op1("ReduceMean", [y], axes=[2, 3], keepdims=0)
    return n.model([(y, [1, c // 2])])


def inception(size: int = 12) -> onnx.ModelProto:
    n = _Net("inception", seed=3)
    x = n.input("input", [1, 8, size, size])
    b1 = n.op1("Relu", [n.conv(x, 8, 4, 1, pad=0)])
    b2 = n.op1("Relu", [n.conv(n.op1("Relu", [n.conv(x, 8, 4, 1, pad=0)]), 4, 6, 3)])
    b3 = n.op1("Relu", [n.conv(n.op1("Relu", [n.conv(x, 8, 2, 1, pad=0)]), 2, 4, 5)])
    p = n.op1("MaxPool", [x], kernel_shape=[3, 3], strides=[1, 1], pads=[1, 1, 1, 1])
    b4 = n.op1("Relu", [n.conv(p, 8, 2, 1, pad=0)])
    y = n.op1("Concat", [b1, b2, b3, b4], axis=1)
    # an Inception-v3 style factorized 1x7 / 7x1 pair, and an asymmetric-stride reduction
    w17 = n.weight([4, 16, 1, 3])
    w71 = n.weight([4, 4, 3, 1])
    f = n.op1("Conv", [y, w17], kernel_shape=[1, 3], pads=[0, 1, 0, 1])
    f = n.op1("Conv", [n.op1("Relu", [f]), w71], kernel_shape=[3, 1], pads=[1, 0, 1, 0])
    y = n.op1("Concat", [y, n.op1("Relu", [f])], axis=1)
    y = n.op1("AveragePool", [y], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], count_include_pad=1)
    return n.model([(y, [1, 20, size // 2, size // 2])])


def squeezenet(size: int = 17) -> onnx.ModelProto:
    n = _Net("squeezenet", seed=4)
    x = n.input("input", [1, 3, size, size])
    y = n.op1("Relu", [n.conv(x, 3, 8, 3, stride=2, pad=0)])
    y = n.op1("MaxPool", [y], kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1)
    c = 8
    for squeeze, expand in ((4, 8), (4, 8)):
        s = n.op1("Relu", [n.conv(y, c, squeeze, 1, pad=0)])
        e1 = n.op1("Relu", [n.conv(s, squeeze, expand, 1, pad=0)])
        e3 = n.op1("Relu", [n.conv(s, squeeze, expand, 3)])
        y = n.op1("Concat", [e1, e3], axis=1)
        c = 2 * expand
    y = n.op1("Dropout", [y])
    y = n.op1("Relu", [n.conv(y, c, 10, 1, pad=0)])
    y = n.op1("GlobalAveragePool", [y])
    y = n.op1("Flatten", [y])
    y = n.op1("Softmax", [y], axis=1)
    return n.model([(y, [1, 10])])


def _shuffle(n: _Net, x: str, groups: int, c: int, hw: int) -> str:
    y = n.op1("Reshape", [x, n.const(np.array([1, groups, c // groups, hw, hw], np.int64), "shape")])
    y = n.op1("Transpose", [y], perm=[0, 2, 1, 3, 4])
    return n.op1("Reshape", [y, n.const(np.array([1, -1, hw, hw], np.int64), "shape")])


def shufflenet(size: int = 16) -> onnx.ModelProto:
    n = _Net("shufflenet", seed=5)
    g = 2
    x = n.input("input", [1, 3, size, size])
    y = n.conv_bn_relu(x, 3, 8, 3, stride=2)
    hw, c = size // 2, 8
    for cout, stride in ((16, 2), (16, 1)):
        branch_out = cout - c if stride == 2 else cout
        mid = 8
        h = n.conv_bn_relu(y, c, mid, 1, group=g)
        h = _shuffle(n, h, g, mid, hw)
        h = n.bn(n.conv(h, mid, mid, 3, stride=stride, group=mid, bias=False), mid)
        out_hw = hw // stride
        h = n.bn(n.conv(h, mid, branch_out, 1, pad=0, group=g, bias=False), branch_out)
        if stride == 2:
            s = n.op1("AveragePool", [y], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
            y = n.op1("Relu", [n.op1("Concat", [s, h], axis=1)])
        else:
            y = n.op1("Relu", [n.op1("Add", [y, h])])
        hw, c = out_hw, cout
    y = n.op1("GlobalAveragePool", [y])
    y = n.op1("Reshape", [y, n.const(np.array([0, -1], np.int64), "shape")])
    return n.model([(y, [1, c])])


def vgg(size: int = 16, opset: int = OPSET) -> onnx.ModelProto:
    n = _Net("vgg", seed=6, opset=opset)
    x = n.input("input", [1, 3, size, size])
    y, c = x, 3
    for cout, reps in ((8, 2), (16, 2)):
        for _ in range(reps):
            y = n.op1("Relu", [n.conv(y, c, cout, 3)])
            c = cout
        y = n.op1("MaxPool", [y], kernel_shape=[2, 2], strides=[2, 2])
    y = n.op1("Flatten", [y])
    feat = c * (size // 4) ** 2
    y = n.op1("Relu", [n.op1("Gemm", [y, n.weight([feat, 32]), n.const(np.zeros(32, np.float32))])])
    y = n.op1("Dropout", [y])
    y = n.op1("Gemm", [y, n.weight([10, 32]), n.weight([10], 0.1)], transB=1, alpha=1.0, beta=1.0)
    y = n.op1("Softmax", [y], axis=1)
    return n.model([(y, [1, 10])])


def bert_encoder_layer(seq: int = 8, hidden: int = 16, heads: int = 2, ffn: int = 32,
                       dynamic: bool = False) -> onnx.ModelProto:
    """One post-LN BERT encoder layer with an additive attention mask."""
    n = _Net("bert_layer", seed=7)
    head = hidden // heads
    batch_dim: int | str = "batch" if dynamic else 1
    seq_dim: int | str = "sequence" if dynamic else seq
    x = n.input("hidden_states", [batch_dim, seq_dim, hidden])
    mask = n.input("attention_mask", [batch_dim, seq_dim], TensorProto.INT64)
    # HF-style extended mask: (1 - float(mask[:, None, None, :])) * -10000
    ext = n.op1("Cast", [n.op1("Unsqueeze", [mask, n.const(np.array([1, 2], np.int64), "axes")])],
                to=TensorProto.FLOAT)
    mask_bias = n.op1("Mul", [n.op1("Sub", [n.const(np.array(1.0, np.float32), "one"), ext]),
                              n.const(np.array(-10000.0, np.float32), "neg")])

    def linear(t: str, cin: int, cout: int) -> str:
        return n.op1("Add", [n.op1("MatMul", [t, n.weight([cin, cout])]), n.weight([cout], 0.1)])

    # exporter-style dynamic reshape target: Concat(Shape(x)[0:2], [heads, head])
    shape = n.op1("Shape", [x])
    b_s = n.op1("Slice", [shape, n.const(np.array([0], np.int64), "s"), n.const(np.array([2], np.int64), "e")])
    split_shape = n.op1("Concat", [b_s, n.const(np.array([heads, head], np.int64), "hh")], axis=0)

    def heads_of(t: str) -> str:
        r = n.op1("Reshape", [t, split_shape])
        return n.op1("Transpose", [r], perm=[0, 2, 1, 3])

    q, k, v = (heads_of(linear(x, hidden, hidden)) for _ in range(3))
    kt = n.op1("Transpose", [k], perm=[0, 1, 3, 2])
    scores = n.op1("Div", [n.op1("MatMul", [q, kt]), n.const(np.array(np.sqrt(head), np.float32), "scale")])
    scores = n.op1("Add", [scores, mask_bias])
    probs = n.op1("Softmax", [scores], axis=-1)
    ctx = n.op1("Transpose", [n.op1("MatMul", [probs, v])], perm=[0, 2, 1, 3])
    merged_shape = n.op1("Concat", [b_s, n.const(np.array([hidden], np.int64), "h")], axis=0)
    ctx = n.op1("Reshape", [ctx, merged_shape])
    attn = linear(ctx, hidden, hidden)

    def layer_norm(t: str) -> str:
        gamma = n.const((1 + 0.1 * n.rng.standard_normal(hidden)).astype(np.float32), "ln_g")
        beta = n.const((0.1 * n.rng.standard_normal(hidden)).astype(np.float32), "ln_b")
        return n.op1("LayerNormalization", [t, gamma, beta], axis=-1, epsilon=1e-12)

    h1 = layer_norm(n.op1("Add", [attn, x]))
    f = linear(h1, hidden, ffn)
    # GELU, erf form: 0.5 * f * (1 + erf(f / sqrt(2)))
    erf = n.op1("Erf", [n.op1("Div", [f, n.const(np.array(np.sqrt(2.0), np.float32), "sqrt2")])])
    gelu = n.op1("Mul", [n.op1("Mul", [f, n.const(np.array(0.5, np.float32), "half")]),
                         n.op1("Add", [erf, n.const(np.array(1.0, np.float32), "one")])])
    out = layer_norm(n.op1("Add", [linear(gelu, ffn, hidden), h1]))
    return n.model([(out, [batch_dim, seq_dim, hidden])])


ARCHITECTURES = {
    "resnet": resnet,
    "densenet": densenet,
    "inception": inception,
    "squeezenet": squeezenet,
    "shufflenet": shufflenet,
    "vgg": vgg,
    "bert_encoder_layer": bert_encoder_layer,
}
