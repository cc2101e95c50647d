"""pywebnn compatibility as a tested contract (webnnc/COMPAT.md).

- The scripts in ``scripts/`` are written the pywebnn way (``import webnnc as webnn``); each
  runs in a fresh process against webnnc and, where a Python with pywebnn 0.5.12 is found,
  against pywebnn with only the import line changed to ``import webnn``: the table's claims
  are checked on both sides.
- ``pywebnn_api.json`` is pywebnn's public surface, read from its installed package by
  ``capture_pywebnn_api.py``: webnnc must have every name and accept every parameter, and
  COMPAT.md must list every name.

Set ``WEBNNC_PYWEBNN_PYTHON`` to a Python 3.12 with pywebnn installed (else
``benchmarks/.venv-pywebnn``, which ``benchmarks/run_all.py`` creates, is used if present).
"""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import webnnc

HERE = Path(__file__).parent
ROOT = HERE.parents[1]
SCRIPTS = sorted((HERE / "scripts").glob("*.py"))
API = json.loads((HERE / "pywebnn_api.json").read_text())
COMPAT_MD = ROOT / "webnnc" / "COMPAT.md"


def _pywebnn_python() -> str | None:
    candidates = [os.environ.get("WEBNNC_PYWEBNN_PYTHON", ""), str(ROOT / "benchmarks" / ".venv-pywebnn" / "bin" / "python")]
    for python in candidates:
        if python and Path(python).is_file():
            probe = subprocess.run([python, "-c", "import webnn"], capture_output=True, timeout=120, check=False)
            if probe.returncode == 0:
                return python
    return None


def _run(python: str, script: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    path = cwd / "script.py"
    path.write_text(script)
    return subprocess.run([python, str(path)], cwd=cwd, capture_output=True, text=True, timeout=600, check=False)


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_script_runs_on_webnnc(script: Path, tmp_path: Path) -> None:
    proc = _run(sys.executable, script.read_text(), tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("ok")


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_script_runs_on_pywebnn(script: Path, tmp_path: Path) -> None:
    python = _pywebnn_python()
    if python is None:
        pytest.skip("no Python with pywebnn 0.5.12 (set WEBNNC_PYWEBNN_PYTHON)")
    text = script.read_text()
    assert text.count("import webnnc as webnn\n") == 1
    proc = _run(python, text.replace("import webnnc as webnn\n", "import webnn\n"), tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "ok" in proc.stdout


def test_every_pywebnn_module_name_is_exported() -> None:
    missing = [n for n in API["module"] if not hasattr(webnnc, n)]
    assert missing == []
    assert set(API["module"]) <= set(webnnc.__all__)


def _accepts(fn: object, params: list[str]) -> list[str]:
    """The parameters of pywebnn's signature that webnnc's ``fn`` does not accept."""
    sig = inspect.signature(fn)  # type: ignore[arg-type]
    ours = [p for p in sig.parameters.values() if p.name != "self"]
    takes_kwargs = any(p.kind is p.VAR_KEYWORD for p in ours)
    positional = [p for p in ours if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    rejected = []
    for i, name in enumerate(params):
        if name.startswith("_"):  # pywebnn's positional-only placeholder: the position must exist
            if i >= len(positional):
                rejected.append(name)
        elif name not in sig.parameters and not takes_kwargs:
            rejected.append(name)
    if len(params) > len(positional) and not any(p.kind is p.VAR_POSITIONAL for p in ours):
        # pywebnn's positional form must fit where webnnc's signature has keyword-only parameters
        kwonly = {p.name for p in ours if p.kind is p.KEYWORD_ONLY}
        rejected += [n for n in params[len(positional):] if n in kwonly]
    return rejected


def _instance(cls: str) -> object:
    """An instance, for the members webnnc sets per object rather than on the class."""
    if cls == "MLContext":
        return webnnc.ML().create_context(use_cache=False)
    return getattr(webnnc, cls)


@pytest.mark.parametrize("cls", sorted(API["classes"]))
def test_every_pywebnn_member_exists_with_its_parameters(cls: str) -> None:
    ours = getattr(webnnc, cls)
    problems = {}
    for name, member in API["classes"][cls].items():
        if not hasattr(ours, name) and not hasattr(_instance(cls), name):
            problems[name] = "missing"
            continue
        if member["kind"] == "method":
            rejected = _accepts(getattr(ours, name), member["params"] or [])
            if rejected:
                problems[name] = f"does not accept {rejected}"
    assert problems == {}


def test_compat_md_lists_every_pywebnn_name() -> None:
    text = COMPAT_MD.read_text()
    unlisted = [
        f"{cls}.{name}" for cls, members in API["classes"].items() for name in members
        if f"`{name}" not in text
    ] + [n for n in API["module"] if f"`{n}`" not in text]
    assert unlisted == []
