"""webnnc vs ONNX Runtime vs pywebnn on W1-W3: compile, cold start, warm latency, memory.

Every number comes from a fresh process (``_child.py``), one per (system, workload,
repeat). Systems:

- ``webnnc-miss``: empty cache: import + build (validate, optimize, emit, ORT offline
  optimizer, store, session) + first result; that is the compile time on a cache miss;
- ``webnnc-hit``: the same script on a warm cache: import + build (cache hit) + first result;
- ``webnnc-load``: ``webnnc.runtime.load(name)`` without the compiler + first result;
- ``ort-default``: ONNX Runtime on webnnc's naive ONNX export (``convert_to_onnx``) with
  default session options (the session optimizes at creation);
- ``ort-best``: the same with the best options we know for this CPU (ORT_ENABLE_ALL,
  sequential, one intra-op thread per usable core, denormals as zero);
- ``pywebnn``: pywebnn 0.5.12 in its own Python 3.12 virtual environment, created here on
  first use (``benchmarks/.venv-pywebnn``); skipped with a note when that is impossible.

Each repeat runs every system once per workload, in an order rotated per repeat, and the
ratios are computed within a repeat (a pair) before taking the median over repeats: the
machine may be shared, and a pair sees the same background load. pywebnn's own method
(5 calls, cold = call 1, warm = mean of calls 2-5) is reported for every system too.

Usage::

    python benchmarks/run_all.py                      # -> results/latest.{md,png,json}
    python benchmarks/run_all.py --quick --workloads w1 --no-pywebnn --results-dir /tmp/x
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import (
    BENCH_DIR,
    BUSY_NOTE,
    RESULTS_DIR,
    fmt_ms,
    machine_lines,
    markdown_table,
    median,
    p90,
)

PYWEBNN_VERSION = "0.5.12"
DEFAULT_VENV = BENCH_DIR / ".venv-pywebnn"
SYSTEMS: tuple[str, ...] = ("webnnc-miss", "webnnc-hit", "webnnc-load", "ort-default", "ort-best", "pywebnn")
LABELS = {
    "webnnc-miss": "webnnc, cache miss (compile)",
    "webnnc-hit": "webnnc, cache hit (build)",
    "webnnc-load": "webnnc, runtime.load()",
    "ort-default": "ORT, naive export, default options",
    "ort-best": "ORT, naive export, best options",
    "pywebnn": f"pywebnn {PYWEBNN_VERSION}",
}
CHILD = BENCH_DIR / "_child.py"


# ----------------------------------------------------------------------------- pywebnn venv
def find_python312(explicit: str | None) -> str | None:
    """A working Python 3.12 interpreter (pywebnn 0.5.12 ships cp312 wheels only)."""
    candidates = [explicit] if explicit else []
    candidates += [shutil.which("python3.12") or ""]
    candidates += sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.12*/bin/python3.12")))
    candidates += ["/usr/bin/python3.12", "/usr/local/bin/python3.12", "/opt/homebrew/bin/python3.12"]
    for c in candidates:
        if not c:
            continue
        try:
            out = subprocess.run([c, "-c", "import sys; print(sys.version_info[:2] == (3, 12))"],
                                 capture_output=True, text=True, timeout=30, check=False)
        except (OSError, subprocess.SubprocessError):
            continue
        if out.returncode == 0 and out.stdout.strip() == "True":
            return c
    return None


def _venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _has_pywebnn(python: Path) -> bool:
    code = "import importlib.metadata as m, webnn; print(m.version('pywebnn'))"
    try:
        out = subprocess.run([str(python), "-c", code], capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.SubprocessError):
        return False
    return out.returncode == 0 and out.stdout.strip() == PYWEBNN_VERSION


def ensure_pywebnn(venv: Path, python312: str | None) -> tuple[str | None, str]:
    """The venv's Python with pywebnn installed (creating it if needed), or None and why."""
    py = _venv_python(venv)
    if py.exists() and _has_pywebnn(py):
        return str(py), f"pywebnn {PYWEBNN_VERSION} from {venv}"
    base = find_python312(python312)
    if base is None:
        return None, (f"pywebnn skipped: no Python 3.12 interpreter found (pywebnn {PYWEBNN_VERSION} "
                      "ships cp312 wheels only); pass --python312 PATH")
    print(f"creating {venv} with {base} and installing pywebnn=={PYWEBNN_VERSION} ...", flush=True)
    steps = [[base, "-m", "venv", str(venv)],
             [str(py), "-m", "pip", "install", "-q", f"pywebnn=={PYWEBNN_VERSION}"]]
    for cmd in steps:
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, check=False)
        except (OSError, subprocess.SubprocessError) as e:
            return None, f"pywebnn skipped: `{' '.join(cmd)}` failed: {e}"
        if proc.returncode != 0:
            tail = " ".join(proc.stderr.strip().splitlines()[-3:])
            return None, f"pywebnn skipped: `{' '.join(cmd)}` exited {proc.returncode}: {tail}"
    if not _has_pywebnn(py):
        return None, f"pywebnn skipped: installed, but `import webnn` fails in {venv}"
    return str(py), f"pywebnn {PYWEBNN_VERSION} installed into {venv}"


# ----------------------------------------------------------------------------- measuring
def run_child(python: str, spec: dict[str, Any], cwd: str) -> dict[str, Any]:
    proc = subprocess.run([python, str(CHILD), json.dumps(spec)], cwd=cwd, capture_output=True,
                          text=True, timeout=900, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{spec['system']} on {spec['workload']} failed ({proc.returncode}):\n"
                           f"{proc.stderr[-3000:]}")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def prepare(workloads: list[str], tmp: Path) -> dict[str, Any]:
    """Export each workload's naive ONNX model and fill the cache the hit/load rows use."""
    import webnnc
    from webnnc.compiler import workloads as wl

    context = webnnc.ML().create_context(use_cache=False)
    onnx_paths = {}
    for name in workloads:
        builder = context.create_graph_builder()
        graph = builder.build(wl.WORKLOADS[name](builder))
        path = tmp / f"{name}-naive.onnx"
        context.convert_to_onnx(graph, path)
        onnx_paths[name] = str(path)
    return {"onnx_paths": onnx_paths, "workloads_dir": str(Path(wl.__file__).parent),
            "workloads_file": wl.__file__}


def collect(args: argparse.Namespace, workloads: list[str], peer_python: str | None) -> dict[str, Any]:
    systems = [s for s in SYSTEMS if s != "pywebnn" or peer_python]
    repeats = 1 if args.quick else max(1, args.repeats)
    warm_runs, warm_budget = (20, 0.3) if args.quick else (args.warm_runs, args.warm_budget)
    samples: dict[str, dict[str, list[dict[str, Any]]]] = {w: {s: [] for s in systems} for w in workloads}
    with tempfile.TemporaryDirectory(prefix="webnnc-bench-") as tmp_s:
        tmp = Path(tmp_s)
        prep = prepare(workloads, tmp)
        peer_dir = tmp / "peer"
        peer_dir.mkdir()
        shutil.copy(prep["workloads_file"], peer_dir / "workloads.py")
        hit_cache = tmp / "hit-cache"
        work = tmp / "cwd"  # outside the checkout: the source folders cannot shadow the package
        work.mkdir()
        for w in workloads:  # fill the warm cache (not recorded)
            run_child(sys.executable, {"system": "webnnc-miss", "workload": w, "cache_dir": str(hit_cache),
                                       "name": f"bench-{w}", "warm_runs": 0, "warm_budget_s": 0}, str(work))
        for r in range(repeats):
            for w in workloads:
                order = systems[r % len(systems):] + systems[: r % len(systems)]
                for system in order:
                    spec: dict[str, Any] = {
                        "system": system, "workload": w, "name": f"bench-{w}",
                        "cache_dir": str(hit_cache), "onnx_path": prep["onnx_paths"][w],
                        "workloads_dir": str(peer_dir), "warm_runs": warm_runs,
                        "warm_budget_s": warm_budget,
                    }
                    if r == 0:
                        spec["output_path"] = str(tmp / f"out-{w}-{system}.npy")
                    if system == "webnnc-miss":
                        spec["cache_dir"] = str(tmp / f"miss-{w}-{r}")
                        spec["warm_runs"] = 0
                    python = peer_python if system == "pywebnn" else sys.executable
                    assert python is not None
                    t0 = time.perf_counter()
                    res = run_child(python, spec, str(work))
                    res["process_ms"] = (time.perf_counter() - t0) * 1e3
                    samples[w][system].append(res)
                    warm = f"warm {median(res['warm_ms']):.3f} ms" if res["warm_ms"] else ""
                    print(f"[{r + 1}/{repeats}] {w} {system:<12} cold {res['cold_ms']:8.1f} ms "
                          f"(import {res['import_ms']:.1f} / load {res['load_ms']:.1f} / first "
                          f"{res['first_ms']:.2f}) {warm}", flush=True)
        agreement = check_outputs(tmp, workloads, systems)
    return {"samples": samples, "systems": systems, "repeats": repeats, "agreement": agreement}


# Different kernels (fused or not, other conv algorithms) round differently in float32; a
# wrong graph (a missed op, a swapped layout) is off by far more than this.
RTOL, ATOL = 1e-4, 1e-6


def check_outputs(tmp: Path, workloads: list[str], systems: list[str]) -> list[str]:
    """Compare every system's first-repeat output with webnnc's; one line per workload."""
    import numpy as np

    lines = []
    for w in workloads:
        ref = np.load(tmp / f"out-{w}-webnnc-hit.npy").astype(np.float64)
        worst, bad = 0.0, []
        for s in systems:
            out = np.load(tmp / f"out-{w}-{s}.npy").astype(np.float64)
            same_nonfinite = bool(np.array_equal(~np.isfinite(ref), ~np.isfinite(out))
                                  and np.array_equal(ref[~np.isfinite(ref)], out[~np.isfinite(out)],
                                                     equal_nan=True))
            finite = np.isfinite(ref) & np.isfinite(out)
            diff = float(np.max(np.abs(ref[finite] - out[finite]), initial=0.0))
            ok = out.shape == ref.shape and same_nonfinite and bool(
                np.allclose(out[finite], ref[finite], rtol=RTOL, atol=ATOL))
            worst = max(worst, diff)
            if not ok:
                bad.append(s)
        verdict = "agree" if not bad else f"DISAGREE ({', '.join(bad)})"
        lines.append(f"{w.upper()}: outputs of all systems {verdict} with webnnc's "
                     f"(rtol {RTOL:g}, atol {ATOL:g}, non-finite values equal; max abs diff {worst:.3g})")
    return lines


# ----------------------------------------------------------------------------- summarizing
def summarize(samples: list[dict[str, Any]]) -> dict[str, float]:
    def med(key: str) -> float:
        return median([s[key] for s in samples])

    warm_meds = [median(s["warm_ms"]) for s in samples if s["warm_ms"]]
    warm_p90s = [p90(s["warm_ms"]) for s in samples if s["warm_ms"]]
    return {
        "cold": med("cold_ms"), "import": med("import_ms"), "load": med("load_ms"),
        "first": med("first_ms"), "peer_cold": med("peer_cold_ms"), "peer_warm": med("peer_warm_ms"),
        "warm": median(warm_meds), "warm_p90": median(warm_p90s), "rss": med("peak_rss_mb"),
        "repeats": float(len(samples)),
    }


def paired_ratio(a: list[dict[str, Any]], b: list[dict[str, Any]], key: str) -> float:
    """Median over repeats of a[r][key] / b[r][key] (``warm``: each child's warm median)."""
    def value(s: dict[str, Any]) -> float:
        return median(s["warm_ms"]) if key == "warm" else float(s[key])

    ratios = [value(x) / value(y) for x, y in zip(a, b, strict=False) if value(y) > 0]
    return median(ratios)


def _breakdown_rows(workload: str, by_system: dict[str, list[dict[str, Any]]]) -> list[list[str]]:
    rows = []
    for system, label in (("webnnc-miss", "build, cache miss"), ("webnnc-hit", "build, cache hit"),
                          ("webnnc-load", "runtime.load()")):
        runs = by_system.get(system) or []
        if not runs:
            continue

        def part(key: str, runs: list[dict[str, Any]] = runs) -> float:
            return median([float(r.get("build_timings_ms", {}).get(key, 0.0)) for r in runs])

        compile_ms = part("build_total") - part("key") - part("lookup")  # 0 on a hit
        other = median([
            r["load_ms"] - r.get("build_timings_ms", {}).get("build_total", 0.0)
            - r.get("build_timings_ms", {}).get("session", 0.0)
            - (r.get("build_timings_ms", {}).get("lookup", 0.0) if system == "webnnc-load" else 0.0)
            for r in runs
        ])
        lookup = f"{fmt_ms(part('lookup'))}" + (f" (+ compile {fmt_ms(compile_ms)})" if system == "webnnc-miss" else "")
        rows.append([
            workload.upper(), label, fmt_ms(median([r["import_ms"] for r in runs])), fmt_ms(other),
            fmt_ms(part("key")) if system != "webnnc-load" else "-", lookup, fmt_ms(part("session")),
            fmt_ms(median([r["first_ms"] for r in runs])), fmt_ms(median([r["cold_ms"] for r in runs])),
        ])
    return rows


def render(data: dict[str, Any], notes: list[str], argv: list[str]) -> tuple[list[str], list[str]]:
    """The report's lines, and the two tables alone (for the README)."""
    samples = data["samples"]
    systems = data["systems"]
    rows = []
    for w, by_system in samples.items():
        for s in systems:
            st = summarize(by_system[s])
            warm = (fmt_ms(st["warm"]), fmt_ms(st["warm_p90"])) if s != "webnnc-miss" else ("-", "-")
            rows.append([
                w.upper(), LABELS[s], fmt_ms(st["cold"]),
                f"{fmt_ms(st['import'])} / {fmt_ms(st['load'])} / {fmt_ms(st['first'])}",
                *warm, f"{fmt_ms(st['peer_cold'])} / {fmt_ms(st['peer_warm'])}", f"{st['rss']:.0f}",
            ])
    main_table = markdown_table(
        ["workload", "system", "cold start ms", "import / load / first ms", "warm median ms",
         "warm p90 ms", "peer method cold / warm ms", "peak RSS MiB"], rows)

    has_peer = "pywebnn" in systems
    ratio_rows = []
    for w, by in samples.items():
        cells = [w.upper(), fmt_ms(summarize(by["webnnc-miss"])["cold"])]
        for key, ours in (("warm", "webnnc-hit"), ("cold_ms", "webnnc-hit"), ("cold_ms", "webnnc-load")):
            for theirs in ("ort-default", "ort-best", *(["pywebnn"] if has_peer else [])):
                cells.append(f"{paired_ratio(by[ours], by[theirs], key):.2f}")
        ratio_rows.append(cells)
    peers = ["ORT default", "ORT best", *(["pywebnn"] if has_peer else [])]
    ratio_header = ["workload", "webnnc compile (miss) ms"]
    ratio_header += [f"warm: webnnc / {p}" for p in peers]
    ratio_header += [f"cold hit: webnnc / {p}" for p in peers]
    ratio_header += [f"cold load(): webnnc / {p}" for p in peers]
    ratio_table = markdown_table(ratio_header, ratio_rows)

    breakdown = markdown_table(
        ["workload", "webnnc path", "import", "other: compiler / ORT import, graph construction",
         "cache key", "lookup + verify", "session", "first run", "cold total"],
        [row for w, by in samples.items() for row in _breakdown_rows(w, by)],
    )

    lines = [
        "# webnnc vs ONNX Runtime vs pywebnn",
        "",
        f"W1-W3 (`compiler/workloads.py`), {data['repeats']} repeat(s); every number from a fresh "
        "process. Cold start = import + load (build with the builder, `runtime.load()`, or ORT "
        "session creation) + first result; compile = the same on an empty cache. Warm = single "
        "calls after warm-up (medians over repeats of each process's median / p90). Peer method "
        "= pywebnn's page: 5 calls, cold = call 1, warm = mean of calls 2-5 (graph construction "
        "not timed). Values are medians over repeats.",
        "",
        BUSY_NOTE + " Ratios below are taken within a repeat (the systems run back to back, in "
        "an order rotated every repeat), then the median over repeats; < 1 means webnnc is faster.",
        "",
        *main_table,
        "",
        "Ratios (median over repeats of per-repeat ratios):",
        "",
        *ratio_table,
        "",
        "Where webnnc's cold start goes (ms, medians over repeats; from `MLGraph.build_info`):",
        "",
        *breakdown,
        "",
        "ORT best options: ORT_ENABLE_ALL, sequential execution, intra-op threads = usable cores, "
        "inter-op threads 1, denormals as zero. pywebnn returns float64 outputs (webnnc and ORT "
        "return float32).",
        "",
        *[f"Check: {a}" for a in data.get("agreement", [])],
        "",
        *[f"Note: {n}" for n in notes],
        *([""] if notes else []),
        "Machine:",
        "",
        *machine_lines(),
        "",
        "Command: `" + " ".join(["python benchmarks/run_all.py", *argv]) + "`",
        "",
        "![chart](latest.png)",
        "",
    ]
    return lines, [*main_table, "", *ratio_table]


def chart(data: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    samples = data["samples"]
    systems = data["systems"]
    workloads = list(samples)
    panels = (("cold", "cold start, fresh process (ms, log)"),
              ("warm", "warm latency, median (ms, log)"),
              ("rss", "peak resident memory (MiB)"))
    fig, axes = plt.subplots(1, len(panels), figsize=(15, 4.8))
    width = 0.8 / len(systems)
    for ax, (key, title) in zip(axes, panels, strict=True):
        for i, s in enumerate(systems):
            if key == "warm" and s == "webnnc-miss":
                continue
            values = [summarize(samples[w][s])[key] for w in workloads]
            xs = [j + (i - (len(systems) - 1) / 2) * width for j in range(len(workloads))]
            bars = ax.bar(xs, values, width, label=LABELS[s], color=f"C{i}")
            ax.bar_label(bars, labels=[fmt_ms(v) for v in values], fontsize=6, rotation=90, padding=2)
        ax.set_xticks(range(len(workloads)), [w.upper() for w in workloads])
        ax.set_title(title)
        if key != "rss":
            ax.set_yscale("log")
        ax.margins(y=0.15)
        ax.grid(axis="y", alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle("webnnc vs ONNX Runtime vs pywebnn (lower is better)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def compact(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` with each process's warm calls summarized (count, median, p90, min), not listed."""
    samples = {
        w: {s: [{**{k: v for k, v in r.items() if k != "warm_ms"},
                 "warm_summary_ms": {"n": len(r["warm_ms"]), "median": median(r["warm_ms"]),
                                     "p90": p90(r["warm_ms"]), "min": min(r["warm_ms"], default=float("nan"))}}
                for r in runs] for s, runs in by.items()}
        for w, by in data["samples"].items()
    }
    return {**data, "samples": samples}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", default="w1,w2,w3", help="comma-separated (default w1,w2,w3)")
    parser.add_argument("--repeats", type=int, default=7, help="fresh processes per system and workload")
    parser.add_argument("--warm-runs", type=int, default=300, help="max warm calls per process")
    parser.add_argument("--warm-budget", type=float, default=2.0, help="seconds of warm calls per process")
    parser.add_argument("--quick", action="store_true", help="1 repeat, few warm calls: a smoke run")
    parser.add_argument("--no-pywebnn", action="store_true", help="skip the pywebnn column")
    parser.add_argument("--pywebnn-venv", type=Path, default=DEFAULT_VENV, help="venv for pywebnn")
    parser.add_argument("--python312", help="Python 3.12 interpreter to create the pywebnn venv with")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR, help="where latest.* go")
    args = parser.parse_args(argv)

    from webnnc.compiler.workloads import WORKLOADS

    workloads = [w.strip().lower() for w in args.workloads.split(",") if w.strip()]
    unknown = [w for w in workloads if w not in WORKLOADS]
    if unknown:
        parser.error(f"unknown workloads {unknown}; choose from {sorted(WORKLOADS)}")
    notes: list[str] = []
    peer_python = None
    if args.no_pywebnn:
        notes.append("pywebnn skipped (--no-pywebnn)")
    else:
        peer_python, note = ensure_pywebnn(args.pywebnn_venv, args.python312)
        print(note, flush=True)
        if peer_python is None:
            notes.append(note)
        else:
            ver = subprocess.run([peer_python, "-c", "import sys, onnxruntime, numpy; print("
                                  "sys.version.split()[0], onnxruntime.__version__, numpy.__version__)"],
                                 capture_output=True, text=True, timeout=60, check=False).stdout.split()
            if len(ver) == 3:
                notes.append(f"pywebnn {PYWEBNN_VERSION} ran on Python {ver[0]} with its own "
                             f"onnxruntime {ver[1]} and numpy {ver[2]}")
            notes.append("the workload functions drive pywebnn's builder through a small adapter "
                         "(`_child.py`): conv2d's `padding=` is pywebnn's `pads=`")

    data = collect(args, workloads, peer_python)
    lines, tables = render(data, notes, argv)
    out = args.results_dir
    out.mkdir(parents=True, exist_ok=True)
    (out / "latest.md").write_text("\n".join(lines))
    (out / "latest.json").write_text(json.dumps({"argv": argv, "notes": notes, **compact(data)}, indent=1) + "\n")
    chart(data, out / "latest.png")
    print("\n".join(tables))
    print("\n".join(data["agreement"]))
    print(f"wrote {out / 'latest.md'}, {out / 'latest.png'}, {out / 'latest.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
