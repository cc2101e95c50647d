"""The ``webnnc`` command line (``webnnc ...`` or ``python -m webnnc ...``).

The CLI is a tool on top of both halves of webnnc, so it lives in the facade: ``compile``
and ``warm`` drive the compiler, ``demo`` builds and runs through ``webnnc.ML``, ``cache``
manages the store. Each subcommand family is one ``_*`` module listed in
:data:`COMMAND_MODULES`, with ``register(subparsers)`` adding its parser with
``set_defaults(func=...)``.

# NOTE: heavy imports happen inside the command functions, and building the parser imports
# no compiler module: ``webnnc cache import models.webnnc`` works where only the runtime can
# be imported (tests/cache/test_bundle.py checks it).

Exit codes: 0 OK, 1 an error (or ``cache verify`` found bad entries), 2 usage, 130
interrupted, 141 output pipe closed (``webnnc cache ls | head``).

Every failure is one line on stderr, ``webnnc COMMAND: error: ...``; ``--debug`` (or
``WEBNNC_DEBUG=1``) shows the traceback instead. The global options (``-v``,
``--cache-dir``, ``--debug``) are accepted before or after the subcommand.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import importlib
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from webnnc import __version__

__all__ = ["COMMAND_MODULES", "UserError", "build_parser", "console", "doc_path", "main", "targets_help"]

COMMAND_MODULES: tuple[str, ...] = (
    "webnnc.cli._compile",
    "webnnc.cli._demo",
    "webnnc.cli._cache",
    "webnnc.cli._warm",
    "webnnc.cli._bench",
)


class UserError(Exception):
    """An error the user can fix; printed without a traceback, exit code 1."""


def doc_path(package: str, name: str) -> str:
    """Where an installed document lives, e.g. ``doc_path("webnnc.cache", "CACHE.md")``.

    The ``.md`` documents install beside their package's modules (package data), so help
    texts can name a file that exists. Finding the folder imports no module of ``package``.
    """
    import importlib.util

    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        spec = None
    for folder in (spec.submodule_search_locations or []) if spec else []:
        if (Path(folder) / name).is_file():
            return str(Path(folder) / name)
    return f"{name} in the webnnc source repository ({package.replace('webnnc.', '')}/)"


def targets_help() -> str:
    """The compile targets, for help texts (stdlib only: no compiler import)."""
    from webnnc.cache.targets import TARGETS

    return ", ".join(TARGETS)


def _add_global_options(parser: argparse.ArgumentParser, *, top: bool) -> None:
    # Added to the main parser and to every subcommand's, so `webnnc cache ls --cache-dir D`
    # works as well as `webnnc --cache-dir D cache ls`. In subparsers the defaults are
    # SUPPRESS: an option not given there leaves the main parser's value alone.
    default: object = argparse.SUPPRESS
    parser.add_argument(
        "-v", "--verbose", action="count", default=0 if top else default, help="more logging (-vv: debug)"
    )
    parser.add_argument(
        "--cache-dir", default=None if top else default,
        help="artifact cache folder (default: $WEBNNC_CACHE_DIR, else $XDG_CACHE_HOME/webnnc or ~/.cache/webnnc)",
    )
    parser.add_argument(
        "--debug", action="store_true", default=False if top else default,
        help="show the traceback of an error (also: WEBNNC_DEBUG=1)",
    )


def _subparsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    found: list[argparse.ArgumentParser] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):
                found.append(child)
                found.extend(_subparsers(child))
    return found


def build_parser() -> argparse.ArgumentParser:
    """The ``webnnc`` parser with every subcommand of :data:`COMMAND_MODULES`."""
    parser = argparse.ArgumentParser(
        prog="webnnc",
        description="Ahead-of-time compiler and model cache for WebNN graphs. "
        f"Compile targets: {targets_help()}.",
        epilog="Global options (-v, --cache-dir, --debug) also work after the command.",
    )
    parser.add_argument("--version", action="version", version=f"webnnc {__version__}")
    _add_global_options(parser, top=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    for child in _subparsers(parser):
        _add_global_options(child, top=False)
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


def _one_line(e: BaseException) -> str:
    text = " ".join(str(e).split()) or type(e).__name__
    if isinstance(e, _user_errors()):
        return text
    # not one of webnnc's own errors (e.g. raised by a user's FILE.py:FUNCTION): name its type
    return f"{type(e).__name__}: {text} (--debug shows the traceback)"


def main(argv: Sequence[str] | None = None) -> int:
    """Run one ``webnnc`` command; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.WARNING if args.verbose == 0 else logging.INFO if args.verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    debug = bool(args.debug) or os.environ.get("WEBNNC_DEBUG", "") not in ("", "0")
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        code = int(args.func(args) or 0)
        sys.stdout.flush()  # a closed pipe shows up here, inside the handler below
        return code
    except KeyboardInterrupt:
        print(f"webnnc {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader went away (`webnnc cache ls | head`): not an error of ours. Point stdout
        # at /dev/null so the interpreter's final flush does not fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except Exception as e:
        if debug:
            raise
        print(f"webnnc {args.command}: error: {_one_line(e)}", file=sys.stderr)
        return 1


def console() -> NoReturn:
    """The ``webnnc`` script and ``python -m webnnc``: :func:`main`, then a fast exit.

    # NOTE: after a compile the interpreter's teardown (module state of onnx, onnxruntime and
    # numpy, the objects of a large model) took ~120 ms on squeezenet (strace: from the last
    # write to exit), 13-19% of a short compile's wall time that no printed total can count.
    # Exit handlers still run (logging's flush, temporary folders' finalizers); only the module
    # teardown is skipped, as mypy's command line does. ``main()`` itself returns normally, for
    # callers in a Python process.
    """
    code = main()
    with contextlib.suppress(Exception):
        sys.stdout.flush()
        sys.stderr.flush()
    atexit._run_exitfuncs()
    os._exit(code)

