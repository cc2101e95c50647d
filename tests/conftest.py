"""Shared fixtures: an isolated cache directory per test, a seeded RNG, contexts."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Every test gets its own default cache dir, so nothing touches ~/.cache/webnnc."""
    d = tmp_path_factory.mktemp("webnnc-cache")
    monkeypatch.setenv("WEBNNC_CACHE_DIR", str(d))
    # the user's cache key (cache/_auth.py) too: nothing touches ~/.config/webnnc
    monkeypatch.setenv("WEBNNC_CACHE_KEY_FILE", str(tmp_path_factory.mktemp("webnnc-config") / "cache-key"))
    yield d


@pytest.fixture
def cache_dir(_isolated_cache: Path) -> Path:
    return _isolated_cache


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture
def context(cache_dir: Path) -> Any:
    import webnnc

    return webnnc.ML().create_context(cache_dir=cache_dir)


@pytest.fixture
def nocache_context() -> Any:
    import webnnc

    return webnnc.ML().create_context(use_cache=False)


@pytest.fixture
def builder(nocache_context: Any) -> Any:
    return nocache_context.create_graph_builder()


def run_python(code: str, *, cwd: Path, env: dict[str, str] | None = None, timeout: float = 300) -> str:
    """Run ``code`` in a fresh interpreter (cwd outside the checkout); return stdout or fail."""
    full_env = {**os.environ, **(env or {})}
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout
    )
    if proc.returncode != 0:
        pytest.fail(f"subprocess failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout


def webnnc_cli() -> list[str]:
    exe = shutil.which("webnnc", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "webnnc"]
