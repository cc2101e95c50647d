"""What webnnc's pass pipeline buys: W1-W3 against ONNX Runtime on the naive ONNX export.

For each workload the script builds the graph twice from ``compiler/workloads.py``:

- naive: the graph as built, lowered by the ONNX emitter with no webnnc pass, loaded by
  ONNX Runtime from a ``.onnx`` file with default session options (which optimize at load,
  ``ORT_ENABLE_ALL``: for W3 that is also the fastest ORT configuration);
- webnnc: compiled by ``compile_graph`` into a fresh cache (passes, emitter, ORT's offline
  optimizer, stored as the target's artifact), loaded as ``webnnc.runtime.load`` does.

It prints nodes before/after the pipeline, warm latency of one run (webnnc through
``MLGraph.run``, the user-facing call; naive through ``InferenceSession.run``) and session
creation time, each a median over interleaved repeats (A, B, B, A, ...), plus the median of
per-pair ratios. Both sides use the same thread count.

``--stages`` also times artifact variants (ORT format vs optimized ONNX, onnxsim before
ORT's optimizer, ORT's optimizer without webnnc's passes, the portable level), each loaded
with the runtime's session options, to justify the stages kept.

Usage::

    python benchmarks/bench_passes.py [--workloads w1,w2,w3] [--repeats 40] [--threads N] [--stages]
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import fmt_ms, machine_lines, markdown_table, median, pair_ratios


def _graph(name: str) -> Any:
    from webnnc.compiler.frontend import MLGraphBuilder
    from webnnc.compiler.workloads import WORKLOADS

    b = MLGraphBuilder()
    return b.build(WORKLOADS[name](b))


def _timed(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1e3


def _interleaved(a: Callable[[], Any], b: Callable[[], Any], repeats: int) -> tuple[list[float], list[float]]:
    ta: list[float] = []
    tb: list[float] = []
    for i in range(repeats):
        if i % 2:
            tb.append(_timed(b))
            ta.append(_timed(a))
        else:
            ta.append(_timed(a))
            tb.append(_timed(b))
    return ta, tb


def _naive_session(path: str, threads: int | None) -> Any:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.log_severity_level = 3
    if threads:
        so.intra_op_num_threads = threads
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def bench(name: str, repeats: int, threads: int | None, tmp: Path) -> dict[str, Any]:
    from webnnc.cache.store import ArtifactStore
    from webnnc.compiler.driver import compile_graph
    from webnnc.compiler.emitters import get_emitter
    from webnnc.compiler.options import CompileOptions
    from webnnc.runtime._session import create_session
    from webnnc.runtime.graph import MLGraph

    naive_graph = _graph(name)
    nodes_before = len(naive_graph)
    naive_path = tmp / f"{name}.onnx"
    naive_path.write_bytes(get_emitter("onnx").emit(naive_graph).data)

    t0 = time.perf_counter()
    result = compile_graph(_graph(name), CompileOptions(), store=ArtifactStore(tmp / "cache"))
    compile_ms = (time.perf_counter() - t0) * 1e3
    nodes_after = result.info.passes[-1].nodes_after if result.info.passes else nodes_before
    manifest = result.manifest
    artifact = result.data
    if artifact is None:
        assert result.path is not None
        artifact = Path(result.path).read_bytes()

    def webnnc_session() -> Any:
        return create_session(
            target=manifest.target, fmt=manifest.format, data=artifact, intra_op_threads=threads,
            folder=result.path if manifest.files else None,  # the entry's mapped weights
            kernels=(result.held or {}).get("kernels.so"),  # its fused kernels (compiler/kernels)
        )[0]

    create_naive, create_webnnc = _interleaved(
        lambda: _naive_session(str(naive_path), threads), webnnc_session, max(5, repeats // 4)
    )
    gc.collect()

    x = np.random.default_rng(0).standard_normal([1, 3, 224, 224]).astype(np.float32)
    feeds = {"input": x}
    naive = _naive_session(str(naive_path), threads)
    graph = MLGraph(manifest, webnnc_session(), build_info={"source": "bench"})
    expected = naive.run(None, feeds)[0]
    got = graph.run(feeds)["output"]
    finite = np.isfinite(expected)
    agree = bool(
        np.array_equal(finite, np.isfinite(got))
        and np.allclose(got[finite], expected[finite], rtol=1e-4, atol=1e-6)
    )
    for _ in range(5):
        naive.run(None, feeds)
        graph.run(feeds)
    warm_naive, warm_webnnc = _interleaved(lambda: naive.run(None, feeds), lambda: graph.run(feeds), repeats)
    return {
        "workload": name,
        "nodes_before": nodes_before,
        "nodes_after": nodes_after,
        "format": manifest.format,
        "compile_ms": compile_ms,
        "warm_naive": median(warm_naive),
        "warm_webnnc": median(warm_webnnc),
        "warm_ratio": median(pair_ratios(warm_webnnc, warm_naive)),
        "create_naive": median(create_naive),
        "create_webnnc": median(create_webnnc),
        "create_ratio": median(pair_ratios(create_webnnc, create_naive)),
        "agree": agree,
        "peak_live_bytes": manifest.extra.get("memory_plan", {}).get("peak_live_bytes"),
    }


def stages(name: str, repeats: int, threads: int | None, tmp: Path) -> list[list[str]]:
    """Warm and creation medians of artifact variants, each loaded as the runtime loads it."""
    from webnnc.compiler.emitters import get_emitter
    from webnnc.compiler.emitters.ort_optimizer import optimize
    from webnnc.compiler.passes import default_pipeline
    from webnnc.runtime._session import create_session

    raw = get_emitter("onnx").emit(_graph(name)).data
    passed = get_emitter("onnx").emit(default_pipeline()(_graph(name)).graph).data
    variants: dict[str, tuple[bytes, str]] = {
        "passes + ORT all, ORT format": (optimize(passed, level="all").data, "ort"),
        "passes + ORT all, ONNX": (optimize(passed, level="all", save_format="ONNX").data, "onnx"),
        "passes + ORT basic, ONNX (portable)": (
            optimize(passed, level="basic", save_format="ONNX").data, "onnx"
        ),
        "no passes + ORT all, ONNX": (optimize(raw, level="all", save_format="ONNX").data, "onnx"),
    }
    try:
        import onnx
        import onnxsim

        simplified, ok = onnxsim.simplify(onnx.load_from_string(passed))
        if ok:
            data = optimize(simplified.SerializeToString(), level="all", save_format="ONNX").data
            variants["passes + onnxsim + ORT all, ONNX"] = (data, "onnx")
    except ImportError:
        pass

    def session(data: bytes, fmt: str) -> Any:
        return create_session(target="onnx-cpu", fmt=fmt, data=data, intra_op_threads=threads)[0]

    x = {"input": np.random.default_rng(0).standard_normal([1, 3, 224, 224]).astype(np.float32)}
    sessions = {k: session(*v) for k, v in variants.items()}
    warm: dict[str, list[float]] = {k: [] for k in variants}
    create: dict[str, list[float]] = {k: [] for k in variants}
    for s in sessions.values():
        s.run(None, x)
    for _ in range(repeats):
        for k, s in sessions.items():
            warm[k].append(_timed(lambda s=s: s.run(None, x)))
    for _ in range(max(5, repeats // 2)):
        for k, v in variants.items():
            create[k].append(_timed(lambda v=v: session(*v)))
    return [
        [f"{name}: {k}", fmt_ms(median(warm[k])), fmt_ms(median(create[k])), str(len(variants[k][0]))]
        for k in variants
    ]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workloads", default="w1,w2,w3")
    p.add_argument("--repeats", type=int, default=40)
    p.add_argument("--threads", type=int, default=None, help="intra-op threads (default: ORT's)")
    p.add_argument("--stages", action="store_true", help="also time artifact variants")
    args = p.parse_args(argv)
    names = [w.strip() for w in args.workloads.split(",") if w.strip()]
    with tempfile.TemporaryDirectory(prefix="webnnc-bench-passes-") as d:
        tmp = Path(d)
        rows = []
        for name in names:
            r = bench(name, args.repeats, args.threads, tmp)
            rows.append([
                name, str(r["nodes_before"]), str(r["nodes_after"]), r["format"],
                fmt_ms(r["warm_naive"]), fmt_ms(r["warm_webnnc"]), f"{r['warm_ratio']:.2f}",
                fmt_ms(r["create_naive"]), fmt_ms(r["create_webnnc"]), f"{r['create_ratio']:.2f}",
                fmt_ms(r["compile_ms"]), f"{(r['peak_live_bytes'] or 0) / 2**20:.1f}",
                "yes" if r["agree"] else "NO",
            ])
        header = [
            "workload", "nodes before", "nodes after", "artifact", "warm ORT naive ms",
            "warm webnnc ms", "warm ratio", "create ORT naive ms", "create webnnc ms",
            "create ratio", "compile ms", "planned peak MiB", "outputs agree",
        ]
        lines = [
            f"# bench_passes (repeats {args.repeats}, threads {args.threads or 'ORT default'})",
            "",
            *machine_lines(),
            "",
            *markdown_table(header, rows),
        ]
        if args.stages:
            stage_rows: list[list[str]] = []
            for name in names:
                stage_rows.extend(stages(name, args.repeats, args.threads, tmp))
            lines += ["", *markdown_table(["variant", "warm ms", "create ms", "bytes"], stage_rows)]
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("WEBNNC_CACHE_DIR", tempfile.mkdtemp(prefix="webnnc-bench-cache-"))
    sys.exit(main())
