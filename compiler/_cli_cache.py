"""``webnnc cache ...``: inspect and manage the artifact cache."""

from __future__ import annotations

import argparse
import time
from typing import Any

__all__ = ["register"]


def register(sub: Any) -> None:
    p = sub.add_parser("cache", help="inspect and manage the artifact cache")
    csub = p.add_subparsers(dest="cache_command", metavar="CACHE_COMMAND", required=True)
    ls = csub.add_parser("ls", help="list stored artifacts")
    ls.set_defaults(func=run_ls)


def _age(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f}{unit}"
    return f"{seconds:.0f}s"


def run_ls(args: argparse.Namespace) -> int:
    from webnnc.cache.store import ArtifactStore

    store = ArtifactStore(args.cache_dir)
    rows = sorted(store.manifests(), key=lambda m: (m.name or "", m.target, -m.created))
    print(f"cache: {store.directory} ({len(rows)} entries, {store.volume() / 2**20:.1f} MiB)")
    if not rows:
        return 0
    now = time.time()
    header = f"{'NAME':<20} {'TARGET':<10} {'FORMAT':<7} {'SIZE':>10} {'AGE':>6}  KEY"
    print(header)
    for m in rows:
        print(
            f"{(m.name or '-'):<20} {m.target:<10} {m.format:<7} {m.artifact_size / 1024:>8.1f}Ki "
            f"{_age(now - m.created):>6}  {m.key[:16]}"
        )
    return 0
