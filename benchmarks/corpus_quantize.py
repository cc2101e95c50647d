"""Quantized (QDQ) models from the float corpus, with ONNX Runtime's own quantization tool.

Each model of ``--corpus`` (``corpus_export.py``'s output: ``NAME.onnx`` + ``NAME.json``) is
quantized statically (``onnxruntime.quantization.quantize_static``: QDQ format, per-channel
int8 weights, uint8 or int8 activations, calibrated on a few seeded random inputs), and
written as ``NAME_qdq_u8.onnx`` / ``NAME_qdq_s8.onnx`` with its metadata beside it, ready for
``bench_corpus.py --corpus OUT``. Needs onnxruntime only (no torch).

Usage::

    python benchmarks/corpus_quantize.py --corpus /work/corpus --out /tmp/corpus_q \\
        --only resnet50,mobilenet_v3_large,distilbert
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_corpus import _inputs  # noqa: E402  (the benchmark's own inputs, so calibration matches)


def quantize(src: Path, meta: dict[str, Any], out: Path, activations: str, samples: int = 4) -> Path:
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.seed = 0

        def get_next(self) -> dict[str, Any] | None:
            if self.seed >= samples:
                return None
            self.seed += 1
            return _inputs(meta, seed=self.seed)

    name = f"{meta['name']}_qdq_{activations}"
    dest = out / f"{name}.onnx"
    quantize_static(
        str(src), str(dest), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
        activation_type=QuantType.QUInt8 if activations == "u8" else QuantType.QInt8,
        weight_type=QuantType.QInt8,
    )
    (out / f"{name}.json").write_text(json.dumps({**meta, "name": name, "quantized_from": meta["name"],
                                                  "activations": activations}, indent=1))
    return dest


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, required=True, help="the float corpus (corpus_export.py --out)")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--only", help="comma-separated model names (default: every model of the corpus)")
    ap.add_argument("--activations", default="u8,s8", help="u8, s8 or both (default u8,s8)")
    args = ap.parse_args(argv)
    names = args.only.split(",") if args.only else sorted(p.stem for p in args.corpus.glob("*.json"))
    args.out.mkdir(parents=True, exist_ok=True)
    for name in names:
        src, meta_path = args.corpus / f"{name}.onnx", args.corpus / f"{name}.json"
        if not src.is_file() or not meta_path.is_file():
            print(f"corpus_quantize: {name}: expected {src} and {meta_path}; export it first", file=sys.stderr)
            return 1
        for act in args.activations.split(","):
            t0 = time.perf_counter()
            dest = quantize(src, json.loads(meta_path.read_text()), args.out, act)
            print(f"{dest.name}: {dest.stat().st_size / 2**20:.1f} MiB in {time.perf_counter() - t0:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
