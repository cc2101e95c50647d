"""Fused elementwise kernels: regions of an optimized ONNX graph compiled to one C library.

The design, its measurements and its safety are in ``KERNELS.md`` beside this file.
"""

from __future__ import annotations

from typing import Any

from webnnc.compiler.kernels.toolchain import find_toolchain

__all__ = ["KERNELS", "find_toolchain", "fuse_artifact", "fuse_model", "kernels_key_part"]


def kernels_key_part() -> str:
    """The ``machine.kernels`` key part: the compiler and its flags here, or ``none``."""
    toolchain = find_toolchain()
    return toolchain.key_part() if toolchain is not None else "none"


def __getattr__(name: str) -> Any:
    # the generator (regions, C source, the graph rewrite) loads with a compile; a build() that
    # hits needs only the key part above (tests/runtime/test_import_clean.py)
    if name in ("KERNELS", "fuse_artifact", "fuse_model"):
        from webnnc.compiler.kernels import fuse

        return getattr(fuse, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
