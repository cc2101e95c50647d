"""The graph IR: SSA values, nodes that own their outputs, and graphs.

# NOTE: values are compared by identity. A value has at most one producer (a node, or
# none for graph inputs and constants) and an ordered list of uses ``(node, input_index)``.
# Nodes keep their inputs as a tuple, ``None`` standing for an omitted optional operand.
# ``meta`` dicts are scratch space (never hashed or emitted); ``annotations`` are persisted
# into artifacts (for example memory-plan offsets).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from webnnc.cache._hash import content_hasher
from webnnc.compiler.ir._types import DataType, OperandDescriptor

__all__ = ["AttributeValue", "Graph", "Node", "Value", "freeze_attribute"]

AttributeValue = Any  # int | float | str | bool | None | DataType | tuple[AttributeValue, ...]


def freeze_attribute(value: Any) -> AttributeValue:
    """Normalize an attribute value to an immutable, hashable, printable form.

    >>> freeze_attribute([1, [2, 3]])
    (1, (2, 3))
    >>> freeze_attribute(np.float32(0.5))
    0.5
    """
    if value is None or isinstance(value, (bool, str, DataType)):
        return value
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    if isinstance(value, np.ndarray):
        return freeze_attribute(value.tolist())
    if isinstance(value, (list, tuple)):
        return tuple(freeze_attribute(v) for v in value)
    raise TypeError(f"unsupported attribute value {value!r} ({type(value).__name__})")


class Value:
    """An SSA value: a graph input, a constant, or one output of a node."""

    __slots__ = ("_const_digest", "_const_range", "_uses", "const", "descriptor", "index", "meta", "name", "producer")

    def __init__(
        self,
        descriptor: OperandDescriptor,
        *,
        name: str | None = None,
        producer: Node | None = None,
        index: int = 0,
        const: np.ndarray[Any, Any] | None = None,
    ) -> None:
        self.descriptor = descriptor
        self.name = name
        self.producer = producer
        self.index = index
        self.const = const
        self.meta: dict[str, Any] = {}
        self._uses: list[tuple[Node, int]] = []
        self._const_digest: str | None = None
        # (min, max) of a constant's non-NaN data, memoized by passes/value_range.py
        self._const_range: tuple[float, float] | None = None

    # -- descriptor shortcuts
    @property
    def data_type(self) -> DataType:
        return self.descriptor.data_type

    @property
    def shape(self) -> tuple[int, ...]:
        return self.descriptor.shape

    @property
    def rank(self) -> int:
        return self.descriptor.rank

    @property
    def is_constant(self) -> bool:
        return self.const is not None

    @property
    def uses(self) -> tuple[tuple[Node, int], ...]:
        return tuple(self._uses)

    def const_digest(self) -> str:
        """``"<algorithm>:<hex>"`` over the constant's data type, shape and bytes (memoized).

        BLAKE3 when the ``blake3`` package is installed (a dependency; 4-5x faster than
        sha256, and hashing constants is most of a cache hit's key time), else sha256. The
        algorithm is part of the string, so the two never collide in a cache key.
        """
        if self.const is None:
            raise ValueError(f"value {self.name or '?'} is not a constant")
        if self._const_digest is None:
            algorithm, h = content_hasher()
            h.update(f"{self.descriptor}".encode())
            h.update(np.ascontiguousarray(self.const).reshape(-1).view(np.uint8).data)
            self._const_digest = f"{algorithm}:{h.hexdigest()}"
        return self._const_digest

    def replace_all_uses_with(self, other: Value) -> int:
        """Point every use of this value at ``other``; return how many uses moved."""
        if other is self:
            return 0
        uses = list(self._uses)
        for node, i in uses:
            node.replace_input(i, other)
        return len(uses)

    def __repr__(self) -> str:
        kind = "const" if self.const is not None else ("input" if self.producer is None else "value")
        return f"<Value {kind} {self.name or '?'}: {self.descriptor}>"


class Node:
    """One operation. ``op_type`` is the exact WebNN operator name (``"conv2d"``)."""

    __slots__ = ("_inputs", "annotations", "attributes", "graph", "meta", "name", "op_type", "outputs")

    def __init__(
        self,
        op_type: str,
        inputs: Sequence[Value | None],
        output_descriptors: Sequence[OperandDescriptor],
        attributes: Mapping[str, Any] | None = None,
        *,
        name: str | None = None,
    ) -> None:
        self.op_type = op_type
        self.name = name
        self.graph: Graph | None = None
        self.attributes: dict[str, AttributeValue] = {
            k: freeze_attribute(v) for k, v in sorted((attributes or {}).items())
        }
        self.meta: dict[str, Any] = {}
        self.annotations: dict[str, AttributeValue] = {}
        self._inputs: tuple[Value | None, ...] = tuple(inputs)
        for i, v in enumerate(self._inputs):
            if v is not None:
                v._uses.append((self, i))
        self.outputs: tuple[Value, ...] = tuple(
            Value(d, producer=self, index=i) for i, d in enumerate(output_descriptors)
        )

    @property
    def inputs(self) -> tuple[Value | None, ...]:
        return self._inputs

    def replace_input(self, index: int, value: Value | None) -> None:
        old = self._inputs[index]
        if old is value:
            return
        if old is not None:
            old._uses.remove((self, index))
        if value is not None:
            value._uses.append((self, index))
        self._inputs = (*self._inputs[:index], value, *self._inputs[index + 1 :])

    def detach(self) -> None:
        """Drop this node's uses of its inputs (call before discarding the node)."""
        for i, v in enumerate(self._inputs):
            if v is not None:
                v._uses.remove((self, i))
        self._inputs = tuple(None for _ in self._inputs)

    def __repr__(self) -> str:
        ins = ", ".join("_" if v is None else (v.name or "?") for v in self._inputs)
        return f"<Node {self.op_type}({ins})>"


def _frozen(array: np.ndarray[Any, Any], dtype: Any) -> bool:
    """Whether ``array`` is read-only, C-contiguous, of ``dtype`` and a view of ``bytes``
    (immutable): then no one can change it, and a constant may share it instead of a copy."""
    if array.flags.writeable or not array.flags.c_contiguous or array.dtype != dtype:
        return False
    base: Any = array
    while isinstance(base, np.ndarray):
        if base.flags.writeable:
            return False
        base = base.base
    return isinstance(base, bytes)


class Graph:
    """A graph: named inputs, constants, a topologically ordered node list, named outputs."""

    __slots__ = ("_nodes", "constants", "inputs", "meta", "name", "outputs")

    def __init__(self, name: str = "graph") -> None:
        self.name = name
        self.inputs: list[Value] = []
        self.constants: list[Value] = []
        self._nodes: list[Node] = []
        self.outputs: dict[str, Value] = {}
        self.meta: dict[str, Any] = {}

    # -- construction
    def add_input(self, name: str, descriptor: OperandDescriptor) -> Value:
        v = Value(descriptor, name=name)
        self.inputs.append(v)
        return v

    def add_constant(
        self, array: np.ndarray[Any, Any], descriptor: OperandDescriptor | None = None
    ) -> Value:
        """Add a constant; the array is copied, made contiguous and read-only (an array that
        already is all three, over an immutable ``bytes`` object, is kept as it is)."""
        data_type = descriptor.data_type if descriptor else DataType.from_numpy(array.dtype)
        if _frozen(array, data_type.numpy_dtype):
            # NOTE: the ONNX importer's weights are views of the parsed model's bytes, which
            # nothing can change; copying them cost BERT-base 0.29 s for 437 MB
            arr = array.reshape(descriptor.shape) if descriptor is not None else array
            desc = descriptor or OperandDescriptor(data_type, arr.shape)
            v = Value(desc, const=arr)
            self.constants.append(v)
            return v
        arr = np.array(array, dtype=data_type.numpy_dtype, copy=True, order="C")
        if descriptor is not None:
            arr = arr.reshape(descriptor.shape)
        arr.setflags(write=False)
        desc = descriptor or OperandDescriptor(data_type, arr.shape)
        v = Value(desc, const=arr)
        self.constants.append(v)
        return v

    def append(self, node: Node) -> Node:
        node.graph = self
        self._nodes.append(node)
        return node

    def insert_before(self, anchor: Node, node: Node) -> Node:
        node.graph = self
        self._nodes.insert(self._nodes.index(anchor), node)
        return node

    def remove(self, node: Node) -> None:
        """Remove a node whose outputs have no uses (and are not graph outputs)."""
        for out in node.outputs:
            if out._uses or any(o is out for o in self.outputs.values()):
                raise ValueError(f"cannot remove {node!r}: output {out!r} is still used")
        node.detach()
        self._nodes.remove(node)
        node.graph = None

    def replace_value(self, old: Value, new: Value) -> int:
        """Point every use of ``old`` (graph outputs included) at ``new``; return uses moved.

        Passes use this to splice a rewritten value in; the node that produced ``old`` is
        left in place for dead-code elimination (or :meth:`remove`) to drop.
        """
        if old is new:
            return 0
        moved = old.replace_all_uses_with(new)
        for name, v in list(self.outputs.items()):
            if v is old:
                self.outputs[name] = new
                moved += 1
        return moved

    def clone(self) -> Graph:
        """A structurally identical graph with new values and nodes (constant data is shared:
        it is read-only). Passes run on a clone leave the original as built."""
        g = Graph(self.name)
        g.meta = dict(self.meta)
        new: dict[int, Value] = {}
        for v in self.inputs:
            new[id(v)] = g.add_input(v.name or "", v.descriptor)
        for c in self.constants:
            assert c.const is not None
            copy = Value(c.descriptor, name=c.name, const=c.const)
            copy._const_digest = c._const_digest
            copy._const_range = c._const_range
            g.constants.append(copy)
            new[id(c)] = copy
        for node in self._nodes:
            n = Node(
                node.op_type,
                [None if v is None else new[id(v)] for v in node.inputs],
                [o.descriptor for o in node.outputs],
                node.attributes,
                name=node.name,
            )
            n.annotations = dict(node.annotations)
            for old_out, new_out in zip(node.outputs, n.outputs, strict=True):
                new_out.name = old_out.name
                new[id(old_out)] = new_out
            g.append(n)
        g.outputs = {name: new[id(v)] for name, v in self.outputs.items()}
        return g

    def is_output(self, value: Value) -> bool:
        """Whether ``value`` is (one of) the graph's outputs."""
        return any(v is value for v in self.outputs.values())

    def set_nodes(self, nodes: Iterable[Node]) -> None:
        """Replace the node order (the caller guarantees a topological order)."""
        self._nodes = list(nodes)
        for n in self._nodes:
            n.graph = self

    def remove_unused_constants(self) -> int:
        before = len(self.constants)
        outs = {id(v) for v in self.outputs.values()}
        self.constants = [c for c in self.constants if c._uses or id(c) in outs]
        return before - len(self.constants)

    # -- queries
    @property
    def nodes(self) -> tuple[Node, ...]:
        return tuple(self._nodes)

    def __iter__(self) -> Iterator[Node]:
        return iter(list(self._nodes))

    def __len__(self) -> int:
        return len(self._nodes)

    def input_named(self, name: str) -> Value:
        for v in self.inputs:
            if v.name == name:
                return v
        raise KeyError(name)

    def op_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for n in self._nodes:
            counts[n.op_type] = counts.get(n.op_type, 0) + 1
        return counts

    def __repr__(self) -> str:
        return (
            f"<Graph {self.name}: {len(self.inputs)} inputs, {len(self.constants)} constants, "
            f"{len(self._nodes)} nodes, {len(self.outputs)} outputs>"
        )
