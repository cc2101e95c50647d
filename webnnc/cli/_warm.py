"""``webnnc warm FILE|SOURCE...``: compile many models for many targets into the cache, in parallel.

A warm-up FILE (TOML or JSON) lists sources and targets::

    targets = ["onnx-cpu"]      # default targets of every model
    jobs = 2                    # worker processes (default: the CPU count)
    timeout = 600               # seconds per item (default 600; 0: no limit)

    [[models]]
    source = "webnnc.compiler.workloads:w1_simple"   # MODULE:FUNCTION, FILE.py:FUNCTION,
    name = "w1"                                       # or a .onnx / .webnn file
    targets = ["onnx-cpu"]                            # optional, per model
    input_shapes = { input = [1, 3, 224, 224] }       # optional, for .onnx with free dims

``models`` may also be a plain list of source strings. Relative file paths are relative to
the warm-up file. Each (model, target) pair is compiled in a worker process; what is
already cached is reported as ``cached`` (a verified hit) and not compiled again. One
failure does not stop the others; the exit code is 1 if any failed.

Every item runs in its own worker process with a time limit (``--timeout``, or ``timeout``
in the file; default 600 s, 0 for none): an item past it is killed and reported as failed,
and the others go on. Each worker reports its stages as they end (``import``, ``passes``,
``emit``, ...); a stage over one second is printed when it ends, and every item's line
lists its stage timings.

# NOTE: Ctrl-C. Workers share the terminal's process group, so they get SIGINT too and stop
# wherever they are; the store publishes by atomic rename, so an interrupted compilation
# leaves no visible entry (at most a temp file that ``webnnc cache gc`` removes).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from webnnc.cli import UserError, doc_path, targets_help

__all__ = ["DEFAULT_TIMEOUT_S", "WarmItem", "load_plan", "register"]

DEFAULT_TIMEOUT_S = 600.0
# a stage this long is printed as it ends, so a slow model shows where it is
_LIVE_STAGE_MS = 1000.0


@dataclass(frozen=True)
class WarmItem:
    """One (source, target) pair to compile."""

    source: str
    target: str
    name: str | None = None
    input_shapes: tuple[tuple[str, tuple[int, ...]], ...] = ()


def register(sub: Any) -> None:
    p = sub.add_parser(
        "warm",
        help="compile many models x targets into the cache, in parallel",
        description=(
            "Compile every model of a warm-up FILE (TOML or JSON; see " + doc_path("webnnc.cache", "CACHE.md") + ") or every "
            "SOURCE given, for every target, in parallel worker processes. Cached entries are "
            "skipped; failures are reported per item; exit code 1 if any failed."
        ),
    )
    p.add_argument("items", nargs="+", metavar="FILE|SOURCE", help="warm-up files (.toml/.json) or sources")
    p.add_argument(
        "--target", help=f"comma-separated targets, of {targets_help()} (overrides the file's defaults)"
    )
    p.add_argument("-j", "--jobs", type=int, help="worker processes (default: file's jobs, else CPU count)")
    p.add_argument(
        "--timeout", type=float, metavar="SECONDS",
        help=f"time limit per item; an item past it is killed and reported as failed (default: the "
             f"file's timeout, else {DEFAULT_TIMEOUT_S:g}; 0: no limit)",
    )
    p.add_argument("--push", action="store_true", help="sign and upload every warmed entry to the remote cache")
    p.add_argument("--remote", metavar="URL", help="with --push: remote cache URL (default $WEBNNC_REMOTE_CACHE)")
    p.set_defaults(func=run)


def _is_path_source(spec: str) -> bool:
    return spec.endswith((".onnx", ".webnn")) or ".py:" in spec


def _relative(spec: str, base: Path) -> str:
    if not _is_path_source(spec):
        return spec
    path_part, sep, func = spec.rpartition(":") if ".py:" in spec else (spec, "", "")
    p = Path(path_part)
    if not p.is_absolute():
        p = base / p
    return f"{p}{sep}{func}"


def _as_targets(value: Any, where: str) -> list[str]:
    if isinstance(value, str):
        value = [t.strip() for t in value.split(",") if t.strip()]
    if not isinstance(value, list) or not value or not all(isinstance(t, str) for t in value):
        raise UserError(f"{where}: 'targets' must be a non-empty list of target names; found {value!r}")
    return list(value)


def load_plan(path: Path, default_targets: list[str] | None) -> tuple[list[WarmItem], int | None]:
    """Read a warm-up file into items (one per model x target) and its ``jobs`` setting."""
    items, jobs, _ = load_plan_settings(path, default_targets)
    return items, jobs


def load_plan_settings(
    path: Path, default_targets: list[str] | None
) -> tuple[list[WarmItem], int | None, float | None]:
    """:func:`load_plan`, plus the file's per-item ``timeout`` (seconds; None when not set)."""
    try:
        text = path.read_bytes()
    except OSError as e:
        raise UserError(f"cannot read warm-up file {path}: {e.strerror}") from None
    try:
        if path.suffix == ".toml":
            import tomllib  # (here: every CLI command imports this module)

            doc = tomllib.loads(text.decode())
        else:
            doc = json.loads(text)
    except (ValueError, UnicodeDecodeError) as e:
        kind = "TOML" if path.suffix == ".toml" else "JSON"
        raise UserError(f"{path}: not valid {kind}: {e}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("models"), list):
        raise UserError(f"{path}: expected a top-level 'models' list (see `webnnc warm --help`)")
    file_targets = _as_targets(doc["targets"], str(path)) if "targets" in doc else ["onnx-cpu"]
    jobs = doc.get("jobs")
    if jobs is not None and (not isinstance(jobs, int) or jobs < 1):
        raise UserError(f"{path}: 'jobs' must be a positive integer; found {jobs!r}")
    timeout = doc.get("timeout")
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout < 0):
        raise UserError(f"{path}: 'timeout' must be a number of seconds >= 0; found {timeout!r}")
    items: list[WarmItem] = []
    for i, entry in enumerate(doc["models"]):
        where = f"{path}: models[{i}]"
        if isinstance(entry, str):
            entry = {"source": entry}
        if not isinstance(entry, dict) or not isinstance(entry.get("source"), str):
            raise UserError(f"{where}: expected a source string or a table with 'source'; found {entry!r}")
        unknown = set(entry) - {"source", "name", "targets", "input_shapes"}
        if unknown:
            raise UserError(f"{where}: unknown keys {sorted(unknown)}")
        name = entry.get("name")
        if name is not None and not isinstance(name, str):
            raise UserError(f"{where}: 'name' must be a string; found {name!r}")
        shapes_obj = entry.get("input_shapes", {})
        if not isinstance(shapes_obj, dict) or not all(
            isinstance(v, list) and all(isinstance(d, int) for d in v) for v in shapes_obj.values()
        ):
            raise UserError(f"{where}: 'input_shapes' must map input names to lists of integers")
        shapes = tuple(sorted((str(k), tuple(v)) for k, v in shapes_obj.items()))
        targets = default_targets or (
            _as_targets(entry["targets"], where) if "targets" in entry else file_targets
        )
        source = _relative(entry["source"], path.parent)
        items.extend(WarmItem(source, t, name, shapes) for t in targets)
    return items, jobs, None if timeout is None else float(timeout)


def warm_one(item: WarmItem, cache_dir: str | None, progress: Any = None) -> dict[str, Any]:
    """Build and compile one item (runs in a worker process). Never raises for a bad item.

    ``progress``: called with (stage, milliseconds) as each stage ends; the result's
    ``stages`` holds them all.
    """
    t0 = time.perf_counter()
    name = item.name
    stages: dict[str, float] = {}

    def stage(label: str, ms: float) -> None:
        stages[label] = stages.get(label, 0.0) + ms
        if progress is not None:
            progress(label, ms)
    try:
        from webnnc.cache.store import ArtifactStore
        from webnnc.compiler.driver import compile_graph
        from webnnc.compiler.frontend import MLGraphBuilder
        from webnnc.compiler.options import CompileOptions
        from webnnc.compiler.sources import resolve_source

        options = CompileOptions(target=item.target)
        if item.input_shapes:
            source = resolve_source(item.source, input_shapes=dict(item.input_shapes))  # type: ignore[call-arg]
        else:
            source = resolve_source(item.source)
        name = item.name or source.name
        builder = MLGraphBuilder()
        t_build = time.perf_counter()
        graph = builder.build(source.build(builder), name=name)
        stage("build", (time.perf_counter() - t_build) * 1e3)
        with ArtifactStore(cache_dir) as store:
            result = compile_graph(graph, options, store=store, name=name, progress=stage)
        status = {"cache-hit": "cached", "compiled": "compiled"}.get(result.info.source, "not stored")
        return {"status": status, "name": name, "key": result.info.key, "stages": stages,
                "ms": (time.perf_counter() - t0) * 1e3}
    except Exception as e:  # report per item; the rest go on
        return {
            "status": "failed",
            "name": name or item.source,
            "error": f"{type(e).__name__}: {e}".splitlines()[0][:300],
            "stages": stages,
            "ms": (time.perf_counter() - t0) * 1e3,
        }


def _worker(item: WarmItem, cache_dir: str | None, conn: Any) -> None:
    """A worker process's body: stage messages, then the result, through ``conn``."""
    try:
        res = warm_one(item, cache_dir, lambda label, ms: conn.send(("stage", label, ms)))
        conn.send(("done", res))
    except KeyboardInterrupt:  # Ctrl-C reached the worker too; the parent reports it
        pass
    finally:
        conn.close()


def _stage_text(stages: dict[str, float]) -> str:
    """The stages worth a look (>= 1 ms), largest first: ``import 812, passes 120 ms``."""
    shown = sorted(((ms, s) for s, ms in stages.items() if ms >= 1.0 and "." not in s), reverse=True)[:5]
    return ", ".join(f"{s} {ms:.0f}" for ms, s in shown) + " ms" if shown else ""


class _Running:
    """One item's worker process, its pipe and its deadline."""

    def __init__(self, item: WarmItem, cache_dir: str | None, timeout: float) -> None:
        import multiprocessing  # (here: every CLI command imports this module)

        ctx = multiprocessing.get_context("spawn")  # no fork of a process holding locks/threads
        self.item = item
        self.conn, child = ctx.Pipe(duplex=False)
        self.process = ctx.Process(target=_worker, args=(item, cache_dir, child), daemon=True)
        self.t0 = time.perf_counter()
        self.deadline = self.t0 + timeout if timeout > 0 else float("inf")
        self.stages: dict[str, float] = {}
        self.process.start()
        child.close()

    def failed(self, why: str) -> dict[str, Any]:
        return {"status": "failed", "name": self.item.name or self.item.source, "error": why,
                "stages": self.stages, "ms": (time.perf_counter() - self.t0) * 1e3}

    def stop(self) -> None:
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(2)
            if self.process.is_alive():
                self.process.kill()
        self.process.join()
        self.conn.close()


def _collect(args: argparse.Namespace) -> tuple[list[WarmItem], int | None, float | None]:
    cli_targets = _as_targets(args.target, "--target") if args.target else None
    items: list[WarmItem] = []
    jobs: int | None = None
    timeout: float | None = None
    for arg in args.items:
        if arg.endswith((".toml", ".json")):
            file_items, file_jobs, file_timeout = load_plan_settings(Path(arg), cli_targets)
            items.extend(file_items)
            jobs = jobs or file_jobs
            timeout = timeout if timeout is not None else file_timeout
        else:
            items.extend(WarmItem(arg, t) for t in (cli_targets or ["onnx-cpu"]))
    return items, jobs, timeout


def run(args: argparse.Namespace) -> int:
    items, file_jobs, file_timeout = _collect(args)
    if not items:
        raise UserError("nothing to warm: the warm-up file lists no models")
    if args.timeout is not None and args.timeout < 0:
        raise UserError(f"--timeout must be >= 0 seconds; found {args.timeout:g}")
    if args.jobs is not None and args.jobs < 1:  # -j 0 / -j -1 once ran with one worker, unsaid
        raise UserError(f"--jobs must be a positive integer; found {args.jobs}")
    timeout = args.timeout if args.timeout is not None else (
        file_timeout if file_timeout is not None else DEFAULT_TIMEOUT_S)
    remote = _open_push_remote(args) if args.push else None  # a bad remote fails before compiling
    jobs = max(1, min(args.jobs or file_jobs or os.cpu_count() or 1, len(items)))
    width = len(str(len(items)))
    limit = f", {timeout:g} s per item" if timeout > 0 else ""
    print(f"warming {len(items)} item(s) with {jobs} worker process(es){limit}", flush=True)
    t_start = time.perf_counter()
    results: list[tuple[WarmItem, dict[str, Any]]] = []

    def report(item: WarmItem, res: dict[str, Any]) -> None:
        results.append((item, res))
        detail = res.get("error") or res.get("key", "")[:16]
        stages = _stage_text(res.get("stages") or {})
        print(
            f"[{len(results):>{width}}/{len(items)}] {res['name']:<24} {item.target:<10} "
            f"{res['status']:<10} {res['ms']:>9.1f} ms  {detail}" + (f"  ({stages})" if stages else ""),
            flush=True,
        )

    # NOTE: one spawned process per item (not a pool): an item past its time limit is
    # killed alone, which a process pool cannot do without breaking every queued item.
    from multiprocessing.connection import wait as wait_any

    queue = list(items)
    running: list[_Running] = []
    try:
        while queue or running:
            while queue and len(running) < jobs:
                running.append(_Running(queue.pop(0), args.cache_dir, timeout))
            now = time.perf_counter()
            next_deadline = min(r.deadline for r in running)
            ready = wait_any([r.conn for r in running], timeout=max(0.0, min(next_deadline - now, 1.0)))
            for r in list(running):
                res: dict[str, Any] | None = None
                if r.conn in ready:
                    try:
                        msg = r.conn.recv()
                    except (EOFError, OSError):  # the worker exited without a result
                        r.process.join()
                        res = r.failed(f"worker died (exit code {r.process.exitcode})")
                    else:
                        if msg[0] == "stage":
                            r.stages[msg[1]] = r.stages.get(msg[1], 0.0) + msg[2]
                            if msg[2] >= _LIVE_STAGE_MS and "." not in msg[1]:
                                print(f"{'':>{2 * width + 3}} {r.item.name or r.item.source:<24} "
                                      f"{r.item.target:<10} {msg[1]} {msg[2]:.0f} ms", flush=True)
                            continue
                        res = msg[1]
                elif time.perf_counter() >= r.deadline:
                    res = r.failed(f"timed out after {timeout:g} s (--timeout; the worker was stopped)")
                if res is not None:
                    r.stop()
                    running.remove(r)
                    report(r.item, res)
    except KeyboardInterrupt:
        for r in running:  # queued items never start; running ones got the SIGINT too
            r.stop()
        print(
            f"interrupted after {len(results)}/{len(items)} items; finished entries are stored, "
            "unfinished ones left nothing behind",
            file=sys.stderr,
        )
        return 130
    counts: dict[str, int] = {}
    for _, res in results:
        counts[res["status"]] = counts.get(res["status"], 0) + 1
    total_s = time.perf_counter() - t_start
    print()
    print(f"{'NAME':<24} {'TARGET':<10} {'RESULT':<10} {'TIME':>10}")
    for item, res in sorted(results, key=lambda r: (r[1]["name"], r[0].target)):
        print(f"{res['name']:<24} {item.target:<10} {res['status']:<10} {res['ms']:>7.0f} ms")
    summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    print(f"warm: {summary} ({len(items)} items in {total_s:.1f} s)")
    failed = [r for r in results if r[1]["status"] == "failed"]
    for item, res in failed:
        print(f"FAILED {res['name']} [{item.target}]: {res['error']}", file=sys.stderr)
    if remote is not None:
        failed_pushes = _push(remote, args.cache_dir, [r for _, r in results if r["status"] in ("compiled", "cached")])
        return 1 if failed or failed_pushes else 0
    return 1 if failed else 0


def _open_push_remote(args: argparse.Namespace) -> Any:
    from webnnc.cache.remote import open_remote

    remote = open_remote(args.remote, mode="read-write")
    if remote is None:
        raise UserError("--push needs a remote cache: give --remote URL or set WEBNNC_REMOTE_CACHE")
    return remote


def _push(remote: Any, cache_dir: str | None, done: list[dict[str, Any]]) -> int:
    """Push each warmed entry (``webnnc warm --push``); returns how many failed."""
    from webnnc.cache.errors import CacheError
    from webnnc.cache.store import ArtifactStore

    failed = 0
    with ArtifactStore(cache_dir) as store:
        for res in done:
            try:
                remote.push(store, res["key"], names=(res["name"],), strict=True)
                print(f"pushed {res['name']:<24} {res['key'][:16]} to {remote.url}")
            except CacheError as e:
                failed += 1
                print(f"PUSH FAILED {res['name']}: {e}", file=sys.stderr)
    return failed
