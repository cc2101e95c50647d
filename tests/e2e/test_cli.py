"""The command line: compile into the cache, list it, load it by name, run the demo."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.conftest import run_python, webnnc_cli


def _cli(*args: str, cache_dir: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*webnnc_cli(), "--cache-dir", str(cache_dir), *args],
        cwd=cwd, capture_output=True, text=True, timeout=300,
    )


def test_compile_then_load_by_name_in_another_process(tmp_path: Path, cache_dir: Path) -> None:
    first = _cli("compile", "webnnc.compiler.workloads:w1_simple", "--name", "w1", cache_dir=cache_dir, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "w1 [onnx-cpu]: compiled" in first.stdout
    again = _cli("compile", "webnnc.compiler.workloads:w1_simple", "--name", "w1", cache_dir=cache_dir, cwd=tmp_path)
    assert "w1 [onnx-cpu]: cache-hit" in again.stdout, again.stdout

    listing = _cli("cache", "ls", cache_dir=cache_dir, cwd=tmp_path)
    assert listing.returncode == 0, listing.stderr
    assert "w1" in listing.stdout and "onnx-cpu" in listing.stdout

    out = run_python(
        "import numpy as np, webnnc.runtime\n"
        f"m = webnnc.runtime.load('w1', cache_dir={str(cache_dir)!r})\n"
        "x = np.full([1, 3, 224, 224], 0.5, np.float32)\n"
        "y = m({'input': x})['output']\n"
        "print(y.dtype, float(y.min()), float(y.max()))\n",
        cwd=tmp_path,
    )
    # W1 on a constant 0.5 input: x_k = relu(x_{k-1} + 0.5) with x_0 = 0.5 -> 11 * 0.5 = 5.5.
    assert out.split() == ["float32", "5.5", "5.5"]


def test_compile_reports_a_bad_source_without_a_traceback(tmp_path: Path, cache_dir: Path) -> None:
    proc = _cli("compile", "no_such_module_xyz:fn", cache_dir=cache_dir, cwd=tmp_path)
    assert proc.returncode == 1
    assert "cannot import 'no_such_module_xyz'" in proc.stderr
    assert "Traceback" not in proc.stderr
    proc = _cli("compile", "webnnc.compiler.workloads:w1_simple", "--target", "onnx-tpu", cache_dir=cache_dir, cwd=tmp_path)
    assert proc.returncode == 1
    assert "unknown target 'onnx-tpu'" in proc.stderr and "Traceback" not in proc.stderr


def test_demo_compiles_then_hits(tmp_path: Path, cache_dir: Path) -> None:
    first = _cli("demo", "--runs", "3", cache_dir=cache_dir, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    rows = [line.split() for line in first.stdout.splitlines() if line.startswith(("w1", "w2", "w3"))]
    assert [r[0] for r in rows] == ["w1", "w2", "w3"] and {r[1] for r in rows} == {"compiled"}
    second = _cli("demo", "--runs", "3", cache_dir=cache_dir, cwd=tmp_path)
    rows = [line.split() for line in second.stdout.splitlines() if line.startswith(("w1", "w2", "w3"))]
    assert {r[1] for r in rows} == {"cache-hit"}, second.stdout
    # outputs keep the graph's data type
    assert all("float32[" in " ".join(r) for r in rows), second.stdout
