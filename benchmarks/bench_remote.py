"""Remote tier throughput and memory: push and pull one large artifact through each engine.

For each engine (a shared folder, S3 via moto's server, Redis), a random artifact of
``--size-mb`` MB is stored as a cache entry, pushed (signed one-entry bundle), then pulled
in a fresh process into an empty local cache: download to a temporary file, signature and
hash verification, streamed publication. The table reports push and pull seconds, MB/s,
and how much the pulling process's peak RSS grew during the pull (the artifact is never
held in memory, so this stays far below its size).

Servers are started on loopback unless given (``--redis-url``, ``--s3-endpoint``); an
engine whose server cannot be started is reported as skipped.

Usage::

    python benchmarks/bench_remote.py                 # 400 MB, all engines
    python benchmarks/bench_remote.py --size-mb 100 --only s3
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import machine_lines, markdown_table

# the fresh-process pull the remote tier's RSS test runs too
_PULL = Path(__file__).resolve().parent.parent / "tests" / "cache" / "remote" / "pull_child.py"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(port: int, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.1)
    return False


def _servers(args: argparse.Namespace, procs: list[subprocess.Popen[bytes]]) -> dict[str, str | None]:
    urls: dict[str, str | None] = {"file": f"file://{tempfile.mkdtemp(prefix='webnnc-bench-remote-')}"}
    redis_url = args.redis_url
    if redis_url is None and shutil.which("redis-server"):
        port = _port()
        procs.append(subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        ))
        redis_url = f"redis://127.0.0.1:{port}/0" if _wait(port) else None
    urls["redis"] = f"{redis_url}?prefix=bench-{uuid.uuid4().hex[:8]}" if redis_url else None
    endpoint = args.s3_endpoint
    if endpoint is None:
        port = _port()
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        ))
        endpoint = f"http://127.0.0.1:{port}" if _wait(port) else None
    if endpoint:
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
        os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
        os.environ["AWS_ENDPOINT_URL"] = endpoint
        import boto3

        s3 = boto3.client("s3", endpoint_url=endpoint)
        with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
            s3.create_bucket(Bucket="webnnc-bench")
    urls["s3"] = f"s3://webnnc-bench/{uuid.uuid4().hex[:8]}" if endpoint else None
    return urls


def _fake_entry(size: int) -> tuple[object, bytes]:
    import hashlib

    from webnnc.cache.key import key_digest
    from webnnc.cache.manifest import IOSpec, Manifest

    data = os.urandom(size)
    parts = {"graph": f"bench-{uuid.uuid4().hex}", "target": "onnx-cpu"}
    m = Manifest(
        key=key_digest(parts), target="onnx-cpu", format="onnx",
        artifact_sha256=hashlib.sha256(data).hexdigest(), artifact_size=size,
        inputs=(IOSpec("x", "float32", (1,)),), outputs=(IOSpec("y", "float32", (1,)),),
        name="bench-remote", created=time.time(), key_parts=parts,
    )
    return m, data


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size-mb", type=int, default=400)
    p.add_argument("--only", help="comma-separated engines: file,s3,redis")
    p.add_argument("--redis-url")
    p.add_argument("--s3-endpoint")
    args = p.parse_args()
    os.environ.setdefault("WEBNNC_REMOTE_KEY", "bench-secret-" + "0" * 24)

    from webnnc.cache.remote import RemoteCache, RemoteConfig
    from webnnc.cache.store import ArtifactStore

    procs: list[subprocess.Popen[bytes]] = []
    work = Path(tempfile.mkdtemp(prefix="webnnc-bench-remote-"))
    rows: list[list[str]] = []
    try:
        urls = _servers(args, procs)
        size = args.size_mb * 2**20
        manifest, data = _fake_entry(size)
        with ArtifactStore(work / "builder", size_limit=4 * size) as store:
            store.put(manifest, data)  # type: ignore[arg-type]
        del data
        for engine in (args.only.split(",") if args.only else ["file", "s3", "redis"]):
            url = urls.get(engine)
            if url is None:
                rows.append([engine, "skipped (server unavailable)", "", "", "", ""])
                continue
            with ArtifactStore(work / "builder", size_limit=4 * size) as store:
                t0 = time.perf_counter()
                RemoteCache(RemoteConfig(url, mode="read-write", timeout=60)).push(
                    store, manifest.key, strict=True  # type: ignore[attr-defined]
                )
                push_s = time.perf_counter() - t0
            cache = work / f"fleet-{engine}"
            proc = subprocess.run(
                [sys.executable, str(_PULL), url, str(cache), manifest.key],  # type: ignore[attr-defined]
                capture_output=True, text=True, timeout=900,
            )
            if proc.returncode != 0:
                rows.append([engine, "pull failed", proc.stderr.strip().splitlines()[-1][:80], "", "", ""])
                continue
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            rows.append([
                engine,
                f"{push_s:.2f} s ({args.size_mb / push_s:.0f} MB/s)",
                f"{r['seconds']:.2f} s ({args.size_mb / r['seconds']:.0f} MB/s)" if r["ok"] else "refused/missing",
                f"{r['peak_growth'] / 2**20:.0f} MB",
                f"{r['rss_before'] / 2**20:.0f} MB",
                f"{100 * r['peak_growth'] / size:.1f}%",
            ])
            shutil.rmtree(cache, ignore_errors=True)
    finally:
        for proc_ in procs:
            proc_.terminate()
            proc_.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)
    print(f"# remote tier: push / pull of one {args.size_mb} MB artifact\n")
    print("\n".join(machine_lines()))
    print()
    print("\n".join(markdown_table(
        ["engine", "push", "pull (download + verify + publish)", "pull peak RSS growth", "RSS before pull",
         "growth / artifact"],
        rows,
    )))
    return 0


if __name__ == "__main__":
    sys.exit(main())
