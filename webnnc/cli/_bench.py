"""``webnnc bench``: run the benchmark scripts of a source checkout's ``benchmarks/`` folder.

The scripts are not part of the installed package (they write reports into the clone), so
the command looks for them in ``./benchmarks`` and then beside the imported source tree
(an editable install), and says so when neither has them.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path
from typing import Any

__all__ = ["find_benchmarks_dir", "register"]

SCRIPTS = {"all": "run_all.py", "overhead": "bench_overhead.py", "import": "bench_import.py"}


def register(sub: Any) -> None:
    p = sub.add_parser(
        "bench",
        help="benchmark W1-W3 against ONNX Runtime and pywebnn (runs benchmarks/run_all.py)",
        description="Run a benchmark script from a clone's benchmarks/ folder; reports go to "
        "benchmarks/results/ unless --results-dir says otherwise.",
    )
    p.add_argument(
        "suite", nargs="?", choices=sorted(SCRIPTS), default="all",
        help="all: compile/cold/warm/memory table and chart (default); overhead: compute() vs "
        "ONNX Runtime's run() on the same artifact; import: import time",
    )
    p.add_argument("--quick", action="store_true", help="a fast smoke run")
    p.add_argument("--workloads", help="comma-separated subset of w1,w2,w3 (all, overhead)")
    p.add_argument("--repeats", type=int, help="fresh processes per system and workload (all)")
    p.add_argument("--no-pywebnn", action="store_true", help="skip the pywebnn column (all)")
    p.add_argument("--results-dir", help="where the reports go (default benchmarks/results)")
    p.set_defaults(func=run)


def find_benchmarks_dir() -> Path | None:
    """``./benchmarks`` or the checkout the package was imported from, if it has run_all.py."""
    checkout = Path(__file__).resolve().parents[2]  # <checkout>/webnnc/cli/_bench.py
    candidates = [Path.cwd() / "benchmarks", checkout / "benchmarks"]
    for c in candidates:
        if (c / SCRIPTS["all"]).is_file():
            return c
    return None


def _missing_bench_extra(suite: str) -> list[str]:
    """The ``[bench]`` extra's modules that ``suite`` needs and cannot import (checked before
    minutes of benchmarking, not after: only ``all`` draws the chart)."""
    import importlib.util

    needed = ("matplotlib",) if suite == "all" else ()
    return [m for m in needed if importlib.util.find_spec(m) is None]


def run(args: argparse.Namespace) -> int:
    from webnnc.cli import UserError

    missing = _missing_bench_extra(args.suite)
    if missing:
        raise UserError(
            f"`webnnc bench {args.suite}` needs {', '.join(missing)}; install the benchmark extra "
            "first: pip install 'webnnc[bench]' (or pip install -e '.[bench]' in a clone)"
        )
    bench_dir = find_benchmarks_dir()
    if bench_dir is None:
        raise UserError(
            "no benchmarks/run_all.py here: the benchmark scripts live in the source repository, "
            "not in the installed package; run `webnnc bench` from a clone's root folder"
        )
    argv = [sys.executable, str(bench_dir / SCRIPTS[args.suite])]
    if args.quick:
        argv.append("--quick")
    if args.results_dir:
        argv += ["--results-dir", args.results_dir]
    if args.workloads and args.suite in ("all", "overhead"):
        argv += ["--workloads", args.workloads]
    if args.suite == "all":
        if args.repeats is not None:
            argv += ["--repeats", str(args.repeats)]
        if args.no_pywebnn:
            argv.append("--no-pywebnn")
    print("running " + " ".join(argv[1:]), flush=True)
    return subprocess.run(argv, check=False).returncode
