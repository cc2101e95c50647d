"""Smoke tests of the benchmark scripts: a --quick run on W1 writes reports with numbers.

They check that the scripts run against the current code and produce well-formed reports,
not the speed itself (timings are not asserted: the CI machine is shared).
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import numpy as np

from tests.conftest import webnnc_cli

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


def _run(cmd: list[str], cwd: Path) -> str:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, f"{cmd} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def _row(markdown: str, first_cell: str) -> list[str]:
    for line in markdown.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and cells[0] == first_cell:
            return cells
    raise AssertionError(f"no table row starting with {first_cell!r} in:\n{markdown}")


def test_overhead_quick_writes_w1_ratio(tmp_path: Path) -> None:
    # through the CLI, which finds the checkout's benchmarks/ folder from cwd
    out = _run([*webnnc_cli(), "bench", "overhead", "--quick", "--workloads", "w1",
                "--results-dir", str(tmp_path)], cwd=BENCH.parent)
    assert "w1: webnnc compute" in out
    report = (tmp_path / "overhead.md").read_text()
    cells = _row(report, "W1")
    ours_median = float(cells[2].split("/")[0])
    ort_median = float(cells[3].split("/")[0])
    ratio = float(cells[4])
    assert ours_median > 0 and ort_median > 0
    assert 0.05 < ratio < 20, f"implausible ratio {ratio} (the same artifact on both sides)"
    assert "CPU:" in report and "onnxruntime" in report


def test_run_all_quick_writes_table_chart_and_raw_samples(tmp_path: Path) -> None:
    _run([sys.executable, str(BENCH / "run_all.py"), "--quick", "--workloads", "w1", "--no-pywebnn",
          "--results-dir", str(tmp_path)], cwd=tmp_path)
    report = (tmp_path / "latest.md").read_text()
    for label in ("webnnc, cache miss (compile)", "webnnc, cache hit (build)", "webnnc, runtime.load()",
                  "ORT, naive export, default options", "ORT, naive export, best options"):
        assert f"| W1 | {label} |" in report
    hit = next(c for c in report.splitlines() if c.startswith("| W1 | webnnc, cache hit (build) |"))
    cold = float(hit.split("|")[3])
    assert cold > 0
    assert "pywebnn skipped (--no-pywebnn)" in report
    assert "W1: outputs of all systems agree with webnnc's" in report
    assert re.search(r"\| W1 \| [\d.]+ \| [\d.]+ \| [\d.]+ \|", report), "ratio table row missing"
    assert (tmp_path / "latest.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    raw = json.loads((tmp_path / "latest.json").read_text())
    hits = raw["samples"]["w1"]["webnnc-hit"]
    assert hits and hits[0]["source"] == "cache-hit" and hits[0]["warm_summary_ms"]["n"] > 0
    assert raw["samples"]["w1"]["webnnc-miss"][0]["source"] == "compiled"
    assert raw["samples"]["w1"]["webnnc-load"][0]["source"] == "loaded"


def _load_run_all() -> ModuleType:
    sys.path.insert(0, str(BENCH))  # run_all imports its sibling _common
    try:
        spec = importlib.util.spec_from_file_location("bench_run_all", BENCH / "run_all.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(BENCH))


def test_output_check_flags_a_system_that_computed_something_else(tmp_path: Path) -> None:
    run_all = _load_run_all()
    ref = np.array([[1.0, np.inf, 0.5]], np.float32)
    np.save(tmp_path / "out-w1-webnnc-hit.npy", ref)
    np.save(tmp_path / "out-w1-near.npy", ref.astype(np.float64) * (1 + 1e-6))  # rounding only
    np.save(tmp_path / "out-w1-off.npy", ref + np.float32(1e-2))
    np.save(tmp_path / "out-w1-finite.npy", np.array([[1.0, 3e38, 0.5]], np.float32))
    lines = run_all.check_outputs(tmp_path, ["w1"], ["webnnc-hit", "near", "off", "finite"])
    assert lines[0].startswith("W1: outputs of all systems DISAGREE (off, finite)"), lines
    lines = run_all.check_outputs(tmp_path, ["w1"], ["webnnc-hit", "near"])
    assert "agree with webnnc's" in lines[0] and "DISAGREE" not in lines[0]


def test_warm_work_reports_cpu_ratio_and_profile(tmp_path: Path) -> None:
    # a one-model corpus in bench_corpus's format: an ONNX file and its input specs
    import onnx
    from onnx import TensorProto, helper

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    w = helper.make_tensor("w", TensorProto.FLOAT, [64, 64], np.full(64 * 64, 0.01, np.float32).tolist())
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["m"]), helper.make_node("Relu", ["m"], ["y"])], "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [8, 64])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [8, 64])], [w],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 10
    onnx.save(model, str(corpus / "tiny.onnx"))
    (corpus / "tiny.json").write_text(json.dumps({"name": "tiny", "inputs": {"x": {"shape": [8, 64], "dtype": "float32"}}}))
    _run([sys.executable, str(BENCH / "bench_warm_work.py"), "--corpus", str(corpus), "--rounds", "1",
          "--out", str(tmp_path)], cwd=tmp_path)
    cells = _row((tmp_path / "warm_work.md").read_text(), "tiny")
    ratio, share = float(cells[1]), float(cells[4].rstrip("%"))
    assert 0.05 < ratio < 20, f"implausible CPU-work ratio {ratio}"
    assert 0 < share <= 100 and "MatMul" in cells[5], cells
