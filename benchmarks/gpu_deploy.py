"""The GPU deployment path end to end (issue 14): CLI compile for onnx-cuda, load() elsewhere.

For each model (W1-W3 as naive ONNX exports, plus every ``NAME.onnx`` + ``NAME.json`` in
``--models``, the corpus layout of ``corpus_export.py``):

1. ``webnnc compile MODEL.onnx --target onnx-cuda --name NAME`` in a fresh process (the CLI);
2. in another fresh process: ``webnnc.runtime.load(NAME, target="onnx-cuda")``, first compute
   (cold: import, load, first result), then on the same inputs ONNX Runtime on the original
   file: CUDA with its default options, CUDA with TF32 off (webnnc's float32 default), CPU;
3. numerics: every GPU result against ORT CPU (float32 reference), max |err| / output range;
   webnnc passes when <= ``--tol`` (default 1e-3) or no farther than ORT CUDA with TF32 off
   gets on the original (quantized models: QDQ is float math on the GPU, integer kernels on
   the CPU); TF32, ORT CUDA's default, is reported, not judged;
4. warm: webnnc ``run`` vs ORT CUDA ``run`` from host arrays, interleaved blocks (A,B / B,A),
   median of per-round ratios; against both ORT option sets.

Also records what the version check compares: the imported onnxruntime module's version and
file, the distribution metadata of onnxruntime and onnxruntime-gpu, the GPU key with cuDNN.

On the GPU machine (see ``benchmarks/gpu_device.sh``)::

    python benchmarks/gpu_deploy.py --models DIR --out $OUT

Here, without a GPU, ``--target onnx-cpu`` runs the same flow on the CPU (a dry run of the
script). Writes ``OUT/gpu_deploy.md`` and ``OUT/gpu_deploy.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

_FEEDS = r"""
def make_feeds(inputs):
    rng = np.random.default_rng(0)
    feeds = {}
    for n, s in inputs.items():
        if s["dtype"] == "int64":
            feeds[n] = np.ones(s["shape"], np.int64) if "mask" in n else rng.integers(0, 1000, s["shape"], dtype=np.int64)
        else:
            feeds[n] = rng.standard_normal(s["shape"]).astype(s["dtype"])
    return feeds
"""

# Cold start, both sides in a fresh process: import -> open the model -> first result. ORT
# opens the original file with its default options (the CUDA provider first on the GPU).
# Each prints its total and its phases (import / open / first run; webnnc's open also split
# into its lookup and session from build_info), so one device run gives the breakdown too.
_COLD_WEBNNC = r"""
import json, sys, time
t0 = time.perf_counter()
import numpy as np
import webnnc.runtime
spec = json.loads(sys.argv[1])
exec(spec["feeds_code"])
t1 = time.perf_counter()
model = webnnc.runtime.load(spec["name"], target=spec["target"], cache_dir=spec["cache_dir"])
t2 = time.perf_counter()
model.run(make_feeds(spec["inputs"]))
t3 = time.perf_counter()
steps = model.build_info.get("timings_ms", {})
print(json.dumps({"ms": (t3 - t0) * 1e3, "import": (t1 - t0) * 1e3, "open": (t2 - t1) * 1e3, "first": (t3 - t2) * 1e3,
                  "lookup": steps.get("lookup"), "session": steps.get("session")}))
"""
_COLD_ORT = r"""
import json, sys, time
t0 = time.perf_counter()
import numpy as np
import onnxruntime as ort
spec = json.loads(sys.argv[1])
exec(spec["feeds_code"])
t1 = time.perf_counter()
providers = ["CUDAExecutionProvider", "CPUExecutionProvider"] if spec["target"] == "onnx-cuda" else ["CPUExecutionProvider"]
session = ort.InferenceSession(spec["path"], providers=providers)
t2 = time.perf_counter()
session.run(None, make_feeds(spec["inputs"]))
t3 = time.perf_counter()
print(json.dumps({"ms": (t3 - t0) * 1e3, "import": (t1 - t0) * 1e3, "open": (t2 - t1) * 1e3, "first": (t3 - t2) * 1e3}))
"""

_CHILD = r"""
import json, statistics, sys, time
t0 = time.perf_counter()
import numpy as np
import webnnc.runtime
spec = json.loads(sys.argv[1])
t1 = time.perf_counter()
model = webnnc.runtime.load(spec["name"], target=spec["target"], cache_dir=spec["cache_dir"])
t2 = time.perf_counter()
exec(spec["feeds_code"])
feeds = make_feeds(spec["inputs"])
got = model.run(feeds)
t3 = time.perf_counter()
info = model.build_info
import onnxruntime as ort
gpu = spec["target"] == "onnx-cuda"
def session(opts):
    so = ort.SessionOptions(); so.log_severity_level = 3
    if not gpu or opts is None:
        return ort.InferenceSession(spec["path"], so, providers=["CPUExecutionProvider"])
    return ort.InferenceSession(spec["path"], so, providers=[("CUDAExecutionProvider", opts), "CPUExecutionProvider"])
cpu = session(None)
ref = dict(zip([o.name for o in cpu.get_outputs()], cpu.run(None, feeds)))
sides = {"webnnc": got}
refs = {}
if gpu:
    refs = {"ort-cuda": session({}), "ort-cuda-fp32": session({"use_tf32": "0"})}
    for k, s in refs.items():
        assert s.get_providers()[0] == "CUDAExecutionProvider", (k, s.get_providers())
        sides[k] = dict(zip([o.name for o in s.get_outputs()], s.run(None, feeds)))
else:
    refs = {"ort-cpu": cpu}
errors = {}
for side, outs in sides.items():
    worst = 0.0
    for n, e in ref.items():
        g = np.asarray(outs[n]).astype(np.float64); e64 = e.astype(np.float64)
        span = float(e64.max() - e64.min()) or 1.0
        worst = max(worst, float(np.abs(g - e64).max()) / span)
    errors[side] = worst
def block(fn, n):
    t = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t) / n * 1e3
ours = lambda: model.run(feeds)
fns = {k: (lambda s=s: s.run(None, feeds)) for k, s in refs.items()}
for _ in range(5):
    ours(); [f() for f in fns.values()]
n = max(1, min(50, int(0.05 / max(block(ours, 3) / 1e3, 1e-5))))
ratios = {k: [] for k in fns}; ms = {"webnnc": [], **{k: [] for k in fns}}
for r in range(spec["rounds"]):
    for k, f in fns.items():
        pair = [("webnnc", ours), (k, f)]
        for label, fn in (pair if r % 2 == 0 else pair[::-1]):
            ms[label].append(block(fn, n))
        ratios[k].append(ms["webnnc"][-1] / ms[k][-1])
print(json.dumps({
    "cold_ms": {"import": (t1 - t0) * 1e3, "load": (t2 - t1) * 1e3, "first_run": (t3 - t2) * 1e3},
    "providers": info.get("session", {}).get("providers"), "source": info.get("source"),
    "errors_vs_cpu": errors, "calls_per_block": n,
    "warm_ms": {k: statistics.median(v) for k, v in ms.items()},
    "warm_ratio": {k: statistics.median(v) for k, v in ratios.items()},
}))
"""


def _environment() -> dict[str, Any]:
    import onnxruntime as ort

    from webnnc.cache.machine import (
        gpu_features,
        library_version,
        nvidia_gpus,
        onnxruntime_version,
    )

    return {
        "python": platform.python_version(),
        "onnxruntime_module": f"{ort.__version__} ({Path(ort.__file__).parent})",
        "onnxruntime_recorded": onnxruntime_version(),
        "metadata onnxruntime": library_version("onnxruntime"),
        "metadata onnxruntime-gpu": library_version("onnxruntime-gpu"),
        "providers": ort.get_available_providers(),
        "gpus": [list(g) for g in nvidia_gpus()],
        "gpu_key": gpu_features(),
    }


def _workload_models(names: list[str], folder: Path) -> list[tuple[str, Path, dict[str, Any]]]:
    """W1-W3 as the naive ONNX export a user would hand to ``webnnc compile``."""
    import webnnc
    from webnnc.compiler.workloads import WORKLOADS

    ctx = webnnc.ML().create_context(cache_dir=None)
    out = []
    for wl in names:
        b = ctx.create_graph_builder()
        g = b.build(WORKLOADS[wl](b))
        path = folder / f"{wl}.onnx"
        ctx.convert_to_onnx(g, str(path))
        meta = {"inputs": {s.name: {"shape": list(s.shape), "dtype": s.data_type} for s in g.input_specs}}
        out.append((wl, path, meta))
    return out


def _run(cmd: list[str], cwd: Path, timeout: float) -> tuple[int, str, str, float]:
    t0 = time.perf_counter()
    p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)
    return p.returncode, p.stdout, p.stderr, time.perf_counter() - t0


def _one(name: str, path: Path, meta: dict[str, Any], args: argparse.Namespace, work: Path) -> dict[str, Any]:
    cache = work / "cache"
    rc, out, err, wall = _run(
        [sys.executable, "-m", "webnnc", "--cache-dir", str(cache), "compile", str(path), "--name", name,
         "--target", args.target, "--quiet"],
        work, 900,
    )
    row: dict[str, Any] = {"model": name, "compile_s": round(wall, 2), "compile_rc": rc}
    warnings = [line for line in err.splitlines() if "WARNING" in line or "rror" in line]
    if warnings:
        row["compile_warnings"] = warnings[-3:]
    if rc != 0:
        row["error"] = (err or out).strip().splitlines()[-1:]
        return row
    spec = {"name": name, "target": args.target, "cache_dir": str(cache), "path": str(path),
            "inputs": meta["inputs"], "rounds": args.rounds, "feeds_code": _FEEDS}
    rc, out, err, _ = _run([sys.executable, "-c", _CHILD, json.dumps(spec)], work, 900)
    if rc != 0:
        row["error"] = err.strip().splitlines()[-3:]
        return row
    row.update(json.loads(out.strip().splitlines()[-1]))
    cold: dict[str, list[float]] = {"webnnc": [], "ort": []}
    phases: dict[str, list[dict[str, float]]] = {"webnnc": [], "ort": []}
    ratios = []
    for r in range(args.cold):  # alternating order, median of per-pair ratios
        pair = [("webnnc", _COLD_WEBNNC), ("ort", _COLD_ORT)]
        for label, code in pair if r % 2 == 0 else pair[::-1]:
            rc, out, err, _ = _run([sys.executable, "-c", code, json.dumps(spec)], work, 900)
            if rc != 0:
                row["error"] = [f"cold {label}:", *err.strip().splitlines()[-2:]]
                return row
            sample = json.loads(out.strip().splitlines()[-1])
            cold[label].append(sample.pop("ms"))
            phases[label].append(sample)
        ratios.append(cold["webnnc"][-1] / cold["ort"][-1])
    if ratios:
        row["cold_pairs_ms"] = cold
        row["cold_phases_ms"] = {
            side: {k: statistics.median(v[k] for v in samples if v.get(k) is not None)
                   for k in samples[0] if any(v.get(k) is not None for v in samples)}
            for side, samples in phases.items()
        }
        row["cold_ratio"] = statistics.median(ratios)
    errors = row["errors_vs_cpu"]
    # webnnc passes within the tolerance of ORT CPU, or as close to it as ORT CUDA (float32)
    # itself gets on the original: a quantized model's QDQ runs as float math on the GPU and
    # as integer kernels on the CPU, so the two ORT providers differ by a quantization step
    # (mobilenet_v3_large QDQ: 3.9e-3 of the range, the same for webnnc and ORT CUDA)
    reference = errors.get("ort-cuda-fp32", 0.0)
    row["numerics_ok"] = errors["webnnc"] <= max(args.tol, reference * 1.01 + 1e-7)
    return row


def _report(env: dict[str, Any], rows: list[dict[str, Any]], args: argparse.Namespace) -> str:
    ref = "ort-cuda" if args.target == "onnx-cuda" else "ort-cpu"
    lines = [
        f"# webnnc GPU deployment ({args.target}): CLI compile -> load() in a fresh process",
        "",
        f"Environment: Python {env['python']}; onnxruntime module {env['onnxruntime_module']}; "
        f"metadata: onnxruntime {env['metadata onnxruntime']}, onnxruntime-gpu {env['metadata onnxruntime-gpu']}; "
        f"recorded/compared by webnnc: {env['onnxruntime_recorded']}; GPU key `{env['gpu_key']}`.",
        "",
        f"Numerics: max |err| / output range against ORT CPU on the original model, pass <= {args.tol:g} "
        "(ORT CUDA's default runs float32 convs/matmuls in TF32: shown, not judged). Warm: webnnc `run` / ORT "
        f"`run` from host arrays, median of {args.rounds} interleaved rounds (< 1 = webnnc faster). Cold: "
        "fresh processes, import -> open -> first result (webnnc: `load()` from the cache; ORT: "
        f"`InferenceSession(original file)`, default options), median of {args.cold} alternating pairs' ratios.",
        "",
        f"| model | compile s | load ms | first run ms | cold ms webnnc / ORT | cold ratio | providers "
        f"| err webnnc | err ORT fp32 | err ORT default "
        f"| webnnc ms | {ref} ms | ratio vs {ref} | ratio vs ORT fp32 | numerics |",
        "|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['model']} | {r['compile_s']} | FAILED: {' '.join(r['error'])} |" + " |" * 12)
            continue
        e, w, q = r["errors_vs_cpu"], r["warm_ms"], r["warm_ratio"]
        fp32 = "ort-cuda-fp32"
        pairs = r.get("cold_pairs_ms")
        cold = (f"{statistics.median(pairs['webnnc']):.0f} / {statistics.median(pairs['ort']):.0f} | "
                f"{r['cold_ratio']:.2f}") if pairs else "- | -"
        lines.append(
            f"| {r['model']} | {r['compile_s']} | {r['cold_ms']['load']:.1f} | {r['cold_ms']['first_run']:.1f} | "
            f"{cold} | "
            f"{','.join(p.replace('ExecutionProvider', '') for p in r['providers'] or [])} | "
            f"{e['webnnc']:.1e} | {e.get(fp32, float('nan')):.1e} | {e.get(ref, float('nan')):.1e} | "
            f"{w['webnnc']:.3f} | {w[ref]:.3f} | {q[ref]:.2f} | {q.get(fp32, float('nan')):.2f} | "
            f"{'ok' if r['numerics_ok'] else 'FAIL'} |"
        )
    timed = [r for r in rows if r.get("cold_phases_ms")]
    if timed:
        lines += [
            "",
            "Cold start by phase (ms, medians over the pairs). webnnc imports onnxruntime inside `load()`, so its "
            "open holds that import too, besides the lookup and the session; ORT's import holds numpy and onnxruntime.",
            "",
            "| model | import webnnc / ORT | open webnnc / ORT | of which lookup / session (webnnc) | first run webnnc / ORT |",
            "|---|---:|---:|---:|---:|",
        ]
        for r in timed:
            w, o = r["cold_phases_ms"]["webnnc"], r["cold_phases_ms"]["ort"]

            def ms(d: dict[str, float], k: str) -> str:
                return f"{d[k]:.0f}" if k in d else "-"

            lines.append(
                f"| {r['model']} | {ms(w, 'import')} / {ms(o, 'import')} | {ms(w, 'open')} / {ms(o, 'open')} | "
                f"{ms(w, 'lookup')} / {ms(w, 'session')} | {ms(w, 'first')} / {ms(o, 'first')} |"
            )
    warned = [f"- {r['model']}: {' / '.join(r['compile_warnings'])}" for r in rows if r.get("compile_warnings")]
    if warned:
        lines += ["", "Compile warnings:", "", *warned]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=Path, default=None, help="folder of NAME.onnx + NAME.json")
    parser.add_argument("--only", default="", help="comma-separated model names from --models")
    parser.add_argument("--workloads", default="w1,w2,w3")
    parser.add_argument("--target", default="onnx-cuda", choices=["onnx-cuda", "onnx-cpu"])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--cold", type=int, default=3, help="fresh-process cold-start pairs per model (0: none)")
    parser.add_argument("--tol", type=float, default=1e-3)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()

    env = _environment()
    print(json.dumps(env), flush=True)
    if args.target == "onnx-cuda" and "CUDAExecutionProvider" not in env["providers"]:
        print("gpu_deploy: onnxruntime has no CUDAExecutionProvider here; use --target onnx-cpu for a dry run")
        return 2
    # the children run outside the checkout: its top-level webnnc/ folder is the facade alone
    work = Path(tempfile.mkdtemp(prefix="webnnc-gpu-deploy-"))
    models = _workload_models([w for w in args.workloads.split(",") if w], work)
    if args.models:
        only = {n for n in args.only.split(",") if n}
        for meta_path in sorted(args.models.glob("*.json")):
            name = meta_path.stem
            if (args.models / f"{name}.onnx").exists() and (not only or name in only):
                models.append((name, args.models / f"{name}.onnx", json.loads(meta_path.read_text())))
    rows = []
    for name, path, meta in models:
        row = _one(name, path.resolve(), meta, args, work)
        print(json.dumps(row), flush=True)
        rows.append(row)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "gpu_deploy.json").write_text(json.dumps({"environment": env, "rows": rows}, indent=1))
    text = _report(env, rows, args)
    (args.out / "gpu_deploy.md").write_text(text)
    print(text)
    ok = all("error" not in r and r["numerics_ok"] for r in rows)
    return 0 if ok else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
