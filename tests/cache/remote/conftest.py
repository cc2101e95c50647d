"""Real servers for the remote tier's tests: Redis (``redis-server``) and S3 (moto's server).

``.ci/run`` starts both on loopback and exports ``WEBNNC_TEST_REDIS_URL`` and
``WEBNNC_TEST_S3_ENDPOINT``; a server named there must answer (the test fails otherwise).
Without them (a developer's checkout) the fixtures start their own on free loopback ports,
and skip, saying why, only when that is impossible (binary or package missing).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cache.remote.helpers import BUCKET, SECRET, s3_env

_START_TIMEOUT_S = 30.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int, proc: subprocess.Popen[bytes] | None, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.1)
    return False


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[str]:
    """A Redis URL (``redis://127.0.0.1:PORT/0``)."""
    pytest.importorskip("redis", reason="the redis package is not installed (pip install 'webnnc[remote]')")
    url = os.environ.get("WEBNNC_TEST_REDIS_URL")
    if url:
        yield url
        return
    exe = shutil.which("redis-server")
    if exe is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server; .ci/run does)")
    port = _free_port()
    proc = subprocess.Popen(
        [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        if not _wait_port(port, proc, _START_TIMEOUT_S):
            pytest.skip(f"redis-server did not start on 127.0.0.1:{port} within {_START_TIMEOUT_S:.0f} s")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        _stop(proc)


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """An S3 endpoint URL (moto's server) with the bucket ``webnnc-test``."""
    pytest.importorskip("s3fs", reason="s3fs is not installed (pip install 'webnnc[remote]')")
    endpoint = os.environ.get("WEBNNC_TEST_S3_ENDPOINT")
    proc: subprocess.Popen[bytes] | None = None
    if not endpoint:
        try:
            import moto.server  # noqa: F401
        except ImportError:
            pytest.skip("moto[server] is not installed (pip install 'moto[server]'; the test extra has it)")
        port = _free_port()
        proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        if not _wait_port(port, proc, _START_TIMEOUT_S):
            _stop(proc)
            pytest.skip(f"moto's S3 server did not start on 127.0.0.1:{port} within {_START_TIMEOUT_S:.0f} s")
        endpoint = f"http://127.0.0.1:{port}"
    try:
        import boto3

        s3 = boto3.client(
            "s3", endpoint_url=endpoint, aws_access_key_id="testing", aws_secret_access_key="testing",
            region_name="us-east-1",
        )
        with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
            s3.create_bucket(Bucket=BUCKET)
        yield endpoint
    finally:
        if proc is not None:
            _stop(proc)


@pytest.fixture
def keyed_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The shared secret every "machine" of a test trusts; no remote set by default."""
    monkeypatch.setenv("WEBNNC_REMOTE_KEY", SECRET)
    for var in ("WEBNNC_REMOTE_CACHE", "WEBNNC_REMOTE_MODE", "WEBNNC_REMOTE_LOCK", "WEBNNC_REMOTE_KEY_FILE",
                "WEBNNC_REMOTE_SIGNING_KEY", "WEBNNC_REMOTE_TRUSTED_KEYS", "WEBNNC_REMOTE_OPTIONS"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture(params=["file", "s3", "redis"])
def remote_url(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, keyed_env: None) -> str:
    """A fresh, empty remote of each kind (a unique prefix on the shared servers)."""
    run = uuid.uuid4().hex[:12]
    if request.param == "file":
        return f"file://{tmp_path / 'remote'}"
    if request.param == "s3":
        endpoint: str = request.getfixturevalue("s3_server")
        s3_env(monkeypatch, endpoint)
        return f"s3://{BUCKET}/{run}"
    redis_url: str = request.getfixturevalue("redis_server")
    return f"{redis_url}?prefix={run}"
