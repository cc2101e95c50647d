"""WebNN operator name <-> builder method name. One row per operator."""

from __future__ import annotations

__all__ = ["METHOD_TO_OP", "OP_TO_METHOD"]

# WebNN op name (as in the IR and the spec) -> MLGraphBuilder method (pywebnn's name).
OP_TO_METHOD: dict[str, str] = {
    "abs": "abs",
    "add": "add",
    "averagePool2d": "average_pool2d",
    "batchNormalization": "batch_normalization",
    "clamp": "clamp",
    "concat": "concat",
    "conv2d": "conv2d",
    "div": "div",
    "exp": "exp",
    "gemm": "gemm",
    "matmul": "matmul",
    "max": "max",
    "maxPool2d": "max_pool2d",
    "min": "min",
    "mul": "mul",
    "neg": "neg",
    "pow": "pow",
    "reduceMean": "reduce_mean",
    "relu": "relu",
    "reshape": "reshape",
    "sigmoid": "sigmoid",
    "softmax": "softmax",
    "sqrt": "sqrt",
    "sub": "sub",
    "tanh": "tanh",
    "transpose": "transpose",
}

METHOD_TO_OP: dict[str, str] = {m: o for o, m in OP_TO_METHOD.items()}
