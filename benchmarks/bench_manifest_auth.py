"""What authenticating a cache entry adds to a hit (issue 15): HMAC tag vs the whole get().

For every entry of a cache folder: the median time of checking its manifest as a hit did
before tags (bounded parse, field validation, key re-derivation), of checking the tag on
top, and of the whole ``ArtifactStore.get`` (verified bytes, fingerprints). Populate a
folder first, e.g. ``webnnc compile benchmarks/results/tmp/corpus/distilbert.onnx --name distilbert``.

    python benchmarks/bench_manifest_auth.py --cache-dir DIR [--repeat 2000]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from webnnc.cache._auth import check_tag, local_key
from webnnc.cache._files import check_manifest, read_bounded
from webnnc.cache.manifest import Manifest
from webnnc.cache.store import ArtifactStore


def _median_us(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache-dir", required=True)
    ap.add_argument("--repeat", type=int, default=2000)
    args = ap.parse_args()
    store = ArtifactStore(Path(args.cache_dir))
    key = local_key()
    print("| entry | manifest B | check manifest (µs) | + tag (µs) | whole get() (µs) | tag share of get |")
    print("|---|---:|---:|---:|---:|---:|")
    for k in store:
        text = read_bounded(store._entry_path(k))

        def plain(k: str = k, text: bytes = text) -> None:
            m = Manifest.from_obj(Manifest.parse(text))
            check_manifest(m, k)

        def tagged(k: str = k, text: bytes = text) -> None:
            obj = Manifest.parse(text)
            m = Manifest.from_obj(obj)
            check_manifest(m, k)
            check_tag(m, obj, key)

        a = _median_us(plain, args.repeat)
        b = _median_us(tagged, args.repeat)
        g = _median_us(lambda k=k: store.get(k, use=False), max(args.repeat // 10, 20))
        name = (store.manifest(k) or Manifest(k, "", "", "", 0, (), ())).name or k[:12]
        print(f"| {name} | {len(text)} | {a:.1f} | {b - a:.1f} | {g:.0f} | {(b - a) / g:.1%} |")


if __name__ == "__main__":
    main()
