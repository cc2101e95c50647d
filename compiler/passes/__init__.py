"""Graph passes and the pass manager."""

from __future__ import annotations

from webnnc.compiler.passes._infra import (
    InPlacePass,
    PassBase,
    PassManager,
    PassRecord,
    PassResult,
    Sequential,
)
from webnnc.compiler.passes.dead_code_elimination import DeadCodeEliminationPass
from webnnc.compiler.passes.pipeline import default_pipeline

__all__ = [
    # framework
    "InPlacePass",
    "PassBase",
    "PassManager",
    "PassRecord",
    "PassResult",
    "Sequential",
    # passes
    "DeadCodeEliminationPass",
    # pipelines
    "ALL_PASSES",
    "default_pipeline",
]

# name -> pass class, for the CLI's --passes
ALL_PASSES: dict[str, type[PassBase]] = {cls.__name__: cls for cls in (DeadCodeEliminationPass,)}
