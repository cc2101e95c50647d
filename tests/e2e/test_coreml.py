"""The coreml target end to end: W1-W3, the CLI and its cache, the runtime's macOS path.

- W1-W3: the stored .mlpackage's MIL program, evaluated by ``tests/mil_reference.py``, agrees
  with the float64 numpy reference and with the ONNX path. Tolerances (float32 results):
  W1 rtol 1e-6 / atol 1e-6 (adds and relus); W2 overflows to +inf like the reference, and at
  the 0.25 fixed point rtol 1e-6; W3 (52 convolutions, softmax) rtol 1e-4 against float64 and
  rtol 1e-4 / atol 1e-7 against ONNX Runtime's float32 (both accumulate in float32).
- The CLI stores the .mlpackage; a second process gets a cache hit.
- On macOS the runtime compiles the package to .mlmodelc once and loads it with compute
  units from the context. Here (Linux) only the two macOS-only coremltools calls
  (``utils.compile_model`` and ``models.CompiledMLModel``) are replaced: the fake compiler
  copies the package, the fake model predicts with the MIL reference evaluator. Everything
  else (keys, storage, unpacking, compute-unit choice, name mapping) is the real code.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.conftest import webnnc_cli
from tests.mil_reference import MilProgram
from tests.numpy_reference import NumpyBuilder
from webnnc.compiler.workloads import w1_simple, w2_complex, w3_mobilenet_v2

ct = pytest.importorskip("coremltools")

X_SHAPE = [1, 3, 224, 224]


def _coreml_outputs(context: Any, fn: Callable[..., Any], x: np.ndarray) -> tuple[np.ndarray, Any]:
    """Build ``fn`` for the coreml target and evaluate the stored package's MIL program."""
    builder = context.create_graph_builder()
    graph = builder.build(fn(builder))
    m = graph.manifest
    assert m.target == "coreml" and m.format == "mlpackage"
    data = Path(context.store().get(m.key).path).read_bytes()
    io_names = m.extra["coreml_io"]
    out = MilProgram.from_archive(data).run({io_names["inputs"]["input"]: x})
    return out[io_names["outputs"]["output"]], graph


def _reference(fn: Callable[..., Any], x: np.ndarray) -> np.ndarray:
    return np.asarray(fn(NumpyBuilder({"input": x}))["output"])


def _onnx(fn: Callable[..., Any], x: np.ndarray) -> np.ndarray:
    import webnnc

    ctx = webnnc.ML().create_context(use_cache=False)
    b = ctx.create_graph_builder()
    return np.asarray(ctx.compute(b.build(fn(b)), {"input": x})["output"])


@pytest.fixture
def coreml_context(cache_dir: Path) -> Any:
    import webnnc

    return webnnc.ML().create_context(target="coreml", cache_dir=cache_dir)


def test_w1_agrees_with_float64_and_onnx(coreml_context: Any, rng: np.random.Generator) -> None:
    x = rng.standard_normal(X_SHAPE).astype(np.float32)
    out, _ = _coreml_outputs(coreml_context, w1_simple, x)
    assert out.dtype == np.float32 and out.shape == tuple(X_SHAPE)
    np.testing.assert_allclose(out, _reference(w1_simple, x), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(out, _onnx(w1_simple, x), rtol=1e-6, atol=1e-6)


def test_w2_overflow_and_fixed_point(coreml_context: Any, rng: np.random.Generator) -> None:
    x = rng.standard_normal(X_SHAPE).astype(np.float32)
    out, _ = _coreml_outputs(coreml_context, w2_complex, x)
    ref = _reference(w2_complex, x)
    assert out.shape == (1, 3, 1, 1)
    assert np.isposinf(ref).all() and np.array_equal(np.isposinf(out), np.isposinf(ref))
    assert np.array_equal(np.isposinf(out), np.isposinf(_onnx(w2_complex, x)))
    fixed = np.where(rng.random(X_SHAPE) < 0.3, 0.25, rng.uniform(-1, 0.2, X_SHAPE)).astype(np.float32)
    out, _ = _coreml_outputs(coreml_context, w2_complex, fixed)
    np.testing.assert_allclose(out, _reference(w2_complex, fixed), rtol=1e-6, atol=0)
    np.testing.assert_allclose(out, _onnx(w2_complex, fixed), rtol=1e-6, atol=0)


def test_w3_agrees_with_float64_and_onnx(coreml_context: Any, rng: np.random.Generator) -> None:
    x = rng.standard_normal(X_SHAPE).astype(np.float32)
    out, graph = _coreml_outputs(coreml_context, w3_mobilenet_v2, x)
    assert out.shape == (1, 1000) and out.dtype == np.float32
    np.testing.assert_allclose(out, _reference(w3_mobilenet_v2, x), rtol=1e-4, atol=0)
    np.testing.assert_allclose(out, _onnx(w3_mobilenet_v2, x), rtol=1e-4, atol=1e-7)
    timings = graph.manifest.extra["coreml_timings_ms"]
    assert {"lower", "convert", "save_pack"} <= set(timings)


# ---------------------------------------------------------------- CLI + cache
def test_cli_compile_stores_mlpackage_and_second_process_hits(cache_dir: Path) -> None:
    sources = [f"webnnc.compiler.workloads:{f.__name__}" for f in (w1_simple, w2_complex, w3_mobilenet_v2)]
    env = {"WEBNNC_CACHE_DIR": str(cache_dir), "PATH": str(Path(sys.executable).parent)}

    def compile_all() -> list[str]:
        lines = []
        for src in sources:
            proc = subprocess.run(
                [*webnnc_cli(), "compile", src, "--target", "coreml"],
                capture_output=True, text=True, timeout=300, env=env, cwd=cache_dir,
            )
            assert proc.returncode == 0, proc.stderr
            assert "Failed to load" not in proc.stderr  # coremltools' Linux import noise stays muted
            lines.append(proc.stdout.strip())
        return lines

    first = compile_all()
    assert all(re.search(r"\[coreml\]: compiled in .*mlpackage artifact", ln) for ln in first), first
    second = compile_all()
    assert all(re.search(r"\[coreml\]: cache-hit in .*mlpackage artifact", ln) for ln in second), second
    # the key as printed ("key 4fdc…"), not the "key 3 ms" stage of the timing breakdown
    assert [re.findall(r"key ([0-9a-f]{16})\b", a) for a in first] == [re.findall(r"key ([0-9a-f]{16})\b", b) for b in second]


# ---------------------------------------------------------------- runtime: Linux
def test_linux_builds_the_package_and_says_why_it_cannot_run(coreml_context: Any) -> None:
    if sys.platform == "darwin":
        pytest.skip("checks the non-macOS path")
    from webnnc.runtime.errors import WebNNRuntimeError

    b = coreml_context.create_graph_builder()
    graph = b.build({"y": b.relu(b.input("x", [2, 3], "float32"))})
    assert graph.manifest.format == "mlpackage" and coreml_context.store().get(graph.manifest.key)
    assert graph.manifest.session["compiled"] is False
    assert "need macOS" in graph.build_info["session"]["skipped"]
    with pytest.raises(WebNNRuntimeError, match=r"cannot run this CoreML graph: .*need macOS.*onnx-cpu"):
        coreml_context.compute(graph, {"x": np.zeros([2, 3], np.float32)})


def test_npu_context_falls_back_off_macos() -> None:
    if sys.platform == "darwin":
        pytest.skip("checks the non-macOS path")
    import webnnc

    ctx = webnnc.ML().create_context(device_type="npu", use_cache=False)
    assert ctx.target == "onnx-cpu"
    assert "macOS" in ctx.backend_info()["fallback_reason"]
    with pytest.raises(TypeError, match="target must be one of"):
        webnnc.ML().create_context(target="tpu")


# ---------------------------------------------------------------- runtime: macOS path, mocked
class _FakeMacOS:
    """Replaces coremltools' two macOS-only calls; counts compilations."""

    def __init__(self) -> None:
        self.compiled: list[str] = []
        self.loaded: list[tuple[str, Any]] = []

    def compile_model(self, model: str, destination_path: str) -> str:
        # A real .mlmodelc is a compiled form of the package; the fake keeps the package's
        # files so that the fake model can evaluate the same program. What it receives must
        # at least open as a package, as the real compiler's first step requires.
        ct.models.MLModel(model, skip_model_load=True)
        self.compiled.append(model)
        shutil.copytree(model, destination_path)
        return destination_path

    def compiled_model(self, path: str, compute_units: Any = None) -> Any:
        self.loaded.append((path, compute_units))
        archive_dir = Path(path)
        from tests.mil_reference import MODEL_PATH

        spec_bytes = (archive_dir / MODEL_PATH).read_bytes()
        weights = {p.name: p.read_bytes() for p in (archive_dir / "Data/com.apple.CoreML/weights").glob("*")}
        from coremltools.proto import Model_pb2

        spec = Model_pb2.Model()
        spec.ParseFromString(spec_bytes)
        return MilProgram(spec, weights)


@pytest.fixture
def fake_macos(monkeypatch: pytest.MonkeyPatch) -> _FakeMacOS:
    import webnnc.runtime._coreml as rc

    fake = _FakeMacOS()
    monkeypatch.setattr(rc, "macos_skip_reason", lambda: None)
    monkeypatch.setattr(ct.utils, "compile_model", fake.compile_model)
    monkeypatch.setattr(ct.models, "CompiledMLModel", fake.compiled_model)
    return fake


def _small(b: Any) -> dict[str, Any]:
    x = b.input("x in", [1, 2, 4, 4], "float32")
    w = b.constant(np.arange(2 * 2 * 3 * 3, dtype=np.float32).reshape(2, 2, 3, 3) / 10)
    return {"y": b.clamp(b.conv2d(x, w, padding=[1, 1, 1, 1]), min_value=0.0, max_value=6.0)}


@pytest.mark.parametrize(
    ("power", "units"), [("low-power", "CPU_AND_NE"), ("high-performance", "CPU_AND_GPU"), ("default", "ALL")]
)
def test_macos_path_compiles_once_and_uses_compute_units(
    fake_macos: _FakeMacOS, cache_dir: Path, rng: np.random.Generator, power: str, units: str
) -> None:
    import webnnc

    x = rng.standard_normal([1, 2, 4, 4]).astype(np.float32)
    ref = np.clip(_conv_clamp_ref(x), 0, 6)

    ctx = webnnc.ML().create_context(target="coreml", power_preference=power, cache_dir=cache_dir)
    b = ctx.create_graph_builder()
    graph = b.build(_small(b), name="small")
    assert graph.manifest.session["compute_units"] == units
    assert graph.build_info["session"]["mlmodelc"] == "compiled"
    assert fake_macos.loaded[-1][1] == getattr(ct.ComputeUnit, units)
    np.testing.assert_allclose(ctx.compute(graph, {"x in": x})["y"], ref, rtol=1e-5, atol=1e-6)
    folder = Path(graph.build_info["session"]["mlmodelc_path"])
    assert folder.parent == cache_dir / "coreml" and folder.name.endswith(".mlmodelc") and folder.is_dir()

    # The unpacked folder is checked against its verified archive on every load: an edited
    # file is noticed and the folder unpacked again.
    victim = next(p for p in sorted(folder.rglob("*")) if p.is_file())
    victim.write_bytes(b"tampered")

    # A later context (think: a later process) finds both the package and the .mlmodelc.
    ctx2 = webnnc.ML().create_context(target="coreml", power_preference=power, cache_dir=cache_dir)
    b2 = ctx2.create_graph_builder()
    again = b2.build(_small(b2))
    assert again.cache_hit and again.build_info["session"]["mlmodelc"] == "cache-hit"
    assert len(fake_macos.compiled) == 1
    assert victim.read_bytes() != b"tampered"
    np.testing.assert_allclose(ctx2.compute(again, {"x in": x})["y"], ref, rtol=1e-5, atol=1e-6)

    # runtime.load() without the compiler takes the same path
    from webnnc.runtime import load

    loaded = load("small", target="coreml", cache_dir=cache_dir)
    assert loaded.build_info["session"]["mlmodelc"] == "cache-hit" and len(fake_macos.compiled) == 1
    np.testing.assert_allclose(loaded.run({"x in": x})["y"], ref, rtol=1e-5, atol=1e-6)


def _conv_clamp_ref(x: np.ndarray) -> np.ndarray:
    w = np.arange(2 * 2 * 3 * 3, dtype=np.float64).reshape(2, 2, 3, 3) / 10
    return np.asarray(NumpyBuilder({}).conv2d(x.astype(np.float64), w.astype(np.float32).astype(np.float64), padding=[1, 1, 1, 1]))


def test_macos_compiled_key_follows_versions() -> None:
    from webnnc.runtime._coreml import compiled_key

    k = compiled_key("ab" * 32, "14.5", "9.0")
    assert k == compiled_key("ab" * 32, "14.5", "9.0")
    assert len({k, compiled_key("ab" * 32, "15.0", "9.0"), compiled_key("ab" * 32, "14.5", "9.1"), compiled_key("cd" * 32, "14.5", "9.0")}) == 4


def test_macos_path_converts_uint8_and_scalars(fake_macos: _FakeMacOS, cache_dir: Path) -> None:
    import webnnc

    ctx = webnnc.ML().create_context(target="coreml", device_type="cpu", cache_dir=cache_dir)
    b = ctx.create_graph_builder()
    x, s = b.input("x", [3], "float32"), b.input("s", [], "float32")
    m = b.input("mask", [3], "uint8")
    graph = b.build({"gt": b.greater(x, s), "sel": b.where_(m, x, b.neg(x)), "mean": b.reduce_mean(x)})
    assert graph.manifest.session["compute_units"] == "CPU_ONLY"
    out = ctx.compute(graph, {"x": np.array([1, -2, 3], np.float32), "s": np.array(0.5, np.float32),
                              "mask": np.array([0, 1, 2], np.uint8)})
    assert out["gt"].dtype == np.uint8 and out["mean"].shape == ()
    np.testing.assert_array_equal(out["gt"], [1, 0, 1])
    np.testing.assert_array_equal(out["sel"], np.array([-1, -2, 3], np.float32))
    assert float(out["mean"]) == pytest.approx(2 / 3, rel=1e-6)


def test_macos_path_carries_int64_as_int32_with_a_range_check(fake_macos: _FakeMacOS, cache_dir: Path) -> None:
    import webnnc
    from webnnc.runtime.errors import WebNNRuntimeError

    table = np.arange(20, dtype=np.float32).reshape(10, 2)
    ctx = webnnc.ML().create_context(target="coreml", cache_dir=cache_dir)
    b = ctx.create_graph_builder()
    ids = b.input("input_ids", [1, 3], "int64")
    graph = b.build({"emb": b.gather(b.constant(table), ids, axis=0),
                     "next": b.add(ids, b.constant(np.ones([1, 1], np.int64)))})
    assert graph.manifest.extra["coreml_io"]["int64_carriers"] == ["input_ids", "next"]
    out = ctx.compute(graph, {"input_ids": np.array([[3, 0, 9]], np.int64)})
    np.testing.assert_array_equal(out["emb"], table[[[3, 0, 9]]])
    assert out["next"].dtype == np.int64
    np.testing.assert_array_equal(out["next"], [[4, 1, 10]])
    with pytest.raises(WebNNRuntimeError, match=r"input 'input_ids': int64 value 4294967296 does not fit in int32"):
        ctx.compute(graph, {"input_ids": np.array([[3, 2**32, 9]], np.int64)})


# ---------------------------------------------------------------- macOS: the real thing
# `python -m pytest -v tests/e2e/test_coreml.py -k real_macos` on a Mac is the first-run check
# that compiler/emitters/COREML.md lists: no mock, CoreML itself compiles and predicts.
_MACOS_ONLY = pytest.mark.skipif(
    sys.platform != "darwin",
    reason="CoreML compiles .mlmodelc and predicts only on macOS (coremltools' native framework)",
)


def _window_lm(b: Any) -> dict[str, Any]:
    """int64 ids -> embedding, a boolean mask, a rank-6 window partition and its reverse."""
    rng = np.random.default_rng(7)
    ids, mask = b.input("input_ids", [1, 16], "int64"), b.input("attention_mask", [1, 16], "int64")
    emb = b.gather(b.constant(rng.standard_normal([100, 8]).astype(np.float32)), ids, axis=0)
    keep = b.cast(b.not_equal(mask, b.constant(np.zeros([1, 1], np.int64))), "float32")
    x = b.reshape(b.mul(emb, b.reshape(keep, [1, 16, 1])), [1, 4, 4, 8])
    win = b.reshape(b.transpose(b.reshape(x, [1, 2, 2, 2, 2, 8]), [0, 1, 3, 2, 4, 5]), [4, 4, 8])
    win = b.softmax(win, 2)
    back = b.reshape(b.transpose(b.reshape(win, [1, 2, 2, 2, 2, 8]), [0, 1, 3, 2, 4, 5]), [1, 16, 8])
    return {"y": back, "ids_out": b.add(ids, b.constant(np.ones([1, 1], np.int64)))}


def test_window_lm_agrees_with_the_onnx_path(coreml_context: Any, rng: np.random.Generator) -> None:
    # the graph the macOS check runs, here through the MIL reference (float32: rtol 1e-5)
    import webnnc

    feeds = {"input_ids": rng.integers(0, 100, [1, 16]).astype(np.int64),
             "attention_mask": (rng.random([1, 16]) < 0.8).astype(np.int64)}
    b = coreml_context.create_graph_builder()
    graph = b.build(_window_lm(b))
    io_names = graph.manifest.extra["coreml_io"]
    data = Path(coreml_context.store().get(graph.manifest.key).path).read_bytes()
    ours = MilProgram.from_archive(data).run({io_names["inputs"][n]: x.astype(np.int32) for n, x in feeds.items()})
    onnx_ctx = webnnc.ML().create_context(use_cache=False)
    b2 = onnx_ctx.create_graph_builder()
    want = onnx_ctx.compute(b2.build(_window_lm(b2)), feeds)
    np.testing.assert_allclose(ours["y"], want["y"], rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(ours["ids_out"], want["ids_out"])


@_MACOS_ONLY
@pytest.mark.parametrize("units", ["cpu", "default", "low-power", "high-performance"])
def test_real_macos_predicts_what_the_mil_reference_computes(cache_dir: Path, rng: np.random.Generator, units: str) -> None:
    import webnnc

    kwargs = {"device_type": "cpu"} if units == "cpu" else {"power_preference": units}
    ctx = webnnc.ML().create_context(target="coreml", cache_dir=cache_dir, **kwargs)
    cases: list[tuple[Callable[..., Any], dict[str, np.ndarray]]] = [
        (w1_simple, {"input": rng.standard_normal(X_SHAPE).astype(np.float32)}),  # no weights
        (w3_mobilenet_v2, {"input": rng.standard_normal(X_SHAPE).astype(np.float32)}),
        (_window_lm, {"input_ids": rng.integers(0, 100, [1, 16]).astype(np.int64),
                      "attention_mask": (rng.random([1, 16]) < 0.8).astype(np.int64)}),
    ]
    for fn, feeds in cases:
        b = ctx.create_graph_builder()
        graph = b.build(fn(b))
        assert graph.manifest.session["compiled"] is True, graph.build_info["session"]
        got = ctx.compute(graph, feeds)
        io_names = graph.manifest.extra["coreml_io"]
        narrowed = set(io_names["int64_carriers"]) | set(io_names["int32_carriers"])
        data = Path(ctx.store().get(graph.manifest.key).path).read_bytes()
        want = MilProgram.from_archive(data).run(
            {io_names["inputs"][n]: x.astype(np.int32) if n in narrowed else x for n, x in feeds.items()}
        )
        for name, y in got.items():
            ref = want[io_names["outputs"][name]].astype(y.dtype)
            # the Neural Engine and the GPU compute in float16: 1e-2; the CPU in float32: 1e-4
            tol = 1e-4 if units == "cpu" else 1e-2
            np.testing.assert_allclose(y, ref, rtol=tol, atol=tol, err_msg=f"{fn.__name__}:{name} on {units}")
        again = webnnc.ML().create_context(target="coreml", cache_dir=cache_dir, **kwargs)
        b2 = again.create_graph_builder()
        assert b2.build(fn(b2)).build_info["session"]["mlmodelc"] == "cache-hit"
