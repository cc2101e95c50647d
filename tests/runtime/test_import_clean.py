"""``import webnnc.runtime`` (and loading a compiled graph) never pulls in the compiler.

The runtime is the compiler's sibling, not its client (ARCHITECTURE.md): building lives in
the facade (``webnnc.ML``). Checked in fresh interpreters, because the test process itself
has imported everything.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import run_python

_HEAVY = ("onnx", "onnxsim", "coremltools", "webnnc.compiler")

_PROBE = """
import json, sys
{body}
print(json.dumps(sorted(m for m in {heavy!r} if m in sys.modules)))
"""


def _loaded(body: str, cwd: Path) -> list[str]:
    out = run_python(_PROBE.format(body=body, heavy=(*_HEAVY, "onnxruntime", "numpy", "diskcache")), cwd=cwd)
    return list(json.loads(out.strip().splitlines()[-1]))


def test_import_runtime_is_stdlib_only(tmp_path: Path) -> None:
    # Not even onnxruntime, numpy or diskcache: they load with the first graph.
    assert _loaded("import webnnc.runtime", tmp_path) == []
    assert _loaded("import webnnc.runtime; webnnc.runtime.load, webnnc.runtime.open_graph", tmp_path) == []


def test_the_cli_parser_imports_no_compiler(tmp_path: Path) -> None:
    # `webnnc cache import` must work where only the runtime can be imported; and `webnnc
    # --help` stays fast: every command imports what it needs when it runs.
    assert _loaded("from webnnc.cli import build_parser; build_parser()", tmp_path) == []


def test_import_facade_is_stdlib_only(tmp_path: Path) -> None:
    assert _loaded("import webnnc; webnnc.ML", tmp_path) == []


def test_load_and_run_without_the_compiler(tmp_path: Path, cache_dir: Path) -> None:
    # Compile once here (this process has the compiler) ...
    import numpy as np

    import webnnc

    context = webnnc.ML().create_context(cache_dir=cache_dir)
    builder = context.create_graph_builder()
    x = builder.input("x", [2, 3], "float32")
    builder.build({"y": builder.relu(builder.add(x, builder.constant(np.ones([2, 3], np.float32))))}, name="tiny")

    # ... then a fresh process loads it by name and runs it: onnxruntime loads, the compiler does not.
    body = (
        "import numpy as np, webnnc.runtime\n"
        f"m = webnnc.runtime.load('tiny', cache_dir={str(cache_dir)!r})\n"
        "y = m({'x': np.array([[-3, 0, 1], [2, -1, -0.5]], np.float32)})['y']\n"
        "assert y.dtype == np.float32, y.dtype\n"
        "assert y.tolist() == [[0, 1, 2], [3, 0, 0.5]], y.tolist()\n"
    )
    loaded = _loaded(body, tmp_path)
    assert "onnxruntime" in loaded
    assert not set(loaded) & set(_HEAVY), loaded
