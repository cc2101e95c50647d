"""Errors raised by the compiler.

WebNN reports bad graphs as ``TypeError`` (wrong types / kinds) and ``ValueError``-like
``DataError`` conditions; our classes subclass the matching builtin so callers that follow
the spec can catch the builtin, and callers that know webnnc can catch ``CompilerError``.
"""

from __future__ import annotations

__all__ = [
    "CompilerError",
    "PassError",
    "UnsupportedOperatorError",
    "ValidationError",
    "VerificationError",
    "WebNNTypeError",
]


class CompilerError(Exception):
    """Base class of every error the compiler raises on purpose."""


class ValidationError(CompilerError, ValueError):
    """A builder call or graph violates the WebNN spec's validation rules."""


class WebNNTypeError(ValidationError, TypeError):
    """An operand has the wrong data type, or an argument the wrong kind."""


class VerificationError(CompilerError, AssertionError):
    """The IR is not well formed (a compiler bug, or a pass broke an invariant)."""


class UnsupportedOperatorError(CompilerError, NotImplementedError):
    """A target cannot lower an operator or data type."""


class PassError(CompilerError, RuntimeError):
    """A pass raised; the message names the pass and the passes that ran before it."""
