"""How long ``import webnnc.runtime`` (and ``import webnnc``) takes in a fresh process.

Each sample is a new interpreter that times the import statement alone with
``time.perf_counter`` (interpreter start-up excluded) and lists which heavy modules the
import pulled in. Statements are interleaved round by round, so a burst of load from other
jobs hits all of them alike. ``import numpy`` and ``import onnxruntime`` are measured as
yardsticks.

Usage::

    python benchmarks/bench_import.py            # -> results/import.md
    python benchmarks/bench_import.py --quick --results-dir /tmp/x
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import BUSY_NOTE, RESULTS_DIR, fmt_ms, machine_lines, markdown_table, median, p90

STATEMENTS: tuple[str, ...] = (
    "import webnnc.runtime",
    "import webnnc",
    "import numpy",
    "import onnxruntime",
)

HEAVY = ("numpy", "onnxruntime", "onnx", "coremltools", "onnxsim", "diskcache", "webnnc.compiler")

_CHILD = """
import json, sys, time
t0 = time.perf_counter()
{stmt}
dt = time.perf_counter() - t0
heavy = [m for m in {heavy!r} if m in sys.modules]
print(json.dumps({{"ms": dt * 1e3, "heavy": heavy}}))
"""


def sample(stmt: str, cwd: str) -> tuple[float, list[str]]:
    """Time one import in a fresh interpreter; returns (ms, heavy modules loaded)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPROFILEIMPORTTIME"}
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD.format(stmt=stmt, heavy=HEAVY)],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"{stmt!r} failed in a fresh interpreter:\n{proc.stderr}")
    obj = json.loads(proc.stdout.strip().splitlines()[-1])
    return float(obj["ms"]), list(obj["heavy"])


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15, help="fresh processes per statement")
    parser.add_argument("--quick", action="store_true", help="3 rounds: a smoke run")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR, help="where import.md goes")
    args = parser.parse_args(argv)
    rounds = 3 if args.quick else max(1, args.rounds)

    times: dict[str, list[float]] = {s: [] for s in STATEMENTS}
    heavy: dict[str, list[str]] = {}
    # cwd outside the checkout, so the source folders cannot shadow the installed package
    with tempfile.TemporaryDirectory(prefix="webnnc-import-") as cwd:
        for _ in range(2):  # warm the OS file cache; not recorded
            for stmt in STATEMENTS:
                sample(stmt, cwd)
        for i in range(rounds):
            order = STATEMENTS if i % 2 == 0 else tuple(reversed(STATEMENTS))
            for stmt in order:
                ms, loaded = sample(stmt, cwd)
                times[stmt].append(ms)
                heavy[stmt] = loaded

    rows = []
    for stmt in STATEMENTS:
        xs = times[stmt]
        print(f"{stmt:<24} median {median(xs):7.2f} ms  p90 {p90(xs):7.2f} ms  "
              f"heavy modules: {', '.join(heavy[stmt]) or 'none'}")
        rows.append([f"`{stmt}`", fmt_ms(median(xs)), fmt_ms(p90(xs)), str(len(xs)),
                     ", ".join(heavy[stmt]) or "none"])
    lines = [
        "# Import time in a fresh process",
        "",
        "Time of the import statement alone (interpreter start-up excluded), one new process "
        "per sample, statements interleaved round by round. `import webnnc.runtime` must not "
        "load onnx, coremltools, onnxsim or the compiler (DESIGN.md).",
        "",
        BUSY_NOTE,
        "",
        *markdown_table(["statement", "median ms", "p90 ms", "samples", "heavy modules loaded"], rows),
        "",
        "Machine:",
        "",
        *machine_lines(),
        "",
        "Command: `" + " ".join(["python benchmarks/bench_import.py", *argv]) + "`",
        "",
    ]
    args.results_dir.mkdir(parents=True, exist_ok=True)
    out = args.results_dir / "import.md"
    out.write_text("\n".join(lines))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
