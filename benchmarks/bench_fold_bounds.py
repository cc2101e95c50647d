"""Cost of the import-time folding bounds (issue 15): ONNX import with and without them.

For each corpus model, imports it ``--rounds`` times alternating the bounded fold (size
forecast by ONNX shape inference + watchdog) and a plain fold (the evaluator alone), and
prints the median import time of each and the number of folded nodes.

    python benchmarks/bench_fold_bounds.py --corpus /work/corpus --only distilbert,gpt2_small
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Any


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=Path("benchmarks/results/tmp/corpus"))
    parser.add_argument("--only", default="distilbert,gpt2_small", help="comma-separated model names")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    import onnx

    import webnnc.compiler.importers.onnx_importer as importer
    from webnnc.compiler.frontend import MLGraphBuilder

    bounded = importer.bounded_fold
    folds = [0]

    def plain(node: Any, inputs: Any, opsets: Any, evaluate: Any) -> Any:
        folds[0] += 1
        return evaluate()

    print("| model | folded nodes | import, bounded (ms) | import, plain (ms) | bounded/plain |")
    print("|---|---:|---:|---:|---:|")
    for name in args.only.split(","):
        model = onnx.load(str(args.corpus / f"{name}.onnx"))
        times: dict[str, list[float]] = {"bounded": [], "plain": []}
        folds[0] = 0
        for _ in range(args.rounds):
            for kind in ("plain", "bounded"):
                importer.bounded_fold = plain if kind == "plain" else bounded  # type: ignore[assignment]
                t0 = time.perf_counter()
                importer.import_onnx(model, builder=MLGraphBuilder())
                times[kind].append((time.perf_counter() - t0) * 1e3)
        importer.bounded_fold = bounded  # type: ignore[assignment]
        b, p = statistics.median(times["bounded"]), statistics.median(times["plain"])
        print(f"| {name} | {folds[0] // args.rounds} | {b:.0f} | {p:.0f} | {b / p:.2f} |")


if __name__ == "__main__":
    main()
