"""Version numbers that shape artifacts."""

from __future__ import annotations

__all__ = ["FORMAT_VERSION", "__version__"]

__version__ = "0.1.0"

# Bump whenever the layout or meaning of stored artifacts changes: every old key misses.
FORMAT_VERSION = 2  # 2: native-kernel lowerings, precision option, weight-free CoreML packages
