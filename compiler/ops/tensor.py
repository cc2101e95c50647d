"""Shape and layout operators: reshape, transpose, concat, expand, pad, reverse, slice,
split, tile, triangular, identity.

All of them move data without arithmetic, so the spec allows every data type; ONNX Runtime's
CPU provider runs them for every type but the packed 4-bit ones (the support table in
``webnnc.compiler.ops._support`` says so, and the builders check against it).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from webnnc.compiler.errors import ValidationError, WebNNTypeError
from webnnc.compiler.ir import Node, OperandDescriptor
from webnnc.compiler.ops._fold import Array, first, fold_rule, wide
from webnnc.compiler.ops._options import (
    choice,
    flag,
    number,
    parse_options,
)
from webnnc.compiler.ops._range import Range, first_range, range_rule
from webnnc.compiler.ops._support import (
    ALL,
    MAX_RANK,
    NUMERIC,
    OperandLimits,
    check_operand,
    operand,
    same_limits,
    unary_limits,
)
from webnnc.compiler.ops._validation import check_axes, check_axis, int_list

if TYPE_CHECKING:
    from webnnc.compiler.frontend._core import BuilderCore as _Base
    from webnnc.compiler.frontend._operand import MLOperand
    from webnnc.compiler.ir import Value
else:
    _Base = object

__all__ = ["OPS", "SUPPORT", "PAD_MODES", "TensorOps"]

PAD_MODES = ("constant", "edge", "reflection", "symmetric")

OPS: dict[str, str] = {
    "reshape": "reshape",
    "transpose": "transpose",
    "concat": "concat",
    "expand": "expand",
    "pad": "pad",
    "reverse": "reverse",
    "slice": "slice",
    "split": "split",
    "tile": "tile",
    "triangular": "triangular",
    "identity": "identity",
}


class TensorOps(_Base):
    """reshape, transpose, concat, expand, pad, reverse, slice, split, tile, triangular,
    identity."""

    def _data_input(self, op: str, input: MLOperand, arg: str = "input") -> Value:
        x = self._value(op, arg, input)
        check_operand(op, arg, x)
        return x

    def reshape(self, input: MLOperand, new_shape: Sequence[int], **options: Any) -> MLOperand:
        """Reinterpret ``input`` with ``new_shape`` (same number of elements)."""
        op = "reshape"
        parse_options(op, options, ())
        x = self._data_input(op, input)
        shape = int_list(op, "new_shape", new_shape, minimum=1)
        if math.prod(shape) != x.descriptor.size:
            raise ValidationError(
                f"{op}: new_shape {list(shape)} has {math.prod(shape)} elements; input "
                f"{list(x.shape)} has {x.descriptor.size}"
            )
        return self._add1(op, [x], OperandDescriptor(x.data_type, shape), {"new_shape": shape})

    def transpose(
        self, input: MLOperand, permutation: Sequence[int] | None = None, **options: Any
    ) -> MLOperand:
        """Permute dimensions (default: reverse them)."""
        op = "transpose"
        permutation = parse_options(op, {"permutation": permutation, **options}, ["permutation"]).get(
            "permutation"
        )
        x = self._data_input(op, input)
        if permutation is None:
            perm = tuple(reversed(range(x.rank)))
        else:
            perm = int_list(op, "permutation", permutation)
        if sorted(perm) != list(range(x.rank)):
            raise ValidationError(
                f"{op}: permutation must be a permutation of [0, {x.rank}); found {list(perm)} "
                f"(one entry per input dimension)"
            )
        shape = tuple(x.shape[p] for p in perm)
        return self._add1(op, [x], OperandDescriptor(x.data_type, shape), {"permutation": perm})

    def concat(self, inputs: Sequence[MLOperand], axis: int, **options: Any) -> MLOperand:
        """Concatenate along ``axis``; other dimensions and data types must match."""
        op = "concat"
        parse_options(op, options, ())
        if isinstance(inputs, str | bytes) or not isinstance(inputs, Sequence) or not inputs:
            raise WebNNTypeError(f"{op}: inputs must be a non-empty sequence of MLOperand")
        values = [self._value(op, f"inputs[{i}]", o) for i, o in enumerate(inputs)]
        first = values[0]
        if first.rank == 0:
            raise ValidationError(f"{op}: inputs must have rank >= 1; inputs[0] is a scalar")
        check_operand(op, "inputs", first, what="inputs[0]")
        axis = check_axis(op, axis, first.rank)
        total = 0
        for i, v in enumerate(values):
            if v.data_type != first.data_type:
                raise WebNNTypeError(
                    f"{op}: inputs[{i}] data type {v.data_type.value} differs from inputs[0] "
                    f"({first.data_type.value})"
                )
            if v.rank != first.rank:
                raise ValidationError(
                    f"{op}: inputs[{i}] has rank {v.rank}; inputs[0] has rank {first.rank}"
                )
            for d in range(first.rank):
                if d != axis and v.shape[d] != first.shape[d]:
                    raise ValidationError(
                        f"{op}: inputs[{i}] shape {list(v.shape)} differs from inputs[0] "
                        f"{list(first.shape)} in dimension {d} (only axis {axis} may differ)"
                    )
            total += v.shape[axis]
        shape = list(first.shape)
        shape[axis] = total
        return self._add1(op, values, OperandDescriptor(first.data_type, tuple(shape)), {"axis": axis})

    def expand(self, input: MLOperand, new_shape: Sequence[int], **options: Any) -> MLOperand:
        """Broadcast ``input`` (unidirectionally, numpy rules) to ``new_shape``."""
        op = "expand"
        parse_options(op, options, ())
        x = self._data_input(op, input)
        shape = int_list(op, "new_shape", new_shape, minimum=1)
        if len(shape) < x.rank:
            raise ValidationError(
                f"{op}: new_shape {list(shape)} has lower rank than input {list(x.shape)}"
            )
        for i in range(1, x.rank + 1):
            if x.shape[-i] not in (1, shape[-i]):
                raise ValidationError(
                    f"{op}: input {list(x.shape)} cannot be broadcast to new_shape {list(shape)} "
                    f"(dimension {-i}: {x.shape[-i]} vs {shape[-i]})"
                )
        return self._add1(op, [x], OperandDescriptor(x.data_type, shape), {"new_shape": shape})

    def pad(
        self,
        input: MLOperand,
        beginning_padding: Sequence[int],
        ending_padding: Sequence[int] | str | None = None,
        mode: str | None = None,
        value: Any = None,
        **options: Any,
    ) -> MLOperand:
        """Pad each dimension; options ``mode`` ("constant", "edge", "reflection",
        "symmetric") and ``value`` (for "constant", default 0).

        pywebnn's form ``pad(input, padding, mode, value)``, with one list holding the
        beginning paddings then the ending ones, is accepted too.
        """
        op = "pad"
        if ending_padding is None or isinstance(ending_padding, str):
            # pywebnn: pad(input, padding[, mode[, value]]) with padding = begin + end
            mode, value = (ending_padding, mode) if isinstance(ending_padding, str) else (mode, value)
            both = int_list(op, "padding", beginning_padding)
            beginning_padding, ending_padding = both[: len(both) // 2], both[len(both) // 2 :]
        opts = parse_options(op, {"mode": mode, "value": value, **options}, ("mode", "value"))
        x = self._data_input(op, input)
        begin = int_list(op, "beginning_padding", beginning_padding, length=x.rank, minimum=0)
        end = int_list(op, "ending_padding", ending_padding, length=x.rank, minimum=0)
        mode = choice(op, "mode", opts.get("mode", "constant"), PAD_MODES)
        value = number(op, "value", opts.get("value", 0), finite=False)
        if x.data_type.is_integer and not math.isfinite(value):
            raise WebNNTypeError(
                f"{op}: value {value} cannot be represented in {x.data_type.value}"
            )
        if mode in ("reflection", "symmetric"):
            # reflection mirrors around the edge element, so it can reach dim-1 elements;
            # symmetric repeats the edge element, so it can reach dim.
            reach = 1 if mode == "reflection" else 0
            for d, (b, e) in enumerate(zip(begin, end, strict=True)):
                if max(b, e) > x.shape[d] - reach:
                    raise ValidationError(
                        f"{op}: {mode} padding of dimension {d} (size {x.shape[d]}) must be at "
                        f"most {x.shape[d] - reach}; found beginning {b}, ending {e}"
                    )
        shape = tuple(s + b + e for s, b, e in zip(x.shape, begin, end, strict=True))
        attrs = {"beginning_padding": begin, "ending_padding": end, "mode": mode, "value": value}
        return self._add1(op, [x], OperandDescriptor(x.data_type, shape), attrs)

    def reverse(self, input: MLOperand, axes: Sequence[int] | None = None, **options: Any) -> MLOperand:
        """Reverse the order of elements along ``axes`` (default: every axis)."""
        op = "reverse"
        axes = parse_options(op, {"axes": axes, **options}, ["axes"]).get("axes")
        x = self._data_input(op, input)
        ax = tuple(range(x.rank)) if axes is None else check_axes(op, axes, x.rank)
        return self._add1(op, [x], x.descriptor, {"axes": ax})

    def slice(
        self,
        input: MLOperand,
        starts: Sequence[int],
        sizes: Sequence[int],
        strides: Sequence[int] | None = None,
        **options: Any,
    ) -> MLOperand:
        """Take ``sizes[d]`` elements from ``starts[d]`` in each dimension, every
        ``strides[d]``-th one (option ``strides``, default 1)."""
        op = "slice"
        opts = parse_options(op, {"strides": strides, **options}, ("strides",))
        x = self._data_input(op, input)
        st = int_list(op, "starts", starts, length=x.rank, minimum=0)
        sz = int_list(op, "sizes", sizes, length=x.rank, minimum=1)
        steps = int_list(op, "strides", opts.get("strides", [1] * x.rank), length=x.rank, minimum=1)
        for d in range(x.rank):
            if st[d] >= x.shape[d] or st[d] + sz[d] > x.shape[d]:
                raise ValidationError(
                    f"{op}: dimension {d} (size {x.shape[d]}): starts {st[d]} + sizes {sz[d]} "
                    f"runs past the end"
                )
        shape = tuple(-(-s // k) for s, k in zip(sz, steps, strict=True))
        attrs = {"starts": st, "sizes": sz, "strides": steps}
        return self._add1(op, [x], OperandDescriptor(x.data_type, shape), attrs)

    def split(
        self, input: MLOperand, splits: int | Sequence[int], axis: int | None = None, **options: Any
    ) -> list[MLOperand]:
        """Split along ``axis`` (option, default 0) into ``splits`` equal parts, or into
        parts of the listed sizes. Returns one operand per part."""
        op = "split"
        opts = parse_options(op, {"axis": axis, **options}, ("axis",))
        x = self._data_input(op, input)
        if x.rank == 0:
            raise ValidationError(f"{op}: input must have rank >= 1; found a scalar")
        axis = check_axis(op, opts.get("axis", 0), x.rank)
        dim = x.shape[axis]
        if isinstance(splits, bool):
            raise WebNNTypeError(f"{op}: splits must be an integer or a sequence of integers")
        if hasattr(splits, "__index__"):
            count = int(splits)  # type: ignore[arg-type]
            if count < 1 or dim % count:
                raise ValidationError(
                    f"{op}: splits ({count}) must be a positive divisor of dimension {axis} "
                    f"(size {dim})"
                )
            sizes = (dim // count,) * count
        else:
            sizes = int_list(op, "splits", splits, minimum=1)
            if not sizes or sum(sizes) != dim:
                raise ValidationError(
                    f"{op}: splits {list(sizes)} must sum to dimension {axis} (size {dim}); "
                    f"they sum to {sum(sizes)}"
                )
        outs = []
        for s in sizes:
            shape = list(x.shape)
            shape[axis] = s
            outs.append(OperandDescriptor(x.data_type, tuple(shape)))
        return self._add(op, [x], outs, {"axis": axis, "splits": sizes})

    def tile(self, input: MLOperand, repetitions: Sequence[int], **options: Any) -> MLOperand:
        """Repeat ``input`` ``repetitions[d]`` times along each dimension."""
        op = "tile"
        parse_options(op, options, ())
        x = self._data_input(op, input)
        reps = int_list(op, "repetitions", repetitions, length=x.rank, minimum=1)
        shape = tuple(s * r for s, r in zip(x.shape, reps, strict=True))
        return self._add1(op, [x], OperandDescriptor(x.data_type, shape), {"repetitions": reps})

    def triangular(
        self, input: MLOperand, upper: bool | None = None, diagonal: int | None = None, **options: Any
    ) -> MLOperand:
        """Keep the upper (option ``upper``, default True) or lower triangle of the last two
        dimensions, counted from diagonal ``diagonal`` (default 0); zero the rest."""
        op = "triangular"
        opts = parse_options(op, {"upper": upper, "diagonal": diagonal, **options}, ("upper", "diagonal"))
        x = self._data_input(op, input)  # the support table requires rank >= 2
        upper = flag(op, "upper", opts.get("upper", True))
        diagonal = opts.get("diagonal", 0)
        if isinstance(diagonal, bool) or not hasattr(diagonal, "__index__"):
            raise WebNNTypeError(f"{op}: diagonal must be an integer; found {diagonal!r}")
        attrs = {"upper": upper, "diagonal": int(diagonal)}
        return self._add1(op, [x], x.descriptor, attrs)

    def identity(self, input: MLOperand, **options: Any) -> MLOperand:
        """A copy of ``input``."""
        op = "identity"
        parse_options(op, options, ())
        x = self._data_input(op, input)
        return self._add1(op, [x], x.descriptor)

    # -- pywebnn's helpers (no WebNN operator of their own: a reshape in the IR)
    def squeeze(self, input: MLOperand, axes: Sequence[int] | None = None, **options: Any) -> MLOperand:
        """Drop the size-1 dimensions ``axes`` (default: every size-1 dimension)."""
        op = "squeeze"
        axes = parse_options(op, {"axes": axes, **options}, ["axes"]).get("axes")
        x = self._value(op, "input", input)  # reshape checks its data type
        if axes is None:
            drop = {d for d, size in enumerate(x.shape) if size == 1}
        else:
            drop = set(check_axes(op, axes, x.rank))
            wrong = [d for d in sorted(drop) if x.shape[d] != 1]
            if wrong:
                raise ValidationError(
                    f"{op}: axes {wrong} of input {list(x.shape)} do not have size 1; only size-1 "
                    "dimensions can be squeezed"
                )
        return self.reshape(input, [size for d, size in enumerate(x.shape) if d not in drop])

    def unsqueeze(self, input: MLOperand, axes: Sequence[int], **options: Any) -> MLOperand:
        """Insert size-1 dimensions at ``axes`` (positions in the output, negative from the end)."""
        op = "unsqueeze"
        parse_options(op, options, ())
        x = self._value(op, "input", input)  # reshape checks its data type
        out_rank = x.rank + len(int_list(op, "axes", axes))
        where = set(check_axes(op, axes, out_rank))
        dims = iter(x.shape)
        return self.reshape(input, [1 if d in where else next(dims) for d in range(out_rank)])


# ---------------------------------------------------------------- support limits (onnx-cpu)
# Operators that only move data run every type but the packed 4-bit ones (issue 4B).
_MOVE = operand(NUMERIC, spec=ALL)
_MOVE1 = operand(NUMERIC, spec=ALL, ranks=(1, MAX_RANK))

SUPPORT: dict[str, dict[str, OperandLimits]] = {
    "concat": {"inputs": _MOVE1, "output": _MOVE1},
    "expand": same_limits(_MOVE, "input", "output"),
    "pad": same_limits(_MOVE, "input", "output"),
    "reshape": same_limits(_MOVE, "input", "output"),
    "reverse": same_limits(_MOVE, "input", "output"),
    "slice": same_limits(_MOVE, "input", "output"),
    "split": {"input": _MOVE1, "outputs": _MOVE1},
    "tile": same_limits(_MOVE, "input", "output"),
    "transpose": same_limits(_MOVE, "input", "output"),
    "triangular": same_limits(operand(NUMERIC, spec=ALL, ranks=(2, MAX_RANK)), "input", "output"),
    "identity": unary_limits(NUMERIC, spec=ALL),
}


# ---------------------------------------------------------------- constant folding
@fold_rule("identity")
def _fold_identity(node: Node, args: Sequence[Array | None]) -> Sequence[Array]:
    return [wide(first(args))]


@fold_rule("reshape")
def _fold_reshape(node: Node, args: Sequence[Array | None]) -> Sequence[Array]:
    return [first(args).reshape(node.outputs[0].shape)]


@fold_rule("expand")
def _fold_expand(node: Node, args: Sequence[Array | None]) -> Sequence[Array]:
    return [np.broadcast_to(first(args), node.outputs[0].shape)]


@fold_rule("transpose")
def _fold_transpose(node: Node, args: Sequence[Array | None]) -> Sequence[Array]:
    return [np.transpose(first(args), node.attributes["permutation"])]


@fold_rule("concat")
def _fold_concat(node: Node, args: Sequence[Array | None]) -> Sequence[Array]:
    parts = [a for a in args if a is not None]
    return [np.concatenate(parts, axis=int(node.attributes["axis"]))]


@fold_rule("slice")
def _fold_slice(node: Node, args: Sequence[Array | None]) -> Sequence[Array]:
    at = node.attributes
    index = tuple(
        slice(s, s + n, k) for s, n, k in zip(at["starts"], at["sizes"], at["strides"], strict=True)
    )
    return [first(args)[index]]


@fold_rule("tile")
def _fold_tile(node: Node, args: Sequence[Array | None]) -> Sequence[Array]:
    return [np.tile(first(args), node.attributes["repetitions"])]


@fold_rule("reverse")
def _fold_reverse(node: Node, args: Sequence[Array | None]) -> Sequence[Array]:
    return [np.flip(first(args), axis=tuple(node.attributes["axes"]))]


@fold_rule("split")
def _fold_split(node: Node, args: Sequence[Array | None]) -> Sequence[Array]:
    axis = int(node.attributes["axis"])
    bounds = np.cumsum([out.shape[axis] for out in node.outputs])[:-1]
    return np.split(first(args), bounds, axis=axis)


# ---------------------------------------------------------------- value ranges
range_rule("reshape", "transpose", "identity", "expand", "slice", "tile", "reverse")(first_range)


@range_rule("concat")
def _range_concat(node: Node, r: Sequence[Range]) -> Range:
    out = r[0]
    for other in r[1:]:
        out = out.union(other)
    return out
