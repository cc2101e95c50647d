"""Shared helpers for the benchmark scripts: statistics, machine description, markdown.

The scripts in this folder are standalone (``python benchmarks/<script>.py``); Python puts
the script's folder on ``sys.path``, which is how they import this module.

# NOTE: the benchmark machine is usually shared (other jobs run on the same cores), so every
# comparison here is made on interleaved pairs (A, B, A, B, ... with alternating order) and
# summarized by medians of per-pair ratios, which a burst of foreign load moves far less than
# a ratio of two separately measured means.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import importlib.metadata
import os
import platform
import statistics
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

__all__ = [
    "BENCH_DIR",
    "BUSY_NOTE",
    "REPO_ROOT",
    "RESULTS_DIR",
    "fmt_ms",
    "machine_lines",
    "markdown_table",
    "median",
    "p90",
    "pair_ratios",
]

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"

BUSY_NOTE = (
    "The machine may be shared with other jobs: every comparison uses interleaved run pairs "
    "(alternating order) and reports medians of per-pair ratios; absolute times are noisier "
    "than the ratios."
)


def median(xs: Sequence[float]) -> float:
    """Median of a non-empty sequence (NaN when empty).

    >>> median([3.0, 1.0, 2.0])
    2.0
    """
    return statistics.median(xs) if xs else float("nan")


def p90(xs: Sequence[float]) -> float:
    """90th percentile (inclusive method; the single value for one sample).

    >>> p90([float(i) for i in range(1, 11)])
    9.1
    """
    if not xs:
        return float("nan")
    if len(xs) == 1:
        return float(xs[0])
    return statistics.quantiles(xs, n=10, method="inclusive")[-1]


def pair_ratios(a: Sequence[float], b: Sequence[float]) -> list[float]:
    """Per-pair ratios a[i] / b[i] of two interleaved series.

    >>> pair_ratios([2.0, 3.0], [1.0, 2.0])
    [2.0, 1.5]
    """
    return [x / y for x, y in zip(a, b, strict=True) if y > 0]


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True, text=True, timeout=10, check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() or "unknown"


def machine_lines() -> list[str]:
    """A markdown bullet list describing the machine, the libraries and the load on it."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count() or 0
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    now = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return [
        f"- date: {now}; webnnc {_version('webnnc')} at commit {_git_commit()}",
        f"- CPU: {_cpu_model()}; {os.cpu_count()} logical cores ({usable} usable); "
        f"load average {load}",
        f"- OS: {platform.platform()}",
        f"- Python {platform.python_version()} ({sys.implementation.name}); numpy "
        f"{_version('numpy')}; onnxruntime {_version('onnxruntime')}; onnx {_version('onnx')}",
    ]


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """A GitHub markdown table; the first column left-aligned, the others right-aligned."""
    lines = ["| " + " | ".join(header) + " |"]
    lines.append("|" + "|".join([":---"] + ["---:"] * (len(header) - 1)) + "|")
    lines.extend("| " + " | ".join(r) + " |" for r in rows)
    return lines


def fmt_ms(x: float) -> str:
    """Milliseconds with precision that suits the magnitude.

    >>> fmt_ms(0.01234), fmt_ms(1.234), fmt_ms(123.4)
    ('0.0123', '1.23', '123')
    """
    if x != x:  # NaN
        return "n/a"
    if x < 0.1:
        return f"{x:.4f}"
    if x < 10:
        return f"{x:.2f}"
    if x < 100:
        return f"{x:.1f}"
    return f"{x:.0f}"
