"""GPU rows of the benchmark table: W1-W3 on ONNX Runtime's CUDA provider (issue 10).

Measured side by side in one process, interleaved round by round, medians over rounds:

- ``ort-host``: ONNX Runtime CUDA used directly on the naive ONNX export, fed from host
  arrays, default CUDA provider options, plain ``session.run`` (no binding);
- ``ort-iobind``: the same session with inputs/outputs bound to device buffers;
- ``webnnc-compute``: ``context.compute`` from host arrays (CUDA graph replay inside);
- ``webnnc-dispatch``: ``context.dispatch`` on device MLTensors, without CUDA graphs;
- ``webnnc-dispatch+graph``: the same with CUDA graphs;
- ``cold-hit``: a fresh process building the graph from a warm cache to its first result;
- ``kernel``: the sum of GPU kernel time per run of W3 (CUPTI through torch.profiler when
  PyTorch is present, else ORT's own profiler, which reports per-node host-side time).

Also pywebnn with ``accelerated=True`` when ``--pywebnn-site DIR`` points at an installed
pywebnn (5 calls, cold = run 1, warm = mean of runs 2-5, its own method).

Usage (on the GPU machine): ``python benchmarks/bench_gpu.py --out DIR [--rounds 7]``.
Writes ``DIR/gpu.md`` and ``DIR/gpu.json``.
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
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def _median_ms(fn: Callable[[], Any], n: int) -> float:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def _max_rel_err(got: np.ndarray, ref: np.ndarray) -> float:
    """Largest relative error over finite reference elements; inf if the infinities differ."""
    finite = np.isfinite(ref)
    if not np.array_equal(np.isfinite(got), finite):
        return float("inf")
    if not finite.any():
        return 0.0
    return float(np.max(np.abs(got[finite] - ref[finite]) / (np.abs(ref[finite]) + 1e-6)))


def _cold_hit(workload: str, cache_dir: str) -> float:
    code = (
        "import time; t0 = time.perf_counter()\n"
        "import numpy as np, webnnc\n"
        "from webnnc.compiler.workloads import WORKLOADS\n"
        f"ctx = webnnc.ML().create_context(device_type='gpu', cache_dir={cache_dir!r})\n"
        f"b = ctx.create_graph_builder(); g = b.build(WORKLOADS[{workload!r}](b))\n"
        "assert g.build_info['source'] == 'cache-hit', g.build_info['source']\n"
        "ctx.compute(g, {'input': np.ones([1, 3, 224, 224], np.float32)})\n"
        "print((time.perf_counter() - t0) * 1e3)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def _kernel_ms(fn: Callable[[], Any], runs: int = 20) -> float | None:
    """GPU kernel time per call of ``fn`` (CUPTI through torch.profiler); None without torch."""
    try:
        import torch
        from torch.profiler import ProfilerActivity, profile
    except ImportError:
        return None
    for _ in range(5):
        fn()
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        for _ in range(runs):
            fn()
        torch.cuda.synchronize()
    total_us = 0.0
    for evt in prof.events():
        if "CUDA" in str(getattr(evt, "device_type", "")):
            total_us += float(getattr(evt, "device_time", 0.0) or getattr(evt, "cuda_time", 0.0) or 0.0)
    return total_us / runs / 1e3


def _pywebnn(site: str, workload: str) -> dict[str, float] | str:
    code = (
        f"import sys; sys.path.insert(0, {site!r}); sys.path.insert(0, {str(ROOT / 'compiler')!r})\n"
        "import time, json, numpy as np, webnn\n"
        "from workloads import WORKLOADS\n"
        "ml = webnn.ML(); ctx = ml.create_context(accelerated=True)\n"
        "class B:  # pywebnn 0.5.12 spells conv2d's padding= as pads=\n"
        "    def __init__(self, b): self._b = b\n"
        "    def __getattr__(self, n): return getattr(self._b, n)\n"
        "    def conv2d(self, *a, **k):\n"
        "        if 'padding' in k: k['pads'] = k.pop('padding')\n"
        "        return self._b.conv2d(*a, **k)\n"
        f"b = ctx.create_graph_builder(); g = b.build(WORKLOADS[{workload!r}](B(b)))\n"
        "x = np.ones([1, 3, 224, 224], np.float32); t = []\n"
        "for _ in range(5):\n"
        "    t0 = time.time(); ctx.compute(g, {'input': x}); t.append((time.time() - t0) * 1e3)\n"
        "print(json.dumps({'cold': t[0], 'warm': sum(t[1:]) / 4}))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        return f"pywebnn failed: {proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else proc.returncode}"
    result: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--runs", type=int, default=50, help="timed calls per variant per round")
    parser.add_argument("--pywebnn-site", default=None)
    parser.add_argument("--workloads", default="w1,w2,w3")
    args = parser.parse_args()

    import onnxruntime as ort

    import webnnc
    from webnnc.compiler.workloads import WORKLOADS
    from webnnc.runtime._cuda import cuda_status, gpu_description

    usable, why = cuda_status()
    if not usable:
        print(f"bench_gpu: skipped: {why}")
        return 0
    cache_dir = tempfile.mkdtemp(prefix="webnnc-gpu-bench-")
    ctx_graph = webnnc.ML().create_context(device_type="gpu", cache_dir=cache_dir, cuda_graph=True)
    ctx_plain = webnnc.ML().create_context(device_type="gpu", cache_dir=cache_dir, cuda_graph=False)
    exhaustive = {"cudnn_conv_algo_search": "EXHAUSTIVE"}
    ctx_exh = webnnc.ML().create_context(device_type="gpu", cache_dir=cache_dir, cuda_provider_options=exhaustive)
    ctx_nhwc = webnnc.ML().create_context(
        device_type="gpu", cache_dir=cache_dir, cuda_provider_options={"prefer_nhwc": "1"}
    )
    ctx_tf32 = webnnc.ML().create_context(
        device_type="gpu", cache_dir=cache_dir, cuda_provider_options={**exhaustive, "use_tf32": "1"}
    )
    rng = np.random.default_rng(0)
    x = rng.standard_normal([1, 3, 224, 224]).astype(np.float32)
    rows: dict[str, dict[str, Any]] = {}
    for wl in args.workloads.split(","):
        fn = WORKLOADS[wl]
        t0 = time.perf_counter()
        b = ctx_graph.create_graph_builder()
        g_graph = b.build(fn(b))
        compile_ms = (time.perf_counter() - t0) * 1e3
        b = ctx_plain.create_graph_builder()
        g_plain = b.build(fn(b))
        extra = {}
        for label, c in (("exhaustive", ctx_exh), ("nhwc", ctx_nhwc), ("exhaustive+tf32", ctx_tf32)):
            b = c.create_graph_builder()
            g = b.build(fn(b))
            i = c.create_tensor([1, 3, 224, 224], "float32")
            o = c.create_tensor(list(g.output_specs[0].shape), "float32")
            c.write_tensor(i, x)
            extra[f"webnnc-dispatch+graph {label}"] = (c, g, i, o)
        onnx_path = os.path.join(cache_dir, f"{wl}.onnx")
        ctx_graph.convert_to_onnx(g_graph, onnx_path)
        ort_sess = ort.InferenceSession(onnx_path, providers=["CUDAExecutionProvider", "CPUExecutionProvider"])
        # the same at webnnc's precision: ORT's CUDA default computes float32 convs in TF32
        ort_fp32 = ort.InferenceSession(
            onnx_path, providers=[("CUDAExecutionProvider", {"use_tf32": "0"}), "CPUExecutionProvider"]
        )
        feeds = {"input": x}
        bind = ort_sess.io_binding()
        bind.bind_ortvalue_input("input", ort.OrtValue.ortvalue_from_numpy(x, "cuda", 0))
        bind.bind_output("output", "cuda")

        xin_p = ctx_plain.create_tensor([1, 3, 224, 224], "float32")
        out_spec = g_plain.output_specs[0]
        yout_p = ctx_plain.create_tensor(list(out_spec.shape), "float32")
        ctx_plain.write_tensor(xin_p, x)
        xin_g = ctx_graph.create_tensor([1, 3, 224, 224], "float32")
        yout_g = ctx_graph.create_tensor(list(out_spec.shape), "float32")
        ctx_graph.write_tensor(xin_g, x)

        # correctness reference: ONNX Runtime CPU on the same naive export
        ref = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"]).run(None, feeds)[0]
        variants: dict[str, Callable[[], Any]] = {
            "ort-host": lambda s=ort_sess, f=feeds: s.run(None, f),
            "ort-host-fp32": lambda s=ort_fp32, f=feeds: s.run(None, f),
            "ort-iobind": lambda s=ort_sess, bb=bind: s.run_with_iobinding(bb),
            "webnnc-compute": lambda c=ctx_graph, g=g_graph, f=feeds: c.compute(g, f),
            "webnnc-dispatch": lambda c=ctx_plain, g=g_plain, i=xin_p, o=yout_p: c.dispatch(
                g, {"input": i}, {"output": o}
            ),
            "webnnc-dispatch+graph": lambda c=ctx_graph, g=g_graph, i=xin_g, o=yout_g: c.dispatch(
                g, {"input": i}, {"output": o}
            ),
        }
        for label, (c, g, i, o) in extra.items():
            variants[label] = lambda c=c, g=g, i=i, o=o: c.dispatch(g, {"input": i}, {"output": o})
        for f in variants.values():  # warm-up (captures the CUDA graphs)
            for _ in range(5):
                f()
        errors = {
            "ort-host": _max_rel_err(ort_sess.run(None, feeds)[0], ref),
            "ort-host-fp32": _max_rel_err(ort_fp32.run(None, feeds)[0], ref),
            "webnnc": _max_rel_err(ctx_graph.read_tensor(yout_g), ref),
        }
        for label, (c, _g, _i, o) in extra.items():
            errors[label] = _max_rel_err(c.read_tensor(o), ref)
        samples: dict[str, list[float]] = {k: [] for k in variants}
        for _ in range(args.rounds):
            # ONNX Runtime synchronizes the CUDA stream at the end of every run, so each timed
            # call includes its kernels, also when the outputs stay on the device
            for k, f in variants.items():
                samples[k].append(_median_ms(f, args.runs))
        row: dict[str, Any] = {k: statistics.median(v) for k, v in samples.items()}
        row["compile_ms"] = compile_ms
        row["max_rel_err_vs_cpu"] = errors
        row["agree_with_ort"] = errors["webnnc"] < 1e-3
        row["cold_hit_ms"] = statistics.median(_cold_hit(wl, cache_dir) for _ in range(3))
        if wl == "w3":
            row["kernel_ms"] = {
                k: _kernel_ms(variants[k])
                for k in ("ort-iobind", "ort-host-fp32", "webnnc-dispatch", *extra)
            }
            row["kernel_method"] = "CUPTI via torch.profiler, summed kernel time per call"
        if args.pywebnn_site:
            row["pywebnn"] = _pywebnn(args.pywebnn_site, wl)
        rows[wl] = row
        print(wl, json.dumps(row), flush=True)

    desc = gpu_description()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "gpu.json").write_text(json.dumps({"device": desc, "rows": rows}, indent=2))
    lines = [
        "# webnnc GPU benchmark (ONNX Runtime CUDA)",
        "",
        f"Device: {desc.get('name', '?')} (sm {desc.get('compute_capability', '?')}, driver "
        f"{desc.get('driver', '?')}), onnxruntime-gpu {desc['onnxruntime']}, {desc['key']}; "
        f"Python {platform.python_version()}; medians of {args.rounds} interleaved rounds x {args.runs} calls.",
        "",
        "ORT = ONNX Runtime CUDA used directly on the naive ONNX export; its default runs float32",
        "convolutions in TF32 (W3 max relative error 2.7e-2 against the CPU), so the speed-up is",
        "also given against ORT with TF32 off, webnnc's default precision.",
        "",
        "| workload | ORT host arrays ms | ORT host, TF32 off ms | ORT I/O binding ms | webnnc compute ms "
        "| webnnc dispatch ms | webnnc dispatch + CUDA graph ms | speed-up vs ORT host "
        "| same precision | cold hit ms | compile ms | agrees with CPU |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for wl, r in rows.items():
        best = r["webnnc-dispatch+graph"]
        lines.append(
            f"| {wl} | {r['ort-host']:.3f} | {r['ort-host-fp32']:.3f} | {r['ort-iobind']:.3f} | "
            f"{r['webnnc-compute']:.3f} | {r['webnnc-dispatch']:.3f} | {best:.3f} | "
            f"{r['ort-host'] / best:.1f}x | {r['ort-host-fp32'] / best:.1f}x | {r['cold_hit_ms']:.0f} | "
            f"{r['compile_ms']:.0f} | {'yes' if r['agree_with_ort'] else 'NO'} |"
        )
    lines += ["", "Variants with other CUDA provider options (webnnc dispatch + CUDA graph, ms):", ""]
    lines += [
        "| workload | default (HEURISTIC, no TF32) | EXHAUSTIVE | prefer NHWC | EXHAUSTIVE + TF32 (not float32-exact) |",
        "|---|---:|---:|---:|---:|",
    ]
    for wl, r in rows.items():
        lines.append(
            f"| {wl} | {r['webnnc-dispatch+graph']:.3f} | {r['webnnc-dispatch+graph exhaustive']:.3f} | "
            f"{r['webnnc-dispatch+graph nhwc']:.3f} | {r['webnnc-dispatch+graph exhaustive+tf32']:.3f} |"
        )
    lines += ["", "Max relative error vs ONNX Runtime CPU (finite outputs):", ""]
    for wl, r in rows.items():
        lines.append(f"- {wl}: " + ", ".join(f"{k} {v:.1e}" for k, v in r["max_rel_err_vs_cpu"].items()))
    w3 = rows.get("w3", {})
    if w3.get("kernel_ms"):
        lines += ["", f"W3 GPU kernel time per call ({w3['kernel_method']}):", ""]
        for k, v in w3["kernel_ms"].items():
            if v:
                lines.append(f"- {k}: {v:.3f} ms")
    py = {wl: r.get("pywebnn") for wl, r in rows.items() if r.get("pywebnn") is not None}
    if py:
        lines += ["", "pywebnn accelerated=True (its method: 5 calls, cold = run 1, warm = mean of 2-5):", ""]
        for wl, v in py.items():
            text = v if isinstance(v, str) else f"cold {v['cold']:.1f} ms, warm {v['warm']:.1f} ms"
            lines.append(f"- {wl}: {text}")
    (out / "gpu.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
