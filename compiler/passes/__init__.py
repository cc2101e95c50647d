"""Graph passes and the pass manager."""

from __future__ import annotations

from webnnc.compiler.passes._infra import (
    FunctionalPass,
    InPlacePass,
    PassBase,
    PassManager,
    PassRecord,
    PassResult,
    Sequential,
)
from webnnc.compiler.passes.algebraic_simplification import SimplifyAlgebraPass
from webnnc.compiler.passes.common_subexpression_elimination import (
    CommonSubexpressionEliminationPass,
)
from webnnc.compiler.passes.constant_folding import FoldConstantsPass, fold_rule
from webnnc.compiler.passes.dead_code_elimination import DeadCodeEliminationPass
from webnnc.compiler.passes.memory_planning import MemoryPlan, PlanMemoryPass
from webnnc.compiler.passes.operator_fusion import FuseOperatorsPass
from webnnc.compiler.passes.pipeline import default_pipeline
from webnnc.compiler.passes.shared_weights import ShareTransposedWeightsPass

__all__ = [
    # framework
    "FunctionalPass",
    "InPlacePass",
    "PassBase",
    "PassManager",
    "PassRecord",
    "PassResult",
    "Sequential",
    # passes
    "CommonSubexpressionEliminationPass",
    "DeadCodeEliminationPass",
    "FoldConstantsPass",
    "FuseOperatorsPass",
    "PlanMemoryPass",
    "ShareTransposedWeightsPass",
    "SimplifyAlgebraPass",
    # extension points and results
    "MemoryPlan",
    "fold_rule",
    # pipelines
    "ALL_PASSES",
    "default_pipeline",
]

# name -> pass class, for the CLI's --passes (an explicit tuple: no global registry)
ALL_PASSES: dict[str, type[PassBase]] = {
    cls.__name__: cls
    for cls in (
        FoldConstantsPass,
        ShareTransposedWeightsPass,
        CommonSubexpressionEliminationPass,
        SimplifyAlgebraPass,
        FuseOperatorsPass,
        DeadCodeEliminationPass,
        PlanMemoryPass,
    )
}
