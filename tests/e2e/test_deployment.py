"""The README's deployment path, run in fresh processes: compile on a build machine, export
a bundle by the name given at compile time, then load and run it where only the runtime is
installed.

A real runtime-only virtual environment takes minutes to build, so "only the runtime" is
simulated: a meta-path hook in the child process makes ``onnx``, ``onnxsim``,
``coremltools`` and ``webnnc.compiler`` unimportable, as they are after ``pip install
--no-deps webnnc`` plus the runtime dependencies (README, "Deploy without the compiler").
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]

RUNTIME_ONLY = '''
import sys
class _Absent:
    BLOCKED = ("onnx", "onnxsim", "coremltools", "webnnc.compiler")
    @classmethod
    def find_spec(cls, name, path=None, target=None):
        if any(name == b or name.startswith(b + ".") for b in cls.BLOCKED):
            raise ModuleNotFoundError(f"No module named {name!r} (runtime-only install)", name=name)
        return None
sys.meta_path.insert(0, _Absent)
'''


def _cli(args: list[str], cwd: Path, *, runtime_only: bool = False) -> subprocess.CompletedProcess[str]:
    prelude = RUNTIME_ONLY if runtime_only else ""
    code = prelude + "import runpy, sys; sys.argv = ['webnnc', *sys.argv[1:]]; runpy.run_module('webnnc', run_name='__main__')"
    return subprocess.run(
        [sys.executable, "-c", code, *args], cwd=cwd, capture_output=True, text=True, timeout=600, check=False
    )


def _python(code: str, cwd: Path, *, runtime_only: bool = False) -> str:
    proc = subprocess.run(
        [sys.executable, "-c", (RUNTIME_ONLY if runtime_only else "") + code],
        cwd=cwd, capture_output=True, text=True, timeout=600, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.mark.slow
def test_readme_deployment_sequence_in_fresh_processes(tmp_path: Path) -> None:
    build, deploy = tmp_path / "build-cache", tmp_path / "deploy-cache"
    # the build machine: the model is first compiled under its function's name (as the demo
    # does), then `compile --name mobilenet` is a cache hit that registers a second name
    for extra in ([], ["--name", "mobilenet"]):
        proc = _cli(["compile", "webnnc.compiler.workloads:w3_mobilenet_v2", *extra, "--cache-dir", str(build)], tmp_path)
        assert proc.returncode == 0, proc.stderr
    assert "cache-hit" in proc.stdout
    ls = _cli(["cache", "ls", "--json", "--cache-dir", str(build)], tmp_path)
    (entry,) = json.loads(ls.stdout)
    assert "mobilenet" in entry["names"], entry
    proc = _cli(["cache", "export", "models.webnnc", "mobilenet", "--cache-dir", str(build)], tmp_path)
    assert proc.returncode == 0, proc.stderr

    # the deployment machine, runtime only: load straight from the bundle by every name ...
    x = np.random.default_rng(0).standard_normal([1, 3, 224, 224]).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    run = (
        "import numpy as np, webnnc.runtime\n"
        "for name in {names!r}:\n"
        "    m = webnnc.runtime.load(name, {where})\n"
        "    y = m({{'input': np.load('x.npy')}})['output']\n"
        "    assert y.shape == (1, 1000) and y.dtype == np.float32, (y.shape, y.dtype)\n"
        "    np.save(name + '.npy', y)\n"
        "assert 'webnnc.compiler' not in sys.modules and 'onnx' not in sys.modules\n"
    )
    _python(run.format(names=entry["names"], where="bundle='models.webnnc'"), tmp_path, runtime_only=True)
    # ... or import it into the local cache first, then load by name
    proc = _cli(["cache", "import", "models.webnnc", "--cache-dir", str(deploy)], tmp_path, runtime_only=True)
    assert proc.returncode == 0, proc.stderr
    _python(run.format(names=["mobilenet"], where=f"cache_dir={str(deploy)!r}"), tmp_path, runtime_only=True)
    ls = _cli(["cache", "ls", "--json", "--cache-dir", str(deploy)], tmp_path, runtime_only=True)
    assert "mobilenet" in json.loads(ls.stdout)[0]["names"]
    np.testing.assert_array_equal(np.load(tmp_path / "mobilenet.npy"), np.load(tmp_path / f"{entry['names'][0]}.npy"))


def test_runtime_only_simulation_blocks_the_compiler(tmp_path: Path) -> None:
    out = _python(
        "import webnnc, webnnc.runtime\n"
        "try:\n    import webnnc.compiler\nexcept ImportError as e:\n    print('blocked', e.name)\n"
        "try:\n    import onnx\nexcept ImportError as e:\n    print('blocked', e.name)\n",
        tmp_path, runtime_only=True,
    )
    assert out.split("\n")[:2] == ["blocked webnnc.compiler", "blocked onnx"]


def test_readme_lists_the_runtime_only_dependencies() -> None:
    # the README's runtime-only install names every dependency but the compiler's: onnx, and
    # ml_dtypes (onnx's dependency, listed only to bound its version; see pyproject.toml)
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    names = {re.split(r"[<>=;\[ ]", d, maxsplit=1)[0] for d in deps} - {"onnx", "ml_dtypes"}
    readme = (ROOT / "README.md").read_text()
    (line,) = [ln for ln in readme.splitlines() if ln.startswith("pip install") and "--no-deps" not in ln and "onnxruntime" in ln and "diskcache" in ln]
    assert set(line.split()[2:]) >= names, (line, names)
    assert "onnx " not in line + " "
