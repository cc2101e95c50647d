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


# A rule belongs in a target's set only where its fused form runs faster there. CoreML
# lowers gemm to the same matmul + add that matmul+add fusion removed (its own pipeline fuses
# those into one `linear` when it can), so the rewrite buys nothing and only renames the ops;
# ONNX Runtime runs the fused Gemm as one kernel. Every other rule pays on every target: a
# biased convolution or gemm is one kernel in ONNX Runtime and CoreML, batch normalization
# folds into the filter, and max/min becomes one clip.
_NOT_WORTH_IT: dict[str, frozenset[str]] = {
    "coreml": frozenset({MATMUL_ADD.name}),
}


def rules_for(target: str) -> tuple[FusionRule, ...]:
    """The fusion rules worth applying for ``target``, in :data:`ALL_RULES` order.

    >>> [r.name for r in rules_for("coreml")] == [r.name for r in ALL_RULES if r is not MATMUL_ADD]
    True
    >>> rules_for("onnx-cpu") == ALL_RULES
    True
    """
    skip = _NOT_WORTH_IT.get(target, frozenset())
    return tuple(r for r in ALL_RULES if r.name not in skip)
