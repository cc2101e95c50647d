"""Fused kernels (compiler/kernels): what they buy, where they form, what a hit pays for them.

Three tables:

1. **W1 / W2**: warm time of one run, webnnc with fusion on, webnnc with fusion off, ONNX
   Runtime on the naive export (default session options); interleaved in one process,
   median of per-round ratios.
2. **corpus** (``--corpus DIR``): each model compiled with fusion on and off (in memory);
   the regions formed, and, where any formed, warm fusion-on / fusion-off interleaved. A
   model with no region gets the same artifact either way (nothing to time).
3. **cold hit** (``--cold N``): fresh processes, ``webnnc.runtime.load(name)`` of W1 stored
   with and without kernels, alternating; the session-creation and total load times.

Usage::

    python benchmarks/bench_kernels.py [--rounds 200] [--corpus /path/to/corpus --only a,b] [--cold 15]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_lines, markdown_table, median, pair_ratios


def _interleaved(fns: list[Callable[[], Any]], rounds: int) -> list[list[float]]:
    times: list[list[float]] = [[] for _ in fns]
    for r in range(rounds):
        order = range(len(fns)) if r % 2 == 0 else reversed(range(len(fns)))
        for i in order:
            t0 = time.perf_counter()
            fns[i]()
            times[i].append((time.perf_counter() - t0) * 1e3)
    return times


def _open(result: Any) -> Any:
    from webnnc.runtime.loader import open_graph

    return open_graph(result.manifest, path=result.path, data=result.data, files=result.files, held=result.held, info={})


def workloads(rounds: int) -> list[list[str]]:
    import onnxruntime as ort

    from webnnc.compiler.driver import compile_graph
    from webnnc.compiler.emitters import get_emitter
    from webnnc.compiler.frontend import MLGraphBuilder
    from webnnc.compiler.options import CompileOptions
    from webnnc.compiler.workloads import WORKLOADS

    rows = []
    for name in ("w1", "w2"):
        def graph(name: str = name) -> Any:
            b = MLGraphBuilder()
            return b.build(WORKLOADS[name](b))

        naive = ort.InferenceSession(get_emitter("onnx").emit(graph()).data, providers=["CPUExecutionProvider"])
        on = _open(compile_graph(graph(), CompileOptions(fusion=True)))
        off = _open(compile_graph(graph(), CompileOptions(fusion=False)))
        x = np.random.default_rng(0).standard_normal([1, 3, 224, 224]).astype(np.float32)
        feeds = {"input": x}
        ref = naive.run(None, feeds)[0]
        got = on.run(feeds)["output"]
        agree = bool(np.array_equal(np.isnan(ref), np.isnan(got)) and np.allclose(
            np.nan_to_num(got, posinf=0, neginf=0), np.nan_to_num(ref, posinf=0, neginf=0), rtol=1e-5, atol=1e-6))
        t_on, t_off, t_ort = _interleaved(
            [lambda on=on, f=feeds: on.run(f), lambda off=off, f=feeds: off.run(f),
             lambda n=naive, f=feeds: n.run(None, f)], rounds
        )
        rows.append([
            name, f"{median(t_ort):.3f}", f"{median(t_off):.3f}", f"{median(t_on):.3f}",
            f"{median(pair_ratios(t_on, t_ort)):.3f}", f"{median(pair_ratios(t_off, t_ort)):.3f}",
            f"{median(pair_ratios(t_on, t_off)):.3f}", "yes" if agree else "NO",
        ])
    return rows


def corpus(folder: Path, only: set[str] | None, rounds: int) -> list[list[str]]:
    from webnnc.compiler.driver import compile_graph
    from webnnc.compiler.frontend import MLGraphBuilder
    from webnnc.compiler.options import CompileOptions
    from webnnc.compiler.sources import resolve_source

    rows = []
    for meta_path in sorted(folder.glob("*.json")):
        meta = json.loads(meta_path.read_text())
        if only and meta["name"] not in only:
            continue
        shapes = {k: v["shape"] for k, v in meta["inputs"].items()}
        source = resolve_source(str(meta_path.with_suffix(".onnx")), input_shapes=shapes)

        def graph(source: Any = source) -> Any:
            b = MLGraphBuilder()
            return b.build(source.build(b))

        on_res = compile_graph(graph(), CompileOptions(fusion=True))
        kernels = on_res.manifest.extra.get("kernels", {})
        regions = int(kernels.get("regions", 0))
        if not regions:
            rows.append([meta["name"], "0", "-", "same artifact"])
            continue
        off_res = compile_graph(graph(), CompileOptions(fusion=False))
        on, off = _open(on_res), _open(off_res)
        rng = np.random.default_rng(0)
        feeds = {k: (rng.standard_normal(v["shape"]) if "float" in v["dtype"] else rng.integers(0, 100, v["shape"]))
                 .astype(v["dtype"]) for k, v in meta["inputs"].items()}
        a, b = on.run(feeds), off.run(feeds)
        err = max(float(np.max(np.abs(a[k].astype(np.float64) - b[k]))) for k in a)
        t_on, t_off = _interleaved([lambda on=on, f=feeds: on.run(f), lambda off=off, f=feeds: off.run(f)], rounds)
        rows.append([meta["name"], str(regions), f"{median(pair_ratios(t_on, t_off)):.3f}", f"max |on - off| {err:.1e}"])
    return rows


_CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
import numpy as np
import webnnc.runtime
t1 = time.perf_counter()
g = webnnc.runtime.load(sys.argv[1])
t2 = time.perf_counter()
g.run({"input": np.ones([1, 3, 224, 224], np.float32)})
t3 = time.perf_counter()
print(json.dumps({"load": (t2 - t1) * 1e3, "session": g.build_info["timings_ms"]["session"], "first": (t3 - t2) * 1e3}))
"""


def cold(n: int) -> list[list[str]]:
    from webnnc.cache.store import ArtifactStore
    from webnnc.compiler.driver import compile_graph
    from webnnc.compiler.frontend import MLGraphBuilder
    from webnnc.compiler.options import CompileOptions
    from webnnc.compiler.workloads import w1_simple

    folder = tempfile.mkdtemp(prefix="webnnc-kernels-bench-")
    env = {**os.environ, "WEBNNC_CACHE_DIR": folder}
    store = ArtifactStore(folder)
    for fusion, name in ((True, "w1_fused"), (False, "w1_plain")):
        b = MLGraphBuilder()
        compile_graph(b.build(w1_simple(b)), CompileOptions(fusion=fusion), store=store, name=name)
    time.sleep(2.5)  # past the racy-fingerprint window: hits below take the steady path
    out: dict[str, list[dict[str, float]]] = {"w1_fused": [], "w1_plain": []}
    for i in range(n):
        for name in (("w1_fused", "w1_plain") if i % 2 == 0 else ("w1_plain", "w1_fused")):
            proc = subprocess.run([sys.executable, "-c", _CHILD, name], env=env, capture_output=True, text=True, check=True)
            out[name].append(json.loads(proc.stdout.strip().splitlines()[-1]))
    rows = []
    for name, runs in out.items():
        rows.append([name, f"{median([r['load'] for r in runs]):.2f}", f"{median([r['session'] for r in runs]):.2f}",
                     f"{median([r['first'] for r in runs]):.2f}"])
    diff = [f["load"] - p["load"] for f, p in zip(out["w1_fused"], out["w1_plain"], strict=True)]
    rows.append(["fused - plain (median of pairs)", f"{median(diff):+.2f}", "", ""])
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=200)
    ap.add_argument("--corpus", type=Path)
    ap.add_argument("--only", default="")
    ap.add_argument("--corpus-rounds", type=int, default=15)
    ap.add_argument("--cold", type=int, default=0)
    args = ap.parse_args(argv)
    print("# bench_kernels\n")
    print("\n".join(machine_lines()) + "\n")
    print(f"Command: `python benchmarks/bench_kernels.py {' '.join(sys.argv[1:])}`\n")
    print("\n".join(markdown_table(
        ["workload", "ORT naive ms", "fusion off ms", "fusion on ms", "on / ORT", "off / ORT", "on / off", "agree"],
        workloads(args.rounds),
    )))
    if args.corpus:
        only = {s for s in args.only.split(",") if s} or None
        print()
        print("\n".join(markdown_table(["model", "regions", "warm on / off", "note"], corpus(args.corpus, only, args.corpus_rounds))))
    if args.cold:
        print()
        print("\n".join(markdown_table(["cold hit (fresh process)", "load ms", "session ms", "first run ms"], cold(args.cold))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
