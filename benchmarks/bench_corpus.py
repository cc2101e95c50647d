"""webnnc vs ONNX Runtime on the original file, over the real-model corpus.

For each exported model (``corpus_export.py``): compile it with ``webnnc compile`` (a fresh
cache folder per run), then measure, side by side with ONNX Runtime running the original
file with default session options:

- **correctness**: max abs / rel error of every output, and the error relative to the
  output's range; output dtypes kept;
- **warm**: one process holds both sessions and runs them in interleaved blocks (A-B-B-A),
  the ratio is the median of per-round ratios (< 1: webnnc faster);
- **cold** (``--cold N``): fresh processes, alternating webnnc / ORT, N pairs each:
  import -> ``webnnc.runtime.load(name)`` (a cache hit) -> first result, against import ->
  ``InferenceSession(original file)`` -> first result; medians of per-pair ratios, peak RSS
  (VmHWM) of each side, and webnnc's cold-start breakdown (import, lookup + verify, session,
  first run) from ``MLGraph.build_info``;
- node counts before and after, artifact size against the original file.

Usage::

    python benchmarks/corpus_export.py --out benchmarks/results/tmp/corpus   # needs torch
    python benchmarks/bench_corpus.py --corpus benchmarks/results/tmp/corpus --cold 7

Writes ``results/corpus.md`` and ``results/corpus.json`` (``--out`` to change).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    BUSY_NOTE,
    RESULTS_DIR,
    fmt_ms,
    machine_lines,
    markdown_table,
    median,
)

TARGET = "onnx-cpu"
STEADY_RUNS = 4  # runs after the cold start's first result, before the steady-state peak RSS


def _inputs(meta: dict[str, Any], seed: int = 0) -> dict[str, Any]:
    import numpy as np

    rng = np.random.default_rng(seed)
    feeds: dict[str, Any] = {}
    for name, spec in meta["inputs"].items():
        shape, dtype = spec["shape"], spec["dtype"]
        if dtype == "int64":
            if "mask" in name:
                feeds[name] = np.ones(shape, np.int64)
            else:
                feeds[name] = rng.integers(0, 1000, size=shape, dtype=np.int64)
        else:
            feeds[name] = rng.standard_normal(shape).astype(dtype)
    return feeds


def _webnnc_cli() -> list[str]:
    script = Path(sys.executable).parent / "webnnc"  # the console script of this environment
    return [str(script)] if script.exists() else [sys.executable, "-m", "webnnc"]


def corpus_models(folder: Path, only: str | None, tool: str) -> list[Path] | None:
    """The ``<name>.json`` files of ``folder`` (those named in ``only``, comma-separated); None
    after saying so on stderr when there are none."""
    metas = sorted(folder.glob("*.json"))
    if only:
        wanted = set(only.split(","))
        metas = [m for m in metas if m.stem in wanted]
    if not metas:
        print(f"{tool}: no models in {folder}; run benchmarks/corpus_export.py first", file=sys.stderr)
        return None
    return metas


def compile_model(path: Path, name: str, cache_dir: Path) -> dict[str, Any]:
    """``webnnc compile`` in a fresh process; wall time and what it printed."""
    t0 = time.perf_counter()
    proc = subprocess.run(
        [*_webnnc_cli(), "--cache-dir", str(cache_dir), "compile", str(path), "--name", name,
         "--target", TARGET],
        capture_output=True, text=True, check=False,
    )
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        return {"ok": False, "error": (proc.stderr or proc.stdout).strip().splitlines()[-1:], "wall_s": wall}
    return {"ok": True, "wall_s": round(wall, 2)}


def _node_count(path: str) -> int:
    import onnx

    return len(onnx.load(path, load_external_data=False).graph.node)


def _artifact_nodes(cache_dir: Path, name: str) -> int | None:
    """Node count of the ONNX artifact stored under ``name`` (None when not ONNX)."""
    from webnnc.cache.store import ArtifactStore

    store = ArtifactStore(cache_dir)
    found = store.find(name, TARGET)
    if not found or not found[0].format.startswith("onnx"):
        return None
    hit = store.get(found[0].key)
    if hit is None:
        return None
    if hit.manifest.files:  # graph + external weights: the graph's bytes are enough to count
        import onnx

        return len(onnx.load_model_from_string(hit.data).graph.node)
    path = getattr(hit, "path", None)
    if path and Path(path).suffix in ("", ".onnx") and Path(path).is_file():
        return _node_count(str(path))
    with tempfile.NamedTemporaryFile(suffix=".onnx") as f:
        f.write(hit.read_bytes() if hasattr(hit, "read_bytes") else hit.data)
        f.flush()
        return _node_count(f.name)


def _warm(path: Path, name: str, meta: dict[str, Any], cache_dir: Path, rounds: int) -> dict[str, Any]:
    import numpy as np
    import onnxruntime as ort

    import webnnc.runtime

    feeds = _inputs(meta)
    ref = ort.InferenceSession(str(path))
    model = webnnc.runtime.load(name, target=TARGET, cache_dir=cache_dir)
    model.finish_loading()  # warm = the final session (prepacked where the compile chose it)
    expected = ref.run(None, feeds)
    got = model.run(feeds) if hasattr(model, "run") else model(feeds)
    out_names = [o.name for o in ref.get_outputs()]
    errors = []
    dtypes_kept = True
    for n, e in zip(out_names, expected, strict=True):
        g = np.asarray(got[n])
        dtypes_kept &= g.dtype == e.dtype
        diff = np.abs(g.astype(np.float64) - e.astype(np.float64))
        rng_ = float(np.max(e) - np.min(e)) or 1.0
        rel = diff / np.maximum(np.abs(e.astype(np.float64)), 1e-12)
        ok = bool(np.allclose(g, e, rtol=1e-3, atol=1e-4))
        errors.append({
            "output": n, "max_abs": float(diff.max()), "max_rel": float(rel.max()),
            "max_abs_over_range": float(diff.max()) / rng_, "allclose(rtol=1e-3,atol=1e-4)": ok,
        })

    def run_ref() -> None:
        ref.run(None, feeds)

    def run_ours() -> None:
        model.run(feeds) if hasattr(model, "run") else model(feeds)

    # warm-up, then size a block to ~60 ms so scheduler noise averages out inside a block
    for _ in range(3):
        run_ref()
        run_ours()
    t0 = time.perf_counter()
    run_ref()
    one = max(time.perf_counter() - t0, 1e-5)
    block = max(1, min(50, int(0.06 / one)))
    ratios, ours_ms, ref_ms = [], [], []
    for r in range(rounds):
        order = (run_ours, run_ref) if r % 2 == 0 else (run_ref, run_ours)
        times: dict[Any, float] = {}
        for fn in order:
            t0 = time.perf_counter()
            for _ in range(block):
                fn()
            times[fn] = (time.perf_counter() - t0) / block * 1e3
        ratios.append(times[run_ours] / times[run_ref])
        ours_ms.append(times[run_ours])
        ref_ms.append(times[run_ref])
    return {
        "warm_ratio": median(ratios), "webnnc_ms": median(ours_ms), "ort_ms": median(ref_ms),
        "errors": errors, "dtypes_kept": dtypes_kept, "build_info": getattr(model, "build_info", {}),
    }


# ----------------------------------------------------------------- cold start (fresh processes)
_CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
spec = json.loads(sys.argv[1])
import numpy as np
if spec["side"] == "webnnc":
    import webnnc.runtime
    t1 = time.perf_counter()
    m = webnnc.runtime.load(spec["name"], target=spec["target"], cache_dir=spec["cache_dir"])
else:
    import onnxruntime as ort
    t1 = time.perf_counter()
    m = ort.InferenceSession(spec["path"])
t2 = time.perf_counter()
feeds = {}
rng = np.random.default_rng(0)
for n, s in spec["inputs"].items():
    feeds[n] = (np.ones(s["shape"], np.int64) if "mask" in n else rng.integers(0, 1000, size=s["shape"], dtype=np.int64)) if s["dtype"] == "int64" else rng.standard_normal(s["shape"]).astype(s["dtype"])
if spec["side"] == "webnnc":
    m.run(feeds) if hasattr(m, "run") else m(feeds)
else:
    m.run(None, feeds)
t3 = time.perf_counter()
def hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM"):
            return int(line.split()[1]) * 1024
    return 0
first_hwm = hwm()
for _ in range(spec["steady_runs"]):  # after the timing: the memory a process that keeps running holds
    (m.run(feeds) if hasattr(m, "run") else m(feeds)) if spec["side"] == "webnnc" else m.run(None, feeds)
info = getattr(m, "build_info", {}) if spec["side"] == "webnnc" else {}
print(json.dumps({"import": (t1 - t0) * 1e3, "load": (t2 - t1) * 1e3, "first": (t3 - t2) * 1e3,
                  "total": (t3 - t0) * 1e3, "rss": first_hwm, "steady_rss": hwm(),
                  "timings": info.get("timings_ms", {})}))
"""


def _child(spec: dict[str, Any]) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, "-c", _CHILD, json.dumps(spec)], capture_output=True,
                          text=True, check=False, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    if proc.returncode != 0:
        raise RuntimeError(f"cold child failed: {proc.stderr.strip().splitlines()[-1:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _cold(path: Path, name: str, meta: dict[str, Any], cache_dir: Path, pairs: int) -> dict[str, Any]:
    base = {"name": name, "target": TARGET, "cache_dir": str(cache_dir), "path": str(path), "inputs": meta["inputs"],
            "steady_runs": STEADY_RUNS}
    time.sleep(2.1)  # past the fingerprint's racy window (cache/_tree.py) of a just-compiled entry
    _child({**base, "side": "webnnc"})  # first use: the full verification happens here, once
    ours, ref = [], []
    for i in range(pairs):
        sides = ("webnnc", "ort") if i % 2 == 0 else ("ort", "webnnc")
        got = {s: _child({**base, "side": s}) for s in sides}
        ours.append(got["webnnc"])
        ref.append(got["ort"])
    ratios = [a["total"] / b["total"] for a, b in zip(ours, ref, strict=True)]
    rss = [a["rss"] / b["rss"] for a, b in zip(ours, ref, strict=True)]
    steady = [a["steady_rss"] / b["steady_rss"] for a, b in zip(ours, ref, strict=True)]
    # The floor no cache can go under: ORT's own imports and first run are what any hit pays
    # too (same libraries, same kernels); only the session creation can shrink to ~0.
    floor = [(r["import"] + r["first"]) / r["total"] for r in ref]
    keys = sorted({k for o in ours for k in o["timings"]})
    return {
        "cold_ratio": median(ratios), "rss_ratio": median(rss), "floor_ratio": median(floor),
        "steady_rss_ratio": median(steady),
        "webnnc_steady_rss_mib": median([o["steady_rss"] for o in ours]) / 2**20,
        "ort_steady_rss_mib": median([r["steady_rss"] for r in ref]) / 2**20,
        "webnnc_total_ms": median([o["total"] for o in ours]), "ort_total_ms": median([r["total"] for r in ref]),
        "webnnc_import_ms": median([o["import"] for o in ours]), "ort_import_ms": median([r["import"] for r in ref]),
        "webnnc_load_ms": median([o["load"] for o in ours]), "ort_load_ms": median([r["load"] for r in ref]),
        "webnnc_first_ms": median([o["first"] for o in ours]), "ort_first_ms": median([r["first"] for r in ref]),
        "webnnc_rss_mib": median([o["rss"] for o in ours]) / 2**20, "ort_rss_mib": median([r["rss"] for r in ref]) / 2**20,
        "breakdown_ms": {k: median([o["timings"].get(k, 0.0) for o in ours]) for k in keys},
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=RESULTS_DIR / "tmp" / "corpus")
    ap.add_argument("--only", help="comma-separated model names")
    ap.add_argument("--rounds", type=int, default=15, help="interleaved warm rounds per model")
    ap.add_argument("--cold", type=int, default=0, help="fresh-process pairs per model (0: skip)")
    ap.add_argument("--cache-dir", type=Path, help="compile into this cache (default: a fresh temp folder)")
    ap.add_argument("--out", type=Path, default=RESULTS_DIR, help="report folder")
    ap.add_argument("--tag", default="corpus", help="report file stem")
    args = ap.parse_args(argv)
    metas = corpus_models(args.corpus, args.only, "bench_corpus")
    if metas is None:
        return 1
    cache_dir = args.cache_dir or Path(tempfile.mkdtemp(prefix="webnnc-corpus-"))
    results: list[dict[str, Any]] = []
    try:
        for i, meta_path in enumerate(metas, 1):
            meta = json.loads(meta_path.read_text())
            name, path = meta["name"], meta_path.with_suffix(".onnx")
            print(f"[{i}/{len(metas)}] {name}: compiling ...", flush=True)
            row: dict[str, Any] = {"name": name, "size_mib": path.stat().st_size / 2**20}
            row["compile"] = compile_model(path, name, cache_dir)
            if not row["compile"]["ok"]:
                print(f"    compile failed: {row['compile']['error']}", flush=True)
                results.append(row)
                continue
            row.update(_warm(path, name, meta, cache_dir, args.rounds))
            row["nodes_before"] = _node_count(str(path))
            row["nodes_after"] = _artifact_nodes(cache_dir, name)
            print(f"    compile {row['compile']['wall_s']} s; warm webnnc/ORT {row['warm_ratio']:.2f} "
                  f"({fmt_ms(row['webnnc_ms'])} vs {fmt_ms(row['ort_ms'])} ms); "
                  f"max|err|/range {max(e['max_abs_over_range'] for e in row['errors']):.1e}", flush=True)
            if args.cold:
                row.update(_cold(path, name, meta, cache_dir, args.cold))
                print(f"    cold webnnc/ORT {row['cold_ratio']:.2f} ({fmt_ms(row['webnnc_total_ms'])} vs "
                      f"{fmt_ms(row['ort_total_ms'])} ms); peak RSS {row['rss_ratio']:.2f}x", flush=True)
            row.pop("build_info", None)
            results.append(row)
    finally:
        if args.cache_dir is None:
            shutil.rmtree(cache_dir, ignore_errors=True)
    _report(results, args)
    return 0


def _report(results: list[dict[str, Any]], args: argparse.Namespace) -> None:
    ok = [r for r in results if "warm_ratio" in r]
    lines = ["# webnnc vs ONNX Runtime on the real-model corpus", "", *machine_lines(), "",
             f"Command: `python benchmarks/bench_corpus.py {' '.join(sys.argv[1:])}`", "", BUSY_NOTE, "",
             "Warm: one process, interleaved blocks, median of per-round ratios (< 1: webnnc faster). "
             "Errors against ORT on the original file; `allclose` is rtol 1e-3, atol 1e-4.", ""]
    rows = []
    for r in results:
        if "warm_ratio" not in r:
            rows.append([r["name"], "compile failed", "", "", "", "", "", ""])
            continue
        worst = max(r["errors"], key=lambda e: e["max_abs_over_range"])
        rows.append([
            r["name"], f"{r['warm_ratio']:.2f}", fmt_ms(r["webnnc_ms"]), fmt_ms(r["ort_ms"]),
            f"{worst['max_abs']:.1e} / {worst['max_abs_over_range']:.1e}",
            "yes" if all(e["allclose(rtol=1e-3,atol=1e-4)"] for e in r["errors"]) and r["dtypes_kept"] else "NO",
            f"{r['nodes_before']} -> {r['nodes_after']}", f"{r['compile']['wall_s']}",
        ])
    lines += markdown_table(["model", "warm webnnc/ORT", "webnnc ms", "ORT ms", "max abs err / rel to range",
                             "matches", "nodes", "compile s"], rows)
    if ok:
        lines += ["", f"Median warm ratio over {len(ok)} models: {median([r['warm_ratio'] for r in ok]):.2f}; "
                      f"worst {max(r['warm_ratio'] for r in ok):.2f}."]
    cold = [r for r in ok if "cold_ratio" in r]
    if cold:
        lines += ["", "Cold start: fresh processes, alternating, medians of per-pair ratios "
                      "(import -> load from the cache -> first result, against import -> "
                      "InferenceSession(original) -> first result).", ""]
        crow = []
        for r in cold:
            b = r["breakdown_ms"]
            crow.append([
                r["name"], f"{r['cold_ratio']:.2f}", fmt_ms(r["webnnc_total_ms"]), fmt_ms(r["ort_total_ms"]),
                # webnnc's imports: `import webnnc.runtime` + what load() imports (onnxruntime, the store)
                f"{fmt_ms(r['webnnc_import_ms'] + b.get('imports', 0.0))} / {fmt_ms(r['ort_import_ms'])}",
                f"{fmt_ms(b.get('lookup', float('nan')))}",
                fmt_ms(b.get("lookup.fingerprint", b.get("lookup.hash_weights", float("nan")))),
                f"{fmt_ms(b.get('session', float('nan')))} / {fmt_ms(r['ort_load_ms'])}",
                f"{fmt_ms(r['webnnc_first_ms'])} / {fmt_ms(r['ort_first_ms'])}",
                f"{r['rss_ratio']:.2f} ({r['webnnc_rss_mib']:.0f} / {r['ort_rss_mib']:.0f} MiB)",
                f"{r['steady_rss_ratio']:.2f} ({r['webnnc_steady_rss_mib']:.0f} / {r['ort_steady_rss_mib']:.0f} MiB)"
                if "steady_rss_ratio" in r else "-",
                f"{r['floor_ratio']:.2f}" if "floor_ratio" in r else "-",
            ])
        lines += markdown_table(["model", "cold webnnc/ORT", "webnnc ms", "ORT ms", "import ms (webnnc / ORT)",
                                 "lookup+verify ms", "of which weights check ms", "session ms (webnnc / ORT)",
                                 "first run ms", "peak RSS ratio", "steady peak RSS ratio", "floor"], crow)
        lines += ["", "Floor: ORT's (import + first run) / ORT's total, i.e. the ratio of a cache whose "
                      "hit cost nothing but the imports and first run ORT itself pays.",
                  f"Peak RSS: VmHWM at the first result; steady: VmHWM after {STEADY_RUNS} more runs (what a "
                  "process that keeps running the model holds; ONNX Runtime's arena and webnnc's prepacked "
                  "session have settled by then)."]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.tag}.md").write_text("\n".join(lines) + "\n")
    (args.out / f"{args.tag}.json").write_text(json.dumps(results, indent=1, default=str))
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
