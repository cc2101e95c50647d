"""Issue 15 item 8: a hostile ``.webnn`` file gets one clean error naming the file, never a
call to a non-operator builder attribute, a RecursionError, a read outside its weights, a
multi-gigabyte allocation or a raw KeyError / AttributeError / struct.error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from webnnc.compiler.importers import WebNNTextError, load_webnn_text


def _write(tmp_path: Path, body: str, consts: str = "", inputs: str = "x: f32[2];") -> Path:
    p = tmp_path / "g.webnn"
    p.write_text(f'webnn_graph "g" v1 {{\n inputs {{ {inputs} }}\n consts {{ {consts} }}\n'
                 f" nodes {{ {body} }}\n outputs {{ y; }}\n}}\n")
    return p


@pytest.mark.parametrize("op", ["__init__", "__setattr__", "_check_open", "build", "input", "constant",
                                "_add", "graph", "__class__"])
def test_only_operators_are_callable(tmp_path: Path, op: str) -> None:
    p = _write(tmp_path, f"y = {op}(x);")
    with pytest.raises(WebNNTextError, match=f"g.webnn:4: unknown or unsupported WebNN operator '{op}'"):
        load_webnn_text(p)


def test_deep_list_literal_is_a_clean_error(tmp_path: Path) -> None:
    p = _write(tmp_path, "y = reshape(x, newShape=" + "[" * 100000 + "]" * 100000 + ");")
    with pytest.raises(WebNNTextError, match="nested deeper than"):
        load_webnn_text(p)


def _weights(tmp_path: Path, entry: object, blob: bytes = b"WGWT\x01\x00\x00\x00" + bytes(8)) -> None:
    (tmp_path / "g.weights").write_bytes(blob)
    (tmp_path / "g.manifest.json").write_text(json.dumps(
        {"format": "wg-weights-manifest", "version": 1, "tensors": {"w": entry}}))


@pytest.mark.parametrize("entry", [
    {"dataType": "float32", "shape": [2], "byteOffset": -8, "byteLength": 8},  # read the tail
    {"dataType": "float32", "shape": [2], "byteOffset": 8, "byteLength": -8},
    {"dataType": "float32", "shape": [2], "byteOffset": 2**70, "byteLength": 8},
    {"dataType": "float32", "shape": [2], "byteOffset": "8", "byteLength": 8},
    {"dataType": "float32", "shape": [2], "byteLength": 8},  # KeyError before
    [8, 8],  # TypeError before
])
def test_bad_weight_ranges_are_refused(tmp_path: Path, entry: object) -> None:
    _weights(tmp_path, entry)
    p = _write(tmp_path, "y = add(x, w);", 'w: f32[2] @weights("w");')
    with pytest.raises(WebNNTextError, match=r"g\.webnn"):
        load_webnn_text(p)


def test_truncated_weights_header_is_a_clean_error(tmp_path: Path) -> None:
    _weights(tmp_path, {"byteOffset": 0, "byteLength": 0}, blob=b"WGWT\x01")  # struct.error before
    p = _write(tmp_path, "y = add(x, w);", 'w: f32[2] @weights("w");')
    with pytest.raises(WebNNTextError, match="ends inside its 8-byte header"):
        load_webnn_text(p)


def test_huge_scalar_constant_is_refused_before_allocation(tmp_path: Path) -> None:
    p = _write(tmp_path, "y = add(x, k);", "k: f32[50000, 50000] @scalar(1.5);")
    with pytest.raises(WebNNTextError, match="tensor limit"):
        load_webnn_text(p)


@pytest.mark.parametrize("consts, body, match", [
    ('k: f32[2] @scalar("a");', "y = add(x, k);", "@scalar needs a number"),
    ("k: u8[2] @scalar(300);", "y = add(x, k);", "is not a uint8"),
    ("k: u8[2] @bytes([1, 999]);", "y = add(x, k);", "@bytes needs a list"),
    ("k: f32[2.5] @scalar(1);", "y = add(x, k);", "not a positive integer"),
    ("k: f32[-2] @scalar(1);", "y = add(x, k);", "not a positive integer"),
    ("", "y = reshape(x, newShape={});".format("9" * 5000), "too long"),
    ("", "y = reshape(x, newShape=[[1]]);", "g.webnn:4: reshape"),
    ("", "y = transpose(x, permutation=[7]);", "g.webnn:4: transpose"),
])
def test_malformed_values_are_one_line_errors(tmp_path: Path, consts: str, body: str, match: str) -> None:
    p = _write(tmp_path, body, consts)
    with pytest.raises(WebNNTextError, match=match) as info:
        load_webnn_text(p)
    assert "\n" not in str(info.value)


def test_non_utf8_file_is_a_clean_error(tmp_path: Path) -> None:
    p = tmp_path / "g.webnn"
    p.write_bytes(b'webnn_graph "\xff\xfe" v1 {}')
    with pytest.raises(WebNNTextError, match="not UTF-8"):
        load_webnn_text(p)
