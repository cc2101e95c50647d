"""A ~100 MB artifact is pulled streamed: the puller's peak RSS grows by far less than that.

(``benchmarks/bench_remote.py --size-mb 400`` measures the 400 MB case and throughput.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cache.helpers import fake_manifest
from webnnc.cache.remote import RemoteCache, RemoteConfig
from webnnc.cache.store import ArtifactStore

pytestmark = pytest.mark.slow

SIZE = 100 * 2**20

_PULL = Path(__file__).with_name("pull_child.py")  # shared with benchmarks/bench_remote.py


@pytest.mark.parametrize("remote_url", ["s3", "redis"], indirect=True)
def test_pull_of_100_mb_streams_with_bounded_rss(tmp_path: Path, remote_url: str) -> None:
    data = os.urandom(SIZE)
    with ArtifactStore(tmp_path / "builder") as store:
        m = fake_manifest(data, name="big")
        assert store.put(m, data) is not None
        del data
        assert RemoteCache(RemoteConfig(remote_url, mode="read-write")).push(store, m.key, strict=True)
    proc = subprocess.run(
        [sys.executable, str(_PULL), remote_url, str(tmp_path / "fleet"), m.key],
        capture_output=True, text=True, timeout=300, env=dict(os.environ),
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["ok"], proc.stderr[-3000:]
    assert result["peak_growth"] < SIZE // 4, result  # streamed: chunks, never the whole artifact
    with ArtifactStore(tmp_path / "fleet") as fleet:
        hit = fleet.get(m.key, use=False)
        assert hit is not None and hit.manifest.artifact_size == SIZE
