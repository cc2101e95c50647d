"""Hostile compute() arguments end in one webnnc error naming the input or argument, never an
exception from the caller's object or an AttributeError from inside the runtime."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from webnnc.runtime.errors import InputMismatchError, WebNNRuntimeError


def _graph(context: Any) -> Any:
    b = context.create_graph_builder()
    x = b.input("x", [2, 3], "float32")
    return b.build({"y": b.relu(x)})


class _RaisingArrayLike:
    """A tensor-like object whose conversion fails (a freed device buffer, a lazy proxy)."""

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        raise RuntimeError("buffer was released")


def test_array_like_whose_conversion_fails_is_an_input_mismatch(nocache_context: Any) -> None:
    g = _graph(nocache_context)
    with pytest.raises(InputMismatchError, match=r"input 'x'.*float32\[2, 3\].*RuntimeError: buffer was released") as info:
        nocache_context.compute(g, {"x": _RaisingArrayLike()})
    assert "\n" not in str(info.value)
    with pytest.raises(InputMismatchError, match=r"input 'x'"):
        g.run({"x": _RaisingArrayLike()})


@pytest.mark.parametrize("graph", [None, "model", {"x": 1}])
def test_compute_of_something_else_than_a_graph(nocache_context: Any, graph: Any) -> None:
    with pytest.raises(WebNNRuntimeError, match=rf"compute: graph: expected an MLGraph; found {type(graph).__name__}"):
        nocache_context.compute(graph, {"x": np.ones((2, 3), np.float32)})


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name_or_key": None}, r"load: name_or_key: expected a str; found NoneType"),
        ({"name_or_key": 5}, r"load: name_or_key: expected a str; found int"),
        ({"name_or_key": "m", "target": 5}, r"load: target: expected a str; found int"),
        ({"name_or_key": "m", "cache_dir": 5}, r"load: cache folder: expected a path; found int"),
        ({"name_or_key": "m", "cache_dir": "/tmp/a\x00b"}, r"load: cache folder .*: expected a path; found a NUL byte"),
    ],
)
def test_load_arguments_that_cannot_name_a_graph(kwargs: dict[str, Any], message: str) -> None:
    from webnnc.runtime import load
    from webnnc.runtime.errors import RuntimeLoadError

    name = kwargs.pop("name_or_key")
    with pytest.raises(RuntimeLoadError, match=message) as info:
        load(name, **kwargs)
    assert "\n" not in str(info.value)
