"""Fused elementwise kernels: regions of an optimized ONNX graph compiled to one C library.

The design, its measurements and its safety are in ``KERNELS.md`` beside this file.
"""

from __future__ import annotations

from webnnc.compiler.kernels.fuse import KERNELS, fuse_artifact, fuse_model
from webnnc.compiler.kernels.toolchain import find_toolchain

__all__ = ["KERNELS", "find_toolchain", "fuse_artifact", "fuse_model", "kernels_key_part"]


def kernels_key_part() -> str:
    """The ``machine.kernels`` key part: the compiler and its flags here, or ``none``."""
    toolchain = find_toolchain()
    return toolchain.key_part() if toolchain is not None else "none"
