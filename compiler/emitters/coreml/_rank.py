"""Holding rank > 5 values at rank <= 5: the window-partition reshape -> transpose -> reshape.

CoreML tensors have rank <= 5, but windowed transformers (Swin-style window partition and
reverse) reshape a feature map to rank 6, permute it and reshape it back. Between a reshape
and a transpose only the order of the elements matters, so a rank > 5 value can be held in
any shape with the same elements in the same order (its *view*): a reshape produces the
view directly, and a transpose permutes *groups* of dimensions that stay adjacent and in
order through the permutation (dimensions of size 1 go anywhere, so they are dropped
first). ``(1, 8, 7, 8, 7, 96)`` permuted by ``(0, 1, 3, 2, 4, 5)`` is ``(8, 7, 8, 7 * 96)``
permuted by ``(0, 2, 1, 3)``.

The plan only decides shapes; the reshape and transpose lowerings read them from the
context. A rank > 5 value stays unplanned (and the node is refused, naming the op) when any
op other than reshape / transpose produces or reads it, when it is a graph input or output,
or when a transpose of it keeps more than 5 groups.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from webnnc.compiler.emitters.coreml._core import MAX_RANK
from webnnc.compiler.ir import Graph, Value

__all__ = ["TransposeGroups", "merge_transpose", "plan_views"]

_MOVERS = ("reshape", "transpose")

TransposeGroups = tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]


def merge_transpose(shape: Sequence[int], perm: Sequence[int]) -> TransposeGroups:
    """``(input groups shape, group permutation, output groups shape)`` of a transpose.

    Equal in effect to transposing ``shape`` by ``perm``: the input reshaped to the first,
    transposed by the second, is the output reshaped to the third.

    >>> merge_transpose((1, 8, 7, 8, 7, 96), (0, 1, 3, 2, 4, 5))
    ((8, 7, 8, 672), (0, 2, 1, 3), (8, 8, 7, 672))
    """
    kept = [p for p in perm if shape[p] != 1]
    if not kept:
        return (1,), (0,), (1,)
    position = {a: i for i, a in enumerate(sorted(kept))}  # rank among the kept input axes
    groups: list[list[int]] = [[kept[0]]]
    for a in kept[1:]:
        if position[a] == position[groups[-1][-1]] + 1:
            groups[-1].append(a)
        else:
            groups.append([a])
    by_input = sorted(range(len(groups)), key=lambda g: groups[g][0])
    sizes = [math.prod(shape[a] for a in g) for g in groups]
    in_shape = tuple(sizes[g] for g in by_input)
    group_perm = tuple(by_input.index(g) for g in range(len(groups)))
    return in_shape, group_perm, tuple(sizes)


def _held(value: Value, graph: Graph) -> bool:
    """Whether every producer and reader of ``value`` is a reshape or a transpose."""
    p = value.producer
    if p is None or p.op_type not in _MOVERS or any(o is value for o in graph.outputs.values()):
        return False
    return all(n.op_type in _MOVERS for n, _ in value.uses)


def plan_views(graph: Graph) -> dict[int, tuple[int, ...]]:
    """The lower-rank MIL shape of every rank > 5 value that can be held at rank <= 5 (by id)."""
    big = {id(v): v for n in graph.nodes for v in n.outputs if v is not None and v.rank > MAX_RANK}
    held = {k: v for k, v in big.items() if _held(v, graph)}
    views: dict[int, tuple[int, ...]] = {}
    # a transpose fixes the view of its result, and asks for one of its operand
    wanted: dict[int, tuple[int, ...]] = {}
    for node in graph.nodes:
        if node.op_type != "transpose":
            continue
        x, y = node.inputs[0], node.outputs[0]
        if x is None or y is None or (id(x) not in held and id(y) not in held):
            continue
        in_shape, _, out_shape = merge_transpose(x.shape, [int(a) for a in node.attributes["permutation"]])
        if len(in_shape) > MAX_RANK:
            held.pop(id(x), None)
            held.pop(id(y), None)
            continue
        if id(y) in held:
            views[id(y)] = out_shape
        if id(x) in held:
            wanted.setdefault(id(x), in_shape)
    for key, value in held.items():
        if key not in views:
            # a reshape's result: the shape its first transpose reader wants, else flat
            views[key] = wanted.get(key, (math.prod(value.shape),))
    # a transpose whose operand or result lost its plan above refuses (check_node names it)
    return {k: s for k, s in views.items() if k in held}
