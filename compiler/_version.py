"""Version numbers that shape artifacts."""

from __future__ import annotations

__all__ = ["FORMAT_VERSION", "__version__"]

__version__ = "0.1.0"

# Bump whenever the layout or meaning of stored artifacts changes: every old key misses.
# 2: native-kernel lowerings, precision option, weight-free CoreML packages
# 3: quantized models keep their integer weights and ONNX's QuantizeLinear / DequantizeLinear
#    (ORT runs its integer kernels), 3-D convolutions as a sum over the kernel depth, the
#    memory-pattern choice in the manifest's session record
FORMAT_VERSION = 3
