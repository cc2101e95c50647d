"""The ``webnnc`` command line (``webnnc ...`` or ``python -m webnnc ...``).

The CLI is a tool on top of both halves of webnnc, so it lives in the facade: ``compile``
and ``warm`` drive the compiler, ``demo`` builds and runs through ``webnnc.ML``, ``cache``
manages the store. Each subcommand family is one ``_*`` module listed in
:data:`COMMAND_MODULES`, with ``register(subparsers)`` adding its parser with
``set_defaults(func=...)``.

# NOTE: heavy imports happen inside the command functions, and building the parser imports
# no compiler module: ``webnnc cache import models.webnnc`` works where only the runtime can
# be imported (tests/cache/test_bundle.py checks it).

Exit codes: 0 OK, 1 user error (or ``cache verify`` found bad entries), 2 usage.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from webnnc import __version__

__all__ = ["COMMAND_MODULES", "UserError", "build_parser", "main"]

COMMAND_MODULES: tuple[str, ...] = (
    "webnnc.cli._compile",
    "webnnc.cli._demo",
    "webnnc.cli._cache",
    "webnnc.cli._warm",
    "webnnc.cli._bench",
)


class UserError(Exception):
    """An error the user can fix; printed without a traceback, exit code 1."""


def build_parser() -> argparse.ArgumentParser:
    """The ``webnnc`` parser with every subcommand of :data:`COMMAND_MODULES`."""
    parser = argparse.ArgumentParser(
        prog="webnnc", description="Ahead-of-time compiler and model cache for WebNN graphs."
    )
    parser.add_argument("--version", action="version", version=f"webnnc {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv: debug)")
    parser.add_argument("--cache-dir", help="artifact cache folder (default: $WEBNNC_CACHE_DIR or ~/.cache/webnnc)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def _user_errors() -> tuple[type[Exception], ...]:
    """The exceptions reported as one line (exit code 1) rather than a traceback.

    The compiler's errors are among them only when the compiler is loaded: a command that
    never imported it cannot raise one, and importing it here would load the compiler for
    every ``webnnc cache`` command.
    """
    from webnnc.cache.errors import CacheError
    from webnnc.runtime.errors import WebNNRuntimeError

    errors: list[type[Exception]] = [UserError, CacheError, WebNNRuntimeError, ValueError, TypeError]
    compiler_errors = sys.modules.get("webnnc.compiler.errors")
    if compiler_errors is not None:
        errors.append(compiler_errors.CompilerError)
    return tuple(errors)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one ``webnnc`` command; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.WARNING if args.verbose == 0 else logging.INFO if args.verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print(f"webnnc {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as e:
        if not isinstance(e, _user_errors()):
            raise
        print(f"webnnc {args.command}: error: {e}", file=sys.stderr)
        return 1
