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


# --------------------------------------------------------------------------- import budget
# What a cache hit may import beyond numpy and onnxruntime (issue 19): the hit path's own
# modules, and nothing of the index (diskcache, sqlite3), the compiler's back end, archive
# formats, or importlib.metadata. BLAKE3 only while a file still has to be hashed. The
# entry's tag is checked on every hit (issue 15): _auth and signing (keyed BLAKE2b, built in).
_HIT_WEBNNC = {
    "webnnc", "webnnc.runtime", "webnnc.runtime.errors", "webnnc.runtime.loader", "webnnc.runtime._session",
    "webnnc.runtime.graph", "webnnc.runtime.tensor", "webnnc.cache", "webnnc.cache.errors", "webnnc.cache._log",
    "webnnc.cache.manifest", "webnnc.cache.compat", "webnnc.cache.machine", "webnnc.cache.dtypes",
    "webnnc.cache.store", "webnnc.cache._files", "webnnc.cache._hash", "webnnc.cache._tree",
    "webnnc.cache._names", "webnnc.cache._derived",
    "webnnc.cache._auth", "webnnc.cache.signing",
}
_NEVER_ON_A_HIT = (
    "diskcache", "sqlite3", "_sqlite3", "blake3", "onnx", "coremltools", "importlib.metadata", "zipfile",
    "tarfile", "email", "webnnc.compiler.emitters", "webnnc.compiler.passes", "webnnc.compiler.importers",
    # writers' and maintenance modules: locks (fcntl), eviction / gc, temp names (uuid)
    "webnnc.cache.locks", "webnnc.cache._maintenance", "fcntl", "uuid",
)

# Nor, for runtime.load(), the standard library's slow imports (cache/CACHE.md, "The hit
# path"): pathlib (4.3 ms with urllib.parse and ipaddress), hashlib / hmac (OpenSSL, 3.4 ms),
# dataclasses (1.1 ms plus 2-4 ms to define the records), threading (0.7 ms).
_SLOW_STDLIB = ("pathlib", "hashlib", "_hashlib", "hmac", "dataclasses", "threading")

_BUDGET_PROBE = """
import json, sys
import numpy, onnxruntime
before = set(sys.modules)
{body}
new = sorted(set(sys.modules) - before)
print(json.dumps(new))
"""

_BUILD = """
import numpy as np, webnnc
ctx = webnnc.ML().create_context(cache_dir={cache!r})
b = ctx.create_graph_builder()
x = b.input("x", [1, 64], "float32")
w = np.arange(64 * 64, dtype=np.float32).reshape(64, 64) / 4096
g = b.build({{"y": b.relu(b.matmul(x, b.constant(w)))}}, name="budget")
assert g.build_info["source"] == {source!r}, g.build_info["source"]
"""


def _new_modules(body: str, cwd: Path) -> list[str]:
    out = run_python(_BUDGET_PROBE.format(body=body), cwd=cwd)
    return list(json.loads(out.strip().splitlines()[-1]))


def _forbidden(mods: list[str]) -> list[str]:
    return [m for m in mods if any(m == f or m.startswith(f + ".") for f in _NEVER_ON_A_HIT)]


def test_a_hit_imports_only_the_hit_path(tmp_path: Path, cache_dir: Path) -> None:
    import time

    run_python(_BUILD.format(cache=str(cache_dir), source="compiled"), cwd=tmp_path)
    weights = list((cache_dir / "objects").glob("*/*/weights"))
    assert weights, "the 16 KiB constant is stored in the entry's weights file"
    time.sleep(max(0.0, weights[0].stat().st_ctime + 2.1 - time.time()))  # past the racy window
    load = f"import webnnc.runtime\nwebnnc.runtime.load('budget', cache_dir={str(cache_dir)!r})"
    first = _new_modules(load, tmp_path)  # first use: hashes the weights, records the fingerprint
    assert "blake3" in first
    mods = _new_modules(load, tmp_path)
    assert _forbidden(mods) == [], mods
    assert [m for m in mods if m in _SLOW_STDLIB] == [], mods
    assert {m for m in mods if m.startswith("webnnc")} <= _HIT_WEBNNC, sorted(
        {m for m in mods if m.startswith("webnnc")} - _HIT_WEBNNC
    )
    # a hit that goes well logs nothing, so logging loads on the first message (cache/_log.py)
    assert "logging" not in mods, mods
    # build() on a hit: the builder and the key, never onnx, an emitter or a pass
    build = _new_modules(_BUILD.format(cache=str(cache_dir), source="cache-hit"), tmp_path)
    assert _forbidden([m for m in build if m not in ("blake3", "blake3.blake3")]) == [], build
    assert "logging" not in build, build  # the driver's "cache hit" is an INFO nobody configured
    # nor the slow standard library: the compiler's records on this path are plain classes too
    assert [m for m in build if m in _SLOW_STDLIB] == [], build


def test_deferred_loggers_drop_nothing_that_would_be_shown(tmp_path: Path) -> None:
    """Below WARNING, a deferred logger skips the import only while nothing could show the
    message; once logging is configured, every level goes through."""
    out = run_python(
        "import sys\n"
        "from webnnc.cache._log import get_logger\n"
        "log = get_logger('webnnc.probe')\n"
        "log.debug('d0'); log.info('i0')\n"
        "print('imported:', 'logging' in sys.modules)\n"
        "import logging\n"
        "logging.basicConfig(level=logging.DEBUG, stream=sys.stdout, format='%(levelname)s %(message)s')\n"
        "log.debug('d1'); log.info('i1'); log.warning('w1')\n",
        cwd=tmp_path,
    )
    assert out.splitlines() == ["imported: False", "DEBUG d1", "INFO i1", "WARNING w1"], out
