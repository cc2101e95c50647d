"""The compiler lookup behind the ``machine.kernels`` key part agrees with ``shutil.which``."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from webnnc.compiler.kernels.toolchain import _which


def test_which_agrees_with_shutil(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tool = tmp_path / "bin" / "mycc"
    tool.parent.mkdir()
    tool.write_text("#!/bin/sh\n")
    plain = tmp_path / "bin" / "notexec"
    plain.write_text("")
    tool.chmod(0o755)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "mycc").mkdir()  # a folder of that name earlier on PATH is skipped
    monkeypatch.setenv("PATH", os.pathsep.join([str(tmp_path / "other"), str(tool.parent), "/usr/bin", "/bin"]))
    for command in ("mycc", "notexec", "no-such-compiler-here", str(tool), str(plain), "sh"):
        assert _which(command) == shutil.which(command), command
    assert _which("mycc") == str(tool)
