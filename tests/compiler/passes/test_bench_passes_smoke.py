"""benchmarks/bench_passes.py runs and prints its table (W1, two repeats: a smoke test)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[3] / "benchmarks" / "bench_passes.py"


def test_bench_passes_prints_the_w1_row(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--workloads", "w1", "--repeats", "2"],
        capture_output=True, text=True, timeout=240, cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    row = next(line for line in proc.stdout.splitlines() if line.startswith("| w1 |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[1:4] == ["20", "20", "onnx"]
    assert cells[-1] == "yes"
