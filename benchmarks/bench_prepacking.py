"""Weight prepacking on vs off, per stored artifact: session creation against warm run time.

ONNX Runtime's CPU provider can re-lay constant GEMM weights at session creation
("prepacking"). webnnc chooses it per artifact at compile time
(``compiler/emitters/ort_optimizer.py``, ``prepacking_pays``); this script measures what the
choice trades, on the artifacts webnnc stores, in fresh processes, interleaved (off, on, off,
on, ...), medians over ``--rounds``:

    python benchmarks/bench_prepacking.py --corpus benchmarks/results/tmp/corpus \
        --only distilbert,densenet121 --rounds 5

Writes ``results/prepacking.md``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS_DIR, fmt_ms, machine_lines, markdown_table, median

_CHILD = r"""
import json, sys, time
import numpy as np, onnxruntime as ort
folder, prepack, runs = sys.argv[1], sys.argv[2] == "on", int(sys.argv[3])
so = ort.SessionOptions()
so.log_severity_level = 3
so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
if not prepack:
    so.add_session_config_entry("session.disable_prepacking", "1")
t0 = time.perf_counter()
s = ort.InferenceSession(folder + "/model.onnx", so)
t1 = time.perf_counter()
rng = np.random.default_rng(0)
feeds = {i.name: (np.ones([int(d) for d in i.shape], np.int64) if "int64" in i.type
                  else rng.standard_normal([int(d) for d in i.shape]).astype(np.float32))
         for i in s.get_inputs()}
s.run(None, feeds)
times = []
for _ in range(runs):
    a = time.perf_counter(); s.run(None, feeds); times.append(time.perf_counter() - a)
print(json.dumps({"session": (t1 - t0) * 1e3, "warm": sorted(times)[len(times) // 2] * 1e3}))
"""


def _artifact_folder(cache: Path, name: str) -> tuple[Path, dict[str, Any]]:
    from webnnc.cache.store import ArtifactStore

    store = ArtifactStore(cache)
    m = store.find(name, "onnx-cpu")[0]
    hit = store.get(m.key)
    if hit is None or hit.folder is None:
        raise SystemExit(f"bench_prepacking: {name} has no multi-file ONNX artifact")
    return Path(hit.folder), dict(hit.manifest.session)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=RESULTS_DIR / "tmp" / "corpus")
    ap.add_argument("--only", help="comma-separated model names")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--runs", type=int, default=15, help="warm runs per process")
    ap.add_argument("--out", type=Path, default=RESULTS_DIR)
    args = ap.parse_args(argv)
    names = args.only.split(",") if args.only else sorted(p.stem for p in args.corpus.glob("*.json"))
    rows = []
    with tempfile.TemporaryDirectory(prefix="webnnc-prepack-") as cache:
        for name in names:
            subprocess.run([sys.executable, "-m", "webnnc", "--cache-dir", cache, "compile",
                            str(args.corpus / f"{name}.onnx"), "--name", name], check=True,
                           capture_output=True)
            folder, session = _artifact_folder(Path(cache), name)
            got: dict[str, list[dict[str, float]]] = {"off": [], "on": []}
            for r in range(args.rounds):
                for side in (("off", "on") if r % 2 == 0 else ("on", "off")):
                    out = subprocess.run([sys.executable, "-c", _CHILD, str(folder), side, str(args.runs)],
                                         capture_output=True, text=True, check=True)
                    got[side].append(json.loads(out.stdout.strip().splitlines()[-1]))
            med = {s: {k: median([x[k] for x in v]) for k in ("session", "warm")} for s, v in got.items()}
            rows.append([name, fmt_ms(med["off"]["session"]), fmt_ms(med["on"]["session"]),
                         fmt_ms(med["off"]["warm"]), fmt_ms(med["on"]["warm"]),
                         f"{med['on']['warm'] / med['off']['warm']:.2f}",
                         "on" if session.get("prepacking") else "off", str(session.get("prepacking_reason", ""))])
            print(" | ".join(rows[-1]), flush=True)
    lines = ["# Weight prepacking: off vs on, per stored artifact", "", *machine_lines(), "",
             f"Command: `python benchmarks/bench_prepacking.py {' '.join(sys.argv[1:])}`", "",
             *markdown_table(["model", "session off ms", "session on ms", "warm off ms", "warm on ms",
                              "warm on/off", "webnnc chose", "why"], rows)]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "prepacking.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
