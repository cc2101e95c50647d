"""``webnnc cache push/pull`` and ``webnnc warm --push`` against a shared folder remote."""

from __future__ import annotations

from pathlib import Path

import pytest

from webnnc.cli import main


def test_warm_push_then_pull_by_name(tmp_path: Path, keyed_env: None, capsys: pytest.CaptureFixture[str]) -> None:
    remote = f"file://{tmp_path / 'remote'}"
    ci, node = str(tmp_path / "ci"), str(tmp_path / "node")
    assert main(["--cache-dir", ci, "warm", "webnnc.compiler.workloads:w1_simple", "-j", "1",
                 "--push", "--remote", remote]) == 0
    out = capsys.readouterr().out
    assert "pushed" in out
    assert main(["--cache-dir", node, "cache", "pull", "w1_simple", "--remote", remote]) == 0
    assert "pulled w1_simple" in capsys.readouterr().out
    assert main(["--cache-dir", node, "cache", "ls"]) == 0
    assert "w1_simple" in capsys.readouterr().out
    assert main(["--cache-dir", node, "cache", "pull", "nothing-by-that-name", "--remote", remote]) == 1


def test_push_all_and_errors(tmp_path: Path, keyed_env: None, capsys: pytest.CaptureFixture[str],
                             monkeypatch: pytest.MonkeyPatch) -> None:
    remote = f"file://{tmp_path / 'remote'}"
    ci = str(tmp_path / "ci")
    assert main(["--cache-dir", ci, "warm", "webnnc.compiler.workloads:w1_simple", "-j", "1"]) == 0
    assert main(["--cache-dir", ci, "cache", "push", "--all", "--remote", remote]) == 0
    assert "pushed 1 entries" in capsys.readouterr().out
    assert main(["--cache-dir", ci, "cache", "push", "--remote", remote]) == 1  # nothing named
    assert main(["--cache-dir", ci, "cache", "push", "missing", "--remote", remote]) == 1
    monkeypatch.delenv("WEBNNC_REMOTE_KEY")
    assert main(["--cache-dir", ci, "cache", "push", "--all", "--remote", remote]) == 1
    assert "trusted key" in capsys.readouterr().err
