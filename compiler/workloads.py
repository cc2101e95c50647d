"""The reference workloads W1-W3 as builder functions.

Each function takes a builder (webnnc's, or any builder with pywebnn's API) and returns the
``{name: operand}`` dict to pass to ``build()``, so the same code drives webnnc, the tests,
the benchmarks and the peer implementation.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["INPUT_SHAPE", "MOBILENET_V2_BLOCKS", "WORKLOADS", "w1_simple", "w2_complex", "w3_mobilenet_v2"]

INPUT_SHAPE = [1, 3, 224, 224]

# (expansion t, output channels c, stride s) for MobileNetV2's 17 inverted-residual blocks.
MOBILENET_V2_BLOCKS: tuple[tuple[int, int, int], ...] = (
    (1, 16, 1),
    (6, 24, 2), (6, 24, 1),
    (6, 32, 2), (6, 32, 1), (6, 32, 1),
    (6, 64, 2), (6, 64, 1), (6, 64, 1), (6, 64, 1),
    (6, 96, 1), (6, 96, 1), (6, 96, 1),
    (6, 160, 2), (6, 160, 1), (6, 160, 1),
    (6, 320, 1),
)


def w1_simple(builder: Any) -> dict[str, Any]:
    """W1: 10 x (add the input, relu) on a [1,3,224,224] float32 input."""
    inp = builder.input("input", INPUT_SHAPE, "float32")
    x = inp
    for _ in range(10):
        x = builder.relu(builder.add(x, inp))
    return {"output": x}


def w2_complex(builder: Any) -> dict[str, Any]:
    """W2: 50 x (x+x, relu, x*x, relu), then global average pool -> [1,3,1,1].

    Values grow doubly exponentially and overflow to +inf for most inputs; that is the
    workload as specified.
    """
    x = builder.input("input", INPUT_SHAPE, "float32")
    for _ in range(50):
        x = builder.add(x, x)
        x = builder.relu(x)
        x = builder.mul(x, x)
        x = builder.relu(x)
    return {"output": builder.global_average_pool(x)}


def w3_mobilenet_v2(builder: Any, *, seed: int = 0) -> dict[str, Any]:
    """W3: MobileNetV2 (batch 1, 224x224, NCHW) with seeded random weights.

    Biases are separate adds of [1,C,1,1] constants; activations are clamp(0, 6).
    """
    rng = np.random.default_rng(seed)

    def weights(shape: list[int], fan_in: int) -> Any:
        w = rng.standard_normal(shape).astype(np.float32) * np.float32(np.sqrt(2.0 / fan_in))
        return builder.constant(w)

    def bias(c: int) -> Any:
        return builder.constant((rng.standard_normal([1, c, 1, 1]) * 0.01).astype(np.float32))

    def conv(x: Any, c_in: int, c_out: int, k: int, stride: int = 1, groups: int = 1) -> Any:
        pad = k // 2
        w = weights([c_out, c_in // groups, k, k], (c_in // groups) * k * k)
        y = builder.conv2d(x, w, padding=[pad, pad, pad, pad], strides=[stride, stride], groups=groups)
        return builder.add(y, bias(c_out))

    def relu6(x: Any) -> Any:
        return builder.clamp(x, min_value=0.0, max_value=6.0)

    x = builder.input("input", INPUT_SHAPE, "float32")
    x = relu6(conv(x, 3, 32, 3, stride=2))
    c_in = 32
    for t, c, s in MOBILENET_V2_BLOCKS:
        hidden = c_in * t
        y = x
        if t != 1:
            y = relu6(conv(y, c_in, hidden, 1))
        y = relu6(conv(y, hidden, hidden, 3, stride=s, groups=hidden))
        y = conv(y, hidden, c, 1)
        if s == 1 and c_in == c:
            y = builder.add(y, x)
        x = y
        c_in = c
    x = relu6(conv(x, c_in, 1280, 1))
    x = builder.global_average_pool(x)
    x = builder.reshape(x, [1, 1280])
    fc_w = builder.constant((rng.standard_normal([1000, 1280]) * np.sqrt(1.0 / 1280)).astype(np.float32))
    fc_b = builder.constant((rng.standard_normal([1000]) * 0.01).astype(np.float32))
    x = builder.gemm(x, fc_w, fc_b, b_transpose=True)
    return {"output": builder.softmax(x, 1)}


WORKLOADS = {"w1": w1_simple, "w2": w2_complex, "w3": w3_mobilenet_v2}
