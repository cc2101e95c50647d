"""Compile speed: ``webnnc compile`` wall time per corpus model, against ONNX Runtime's own
session creation with full optimization on the same file, and compile time per op on chains.

Corpus (``--corpus DIR``, models ``--only a,b``): each round, in fresh processes and in
alternating order, (a) ``webnnc compile MODEL --quiet`` into an empty cache folder, timed
from outside (the process's wall time) and with the total it prints, and (b)
``InferenceSession(MODEL)`` with ``ORT_ENABLE_ALL``, timed around the constructor. The
acceptance bound is ``max(2 s, 3 x ORT session creation)``; "printed/wall" must be within
10% of 1.

Chains: graphs of N elementwise ops (add of a constant, then relu, alternating), built
through the builder and compiled into an empty cache in this process; time per op is the
build + compile time over N (acceptance: per-op at 10,000 within 1.5x of 1,000, <= 1 ms).
``--onnx-chains`` runs the same chains as ONNX files through ``webnnc compile`` in fresh
processes (the importer included); add ``100000`` to either list for issue 15's 100k point
(off by default: about 20 s on 2 cores).

Usage::

    python benchmarks/bench_compile.py [--corpus benchmarks/results/tmp/corpus --only squeezenet1_1,resnet50]
        [--rounds 3] [--chains 10,100,1000,10000] [--onnx-chains 1000,10000,100000]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import REPO_ROOT, machine_lines, markdown_table, median

_ORT_SESSION = """
import sys, time
import onnxruntime as ort
so = ort.SessionOptions()
so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
t0 = time.perf_counter()
ort.InferenceSession(sys.argv[1], so, providers=["CPUExecutionProvider"])
print(time.perf_counter() - t0)
"""


def _webnnc_compile(model: Path, shapes: list[str]) -> tuple[float, float]:
    """(wall s, printed total s) of one ``webnnc compile`` into an empty cache."""
    with tempfile.TemporaryDirectory(prefix="bench-compile-") as cache:
        cmd = [sys.executable, "-m", "webnnc", "compile", str(model), "--quiet", "--cache-dir", cache]
        for s in shapes:
            cmd += ["--input-shape", s]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=REPO_ROOT)
        wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{model.name}: webnnc compile failed: {proc.stderr.strip()[-400:]}")
    found = re.search(r" in ([0-9.]+) ms", proc.stdout)
    return wall, float(found.group(1)) / 1e3 if found else float("nan")


def _ort_session(model: Path) -> float:
    proc = subprocess.run([sys.executable, "-c", _ORT_SESSION, str(model)], capture_output=True, text=True, check=True)
    return float(proc.stdout.strip().splitlines()[-1])


def _input_shapes(spec: Path) -> list[str]:
    if not spec.is_file():
        return []
    inputs = json.loads(spec.read_text()).get("inputs", {})
    return [f"{n}={','.join(str(d) for d in v['shape'])}" for n, v in inputs.items()]


def corpus(folder: Path, only: list[str] | None, rounds: int) -> list[str]:
    models = sorted(p for p in folder.glob("*.onnx") if not only or p.stem in only)
    rows = []
    for model in models:
        shapes = _input_shapes(model.with_suffix(".json"))
        walls, printed, orts = [], [], []
        for r in range(rounds):
            if r % 2:
                orts.append(_ort_session(model))
                w, p = _webnnc_compile(model, shapes)
            else:
                w, p = _webnnc_compile(model, shapes)
                orts.append(_ort_session(model))
            walls.append(w)
            printed.append(p)
        wall, ort_s = median(walls), median(orts)
        bound = max(2.0, 3 * ort_s)
        rows.append([
            model.stem, f"{wall:.2f}", f"{ort_s:.2f}", f"{wall / ort_s:.1f}", f"{bound:.2f}",
            "yes" if wall <= bound else "NO", f"{median(printed) / wall:.2f}",
        ])
        print(f"  {model.stem}: {wall:.2f} s (ORT {ort_s:.2f} s)", file=sys.stderr)
    return markdown_table(
        ["model", "webnnc compile s", "ORT session s", "ratio", "bound s", "within", "printed/wall"], rows
    )


def _chain_seconds(n: int) -> float:
    import numpy as np

    from webnnc.cache.store import ArtifactStore
    from webnnc.compiler.driver import compile_graph
    from webnnc.compiler.frontend import MLGraphBuilder
    from webnnc.compiler.options import CompileOptions

    with tempfile.TemporaryDirectory(prefix="bench-chain-") as cache:
        t0 = time.perf_counter()
        b = MLGraphBuilder()
        x = b.input("x", [1, 64], "float32")
        c = b.constant(np.full((1, 64), 0.5, dtype=np.float32))
        for i in range(n):
            x = b.add(x, c) if i % 2 == 0 else b.relu(x)
        graph = b.build({"y": x})
        compile_graph(graph, CompileOptions(), store=ArtifactStore(cache))
        return time.perf_counter() - t0


def chains(sizes: list[int]) -> list[str]:
    per_op: dict[int, float] = {}
    rows = []
    _chain_seconds(10)  # warm-up: the first compile in a process imports onnx and onnxruntime
    for n in sizes:
        s = _chain_seconds(n)
        per_op[n] = s / n
        rows.append([str(n), f"{s:.2f}", f"{s / n * 1e3:.3f}"])
        print(f"  chain {n}: {s:.2f} s", file=sys.stderr)
    lines = markdown_table(["ops", "build + compile s", "ms per op"], rows)
    if 1000 in per_op and 10000 in per_op:
        lines.append("")
        lines.append(f"per-op time at 10,000 / at 1,000: {per_op[10000] / per_op[1000]:.2f} (acceptance <= 1.5)")
    return lines


def _onnx_chain(n: int, folder: str) -> Path:
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes, prev = [], "x"
    for i in range(n):
        out = f"t{i}" if i < n - 1 else "y"
        ins = [prev, "c"] if i % 2 == 0 else [prev]
        nodes.append(helper.make_node("Add" if i % 2 == 0 else "Relu", ins, [out], name=f"n{i}"))
        prev = out
    graph = helper.make_graph(
        nodes, "chain", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 64])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 64])],
        [numpy_helper.from_array(np.full((1, 64), 0.5, dtype=np.float32), "c")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = Path(folder) / f"chain{n}.onnx"
    onnx.save(model, str(path))
    return path


def onnx_chains(sizes: list[int]) -> list[str]:
    """``webnnc compile chainN.onnx`` in a fresh process: wall time per op, importer included."""
    rows, per_op = [], {}
    with tempfile.TemporaryDirectory(prefix="bench-onnx-chain-") as folder:
        for n in sizes:
            wall, _ = _webnnc_compile(_onnx_chain(n, folder), [])
            per_op[n] = wall / n
            rows.append([str(n), f"{wall:.2f}", f"{wall / n * 1e3:.3f}"])
            print(f"  onnx chain {n}: {wall:.2f} s", file=sys.stderr)
    lines = markdown_table(["ops", "webnnc compile wall s", "ms per op"], rows)
    if 10000 in per_op and 100000 in per_op:
        lines += ["", f"per-op time at 100,000 / at 10,000: {per_op[100000] / per_op[10000]:.2f} (linear: ~1)"]
    return lines


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", type=Path, help="folder of <name>.onnx + <name>.json")
    ap.add_argument("--only", help="comma-separated model names")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--chains", default="10,100,1000,10000", help="chain lengths ('' for none)")
    ap.add_argument("--onnx-chains", default="", help="ONNX chain lengths through `webnnc compile` ('' for none)")
    args = ap.parse_args()
    out = ["# Compile speed", "", *machine_lines(), ""]
    if args.corpus:
        only = [s for s in (args.only or "").split(",") if s]
        out += ["## Corpus: webnnc compile vs ORT session creation (ORT_ENABLE_ALL)", ""]
        out += [*corpus(args.corpus, only or None, args.rounds), ""]
    sizes = [int(s) for s in args.chains.split(",") if s]
    if sizes:
        out += ["## Chains of elementwise ops", "", *chains(sizes)]
    onnx_sizes = [int(s) for s in args.onnx_chains.split(",") if s]
    if onnx_sizes:
        out += ["", "## ONNX chains through `webnnc compile` (fresh processes)", "", *onnx_chains(onnx_sizes)]
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    sys.exit(main())
