"""``webnnc compile SOURCE``: compile a model into the cache."""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

from webnnc.cli import UserError, targets_help

__all__ = ["register"]


def register(sub: Any) -> None:
    p = sub.add_parser(
        "compile",
        help="compile a model into the cache",
        description=(
            "Compile SOURCE for one or more targets and store the artifacts in the cache. "
            "SOURCE is MODULE:FUNCTION or FILE.py:FUNCTION, where FUNCTION takes an "
            "MLGraphBuilder and returns a dict of output name -> MLOperand."
        ),
    )
    p.add_argument("source", help="MODULE:FUNCTION, FILE.py:FUNCTION, MODEL.onnx or GRAPH.webnn")
    from webnnc.cli import targets_help

    p.add_argument(
        "--target", default="onnx-cpu",
        help=f"comma-separated targets, of {targets_help()} (default onnx-cpu)",
    )
    p.add_argument("--name", help="register the model under this name (default: the function name)")
    p.add_argument(
        "--precision", choices=("fast", "strict"), default="fast",
        help="fast (default): ONNX Runtime's native kernels, as it runs the original model; "
        "strict: the spec's exact formulas where a native kernel misses WPT's ULP tolerance",
    )
    p.add_argument(
        "--no-fusion", dest="fusion", action="store_false",
        help="onnx-cpu: no generated kernels for elementwise regions (plain ONNX Runtime artifact; "
        "compiler/kernels/KERNELS.md)",
    )
    p.add_argument("--verify", action="store_true", help="verify the IR after every pass")
    p.add_argument(
        "--explain", action="store_true",
        help="print each pass's effect and time, the artifact size and the cache key's parts",
    )
    p.add_argument(
        "--input-shape", action="append", metavar="NAME=D1,D2,...",
        help="static shape for an ONNX input with dynamic dimensions (repeatable)",
    )
    p.add_argument("--force", action="store_true", help="compile even when cached, and replace the entry")
    p.add_argument(
        "-q", "--quiet", action="store_true",
        help="no progress lines on stderr (they show only on a terminal, for compiles over a second)",
    )
    p.set_defaults(func=run)


# A compile that ends within this many seconds prints no progress at all; a longer one
# prints the stages done so far, then each stage as it ends.
PROGRESS_AFTER_S = 1.0


def process_started() -> float:
    """When this process started, on the ``time.perf_counter()`` clock.

    The printed total counts from here, so it includes the interpreter's start and every
    import, as a user's stopwatch (or ``time``) does. From /proc on Linux; elsewhere, the
    time this module was imported.
    """
    try:
        with open("/proc/self/stat", "rb") as f:
            stat = f.read()
        start_ticks = int(stat[stat.rindex(b")") + 2 :].split()[19])
        with open("/proc/uptime", "rb") as f:
            uptime = float(f.read().split()[0])
        age = uptime - start_ticks / os.sysconf("SC_CLK_TCK")
        if 0 <= age < 3600:
            return time.perf_counter() - age
    except (OSError, ValueError, IndexError):
        pass
    return _IMPORTED


_IMPORTED = time.perf_counter()


class Progress:
    """Stage lines on stderr (``  import       2310 ms``), once the compile passes a second.

    Quiet when stderr is not a terminal or with ``--quiet``; lines of stages that ended
    before the first second are held back, then printed together.
    """

    def __init__(self, label: str, started: float, *, enabled: bool) -> None:
        self.label = label
        self.started = started
        self.enabled = enabled
        self._held: list[str] = []
        self._shown = False

    def __call__(self, stage: str, ms: float) -> None:
        if not self.enabled:
            return
        self._held.append(f"  {self.label} {stage:<17} {ms:9.1f} ms")
        if self._shown or time.perf_counter() - self.started >= PROGRESS_AFTER_S:
            self._shown = True
            sys.stderr.write("".join(line + "\n" for line in self._held))
            sys.stderr.flush()
            self._held.clear()


def run(args: argparse.Namespace) -> int:
    from webnnc.compiler.driver import gc_paused

    with gc_paused():  # the import builds the graph too (see gc_paused)
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    from webnnc.cache.store import ArtifactStore
    from webnnc.cache.targets import target_info
    from webnnc.compiler.driver import compile_graph
    from webnnc.compiler.frontend import MLGraphBuilder
    from webnnc.compiler.importers import parse_input_shapes
    from webnnc.compiler.options import CompileOptions
    from webnnc.compiler.sources import resolve_source

    started = process_started()
    targets = [t.strip() for t in args.target.split(",") if t.strip()]
    if not targets:  # `--target ,` once compiled nothing and exited 0
        raise UserError(f"--target {args.target!r}: expected one or more of {targets_help()} (comma-separated); found none")
    for target in targets:
        target_info(target)  # an unknown target: one line naming the known ones, before any work
    input_shapes = parse_input_shapes(args.input_shape)  # checks each dimension's range itself
    source = resolve_source(args.source, input_shapes=input_shapes)
    name = args.name or source.name
    store = ArtifactStore(args.cache_dir)
    show = not args.quiet and sys.stderr.isatty()
    for i, target in enumerate(targets):
        t_target = time.perf_counter()
        progress = Progress(f"{name} [{target}]", started, enabled=show)
        before: dict[str, float] = {}
        if i == 0:  # the interpreter, the CLI and the libraries it loaded
            before["startup"] = round((time.perf_counter() - started) * 1e3, 3)
            progress("startup", before["startup"])
        options = CompileOptions(target=target, precision=args.precision, fusion=args.fusion)
        t0 = time.perf_counter()
        builder = MLGraphBuilder()
        outputs = _build_source(source, builder, args.source)  # the ONNX or text import, or the user's function
        before["import"] = round((time.perf_counter() - t0) * 1e3, 3)
        progress("import", before["import"])
        t0 = time.perf_counter()
        graph = builder.build(outputs, name=name)
        before["build"] = round((time.perf_counter() - t0) * 1e3, 3)
        progress("build", before["build"])
        result = compile_graph(
            graph, options, store=store, name=name, verify_ir=args.verify, force=args.force,
            stage_timings=before, progress=progress,
        )
        # the first target: the process's whole wall time so far; a later one: its own
        total_ms = (time.perf_counter() - (started if i == 0 else t_target)) * 1e3
        m = result.manifest
        print(
            f"{name} [{target}]: {result.info.source} in {total_ms:.1f} ms "
            f"({_stage_summary(result.info.timings_ms)}), key {result.info.key[:16]}, "
            f"{m.format} artifact {m.artifact_size / 1024:.1f} KiB"
        )
        if args.explain:
            from webnnc.cli._explain import explain

            if result.info.cache_hit:
                from webnnc.compiler.driver import rerun_passes

                result.info.passes = rerun_passes(graph, options)

            print(explain(result))
    return 0


def _build_source(source: Any, builder: Any, spec: str) -> Any:
    """``source.build(builder)``; an error that is not webnnc's own (raised by the user's
    FUNCTION: a TypeError from a wrong signature, a bug in their code) names the SOURCE."""
    from webnnc.cache.errors import CacheError
    from webnnc.compiler.errors import CompilerError
    from webnnc.runtime.errors import WebNNRuntimeError

    try:
        return source.build(builder)
    except (CompilerError, CacheError, WebNNRuntimeError, UserError):
        raise
    except Exception as e:
        text = " ".join(str(e).split()) or "no message"
        raise UserError(f"{spec!r} raised {type(e).__name__}: {text} (--debug shows the traceback)") from e


def _stage_summary(timings: dict[str, float]) -> str:
    """The largest stages, e.g. ``import=2310ms backend_optimize=1642ms store=1139ms``
    (``name=value``: the line's ``key <hex>`` field stays the only "key" followed by a space)."""
    top = sorted(((v, k) for k, v in timings.items() if "." not in k), reverse=True)[:3]
    return " ".join(f"{k}={v:.0f}ms" for v, k in top)
