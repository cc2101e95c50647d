"""What COMPAT.md promises beyond pywebnn's behaviour: input conversion rules, preallocated
outputs filled, limits per target, typed builder, save/load across implementations."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import webnnc
from tests.compat.test_pywebnn_compat import _pywebnn_python
from webnnc.runtime.errors import InputMismatchError

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def graphs(nocache_context: Any) -> dict[str, Any]:
    out = {}
    for dt in ("float32", "int32", "uint8"):
        b = nocache_context.create_graph_builder()
        x = b.input("x", [2, 3], dt)
        out[dt] = b.build({"y": b.identity(x)})
    return out


@pytest.mark.parametrize(
    ("dt", "data", "expected"),
    [
        ("float32", [[1, 2, 3], [4, 5, 6]], np.arange(1, 7, dtype=np.float32).reshape(2, 3)),
        ("float32", np.full([2, 3], 0.1), np.full([2, 3], 0.1, np.float32)),  # float64 -> float32
        ("float32", np.full([2, 3], 7, np.int64), np.full([2, 3], 7, np.float32)),  # exact ints
        ("int32", np.full([2, 3], -5, np.int64), np.full([2, 3], -5, np.int32)),  # in range
        ("uint8", [[0, 1, 2], [3, 4, 255]], np.array([[0, 1, 2], [3, 4, 255]], np.uint8)),
        ("uint8", np.ones([2, 3], bool), np.ones([2, 3], np.uint8)),
    ],
)
def test_meaning_preserving_inputs_are_converted(graphs: dict[str, Any], nocache_context: Any, dt: str, data: Any, expected: np.ndarray) -> None:
    y = nocache_context.compute(graphs[dt], {"x": data})["y"]
    assert y.dtype == expected.dtype
    np.testing.assert_array_equal(y, expected)


@pytest.mark.parametrize(
    ("dt", "data", "message"),
    [
        ("int32", np.full([2, 3], 1.5), r"input 'x': expected int32\[2, 3\]; found float64 data: a float would be truncated"),
        ("int32", np.full([2, 3], 2**40, np.int64), r"input 'x': expected int32\[2, 3\]; found int64 data: values \[1099511627776, 1099511627776\] outside int32's range"),
        ("uint8", np.full([2, 3], -1, np.int64), r"outside uint8's range"),
        ("float32", np.full([2, 3], 2**25 + 1, np.int64), r"integers that float32 cannot represent exactly"),
        ("float32", np.full([2, 3], 1e300), r"values beyond float32's range"),
        ("float32", np.ones([2, 3], bool), r"booleans are not numbers of a float type"),
        ("float32", [["a", "b", "c"]] * 2, r"found <U1 data: not numbers"),
        ("float32", np.ones([3, 2], np.float32), r"input 'x': expected shape \[2, 3\] \(float32\[2, 3\]\); found \[3, 2\]"),
        ("float32", np.ones([6], np.float64), r"expected shape \[2, 3\]"),
    ],
)
def test_meaning_changing_inputs_are_one_line_errors(graphs: dict[str, Any], nocache_context: Any, dt: str, data: Any, message: str) -> None:
    with pytest.raises(InputMismatchError, match=message) as info:
        nocache_context.compute(graphs[dt], {"x": data})
    assert "\n" not in str(info.value)


def test_preallocated_outputs_are_filled(graphs: dict[str, Any], nocache_context: Any) -> None:
    data = np.arange(6, dtype=np.float32).reshape(2, 3)
    target = np.zeros([2, 3], np.float64)
    out = nocache_context.compute(graphs["float32"], {"x": data}, {"y": target})
    assert out["y"] is target
    np.testing.assert_array_equal(target, data)
    with pytest.raises(InputMismatchError, match=r"preallocated output 'y': expected float32\[2, 3\].*found float32\[3, 2\]"):
        nocache_context.compute(graphs["float32"], {"x": data}, {"y": np.zeros([3, 2], np.float32)})
    with pytest.raises(InputMismatchError, match=r"preallocated output 'z' is not an output"):
        nocache_context.compute(graphs["float32"], {"x": data}, {"z": np.zeros([2, 3], np.float32)})
    with pytest.raises(InputMismatchError, match="same-kind"):
        nocache_context.compute(graphs["float32"], {"x": data}, {"y": np.zeros([2, 3], np.int32)})


def test_op_support_limits_follow_the_target() -> None:
    from webnnc.compiler.targets import get_target

    pytest.importorskip("coremltools")  # the CoreML table is read from its lowerings
    ml = webnnc.ML()
    for target in ("onnx-cpu", "coreml"):
        context = ml.create_context(target=target, use_cache=False)
        assert context.op_support_limits() == get_target(target).support_limits()
    assert ml.create_context(target="coreml", use_cache=False).op_support_limits() != ml.create_context(use_cache=False).op_support_limits()


def test_mypy_strict_sees_every_builder_method(tmp_path: Path) -> None:
    pytest.importorskip("mypy")
    (tmp_path / "user.py").write_text(textwrap.dedent("""
        import numpy as np
        import webnnc

        context = webnnc.ML().create_context()
        b = context.create_graph_builder()
        x = b.input("x", [2, 3], "float32")
        y = b.relu(b.add(x, b.constant(np.ones([2, 3], np.float32))))
        z = b.rleu(x)
    """))
    # a view laid out like the installed package (as .ci/lint-imports does), so mypy resolves
    # webnnc.compiler and friends from this checkout
    view = tmp_path / "view"
    (view / "webnnc").mkdir(parents=True)
    for entry in (ROOT / "webnnc").iterdir():
        if entry.name != "__pycache__":
            (view / "webnnc" / entry.name).symlink_to(entry)
    for folder in ("compiler", "runtime", "cache"):
        (view / "webnnc" / folder).symlink_to(ROOT / folder)
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--follow-imports=silent", "--ignore-missing-imports",
         "--no-incremental", str(tmp_path / "user.py")],
        cwd=tmp_path, capture_output=True, text=True, timeout=600, env={**os.environ, "MYPYPATH": str(view)}, check=False,
    )
    errors = [line for line in proc.stdout.splitlines() if ": error:" in line]
    assert len(errors) == 1 and '"MLGraphBuilder" has no attribute "rleu"' in errors[0], proc.stdout


def test_save_webnn_text_accepts_a_built_graph(nocache_context: Any, tmp_path: Path) -> None:
    from webnnc.compiler.importers import load_webnn_text, save_webnn_text

    b = nocache_context.create_graph_builder()
    x = b.input("x", [2], "float32")
    graph = b.build({"y": b.add(x, b.constant(np.float32([1, 2])))})
    save_webnn_text(graph, tmp_path / "g.webnn")
    assert [n.op_type for n in load_webnn_text(tmp_path / "g.webnn").nodes] == ["add"]


def test_pywebnn_reads_what_webnnc_saves(nocache_context: Any, tmp_path: Path) -> None:
    python = _pywebnn_python()
    if python is None:
        pytest.skip("no Python with pywebnn 0.5.12 (set WEBNNC_PYWEBNN_PYTHON)")
    b = nocache_context.create_graph_builder()
    x = b.input("x", [2, 3], "float32")
    b.build({"y": b.mul(b.tanh(x), b.constant(np.full([2, 3], 2.0, np.float32)))}).save(tmp_path / "m.webnn")
    code = (
        "import numpy as np, webnn\n"
        "g = webnn.MLGraph.load('m.webnn')\n"
        "y = webnn.ML().create_context(device_type='cpu').compute(g, {'x': np.ones((2, 3), np.float32)})['y']\n"
        "np.testing.assert_allclose(y, 2 * np.tanh(np.ones((2, 3))), rtol=1e-6)\n"
    )
    proc = subprocess.run([python, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_op_support_limits_without_coremltools_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    from webnnc.compiler import targets
    from webnnc.compiler.errors import UnsupportedOperatorError

    monkeypatch.setattr(targets, "_missing", lambda *modules: [m for m in modules if m == "coremltools"])
    context = webnnc.ML().create_context(target="coreml", use_cache=False)
    with pytest.raises(UnsupportedOperatorError, match=r"coreml support table .* needs coremltools; install it with: pip install 'webnnc\[coreml\]'"):
        context.op_support_limits()
