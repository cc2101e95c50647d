"""``webnnc cache ...``: inspect and manage the artifact cache.

The commands themselves live in ``webnnc.cache.cli`` (usable without the compiler as
``python -m webnnc.cache``); this module registers them and supplies the compiler's
FORMAT_VERSION, which ``gc`` needs to tell entries no current version can use.
"""

from __future__ import annotations

from typing import Any

__all__ = ["register"]


def register(sub: Any) -> None:
    from webnnc.cache.cli import add_commands
    from webnnc.compiler._version import FORMAT_VERSION

    p = sub.add_parser(
        "cache",
        help="inspect and manage the artifact cache (ls, info, verify, gc, clear, export, import)",
        description="Inspect and manage the artifact cache. See cache/CACHE.md.",
    )
    csub = p.add_subparsers(dest="cache_command", metavar="CACHE_COMMAND", required=True)
    add_commands(csub, format_version=FORMAT_VERSION)
