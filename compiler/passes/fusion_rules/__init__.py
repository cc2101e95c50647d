"""Fusion rules, one family per module, and the rule set each target gets."""

from __future__ import annotations

from webnnc.compiler.passes.fusion_rules._pattern import FusionRule, Match
from webnnc.compiler.passes.fusion_rules.activation import MINMAX_CLAMP
from webnnc.compiler.passes.fusion_rules.conv_batchnorm import CONV_BATCHNORM
from webnnc.compiler.passes.fusion_rules.conv_bias import CONV_BIAS, GEMM_BIAS
from webnnc.compiler.passes.fusion_rules.matmul_add import MATMUL_ADD

__all__ = [
    # framework
    "FusionRule",
    "Match",
    # rules
    "ALL_RULES",
    "CONV_BATCHNORM",
    "CONV_BIAS",
    "GEMM_BIAS",
    "MATMUL_ADD",
    "MINMAX_CLAMP",
    "rules_for",
]

# Order matters where patterns overlap: a bias add into conv2d/gemm is tried before the
# matmul+add rewrite, and batch normalization folds into a conv2d that may already carry a bias.
ALL_RULES: tuple[FusionRule, ...] = (CONV_BIAS, GEMM_BIAS, CONV_BATCHNORM, MATMUL_ADD, MINMAX_CLAMP)


def rules_for(target: str) -> tuple[FusionRule, ...]:
    """The fusion rules worth applying for ``target``.

    Every rule rewrites into plain WebNN operators, so each target accepts all of them;
    ONNX Runtime and CoreML both run a biased convolution and gemm as one kernel.
    """
    return ALL_RULES
