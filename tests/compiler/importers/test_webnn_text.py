"""The webnn-graph text format: parse, load with weights, save, and round-trip.

Numerics: a loaded graph is compared with numpy float64 at rtol 1e-5 (float32 matmul over
8 terms); round-tripped graphs must be structurally identical (same canonical digest), so
their outputs are compared exactly.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.compiler.importers.onnx_models import inception, resnet
from webnnc.compiler import MLGraphBuilder, import_onnx
from webnnc.compiler.importers import (
    WebNNTextError,
    load_webnn_text,
    parse_webnn_text,
    save_webnn_text,
    write_webnn_text,
)
from webnnc.compiler.ir import structural_digest

HEAD = """
# a classifier head, as in the webnn-graph README
webnn_graph "head" v1 {
  inputs {
    x: f32[1, 8];
  }
  consts {
    W: f32[8, 4] @weights("W");
    b: f32[4]    @weights("b");
    k: f32[1]    @scalar(0.5);
  }
  nodes {
    logits0 = matmul(x, W);
    logits  = add(logits0, b);
    scaled  = mul(logits, k);
    probs   = softmax(scaled, axis=1);
  }
  outputs { probs; }
}
"""


def _write_weights(path: Path, tensors: dict[str, np.ndarray]) -> None:
    blob = bytearray(b"WGWT" + struct.pack("<I", 1))
    entries = {}
    for name, arr in tensors.items():
        raw = np.ascontiguousarray(arr, dtype="<f4").tobytes()
        entries[name] = {"dataType": "float32", "shape": list(arr.shape), "byteOffset": len(blob),
                         "byteLength": len(raw), "layout": "row-major"}
        blob += raw
    path.with_suffix(".weights").write_bytes(bytes(blob))
    manifest = {"format": "wg-weights-manifest", "version": 1, "endianness": "little", "tensors": entries}
    Path(f"{path.with_suffix('')}.manifest.json").write_text(json.dumps(manifest))


def test_parse_structure() -> None:
    g = parse_webnn_text(HEAD)
    assert g.name == "head" and g.version == 1
    assert list(g.inputs) == ["x"] and list(g.consts) == ["W", "b", "k"]
    assert [n.op for n in g.nodes] == ["matmul", "add", "mul", "softmax"]
    assert g.nodes[3].options == {"axis": 1}
    assert g.outputs == ["probs"]


def test_load_with_weights_matches_numpy(tmp_path: Path, nocache_context: Any, rng: np.random.Generator) -> None:
    path = tmp_path / "head.webnn"
    path.write_text(HEAD)
    w = rng.standard_normal([8, 4]).astype(np.float32)
    b = rng.standard_normal([4]).astype(np.float32)
    _write_weights(path, {"W": w, "b": b})
    builder = nocache_context.create_graph_builder()
    graph = builder.build(load_webnn_text(path, builder=builder))
    x = rng.standard_normal([1, 8]).astype(np.float32)
    got = nocache_context.compute(graph, {"x": x})["probs"]
    z = (x.astype(np.float64) @ w + b) * 0.5
    want = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("inline", [False, True], ids=["weights-file", "inline-bytes"])
@pytest.mark.parametrize("factory", [resnet, inception], ids=["resnet", "inception"])
def test_round_trip_is_structurally_identical(
    factory: Any, inline: bool, tmp_path: Path, rng: np.random.Generator
) -> None:
    original = import_onnx(factory())
    written = save_webnn_text(original, tmp_path / "model.webnn", inline_weights=inline)
    assert [p.name for p in written] == (
        ["model.webnn"] if inline else ["model.webnn", "model.weights", "model.manifest.json"]
    )
    again = load_webnn_text(tmp_path / "model.webnn")
    assert structural_digest(again) == structural_digest(original)
    # the text of the reloaded graph is the same text (names and order are stable)
    assert write_webnn_text(again, inline_weights=inline)[0] == (tmp_path / "model.webnn").read_text()
    x = rng.standard_normal(original.inputs[0].shape).astype(np.float32)
    name = original.inputs[0].name
    np.testing.assert_array_equal(_run_ir(again, {name: x}), _run_ir(original, {name: x}))


def _run_ir(graph: Any, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    """Compile an IR graph in memory and run it (compilation optimizes the graph in place)."""
    import onnxruntime as ort

    from webnnc.compiler import CompileOptions, compile_graph

    result = compile_graph(graph, CompileOptions(target="onnx-cpu"))
    sess = ort.InferenceSession(result.data, providers=["CPUExecutionProvider"])
    return list(sess.run(None, feeds))


def test_save_writes_the_documented_weights_layout(tmp_path: Path) -> None:
    b = MLGraphBuilder()
    x = b.input("x", [2, 3])
    w = np.arange(6, dtype=np.float32).reshape(3, 2)
    graph = b.build({"y": b.relu(b.matmul(x, b.constant(w)))})
    save_webnn_text(graph, tmp_path / "g.webnn")
    text = (tmp_path / "g.webnn").read_text()
    assert text.startswith('webnn_graph "graph" v1 {')
    assert "x: f32[2, 3];" in text and "y = relu(" in text and "outputs { y; }" in text
    manifest = json.loads((tmp_path / "g.manifest.json").read_text())
    assert manifest["format"] == "wg-weights-manifest"
    (entry,) = manifest["tensors"].values()
    blob = (tmp_path / "g.weights").read_bytes()
    assert blob[:4] == b"WGWT" and struct.unpack("<I", blob[4:8]) == (1,)
    assert entry["byteOffset"] == 8 and entry["byteLength"] == 24
    data = np.frombuffer(blob[8:32], dtype="<f4").reshape(entry["shape"])
    np.testing.assert_array_equal(data, w)


def test_operand_options_and_multi_output_statements(nocache_context: Any) -> None:
    text = """
    webnn_graph "opts" v1 {
      inputs { x: f32[1, 2, 5, 5]; }
      consts {
        w: f32[4, 2, 3, 3] @scalar(0.25);
        bias: f32[4] @scalar(1.0);
      }
      nodes {
        c = conv2d(x, w, bias, padding=[1, 1, 1, 1], strides=[1, 1]);
        c2 = conv2d(x, w, bias=bias, padding=[1, 1, 1, 1]);
        s = add(c, c2);
        r = relu(s);
      }
      outputs { r; }
    }
    """
    from webnnc.compiler.importers.webnn_text import build_text_graph

    graph = build_text_graph(parse_webnn_text(text))
    assert [n.op_type for n in graph.nodes] == ["conv2d", "conv2d", "add", "relu"]
    assert all(n.inputs[2] is not None for n in graph.nodes[:2])
    b = nocache_context.create_graph_builder()
    compiled = b.build(build_text_graph(parse_webnn_text(text), builder=b))
    out = nocache_context.compute(compiled, {"x": np.ones([1, 2, 5, 5], np.float32)})["r"]
    # centre pixels see 2 channels x 9 taps x 0.25 + 1 bias, twice
    assert out[0, 0, 2, 2] == pytest.approx(2 * (18 * 0.25 + 1.0))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('webnn_graph "g" v1 { inputs { x: f32[dyn("batch", 8), 4]; } }', "dynamic dimension"),
        ('webnn_graph "g" v1 { inputs { x: f64[1]; } }', "unknown data type 'f64'"),
        ('webnn_graph "g" v1 {\n  nodes {\n    y = relu(x)\n  }\n}', ":4: expected ';'"),
        ('webnn_graph "g" v1 { widgets { } }', "unknown block 'widgets'"),
    ],
)
def test_syntax_errors_name_the_line_and_problem(text: str, message: str) -> None:
    with pytest.raises(WebNNTextError, match=message):
        parse_webnn_text(text)


def test_load_errors_are_clear(tmp_path: Path) -> None:
    path = tmp_path / "g.webnn"
    path.write_text('webnn_graph "g" v1 { inputs { x: f32[2]; } nodes { y = frobnicate(x); } outputs { y; } }')
    with pytest.raises(WebNNTextError, match="unknown or unsupported WebNN operator 'frobnicate'"):
        load_webnn_text(path)
    path.write_text('webnn_graph "g" v1 { inputs { x: f32[2]; } nodes { y = relu(z); } outputs { y; } }')
    with pytest.raises(WebNNTextError, match="unknown operand 'z'"):
        load_webnn_text(path)
    path.write_text(HEAD)
    with pytest.raises(WebNNTextError, match="need a weights file and manifest"):
        load_webnn_text(path)
    _write_weights(path, {"W": np.zeros([8, 4], np.float32)})
    with pytest.raises(WebNNTextError, match="'b', not in the manifest"):
        load_webnn_text(path)
    _write_weights(path, {"W": np.zeros([8, 3], np.float32), "b": np.zeros([4], np.float32)})
    with pytest.raises(WebNNTextError, match=r"constant 'W' is float32\[8, 4\] \(128 bytes\); its data has 96"):
        load_webnn_text(path)


def _op_cases() -> list[Any]:
    from tests.compiler.importers.test_onnx_ops import CASES, FUNCTION_CASES, RECURRENT_CASES

    return [*CASES, *RECURRENT_CASES, *FUNCTION_CASES]


@pytest.mark.parametrize("case", _op_cases(), ids=lambda c: c.id)
def test_every_imported_operator_round_trips_through_text(case: Any) -> None:
    """Each per-operator ONNX model: IR -> text -> IR keeps the canonical structure."""
    from tests.compiler.importers.test_onnx_ops import _model
    from webnnc.compiler.importers import UnsupportedOnnxOperatorsError
    from webnnc.compiler.importers.webnn_text import build_text_graph

    try:
        graph = import_onnx(_model(case)[0])
    except UnsupportedOnnxOperatorsError as e:
        pytest.skip(str(e.problems[0].reason))
    text, blob, manifest = write_webnn_text(graph)
    again = build_text_graph(parse_webnn_text(text), (blob, manifest["tensors"]))
    assert structural_digest(again) == structural_digest(graph), text


def test_cli_compiles_a_webnn_text_file(tmp_path: Path, cache_dir: Path, rng: np.random.Generator) -> None:
    import subprocess

    import webnnc.runtime
    from tests.conftest import webnnc_cli

    path = tmp_path / "head.webnn"
    path.write_text(HEAD)
    w = rng.standard_normal([8, 4]).astype(np.float32)
    b = rng.standard_normal([4]).astype(np.float32)
    _write_weights(path, {"W": w, "b": b})
    proc = subprocess.run([*webnnc_cli(), "--cache-dir", str(cache_dir), "compile", str(path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "head [onnx-cpu]: compiled" in proc.stdout
    x = rng.standard_normal([1, 8]).astype(np.float32)
    got = webnnc.runtime.load("head", cache_dir=cache_dir).run({"x": x})["probs"]
    z = (x.astype(np.float64) @ w + b) * 0.5
    np.testing.assert_allclose(got, np.exp(z - z.max()) / np.exp(z - z.max()).sum(), rtol=1e-5, atol=1e-7)


def test_weights_without_header_use_offsets_from_zero(tmp_path: Path, rng: np.random.Generator) -> None:
    """The older manifest layout (as in webnn-graph's first example): raw tensors from offset 0."""
    path = tmp_path / "head.webnn"
    path.write_text(HEAD)
    w = rng.standard_normal([8, 4]).astype("<f4")
    b = rng.standard_normal([4]).astype("<f4")
    path.with_suffix(".weights").write_bytes(w.tobytes() + b.tobytes())
    tensors = {"W": {"dataType": "float32", "shape": [8, 4], "byteOffset": 0, "byteLength": 128},
               "b": {"dataType": "float32", "shape": [4], "byteOffset": 128, "byteLength": 16}}
    (tmp_path / "head.manifest.json").write_text(
        json.dumps({"format": "wg-weights-manifest", "version": 1, "endianness": "little", "tensors": tensors}))
    graph = load_webnn_text(path)
    consts = sorted((c.const for c in graph.constants if c.const is not None and c.const.size > 1),
                    key=lambda a: a.size)
    np.testing.assert_array_equal(consts[0], b)
    np.testing.assert_array_equal(consts[1], w)


def test_graph_names_with_quotes_round_trip() -> None:
    b = MLGraphBuilder()
    graph = b.build({"y": b.relu(b.input("x", [2]))}, name='my "q" \\ graph')
    text = write_webnn_text(graph)[0]
    assert text.splitlines()[0] == 'webnn_graph "my \\"q\\" \\\\ graph" v1 {'
    assert parse_webnn_text(text).name == 'my "q" \\ graph'
