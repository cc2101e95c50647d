"""Helpers for the remote tier's tests: keys, environments, and ways to damage remote objects."""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

SECRET = "test-secret-0123456789abcdef0123456789"
BUCKET = "webnnc-test"


def s3_env(monkeypatch: pytest.MonkeyPatch, endpoint: str) -> None:
    """Point s3fs (and any subprocess) at the test endpoint with moto's dummy credentials."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


def rewrite_bundle(
    src: Path,
    dst: Path,
    *,
    member: Callable[[str, bytes], bytes] = lambda name, data: data,
    index: Callable[[dict[str, Any]], dict[str, Any]] = lambda idx: idx,
) -> None:
    """Copy a bundle, passing every member through ``member`` and the index through ``index``."""
    with tarfile.open(src) as tin, tarfile.open(dst, "w", format=tarfile.PAX_FORMAT) as tout:
        for info in tin.getmembers():
            f = tin.extractfile(info)
            assert f is not None
            data = f.read()
            if info.name == "webnnc-bundle.json":
                data = json.dumps(index(json.loads(data))).encode()
            else:
                data = member(info.name, data)
            out = tarfile.TarInfo(info.name)
            out.size = len(data)
            tout.addfile(out, io.BytesIO(data))


def flip_artifact_byte(name: str, data: bytes) -> bytes:
    if name.startswith("objects/"):
        return data[:10] + bytes([data[10] ^ 1]) + data[11:]
    return data


def edit_manifest(name: str, data: bytes) -> bytes:
    """Change a field the runtime acts on (an output's shape), keeping key and hashes."""
    if name.startswith("entries/"):
        m = json.loads(data)
        m["outputs"][0]["shape"] = [3, 2]
        return json.dumps(m).encode()
    return data


def unsign(idx: dict[str, Any]) -> dict[str, Any]:
    idx.pop("signatures", None)
    return idx
