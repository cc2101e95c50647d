"""An eager float64 numpy implementation of the builder API, used as an independent reference.

The workload functions in ``webnnc.compiler.workloads`` accept any builder with pywebnn's API;
running them with :class:`NumpyBuilder` evaluates the same graph (same seeded weights) in float64
with straightforward numpy code that shares nothing with webnnc's compiler or ONNX Runtime.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = ["NumpyBuilder"]


class NumpyBuilder:
    """Evaluates builder calls immediately in float64; inputs are supplied up front."""

    def __init__(self, inputs: dict[str, np.ndarray]) -> None:
        self._inputs = inputs

    def input(self, name: str, shape: Any, data_type: str = "float32") -> np.ndarray:
        x = np.asarray(self._inputs[name], dtype=np.float64)
        assert list(x.shape) == list(shape)
        return x

    def constant(self, value: Any, shape: Any = None, data_type: Any = None) -> np.ndarray:
        arr = np.asarray(value, dtype=np.float64)
        return np.full(shape, arr) if shape is not None and arr.size == 1 else arr

    def add(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore", invalid="ignore"):
            return a + b

    def mul(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore", invalid="ignore"):
            return a * b

    def relu(self, x: np.ndarray) -> np.ndarray:
        return np.maximum(x, 0.0)

    def clamp(self, x: np.ndarray, min_value: float = -np.inf, max_value: float = np.inf) -> np.ndarray:
        return np.clip(x, min_value, max_value)

    def conv2d(
        self, x: np.ndarray, w: np.ndarray, padding: Any = (0, 0, 0, 0), strides: Any = (1, 1), groups: int = 1
    ) -> np.ndarray:
        oc, icg, kh, kw = w.shape
        xp = np.pad(x, ((0, 0), (0, 0), (padding[0], padding[1]), (padding[2], padding[3])))
        win = sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, :: strides[0], :: strides[1]]
        # win: [n, c, oh, ow, kh, kw]
        outs = []
        ocg = oc // groups
        for g in range(groups):
            xs = win[:, g * icg : (g + 1) * icg]
            ws = w[g * ocg : (g + 1) * ocg]
            outs.append(np.einsum("nchwij,ocij->nohw", xs, ws, optimize=True))
        return np.concatenate(outs, axis=1)

    def global_average_pool(self, x: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore"):
            return x.mean(axis=(2, 3), keepdims=True)

    def reshape(self, x: np.ndarray, shape: Any) -> np.ndarray:
        return x.reshape(shape)

    def gemm(self, a: np.ndarray, b: np.ndarray, c: Any = None, b_transpose: bool = False) -> np.ndarray:
        y = a @ (b.T if b_transpose else b)
        return y if c is None else y + c

    def softmax(self, x: np.ndarray, axis: int = -1) -> np.ndarray:
        e = np.exp(x - x.max(axis=axis, keepdims=True))
        return e / e.sum(axis=axis, keepdims=True)
