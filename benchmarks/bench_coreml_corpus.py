"""The real-model corpus on the coreml target: what compiles, how long it takes, and whether
the stored ML Program computes what ONNX Runtime computes on the original file.

For each model (``<name>.onnx`` + ``<name>.json`` in ``--corpus``), in a fresh process:

1. import the ONNX file and compile it for ``coreml`` through the real driver into a fresh
   cache folder (passes, MIL lowering, ``ct.convert``, save, pack, store); a refusal is
   reported with the compiler's message (every refused node, grouped by op);
2. unpack the stored package and open it with ``coremltools.models.MLModel(path,
   skip_model_load=True)`` (what a Mac does first), and count the MIL ops by type;
3. evaluate the saved MIL program with ``tests/mil_reference.py`` (float64 per op, rounded
   to each op's declared type) on the corpus inputs (int64 ids narrowed to int32 as the
   runtime does) and compare with ONNX Runtime on the original file.

Tolerance: ``|mil - ort| <= ATOL + RTOL * |ort|`` elementwise with RTOL 1e-3, ATOL 1e-4 (the
rule of ``bench_corpus.py``), and the max error relative to the output's range is printed.
On macOS the stored package is also compiled to ``.mlmodelc`` and run by CoreML through
``webnnc.runtime.load`` (compute units "ALL"), and its error against ORT is reported too.

Usage::

    python benchmarks/bench_coreml_corpus.py --corpus benchmarks/results/tmp/corpus [--only a,b] [--no-check]

Writes ``results/coreml_corpus.md`` and ``.json`` (``--out`` to change).
"""

from __future__ import annotations

import argparse
import collections
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO_ROOT, RESULTS_DIR, machine_lines, markdown_table
from bench_corpus import (
    _inputs,  # the corpus inputs: token ids in [0, 1000), masks of ones, N(0, 1)
)

RTOL, ATOL = 1e-3, 1e-4


def measure(path: Path, check: bool) -> dict[str, Any]:
    """Compile one model for coreml and check its package (runs in the child process)."""
    sys.path.insert(0, str(REPO_ROOT))  # tests.mil_reference
    import numpy as np

    from webnnc.cache.archive import unpack
    from webnnc.cache.store import ArtifactStore
    from webnnc.compiler.driver import compile_graph
    from webnnc.compiler.errors import CompilerError
    from webnnc.compiler.frontend import MLGraphBuilder
    from webnnc.compiler.options import CompileOptions
    from webnnc.compiler.sources import resolve_source

    meta = json.loads(path.with_suffix(".json").read_text())
    row: dict[str, Any] = {"model": path.stem}
    t0 = time.perf_counter()
    source = resolve_source(str(path))
    builder = MLGraphBuilder()
    graph = builder.build(source.build(builder), name=path.stem)
    row["import_s"] = round(time.perf_counter() - t0, 2)
    row["ir_nodes"] = len(graph.nodes)
    with tempfile.TemporaryDirectory(prefix="bench-coreml-") as tmp:
        t0 = time.perf_counter()
        try:
            result = compile_graph(graph, CompileOptions(target="coreml"), store=ArtifactStore(Path(tmp) / "cache"),
                                   name=path.stem)
        except CompilerError as e:
            row.update(compiled=False, error=str(e), compile_s=round(time.perf_counter() - t0, 2))
            return row
        row.update(compiled=True, compile_s=round(time.perf_counter() - t0, 2))
        m = result.manifest
        data = result.data if result.data is not None else Path(result.path or "").read_bytes()
        row["timings_ms"] = {**m.timings_ms, **m.extra.get("coreml_timings_ms", {})}
        row["artifact_mib"] = round(len(data) / 2**20, 1)
        row["int64_carriers"] = m.extra["coreml_io"].get("int64_carriers", [])

        import coremltools as ct

        pkg = Path(tmp) / "model.mlpackage"
        unpack(data, pkg)
        spec = ct.models.MLModel(str(pkg), skip_model_load=True).get_spec()
        row["opens"] = spec.WhichOneof("Type") == "mlProgram"
        if check and sys.platform == "darwin":  # CoreML itself: .mlmodelc, then predict
            from webnnc.runtime import load

            t0 = time.perf_counter()
            loaded = load(path.stem, target="coreml", cache_dir=Path(tmp) / "cache")
            predicted = loaded.run(_inputs(meta))
            row["coreml_load_predict_s"] = round(time.perf_counter() - t0, 2)

    from tests.mil_reference import MilProgram

    prog = MilProgram.from_archive(data)
    ops = [op for op in prog.op_types() if op != "const"]  # constants are not computation
    row["mil_ops"] = len(ops)
    row["mil_op_types"] = dict(collections.Counter(ops).most_common())
    if not check:
        return row
    import onnxruntime as ort

    feeds = _inputs(meta)
    io = m.extra["coreml_io"]
    t0 = time.perf_counter()
    try:
        ours = prog.run({
            io["inputs"][n]: (x.astype(np.int32) if x.dtype == np.int64 else x) for n, x in feeds.items()
        })
    except NotImplementedError as e:  # an op the reference evaluator does not know
        row["check_error"] = str(e)
        return row
    row["reference_s"] = round(time.perf_counter() - t0, 1)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    want = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, feeds), strict=True))
    errs = []
    ok = True
    for name, ref in want.items():
        got = np.asarray(ours[io["outputs"][name]], np.float64).reshape(ref.shape)
        ref64 = np.asarray(ref, np.float64)
        diff = np.abs(got - ref64)
        span = float(ref64.max() - ref64.min()) or 1.0
        ok = ok and bool(np.all(diff <= ATOL + RTOL * np.abs(ref64)))
        errs.append((float(diff.max()), float(diff.max()) / span))
    if sys.platform == "darwin":
        row["coreml_max_abs_err"] = max(
            float(np.abs(np.asarray(predicted[n], np.float64) - np.asarray(ref, np.float64)).max()) for n, ref in want.items()
        )
    row["max_abs_err"] = max(e[0] for e in errs)
    row["err_rel_range"] = max(e[1] for e in errs)
    row["matches"] = ok
    return row


def _child(path: Path, check: bool, timeout: float) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", str(path)] + ([] if check else ["--no-check"])
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return {"model": path.stem, "compiled": None, "error": f"timed out after {timeout:.0f} s"}
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith("{"):
            return dict(json.loads(line))
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
    return {"model": path.stem, "compiled": None, "error": f"child failed (rc {proc.returncode}): {' | '.join(tail)}"}


def _row(r: dict[str, Any]) -> list[str]:
    if not r.get("compiled"):
        first = str(r.get("error", "")).splitlines()
        return [r["model"], "NO", "-", "-", "-", "-", "-", "-", (first[0] if first else "")[:160]]
    t = r.get("timings_ms", {})
    conv = f"{t.get('emit', 0) / 1e3:.1f} (lower {t.get('lower', 0) / 1e3:.1f}, convert {t.get('convert', 0) / 1e3:.1f})"
    err = f"{r['max_abs_err']:.1e} / {r['err_rel_range']:.1e}" if "max_abs_err" in r else r.get("check_error", "-")
    if "coreml_max_abs_err" in r:  # macOS: CoreML's own prediction
        err += f"; CoreML {r['coreml_max_abs_err']:.1e}"
    match = {True: "yes", False: "NO"}.get(r.get("matches"), "-")  # type: ignore[arg-type]
    return [
        r["model"], "yes", f"{r['compile_s']:.1f}", conv, f"{r['ir_nodes']} -> {r['mil_ops']}",
        "yes" if r.get("opens") else "NO", err, match, ", ".join(r.get("int64_carriers", [])),
    ]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--corpus", type=Path, default=Path(__file__).resolve().parent / "results" / "tmp" / "corpus")
    p.add_argument("--only", default="", help="comma-separated model names")
    p.add_argument("--no-check", action="store_true", help="compile and open only (no MIL reference run)")
    p.add_argument("--timeout", type=float, default=1800.0, help="seconds per model")
    p.add_argument("--out", type=Path, default=RESULTS_DIR / "coreml_corpus")
    p.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child is not None:
        print(json.dumps(measure(args.child, not args.no_check)))
        return 0
    only = {s.strip() for s in args.only.split(",") if s.strip()}
    models = sorted(m for m in args.corpus.glob("*.onnx") if m.with_suffix(".json").exists() and (not only or m.stem in only))
    rows = []
    for path in models:
        r = _child(path, not args.no_check, args.timeout)
        rows.append(r)
        print(" | ".join(_row(r)), flush=True)
    header = ["model", "compiles", "compile s", "emit s", "IR nodes -> MIL ops", "opens", "max abs err / rel to range",
              "matches ORT", "int64 carried / error"]
    lines = ["# The real-model corpus on the coreml target", "", *machine_lines(), "",
             f"Command: `python benchmarks/bench_coreml_corpus.py {' '.join(argv if argv is not None else sys.argv[1:])}`", "",
             f"MIL reference (tests/mil_reference.py) against ONNX Runtime on the original file: elementwise "
             f"|err| <= {ATOL:g} + {RTOL:g} |ort|. 'opens': the unpacked package opens with "
             "coremltools.models.MLModel(skip_model_load=True). compile s: import excluded; emit s: "
             "MIL lowering + ct.convert + save/pack.", "",
             *markdown_table(header, [_row(r) for r in rows]), ""]
    compiled = [r for r in rows if r.get("compiled")]
    lines.append(f"{len(compiled)} of {len(rows)} models compile for coreml; "
                 f"{sum(1 for r in compiled if r.get('matches'))} match ORT within the tolerance.")
    for r in rows:
        if not r.get("compiled"):
            lines += ["", f"## {r['model']}: refused", "", "```", str(r.get("error")), "```"]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    args.out.with_suffix(".json").write_text(json.dumps(rows, indent=1) + "\n")
    print(f"wrote {args.out.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
