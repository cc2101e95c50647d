"""Where warm time goes: webnnc's artifact vs ONNX Runtime on the original, in CPU work.

``bench_corpus.py`` compares wall-clock latency with each side's default threads; on a shared
machine a busy core makes a 2-thread run wait for its straggler, and those ratios scatter
by +-10%. This script measures what the compiled artifact changes, independent of the
machine's load:

- **CPU work**: both sessions run with one intra-op thread, so every kernel runs on the
  calling thread, and each run is timed with ``time.thread_time()`` (CPU time of that thread:
  time spent waiting for a core is not counted). Interleaved blocks, median of per-round
  ratios (< 1: webnnc's artifact does less work).
- **Where it goes**: ONNX Runtime's own per-node profile of the original model (optimized by
  ORT at load, as users run it), summed by operator type: the share of matrix products
  (Gemm / MatMul / FusedMatMul / Conv) is the part no graph rewrite can remove; what is left
  is what fusion can win.

Usage::

    python benchmarks/bench_warm_work.py --corpus benchmarks/results/tmp/corpus [--only a,b]

Compiles each model with ``webnnc compile`` into a fresh cache (or ``--cache-dir``), writes
``results/warm_work.md`` and ``.json``.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS_DIR, fmt_ms, machine_lines, markdown_table, median
from bench_corpus import TARGET, _inputs, compile_model, corpus_models

_GEMM_LIKE = {"Gemm", "MatMul", "FusedMatMul", "FusedGemm", "Conv", "FusedConv", "NchwcConv", "Attention",
              "MultiHeadAttention", "ConvTranspose"}


def _one_thread(ort: Any) -> Any:
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.log_severity_level = 3
    return so


def _artifact_session(name: str, cache_dir: Path) -> Any:
    """The stored artifact's session exactly as ``runtime.load()`` creates it, on one thread."""
    from webnnc.cache.store import ArtifactStore
    from webnnc.runtime._session import create_session

    store = ArtifactStore(cache_dir)
    manifest = store.find(name, TARGET)[0]
    hit = store.get(manifest.key)
    if hit is None or not hit.manifest.files:
        raise RuntimeError(f"{name}: no multi-file ONNX entry in {cache_dir}")
    folder = hit.folder
    session, _ = create_session(target=TARGET, fmt="onnx", path=os.path.join(folder, "model.onnx"), folder=folder,
                                settings=hit.manifest.session, intra_op_threads=1)
    return session


def _cpu_ratio(ours: Any, ref: Any, feeds: dict[str, Any], rounds: int) -> dict[str, float]:
    for _ in range(2):
        ours.run(None, feeds)
        ref.run(None, feeds)
    t0 = time.thread_time()
    ref.run(None, feeds)
    block = max(1, min(20, int(0.05 / max(time.thread_time() - t0, 1e-4))))
    ratios, ours_ms, ref_ms = [], [], []
    for r in range(rounds):
        got: dict[str, float] = {}
        for label, s in ((("webnnc", ours), ("ort", ref)) if r % 2 == 0 else (("ort", ref), ("webnnc", ours))):
            t0 = time.thread_time()
            for _ in range(block):
                s.run(None, feeds)
            got[label] = (time.thread_time() - t0) / block * 1e3
        ratios.append(got["webnnc"] / got["ort"])
        ours_ms.append(got["webnnc"])
        ref_ms.append(got["ort"])
    return {"cpu_ratio": median(ratios), "webnnc_cpu_ms": median(ours_ms), "ort_cpu_ms": median(ref_ms)}


def _profile(path: Path, feeds: dict[str, Any], runs: int = 3) -> dict[str, float]:
    """Share of ORT's kernel time per operator type on the original model (one thread)."""
    import onnxruntime as ort

    so = _one_thread(ort)
    with tempfile.TemporaryDirectory(prefix="webnnc-prof-") as tmp:
        so.enable_profiling = True
        so.profile_file_prefix = os.path.join(tmp, "ort")
        session = ort.InferenceSession(str(path), so)
        session.run(None, feeds)  # the first run allocates; profile the steady state only
        for _ in range(runs):
            session.run(None, feeds)
        events = json.loads(Path(session.end_profiling()).read_text())
    per_op: collections.Counter[str] = collections.Counter()
    for e in events:
        if e.get("cat") == "Node" and e.get("name", "").endswith("_kernel_time"):
            per_op[e["args"]["op_name"]] += e["dur"]
    total = sum(per_op.values()) or 1
    return {op: us / total for op, us in per_op.most_common()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=RESULTS_DIR / "tmp" / "corpus")
    ap.add_argument("--only", help="comma-separated model names")
    ap.add_argument("--rounds", type=int, default=9, help="interleaved rounds per model")
    ap.add_argument("--cache-dir", type=Path, help="a cache already holding the models (default: compile afresh)")
    ap.add_argument("--out", type=Path, default=RESULTS_DIR)
    args = ap.parse_args(argv)
    import onnxruntime as ort

    metas = corpus_models(args.corpus, args.only, "bench_warm_work")
    if metas is None:
        return 1
    cache_dir = args.cache_dir or Path(tempfile.mkdtemp(prefix="webnnc-work-"))
    rows: list[dict[str, Any]] = []
    try:
        for i, meta_path in enumerate(metas, 1):
            meta = json.loads(meta_path.read_text())
            name, path = meta["name"], meta_path.with_suffix(".onnx")
            print(f"[{i}/{len(metas)}] {name}", flush=True)
            if args.cache_dir is None and not compile_model(path, name, cache_dir)["ok"]:
                print("    compile failed", flush=True)
                continue
            feeds = _inputs(meta)
            row: dict[str, Any] = {"name": name}
            row.update(_cpu_ratio(_artifact_session(name, cache_dir), ort.InferenceSession(str(path), _one_thread(ort)),
                                  feeds, args.rounds))
            shares = _profile(path, feeds)
            row["gemm_share"] = sum(v for k, v in shares.items() if k in _GEMM_LIKE)
            row["top_ops"] = dict(list(shares.items())[:5])
            print(f"    CPU work webnnc/ORT {row['cpu_ratio']:.3f}; matrix products {100 * row['gemm_share']:.0f}% "
                  f"of ORT's kernel time", flush=True)
            rows.append(row)
    finally:
        if args.cache_dir is None:
            shutil.rmtree(cache_dir, ignore_errors=True)
    table = [[r["name"], f"{r['cpu_ratio']:.3f}", fmt_ms(r["webnnc_cpu_ms"]), fmt_ms(r["ort_cpu_ms"]),
              f"{100 * r['gemm_share']:.0f}%",
              ", ".join(f"{k} {100 * v:.0f}%" for k, v in r["top_ops"].items())] for r in rows]
    lines = ["# Warm CPU work: webnnc's artifact vs ONNX Runtime on the original", "", *machine_lines(), "",
             f"Command: `python benchmarks/bench_warm_work.py {' '.join(sys.argv[1:])}`", "",
             "One intra-op thread each, `time.thread_time()` per run (CPU time of the running thread, so "
             "waiting for a busy core does not count), interleaved blocks, median of per-round ratios. "
             "Matrix products: Gemm, MatMul, FusedMatMul, Conv (and their fused forms) in ORT's own profile "
             "of the original model.", ""]
    lines += markdown_table(["model", "CPU work webnnc/ORT", "webnnc CPU ms", "ORT CPU ms", "matrix products",
                             "top operator types (ORT on the original)"], table)
    if rows:
        lines += ["", f"Median CPU-work ratio over {len(rows)} models: {median([r['cpu_ratio'] for r in rows]):.3f}."]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "warm_work.md").write_text("\n".join(lines) + "\n")
    (args.out / "warm_work.json").write_text(json.dumps(rows, indent=1))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
