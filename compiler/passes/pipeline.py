"""The default optimization pipeline, one stage per line (read it top to bottom).

The inner manager repeats the rewriting passes until a round changes nothing (at most
:data:`MAX_ROUNDS`): a fold can expose a simplification, a simplification a fusion, a fusion
a fold. Memory planning runs once at the end, on the graph that will be emitted.
"""

from __future__ import annotations

from webnnc.compiler.passes._infra import PassManager
from webnnc.compiler.passes.algebraic_simplification import SimplifyAlgebraPass
from webnnc.compiler.passes.common_subexpression_elimination import (
    CommonSubexpressionEliminationPass,
)
from webnnc.compiler.passes.constant_folding import FoldConstantsPass
from webnnc.compiler.passes.dead_code_elimination import DeadCodeEliminationPass
from webnnc.compiler.passes.fusion_rules import rules_for
from webnnc.compiler.passes.memory_planning import DEFAULT_ALIGNMENT, PlanMemoryPass
from webnnc.compiler.passes.operator_fusion import FuseOperatorsPass
from webnnc.compiler.passes.shared_weights import ShareTransposedWeightsPass

__all__ = ["MAX_ROUNDS", "default_pipeline"]

MAX_ROUNDS = 4


def default_pipeline(*, target: str = "onnx-cpu", verify_each: bool | None = None) -> PassManager:
    """The passes ``build()`` runs on a cache miss for ``target``."""
    rewrite = PassManager(
        [
            # evaluate everything that depends only on constants
            FoldConstantsPass(),
            # a matmul by a transposed copy of a weight reads the weight (tied embeddings)
            ShareTransposedWeightsPass(),
            # compute each distinct constant and expression once
            CommonSubexpressionEliminationPass(),
            # drop no-op activations / clamps / reshapes / neutral elements (value ranges)
            SimplifyAlgebraPass(),
            # bias adds and batch norms into conv2d / gemm, matmul+add -> gemm, max/min -> clamp
            FuseOperatorsPass(rules_for(target)),
            # drop everything the outputs no longer need
            DeadCodeEliminationPass(),
        ],
        steps=MAX_ROUNDS,
        early_stop=True,
        verify_each=verify_each,
    )
    return PassManager(
        [
            rewrite,
            PlanMemoryPass(alignment=DEFAULT_ALIGNMENT),  # last: needs the final graph
        ],
        steps=1,
        verify_each=verify_each,
    )
