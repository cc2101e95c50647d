"""``webnnc compile SOURCE``: compile a model into the cache."""

from __future__ import annotations

import argparse
import time
from typing import Any

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
    p.add_argument("--verify", action="store_true", help="verify the IR after every pass")
    p.add_argument(
        "--explain", action="store_true",
        help="print each pass's effect and time, the artifact size and the cache key's parts",
    )
    p.add_argument(
        "--input-shape", action="append", metavar="NAME=D1,D2,...",
        help="static shape for an ONNX input with dynamic dimensions (repeatable)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from webnnc.cache.store import ArtifactStore
    from webnnc.cache.targets import target_info
    from webnnc.compiler.driver import compile_graph
    from webnnc.compiler.frontend import MLGraphBuilder
    from webnnc.compiler.importers import parse_input_shapes
    from webnnc.compiler.options import CompileOptions
    from webnnc.compiler.sources import resolve_source

    targets = [t.strip() for t in args.target.split(",") if t.strip()]
    for target in targets:
        target_info(target)  # an unknown target: one line naming the known ones, before any work
    source = resolve_source(args.source, input_shapes=parse_input_shapes(args.input_shape))
    name = args.name or source.name
    store = ArtifactStore(args.cache_dir)
    for target in targets:
        options = CompileOptions(target=target, precision=args.precision)
        builder = MLGraphBuilder()
        graph = builder.build(source.build(builder), name=name)
        t0 = time.perf_counter()
        result = compile_graph(graph, options, store=store, name=name, verify_ir=args.verify)
        ms = (time.perf_counter() - t0) * 1e3
        m = result.manifest
        print(
            f"{name} [{target}]: {result.info.source} in {ms:.1f} ms, key {result.info.key[:16]}, "
            f"{m.format} artifact {m.artifact_size / 1024:.1f} KiB"
        )
        if args.explain:
            from webnnc.cli._explain import explain

            print(explain(result))
    return 0
