"""Every CLI failure is one line (a traceback only with --debug or WEBNNC_DEBUG=1); global
options work after the subcommand; `python -m webnnc`; targets in help; a closed pipe."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from webnnc.cli import main


def _run(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "webnnc", *args], cwd=cwd, capture_output=True, text=True, timeout=300,
        env={**os.environ, **(env or {})}, check=False,
    )


@pytest.fixture
def raising_source(tmp_path: Path) -> Path:
    (tmp_path / "model.py").write_text("def build(b):\n    raise RuntimeError('boom in user code')\n")
    return tmp_path


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["compile", "model.py:build"], "RuntimeError: boom in user code"),
        (["compile", "missing.py:build"], "missing.py does not exist"),
        (["compile", "model.py:build", "--target", "onnx-gpu"], "unknown target 'onnx-gpu'"),
        (["cache", "export", "no/such/folder/m.webnnc"], "folder no/such/folder does not exist"),
        (["cache", "import", "nothing.webnnc"], "not a readable webnnc bundle"),
    ],
)
def test_failures_are_one_line(raising_source: Path, args: list[str], message: str) -> None:
    (raising_source / "c").mkdir()  # an existing (empty) cache: `cache export` reads one
    proc = _run([*args, "--cache-dir", str(raising_source / "c")], raising_source)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], proc.stderr
    assert lines[0].startswith("webnnc ")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        # compiled nothing and exited 0
        (["--target", ","], "--target ',': expected one or more of onnx-cpu"),
        (["--target", ""], "--target '': expected one or more of onnx-cpu"),
        # onnx's "Value out of range: 99999999999999999999", naming no argument
        (["--input-shape", "x=99999999999999999999,3"],
         "--input-shape 'x=99999999999999999999,3': expected NAME=D1,D2,... with dimensions from 1 to 2147483647; "
         "found 99999999999999999999"),
    ],
)
def test_bad_compile_arguments_are_one_line_naming_the_argument(
    raising_source: Path, args: list[str], message: str
) -> None:
    proc = _run(["compile", "model.py:build", *args, "--cache-dir", str(raising_source / "c")], raising_source)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], proc.stderr
    assert not (raising_source / "c" / "entries").exists() or not any((raising_source / "c" / "entries").iterdir())


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("def build(a, b):\n    pass\n", "TypeError: build() missing 1 required positional argument: 'b'"),
        ("def build(b):\n    raise ValueError('bad value in user code')\n", "ValueError: bad value in user code"),
    ],
)
def test_an_error_raised_by_the_source_function_names_the_source(tmp_path: Path, body: str, message: str) -> None:
    # a TypeError / ValueError from the user's FUNCTION read as if webnnc had said it
    (tmp_path / "model.py").write_text(body)
    proc = _run(["compile", "model.py:build", "--cache-dir", str(tmp_path / "c")], tmp_path)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and f"'model.py:build' raised {message}" in lines[0], proc.stderr


def test_verify_of_a_folder_that_cannot_be_a_cache_is_one_line(tmp_path: Path) -> None:
    not_a_folder = tmp_path / "cache-file"
    not_a_folder.write_text("a file, not a cache folder")
    proc = _run(["cache", "verify", "--cache-dir", str(not_a_folder)], tmp_path)
    assert proc.returncode == 1
    errors = [line for line in proc.stderr.splitlines() if line.startswith("webnnc ")]
    assert len(errors) == 1 and f"cannot verify {not_a_folder}: cannot inspect" in errors[0], proc.stderr
    # nothing was checked or dropped: no "BAD ... (dropped)" row and no negative count
    assert "dropped" not in proc.stdout and "-1 good" not in proc.stdout, proc.stdout


def test_debug_shows_the_traceback(raising_source: Path) -> None:
    for args, env in ((["--debug"], None), ([], {"WEBNNC_DEBUG": "1"})):
        proc = _run(["compile", "model.py:build", *args], raising_source, env)
        assert proc.returncode == 1
        assert "Traceback" in proc.stderr and "boom in user code" in proc.stderr


def test_global_options_anywhere(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a").mkdir()  # `cache ls` reads a cache; it does not create one
    for argv in (
        ["--cache-dir", str(tmp_path / "a"), "cache", "ls"],
        ["cache", "ls", "--cache-dir", str(tmp_path / "a")],
        ["cache", "--cache-dir", str(tmp_path / "a"), "ls", "-v"],
    ):
        assert main(argv) == 0
        assert str(tmp_path / "a") in capsys.readouterr().out


def test_help_lists_targets_and_python_m_works(tmp_path: Path) -> None:
    top = _run(["--help"], tmp_path)
    assert top.returncode == 0 and "onnx-cpu, onnx-cuda, coreml" in " ".join(top.stdout.split())
    compile_help = " ".join(_run(["compile", "--help"], tmp_path).stdout.split())
    assert "onnx-cpu, onnx-cuda, coreml" in compile_help
    cache_help = " ".join(_run(["cache", "--help"], tmp_path).stdout.split())
    doc = cache_help.split("Layout and formats: ", 1)[1].split()[0]
    assert doc.endswith("CACHE.md")


def test_bench_checks_its_extra_first(tmp_path: Path) -> None:
    # matplotlib made unimportable: the command stops at once with the install hint
    code = (
        "import sys\n"
        "class Block:\n"
        "    @staticmethod\n"
        "    def find_spec(name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'matplotlib':\n"
        "            raise ModuleNotFoundError(name)\n"
        "import importlib.util\n"
        "real = importlib.util.find_spec\n"
        "importlib.util.find_spec = lambda n, *a: None if n == 'matplotlib' else real(n, *a)\n"
        "from webnnc.cli import main\n"
        "sys.exit(main(['bench', '--quick']))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 1
    assert "pip install 'webnnc[bench]'" in proc.stderr and "running" not in proc.stdout


def test_closed_pipe_is_quiet(tmp_path: Path) -> None:
    proc = subprocess.run(
        f"{sys.executable} -m webnnc --help | head -c 10; {sys.executable} -m webnnc cache ls --cache-dir {tmp_path} | head -c 5",
        shell=True, cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
    )
    assert "BrokenPipeError" not in proc.stderr and "Traceback" not in proc.stderr, proc.stderr


def test_precision_choices_match_the_compiler() -> None:
    from webnnc import _context
    from webnnc.compiler.options import PRECISIONS

    assert tuple(_context._PRECISIONS) == tuple(PRECISIONS)


def test_precision_reaches_the_cache_key(tmp_path: Path) -> None:
    import numpy as np

    import webnnc

    keys = {}
    for precision in ("fast", "strict"):
        ctx = webnnc.ML().create_context(cache_dir=tmp_path, precision=precision)
        b = ctx.create_graph_builder()
        x = b.input("x", [2, 3], "float32")
        g = b.build({"y": b.sigmoid(x)})
        keys[precision] = g.build_info["key"]
        y = ctx.compute(g, {"x": np.linspace(-20, 5, 6, dtype=np.float32).reshape(2, 3)})["y"]
        want = 1 / (1 + np.exp(-np.linspace(-20, 5, 6).reshape(2, 3)))
        np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-7)  # both within float32 rounding
    assert keys["fast"] != keys["strict"]
    try:
        webnnc.ML().create_context(precision="exact")
    except TypeError as e:
        assert "precision" in str(e) and "exact" in str(e)
    else:
        raise AssertionError("an unknown precision must be refused")


def test_fast_exit_keeps_output_and_exit_handlers(tmp_path: Path) -> None:
    # The script skips module teardown (webnnc.cli.console): buffered output must still reach
    # a pipe, and exit handlers (here: a temporary folder's finalizer) must still run.
    script = (
        "import sys, tempfile\n"
        "from webnnc import cli\n"
        "keep = tempfile.TemporaryDirectory(prefix='webnnc-exit-test-', dir=sys.argv[1])\n"
        "sys.stdout.write('x' * 100000)\n"
        "sys.argv = ['webnnc', 'cache', 'ls', '--cache-dir', sys.argv[1]]\n"
        "cli.console()\n"
    )
    proc = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("x" * 100000) and "cache:" in proc.stdout
    assert not list(tmp_path.glob("webnnc-exit-test-*")), "the temporary folder's finalizer did not run"


@pytest.mark.skipif(shutil.which("cc") is None and shutil.which("gcc") is None, reason="needs a C compiler")
def test_no_fusion_flag_reaches_the_key_and_the_entry(tmp_path: Path) -> None:
    # an add/relu/mul chain over 8192 elements: a region the cost model keeps (>= 2 ops, >= 4096)
    (tmp_path / "model.py").write_text(
        "import numpy as np\n"
        "def build(b):\n"
        "    x = b.input('x', [64, 128], 'float32')\n"
        "    y = b.relu(b.add(x, b.constant(np.full([64, 128], 0.5, np.float32))))\n"
        "    return {'y': b.mul(y, b.constant(np.full([64, 128], 2.0, np.float32)))}\n"
    )
    for flag, cache in (([], "fused"), (["--no-fusion"], "plain")):
        proc = _run(["compile", "model.py:build", "--cache-dir", str(tmp_path / cache), "--quiet", *flag], tmp_path)
        assert proc.returncode == 0, proc.stderr
    fused = list((tmp_path / "fused" / "objects").glob("*/*/kernels.so"))
    plain = list((tmp_path / "plain" / "objects").glob("*/*/kernels.so"))
    assert len(fused) == 1 and plain == [], (fused, plain)
