"""``webnnc demo``: compile W1-W3 (or load them from the cache), run them, print timings."""

from __future__ import annotations

import argparse
import time
from typing import Any

__all__ = ["register"]


def register(sub: Any) -> None:
    p = sub.add_parser(
        "demo",
        help="compile the example workloads W1-W3 (or load them from the cache) and run them",
    )
    p.add_argument("--runs", type=int, default=30, help="warm runs per workload (default 30)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from statistics import median  # here, not at import: every CLI command imports this module

    import numpy as np

    import webnnc
    from webnnc.compiler.workloads import WORKLOADS

    context = webnnc.ML().create_context(cache_dir=args.cache_dir)
    print(f"webnnc {webnnc.__version__} demo; cache: {context.backend_info()['cache_dir']}")
    rng = np.random.default_rng(0)
    rows = []
    for name, fn in WORKLOADS.items():
        builder = context.create_graph_builder()
        outputs = fn(builder)
        t0 = time.perf_counter()
        graph = builder.build(outputs, name=name)
        build_ms = (time.perf_counter() - t0) * 1e3
        x = rng.standard_normal([1, 3, 224, 224]).astype(np.float32)
        t0 = time.perf_counter()
        out = context.compute(graph, {"input": x})["output"]
        first_ms = (time.perf_counter() - t0) * 1e3
        times = []
        for _ in range(max(1, args.runs)):
            t0 = time.perf_counter()
            context.compute(graph, {"input": x})
            times.append((time.perf_counter() - t0) * 1e3)
        rows.append(
            (name, graph.build_info["source"], build_ms, first_ms, median(times), f"{out.dtype}{list(out.shape)}")
        )
    print(f"{'workload':<9} {'build':<18} {'build ms':>9} {'first run ms':>13} {'warm median ms':>15}  output")
    for name, source, build_ms, first_ms, warm_ms, desc in rows:
        print(f"{name:<9} {source:<18} {build_ms:>9.1f} {first_ms:>13.2f} {warm_ms:>15.3f}  {desc}")
    print("(run it again: every build is a cache hit)")
    return 0
