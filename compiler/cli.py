"""The ``webnnc`` command line.

Subcommands are defined in ``_cli_*`` modules listed in :data:`COMMAND_MODULES`; each has
``register(subparsers)`` adding its parser with ``set_defaults(func=...)``. Heavy imports
happen inside the command functions. Exit codes: 0 OK, 1 user error, 2 usage.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from webnnc.compiler._version import __version__

__all__ = ["COMMAND_MODULES", "main"]

COMMAND_MODULES: tuple[str, ...] = (
    "webnnc.compiler._cli_compile",
    "webnnc.compiler._cli_demo",
    "webnnc.compiler._cli_cache",
    "webnnc.compiler._cli_warm",
    "webnnc.compiler._cli_bench",
)


class UserError(Exception):
    """An error the user can fix; printed without a traceback, exit code 1."""


def build_parser() -> argparse.ArgumentParser:
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.WARNING if args.verbose == 0 else logging.INFO if args.verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    from webnnc.cache.errors import CacheError
    from webnnc.compiler.errors import CompilerError
    from webnnc.runtime.errors import WebNNRuntimeError

    try:
        return int(args.func(args) or 0)
    except (UserError, CompilerError, CacheError, WebNNRuntimeError, ValueError, TypeError) as e:
        print(f"webnnc {args.command}: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"webnnc {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
