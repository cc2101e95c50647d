"""Cache keys: every part counts, order does not, and a miss can be explained."""

from __future__ import annotations

import hashlib
import json

from hypothesis import given
from hypothesis import strategies as st

from webnnc.cache.key import LAYOUT_VERSION, CacheKey, key_digest

_text = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789._-", min_size=1, max_size=12)
_pairs = st.dictionaries(_text, _text, max_size=5)


def _key(options: dict[str, str], libraries: dict[str, str], **kw: object) -> CacheKey:
    return CacheKey(
        graph_digest=str(kw.get("graph", "g")),
        target=str(kw.get("target", "onnx-cpu")),
        options=tuple(options.items()),
        format_version=int(kw.get("format_version", 1)),  # type: ignore[call-overload]
        libraries=tuple(libraries.items()),
    )


@given(_pairs, _pairs)
def test_digest_ignores_the_order_parts_were_given_in(options: dict[str, str], libraries: dict[str, str]) -> None:
    forward = _key(options, libraries)
    backward = _key(dict(reversed(options.items())), dict(reversed(libraries.items())))
    assert forward.digest() == backward.digest()
    # and it is the documented hash of the documented parts
    text = json.dumps(forward.parts(), sort_keys=True, separators=(",", ":"))
    assert forward.digest() == hashlib.sha256(text.encode()).hexdigest() == key_digest(forward.parts())


@given(_pairs, _text, _text)
def test_every_part_changes_the_digest(options: dict[str, str], name: str, value: str) -> None:
    base = _key(options, {"onnxruntime": "1.32.0"})
    changed = [
        _key(options, {"onnxruntime": "1.32.0"}, graph="other"),
        _key(options, {"onnxruntime": "1.32.0"}, target="onnx-cuda"),
        _key(options, {"onnxruntime": "1.32.0"}, format_version=2),
        _key(options, {"onnxruntime": "1.33.0"}),
        _key({**options, f"x{name}": value}, {"onnxruntime": "1.32.0"}),
    ]
    digests = {base.digest(), *(k.digest() for k in changed)}
    assert len(digests) == 1 + len(changed)


def test_layout_version_is_a_key_part_and_debug_lines_explain_a_miss() -> None:
    a = _key({"passes": "True"}, {"onnxruntime": "1.32.0"})
    b = _key({"passes": "False"}, {"onnxruntime": "1.33.0"})
    assert a.parts()["layout_version"] == str(LAYOUT_VERSION)
    assert a.debug_lines(b) == [
        "library.onnxruntime: 1.33.0 -> 1.32.0",
        "option.passes: False -> True",
    ]
    assert "graph = g" in a.debug_lines()
