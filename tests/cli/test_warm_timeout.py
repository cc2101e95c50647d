"""Issue 15 item 6 / issue 20 item 4: ``webnnc warm`` stops an item past its time limit (reported
as failed, the others go on) and shows each model's stage timings."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.cli.test_cli_cache import SLOW_SOURCE, TINY_SOURCE, _cli
from tests.conftest import webnnc_cli
from webnnc.cache.store import ArtifactStore
from webnnc.cli._warm import DEFAULT_TIMEOUT_S


def test_an_item_past_the_timeout_fails_alone(cache_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "slowmod.py").write_text(SLOW_SOURCE)
    (tmp_path / "models.py").write_text(TINY_SOURCE)
    proc = subprocess.run(
        [*webnnc_cli(), "--cache-dir", str(cache_dir), "warm", "slowmod.py:slow", "models.py:tiny",
         "-j", "2", "--timeout", "4"],
        capture_output=True, text=True, cwd=tmp_path, timeout=60,
    )
    assert proc.returncode == 1, proc.stderr
    assert "4 s per item" in proc.stdout
    assert "1 compiled" in proc.stdout and "1 failed" in proc.stdout, proc.stdout
    assert "FAILED slowmod.py:slow [onnx-cpu]: timed out after 4 s" in proc.stderr
    with ArtifactStore(cache_dir) as store:
        assert len(list(store.keys())) == 1


def test_each_item_shows_its_stage_timings(
    capsys: pytest.CaptureFixture[str], cache_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert 0 < DEFAULT_TIMEOUT_S <= 3600
    (tmp_path / "models.py").write_text(TINY_SOURCE)
    monkeypatch.chdir(tmp_path)
    code, out, _ = _cli(capsys, cache_dir, "warm", "models.py:tiny", "-j", "1")
    assert code == 0, out
    line = next(ln for ln in out.splitlines() if ln.startswith("[1/1]"))
    assert "compiled" in line and " ms)" in line and "emit" in line, line


def test_a_bad_timeout_is_refused(capsys: pytest.CaptureFixture[str], cache_dir: Path, tmp_path: Path) -> None:
    plan = tmp_path / "w.toml"
    plan.write_text('timeout = "soon"\nmodels = ["m.py:f"]\n')
    code, _, err = _cli(capsys, cache_dir, "warm", str(plan))
    assert code == 1 and "'timeout' must be a number of seconds" in err


@pytest.mark.parametrize("jobs", ["0", "-1"])
def test_a_bad_jobs_count_is_refused(capsys: pytest.CaptureFixture[str], cache_dir: Path, jobs: str) -> None:
    # ran with one worker process, silently
    code, out, err = _cli(capsys, cache_dir, "warm", "webnnc.compiler.workloads:w1_simple", "-j", jobs)
    assert code == 1 and f"--jobs must be a positive integer; found {jobs}" in err, err
    assert "warming" not in out
