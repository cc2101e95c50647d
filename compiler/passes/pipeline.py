"""The default optimization pipeline, one stage per line."""

from __future__ import annotations

from webnnc.compiler.passes._infra import PassManager
from webnnc.compiler.passes.dead_code_elimination import DeadCodeEliminationPass

__all__ = ["default_pipeline"]


def default_pipeline(*, target: str = "onnx-cpu", verify_each: bool | None = None) -> PassManager:
    """The passes ``build()`` runs on a cache miss for ``target``."""
    return PassManager(
        [
            # drop everything the outputs do not need
            DeadCodeEliminationPass(),
        ],
        steps=1,
        verify_each=verify_each,
    )
