"""Errors raised by the runtime."""

from __future__ import annotations

__all__ = ["InputMismatchError", "RuntimeLoadError", "WebNNRuntimeError"]


class WebNNRuntimeError(Exception):
    """Base class of runtime errors."""


class RuntimeLoadError(WebNNRuntimeError, LookupError):
    """A compiled graph could not be found or loaded."""


class InputMismatchError(WebNNRuntimeError, ValueError):
    """compute() inputs do not match the graph: names, data types or shapes."""
