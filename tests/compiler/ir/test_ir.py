"""IR structure, verifier, canonical printer and structural digest."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from blake3 import blake3

from webnnc.compiler.errors import VerificationError
from webnnc.compiler.frontend import MLGraphBuilder
from webnnc.compiler.ir import (
    DataType,
    Graph,
    Node,
    OperandDescriptor,
    print_graph,
    structural_digest,
    verify,
)


def _graph(order: str = "ab", names: tuple[str, str] = ("x", "y")) -> Graph:
    """Two independent branches whose constants and nodes are created in `order`."""
    b = MLGraphBuilder()
    x = b.input(names[0], [2, 3], "float32")
    consts = {
        "a": lambda: b.constant(np.full([2, 3], 2.0, np.float32)),
        "b": lambda: b.constant(np.full([2, 3], 3.0, np.float32)),
    }
    made = {k: consts[k]() for k in order}
    branches = {}
    for k in order:
        branches[k] = b.relu(b.mul(x, made[k]))
    return b.build({names[1]: b.add(branches["a"], branches["b"])})


def test_verify_accepts_built_graph() -> None:
    verify(_graph())


def test_digest_ignores_constant_and_node_creation_order() -> None:
    assert structural_digest(_graph("ab")) == structural_digest(_graph("ba"))
    assert print_graph(_graph("ab")) == print_graph(_graph("ba"))


def test_digest_depends_on_interface_names_and_constant_bytes() -> None:
    base = structural_digest(_graph())
    assert structural_digest(_graph(names=("x2", "y"))) != base
    assert structural_digest(_graph(names=("x", "y2"))) != base
    b = MLGraphBuilder()
    x = b.input("x", [2, 3], "float32")
    other = b.build({"y": b.add(b.relu(b.mul(x, b.constant(np.full([2, 3], 2.0, np.float32)))),
                                b.relu(b.mul(x, b.constant(np.full([2, 3], 3.5, np.float32)))))})
    assert structural_digest(other) != base


def test_digest_ignores_internal_value_names() -> None:
    g1, g2 = _graph(), _graph()
    for i, n in enumerate(g2.nodes):
        n.outputs[0].name = f"renamed{i}"
        n.name = f"node{i}"
    assert structural_digest(g1) == structural_digest(g2)


def test_canonical_text_golden() -> None:
    b = MLGraphBuilder()
    x = b.input("input", [1, 2], "float32")
    c = b.constant(np.array([[1.0, -1.0]], np.float32))
    g = b.build({"out": b.clamp(b.add(x, c), min_value=0.0, max_value=6.0)})
    digest = g.constants[0].const_digest()
    # the constant's digest covers its descriptor and its bytes (BLAKE3 when installed)
    algorithm, _, hexdigest = digest.partition(":")
    payload = b"float32[1,2]" + np.array([[1.0, -1.0]], np.float32).tobytes()
    expected = blake3(payload).hexdigest() if algorithm == "blake3" else hashlib.sha256(payload).hexdigest()
    assert hexdigest == expected
    assert print_graph(g) == (
        "graph(%input: float32[1,2]) {\n"
        f"  %c0 = constant float32[1,2] {digest}\n"
        "  %0 = add(%input, %c0) : float32[1,2]\n"
        "  %1 = clamp(%0) {max_value=6.0, min_value=0.0} : float32[1,2]\n"
        "  return out=%1\n"
        "}\n"
    )


def test_verify_reports_use_before_definition() -> None:
    g = Graph()
    x = g.add_input("x", OperandDescriptor(DataType.FLOAT32, (2,)))
    n1 = Node("relu", [x], [x.descriptor])
    n2 = Node("exp", [n1.outputs[0]], [x.descriptor])
    g.append(n2)  # consumer first: not topologically ordered
    g.append(n1)
    g.outputs["y"] = n2.outputs[0]
    with pytest.raises(VerificationError, match="used before it is defined"):
        verify(g)


def test_verify_reports_stale_use_lists_and_missing_outputs() -> None:
    g = Graph()
    x = g.add_input("x", OperandDescriptor(DataType.FLOAT32, (2,)))
    n = g.append(Node("relu", [x], [x.descriptor]))
    x._uses.clear()  # corrupt the use list
    with pytest.raises(VerificationError) as e:
        verify(g)
    assert "missing from" in str(e.value) and "no outputs" in str(e.value)
    assert n.inputs[0] is x


def test_replace_all_uses_with_moves_every_use() -> None:
    g = Graph()
    d = OperandDescriptor(DataType.FLOAT32, (2,))
    x = g.add_input("x", d)
    y = g.add_input("y", d)
    n = g.append(Node("add", [x, x], [d]))
    assert x.replace_all_uses_with(y) == 2
    assert n.inputs == (y, y) and not x.uses and len(y.uses) == 2
