"""Pull one entry from a remote into a local cache, in this fresh process, and report it.

``python pull_child.py URL CACHE_DIR KEY``: prints one JSON line ``{"ok", "seconds",
"rss_before", "peak_growth"}``. Shared by ``test_large_pull.py`` (streamed pulls keep RSS
bounded) and ``benchmarks/bench_remote.py`` (throughput and RSS of large pulls).
"""

from __future__ import annotations

import json
import sys
import time

from webnnc.cache.remote import RemoteCache, RemoteConfig
from webnnc.cache.store import ArtifactStore


def _status(field: str) -> int:
    """A /proc/self/status field in bytes (its high-water mark is per process image)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


def main(url: str, cache: str, key: str) -> None:
    remote = RemoteCache(RemoteConfig(url, timeout=60))
    remote.backend()  # import the engine's libraries and connect before measuring
    store = ArtifactStore(cache)
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset VmHWM to the current RSS: the peak below is the pull's own
    before = _status("VmRSS")
    t0 = time.perf_counter()
    ok = remote.fetch(store, key)
    seconds = time.perf_counter() - t0
    print(json.dumps({"ok": ok, "seconds": seconds, "rss_before": before, "peak_growth": _status("VmHWM") - before}))


if __name__ == "__main__":
    main(*sys.argv[1:4])
