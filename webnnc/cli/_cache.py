"""``webnnc cache ...``: inspect and manage the artifact cache.

None of these commands imports the compiler, so a machine where only the runtime can be
imported can still list, verify and import bundles (``webnnc cache import models.webnnc``).
``gc`` asks the compiler for its FORMAT_VERSION when it can (see :func:`_format_version`).

Exit codes: 0 OK, 1 a user error or a problem found (``verify`` found bad entries), 2 usage.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from typing import TYPE_CHECKING, Any

from webnnc.cache.errors import CacheError
from webnnc.cli import doc_path

if TYPE_CHECKING:
    from webnnc.cache.store import ArtifactStore, EntryInfo

__all__ = ["add_commands", "register"]


def register(sub: Any) -> None:
    p = sub.add_parser(
        "cache",
        help="inspect and manage the artifact cache (ls, info, verify, gc, clear, export, import, push, pull)",
        description=f"Inspect and manage the artifact cache. Layout and formats: {doc_path('webnnc.cache', 'CACHE.md')}",
    )
    csub = p.add_subparsers(dest="cache_command", metavar="CACHE_COMMAND", required=True)
    add_commands(csub)


def add_commands(sub: Any) -> None:
    """Add the cache subcommands to an argparse subparsers object."""
    ls = sub.add_parser("ls", help="list entries: name, target, size, age, hits")
    ls.add_argument("--target", help="only this target")
    ls.add_argument("--json", action="store_true", help="machine-readable output")
    ls.set_defaults(func=run_ls)

    info = sub.add_parser("info", help="show one entry: manifest, key parts, library versions")
    info.add_argument("key_or_name", metavar="KEY|NAME", help="a key (or a prefix of 8+ hex digits) or a model name")
    info.add_argument("--target", help="with a name: only this target")
    info.add_argument("--json", action="store_true", help="print the manifest(s) as JSON")
    info.set_defaults(func=run_info)

    verify = sub.add_parser("verify", help="re-hash every entry; report and drop bad ones (exit 1 if any)")
    verify.set_defaults(func=run_verify)

    gc = sub.add_parser(
        "gc",
        help="remove entries no current version can use, unreferenced files, and evict to the size limit",
    )
    gc.add_argument("--dry-run", action="store_true", help="only report what would be removed")
    gc.add_argument(
        "--keep-other-versions",
        action="store_true",
        help="keep entries built with other library versions (e.g. for another environment sharing the cache)",
    )
    gc.set_defaults(func=run_gc)

    clear = sub.add_parser("clear", help="remove every entry")
    clear.set_defaults(func=run_clear)

    rm = sub.add_parser("rm", help="remove the entries of a model name, or one key")
    rm.add_argument("key_or_name", metavar="NAME|KEY", help="a model name, or a key (or a prefix of 8+ hex digits)")
    rm.add_argument("--target", help="with a name: only this target")
    rm.set_defaults(func=run_rm)

    export = sub.add_parser("export", help="write entries (all, or NAME...) to a single-file bundle")
    export.add_argument("path", metavar="PATH", help="bundle file to write (e.g. models.webnnc)")
    export.add_argument("names", metavar="NAME", nargs="*", help="model names (default: every entry)")
    export.add_argument("--target", help="only this target")
    export.set_defaults(func=run_export)

    imp = sub.add_parser("import", help="verify a bundle, then add its entries to the cache")
    imp.add_argument("path", metavar="PATH", help="bundle file (from `webnnc cache export`)")
    imp.add_argument(
        "--trust-unsigned", action="store_true",
        help="accept entries that are unsigned or signed by a key not trusted here (see cache/CACHE.md)",
    )
    imp.set_defaults(func=run_import)

    push = sub.add_parser("push", help="sign entries (NAME..., or --all) and upload them to the remote cache")
    push.add_argument("names", metavar="NAME", nargs="*", help="model names or keys")
    push.add_argument("--all", action="store_true", help="push every entry")
    push.add_argument("--target", help="only this target")
    push.add_argument("--remote", metavar="URL", help="remote cache URL (default $WEBNNC_REMOTE_CACHE)")
    push.set_defaults(func=run_push)

    pull = sub.add_parser("pull", help="download, verify and add entries (NAME or KEY...) from the remote cache")
    pull.add_argument("names", metavar="NAME|KEY", nargs="+", help="model names or 64-hex keys")
    pull.add_argument("--target", default="onnx-cpu", help="target of the named entries (default onnx-cpu)")
    pull.add_argument("--remote", metavar="URL", help="remote cache URL (default $WEBNNC_REMOTE_CACHE)")
    pull.set_defaults(func=run_pull)


def _store(args: argparse.Namespace, *, existing: bool = True) -> ArtifactStore:
    """The store ``--cache-dir`` names. ``existing``: the command reads a cache, so a folder
    given explicitly must exist (a typo would otherwise create a new, empty cache and report
    on that); ``import`` and ``pull`` create it."""
    from webnnc.cache.store import ArtifactStore

    directory = getattr(args, "cache_dir", None)
    if existing and directory is not None and not os.path.lexists(os.path.expanduser(os.fspath(directory))):
        raise CacheError(
            f"no cache at {directory}: the folder does not exist "
            "(webnnc compile, webnnc cache import and webnnc cache pull create one)"
        )
    return ArtifactStore(directory)


def _age(seconds: float) -> str:
    """
    >>> _age(30), _age(90), _age(7200), _age(3 * 86400)
    ('30s', '2m', '2h', '3d')
    """
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f}{unit}"
    return f"{seconds:.0f}s"


def _size(n: float) -> str:
    """
    >>> _size(512), _size(2048), _size(5 * 2**20), _size(3 * 2**30)
    ('512 B', '2.0 KiB', '5.0 MiB', '3.0 GiB')
    """
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n:.0f} B"


def run_ls(args: argparse.Namespace) -> int:
    with _store(args) as store:
        rows: list[EntryInfo] = sorted(
            (e for e in store.entries() if args.target in (None, e.manifest.target)),
            key=lambda e: (e.manifest.name or "", e.manifest.target, -e.manifest.created),
        )
        now = time.time()
        aliases = store.aliases()
        names = {e.manifest.key: store.names(e.manifest.key, e.manifest, aliases=aliases) for e in rows}
        if args.json:
            print(json.dumps([
                {
                    "name": e.manifest.name, "names": names[e.manifest.key],
                    "target": e.manifest.target, "format": e.manifest.format,
                    "size": e.size, "created": e.manifest.created, "last_used": e.last_used,
                    "hits": e.hits, "key": e.manifest.key,
                }
                for e in rows
            ], indent=1))
            return 0
        stats = store.stats()
        mode = "" if store.writable else f", READ-ONLY ({store.problem})"
        print(
            f"cache: {store.directory} ({len(rows)} entries, {_size(int(str(stats['bytes'])))} "
            f"of {_size(store.size_limit)}{mode})"
        )
        if not rows:
            return 0
        print(f"{'NAME':<24} {'TARGET':<10} {'FORMAT':<7} {'SIZE':>10} {'AGE':>5} {'USED':>5} {'HITS':>5}  KEY")
        for e in rows:
            m = e.manifest
            print(
                f"{(','.join(names[m.key]) or '-'):<24} {m.target:<10} {m.format:<7} {_size(e.size):>10} "
                f"{_age(now - m.created):>5} {_age(now - e.last_used):>5} {e.hits:>5}  {m.key[:16]}"
            )
    return 0


def _matching_keys(store: ArtifactStore, q: str, target: str | None) -> list[str]:
    """The keys a KEY|NAME argument names; raise CacheError naming the folder when none."""
    if len(q) >= 8 and all(c in "0123456789abcdef" for c in q):
        keys = [k for k in store if k.startswith(q)]
    else:
        keys = [m.key for m in store.find(q, target)]
    if not keys:
        raise CacheError(f"no entry with key or name {q!r} in {store.directory}; see `webnnc cache ls`")
    return keys


def run_rm(args: argparse.Namespace) -> int:
    with _store(args) as store:
        keys = _matching_keys(store, args.key_or_name, args.target)
        removed = sum(1 for k in keys if store.drop(k))
        for k in keys:
            print(f"removed {k[:16]}")
        print(f"removed {removed} entries from {store.directory}")
    return 0


def run_info(args: argparse.Namespace) -> int:
    q: str = args.key_or_name
    with _store(args) as store:
        keys = _matching_keys(store, q, args.target)
        manifests = [m for m in (store.manifest(k) for k in keys) if m is not None]
        if args.json:
            print(json.dumps([json.loads(m.to_json()) for m in manifests], indent=1, sort_keys=True))
            return 0
        for m in manifests:
            print(f"key        {m.key}")
            print(f"name       {m.name or '-'}")
            print(f"target     {m.target}  format {m.format}")
            print(f"artifact   {_size(m.artifact_size)}  sha256 {m.artifact_sha256}")
            print(f"created    {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(m.created))}")
            print(f"hits       {store.hits(m.key)}")
            print("inputs     " + ", ".join(f"{s.name}: {s.data_type}{list(s.shape)}" for s in m.inputs))
            print("outputs    " + ", ".join(f"{s.name}: {s.data_type}{list(s.shape)}" for s in m.outputs))
            print("key parts")
            for k, v in m.key_parts.items():
                print(f"  {k} = {v}")
            if m.timings_ms:
                print("timings    " + ", ".join(f"{k} {v:.1f} ms" for k, v in m.timings_ms.items()))
            print()
    return 0


def run_verify(args: argparse.Namespace) -> int:
    with _store(args) as store:
        total = sum(1 for _ in store)
        bad = store.verify()
        if any(key == "-" for key, _ in bad):  # the store could not verify at all: nothing was dropped
            from webnnc.cli import UserError

            reasons = "; ".join(p.removeprefix("cannot verify: ") for k, p in bad if k == "-")
            raise UserError(f"cannot verify {store.directory}: {reasons}")
        for key, problem in bad:
            print(f"BAD  {key[:16]}  {problem} (dropped)")
        print(f"verified {total} entries: {total - len(bad)} good, {len(bad)} bad")
    return 1 if bad else 0


def _format_version() -> int | None:
    """The compiler's artifact FORMAT_VERSION, which tells entries no current version can use.

    None where the compiler cannot be imported (a runtime-only machine): ``gc`` then judges
    entries by their library versions alone.
    """
    try:
        from webnnc.compiler._version import FORMAT_VERSION
    except ImportError:
        return None
    return FORMAT_VERSION


def run_gc(args: argparse.Namespace) -> int:
    from webnnc.cache.compat import unusable_reason

    fv = _format_version()

    def unusable(m: Any) -> str | None:
        return unusable_reason(m, format_version=fv, environment=not args.keep_other_versions)

    with _store(args) as store:
        report = store.gc(unusable, dry_run=args.dry_run)
        verb = "would remove" if args.dry_run else "removed"
        for key, reason in report.entries:
            print(f"{verb} {key[:16]}: {reason}")
        print(
            f"gc: {verb} {len(report.entries)} unusable entries, {report.orphan_objects} unreferenced "
            f"artifacts, {report.tmp_files} temp files, {report.lock_files} idle lock files; "
            f"evicted {len(report.evicted)}; {_size(report.freed_bytes)} freed"
        )
    return 0


def run_clear(args: argparse.Namespace) -> int:
    with _store(args) as store:
        n = store.clear()
        print(f"cleared {n} entries from {store.directory}")
    return 0


def run_export(args: argparse.Namespace) -> int:
    from webnnc.cache.bundle import export_bundle

    with _store(args) as store:
        exported = export_bundle(store, args.path, args.names, target=args.target)
    total = sum(m.artifact_size for m in exported)
    print(f"exported {len(exported)} entries ({_size(total)}) to {args.path}")
    for m in exported:
        print(f"  {(m.name or '-'):<24} {m.target:<10} {m.key[:16]}")
    return 0


def run_import(args: argparse.Namespace) -> int:
    from webnnc.cache.bundle import import_bundle

    with _store(args, existing=False) as store:
        report = import_bundle(store, args.path, trust_unsigned=args.trust_unsigned)
        imported, present = report
        conflicts = f", {len(report.conflicts)} differing from the cache's (kept the cache's)" if report.conflicts else ""
        print(
            f"imported {len(imported)} entries from {args.path} into {store.directory} "
            f"({len(present)} already present{conflicts})"
        )
        for m in imported:
            print(f"  {(m.name or '-'):<24} {m.target:<10} {m.key[:16]}  signed by {report.signers.get(m.key, '?')}")
        for m in report.conflicts:
            print(f"  differs {(m.name or '-'):<16} {m.target:<10} {m.key[:16]}  (same key, other artifact bytes)")
    return 0



def _remote(args: argparse.Namespace, mode: str | None = None) -> Any:
    from webnnc.cache.remote import open_remote

    remote = open_remote(args.remote, mode=mode)
    if remote is None:
        raise CacheError("no remote cache: give --remote URL or set WEBNNC_REMOTE_CACHE (see cache/REMOTE.md)")
    remote.backend()  # an explicit push or pull: a malformed URL is one error line, not a "MISSING" per name
    return remote


def run_push(args: argparse.Namespace) -> int:
    if not args.names and not args.all:
        raise CacheError("name the entries to push (NAME...) or give --all")
    remote = _remote(args, mode="read-write")  # an explicit push is the build machine's act
    with _store(args) as store:
        asked: dict[str, list[str]] = {}  # key -> the NAMEs that found it (a key argument is no name)
        if args.all:
            manifests = [m for m in store.manifests() if args.target in (None, m.target)]
        else:
            manifests = []
            for q in args.names:
                by_key = store.manifest(q) if len(q) == 64 else None
                found = [by_key] if by_key is not None else store.find(q, args.target)
                if not found:
                    raise CacheError(f"no entry named {q!r} in {store.directory}; see `webnnc cache ls`")
                manifests.extend(found)
                if by_key is None:
                    for m in found:
                        asked.setdefault(m.key, []).append(q)
        manifests = [m for m in manifests if "source_key" not in m.extra]  # derived entries stay local
        t0 = time.perf_counter()
        total = 0
        for m in {m.key: m for m in manifests}.values():
            # only the names that found this entry: `push a b` must not record name `a` for b's entry
            remote.push(store, m.key, names=tuple(asked.get(m.key, ())), strict=True)
            total += m.artifact_size
            print(f"pushed {(m.name or '-'):<24} {m.target:<10} {_size(m.artifact_size):>10}  {m.key[:16]}")
    seconds = time.perf_counter() - t0
    print(f"pushed {len(manifests)} entries ({_size(total)}) to {remote.url} in {seconds:.1f} s")
    return 0


def run_pull(args: argparse.Namespace) -> int:
    remote = _remote(args)
    backend = remote.backend()
    if getattr(backend, "local", False) and not backend.fs.isdir(backend.root):
        raise CacheError(f"remote cache {remote.url}: expected a folder, found {_missing_or_file(backend)}")
    failed = 0
    with _store(args, existing=False) as store:
        if not store.writable:  # else every name reads "MISSING ... not on the remote"
            raise CacheError(f"cannot pull into {store.directory}: {store.problem or 'not writable'}")
        for q in args.names:
            t0 = time.perf_counter()
            is_key = len(q) == 64 and all(c in "0123456789abcdef" for c in q)
            key = q if is_key and remote.fetch(store, q) else None if is_key else remote.fetch_name(store, q, args.target)
            if key is None:
                failed += 1
                print(f"MISSING {q}: not on {remote.url} for {args.target}, refused, or the remote is unreachable")
                continue
            m = store.manifest(key)
            size = m.artifact_size if m is not None else 0
            seconds = time.perf_counter() - t0
            print(
                f"pulled {q:<24} {args.target:<10} {_size(size):>10} in {seconds:.2f} s "
                f"({size / 2**20 / max(seconds, 1e-9):.0f} MiB/s)  {key[:16]}"
            )
    return 1 if failed else 0


def _missing_or_file(backend: Any) -> str:
    return "a file" if backend.fs.exists(backend.root) else "nothing (it does not exist)"
