"""MLGraphBuilder: the WebNN graph-building API, producing webnnc IR.

Names follow pywebnn (snake_case methods, keyword options); semantics, defaults and
validation follow the W3C WebNN spec. Each builder call infers the output descriptor and
raises a :class:`~webnnc.compiler.errors.ValidationError` (a ``ValueError``) or
:class:`~webnnc.compiler.errors.WebNNTypeError` (a ``TypeError``) naming the op and operand.

Operators live in per-family mixins in the operator catalogue, ``webnnc.compiler.ops``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from webnnc.compiler.errors import ValidationError, WebNNTypeError
from webnnc.compiler.frontend._core import BuilderCore
from webnnc.compiler.frontend._operand import MLOperand
from webnnc.compiler.ir import DataType, OperandDescriptor
from webnnc.compiler.limits import check_tensor
from webnnc.compiler.ops.activation import ActivationOps
from webnnc.compiler.ops.conv_pool import ConvPoolOps
from webnnc.compiler.ops.elementwise import ElementwiseOps
from webnnc.compiler.ops.gather_scatter import GatherScatterOps
from webnnc.compiler.ops.linalg import LinalgOps
from webnnc.compiler.ops.normalization import NormalizationOps
from webnnc.compiler.ops.quantization import QuantizationOps
from webnnc.compiler.ops.recurrent import RecurrentOps
from webnnc.compiler.ops.reduction import ReductionOps
from webnnc.compiler.ops.tensor import TensorOps
from webnnc.compiler.ops.unary import UnaryOps

__all__ = ["PYWEBNN_KEYWORDS", "MLGraphBuilder"]

_MAX_DIM = 2**31 - 1


def _parse_type(value: Any, what: str) -> DataType:
    try:
        return DataType.parse(value, what=what)
    except TypeError as e:
        raise WebNNTypeError(str(e)) from None


def _parse_descriptor(what: str, shape: Any, data_type: Any) -> OperandDescriptor:
    if isinstance(shape, Mapping):  # spec form: {"dataType": ..., "shape": [...]}
        desc = dict(shape)
        data_type = desc.get("dataType", desc.get("data_type", data_type))
        shape = desc.get("shape", desc.get("dimensions"))
    if shape is None:
        raise WebNNTypeError(f"{what}: a shape is required")
    try:
        dims = list(shape)
    except TypeError:
        raise WebNNTypeError(f"{what}: shape must be a sequence of integers; found {shape!r}") from None
    for d in dims:
        if isinstance(d, bool) or not hasattr(d, "__index__"):
            raise WebNNTypeError(f"{what}: shape must contain integers; found {d!r} in {dims}")
        if not 0 < int(d) <= _MAX_DIM:
            raise ValidationError(f"{what}: every dimension must be in [1, 2^31-1]; found {d} in {dims}")
    try:
        dt = DataType.parse(data_type if data_type is not None else "float32", what=f"{what} data type")
    except TypeError as e:
        raise WebNNTypeError(str(e)) from None
    check_tensor(what, "operand", dt, dims)
    return OperandDescriptor(dt, tuple(int(d) for d in dims))


# The bases are written out (not ``*ALL_OP_MIXINS``) so that type checkers see every
# operator method; tests/compiler/frontend/test_builder_typing.py checks both lists agree.
class MLGraphBuilder(
    ElementwiseOps,
    ConvPoolOps,
    TensorOps,
    LinalgOps,
    NormalizationOps,
    GatherScatterOps,
    RecurrentOps,
    UnaryOps,
    ActivationOps,
    ReductionOps,
    QuantizationOps,
    BuilderCore,
):
    """Builds one WebNN graph. Create it with ``context.create_graph_builder()``.

    Args:
        context: the owning ``MLContext`` (may be None when the compiler is used alone).
        on_build: called with the finished IR graph by :meth:`build`; its result is what
            :meth:`build` returns (the facade passes a function that compiles and loads).
    """

    # ------------------------------------------------------------------ sources
    def input(self, name: str, shape: Any, data_type: Any = "float32") -> MLOperand:
        """Declare a named graph input: ``input("x", [1, 3, 224, 224], "float32")``.

        The spec form ``input("x", {"dataType": "float32", "shape": [...]})`` works too.
        """
        self._check_open("input")
        if not isinstance(name, str) or not name:
            raise WebNNTypeError(f"input: name must be a non-empty string; found {name!r}")
        if any(v.name == name for v in self._graph.inputs):
            raise ValidationError(f"input: an input named {name!r} already exists in this graph")
        desc = _parse_descriptor(f"input {name!r}", shape, data_type)
        return MLOperand(self, self._graph.add_input(name, desc))

    def constant(self, value: Any, shape: Any = None, data_type: Any = None) -> MLOperand:
        """Create a constant operand.

        ``value`` is a numpy array (its data type is kept unless ``data_type`` is given),
        a nested list, or a scalar filled to ``shape``. The spec form
        ``constant({"dataType": ..., "shape": ...}, buffer)`` is accepted as well.
        """
        self._check_open("constant")
        if isinstance(value, Mapping):  # spec: constant(descriptor, buffer)
            desc = _parse_descriptor("constant", value, None)
            buffer = np.asarray(shape).reshape(-1)
            if buffer.size != desc.size:
                raise ValidationError(
                    f"constant: buffer has {buffer.size} elements; descriptor {desc} needs {desc.size}"
                )
            # add_constant converts, reshapes and copies in one pass (a second copy here was
            # a measurable share of building W3's 14 MB of weights)
            return MLOperand(self, self._graph.add_constant(buffer, desc))
        if isinstance(value, (DataType, str)) and not isinstance(shape, (list, tuple)):
            # spec: constant(type, value) -> scalar
            dt = _parse_type(value, "constant data type")
            arr = np.asarray(shape, dtype=dt.numpy_dtype).reshape(())
            return MLOperand(self, self._graph.add_constant(arr, OperandDescriptor(dt, ())))
        if data_type is not None:
            dt = _parse_type(data_type, "constant data type")
        elif isinstance(value, np.ndarray | np.generic):
            try:
                dt = DataType.from_numpy(value.dtype)
            except TypeError:
                raise WebNNTypeError(
                    f"constant: numpy dtype {value.dtype} has no WebNN data type; pass data_type="
                ) from None
        else:
            dt = DataType.FLOAT32
        try:
            arr = np.asarray(value)
        except ValueError as e:
            raise WebNNTypeError(f"constant: cannot make an array of {value!r}: {e}") from None
        if arr.dtype == object or arr.dtype.kind not in "biuf":
            raise WebNNTypeError(f"constant: expected numbers; found {arr.dtype} data")
        if shape is not None:
            dims = _parse_descriptor("constant", shape, dt).shape
            if arr.size == 1:
                arr = np.full(dims, arr.reshape(()), dtype=dt.numpy_dtype)
            elif arr.size == math.prod(dims):
                arr = arr.reshape(dims)
            else:
                raise ValidationError(
                    f"constant: value has {arr.size} elements; shape {list(dims)} needs {math.prod(dims)}"
                )
        if dt.is_integer and arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
            raise ValidationError(f"constant: non-finite values cannot be stored as {dt.value}")
        # add_constant converts to dt's storage type while it makes its one copy; an astype()
        # here first copied every weight twice (2.6 of W3's 13.6 ms of builder calls)
        return MLOperand(self, self._graph.add_constant(arr, OperandDescriptor(dt, arr.shape)))

    # ------------------------------------------------------------------ build
    def build(self, outputs: Mapping[str, MLOperand], *, name: str | None = None) -> Any:
        """Finish the graph with named outputs; compile (or load from the cache) and return it.

        Args:
            outputs: output name -> operand.
            name: optional model name; the compiled artifact is registered under it so that
                ``webnnc.runtime.load(name)`` finds it in any later process.

        Without a context (compiler used alone) this returns the IR :class:`Graph`.
        """
        self._check_open("build")
        if not isinstance(outputs, Mapping) or not outputs:
            raise WebNNTypeError("build: outputs must be a non-empty dict of name -> MLOperand")
        input_names = {v.name for v in self._graph.inputs}
        for out_name, operand in outputs.items():
            if not isinstance(out_name, str) or not out_name:
                raise WebNNTypeError(f"build: output names must be non-empty strings; found {out_name!r}")
            value = self._value("build", f"output {out_name!r}", operand)
            if value.producer is None and value.const is None:
                raise ValidationError(f"build: output {out_name!r} is a graph input; outputs must be computed")
            if value.const is not None:
                raise ValidationError(f"build: output {out_name!r} is a constant; outputs must be computed")
            if out_name in input_names:
                raise ValidationError(f"build: output name {out_name!r} is also an input name")
            self._graph.outputs[out_name] = value
        self._built = True  # spec: a builder builds once
        graph = self._graph
        if name is not None:
            graph.meta["name"] = str(name)
        return self._on_build(graph) if self._on_build is not None else graph


# ---------------------------------------------------------------------- pywebnn's keywords
PYWEBNN_KEYWORDS: dict[str, dict[str, str]] = {"logical_not": {"x": "a"}, "pad": {"padding": "beginning_padding"}}
"""builder method -> {pywebnn keyword: webnnc parameter}, besides ``x`` for ``input``.

pywebnn names the operand of its one-input methods ``x`` (``relu(x=...)``, ``reshape(x=...,
new_shape=...)``) where the spec says ``input``; every method whose first operand is
``input`` accepts ``x=`` as well (see :func:`_add_keyword_aliases`)."""


def _renaming(method: Callable[..., Any], renames: Mapping[str, str]) -> Callable[..., Any]:
    op = method.__name__

    @functools.wraps(method)
    def call(self: MLGraphBuilder, *args: Any, **kwargs: Any) -> Any:
        for alias, name in renames.items():
            if alias in kwargs:
                if name in kwargs:
                    raise WebNNTypeError(f"{op}: {name} is given twice (as {alias}= and {name}=)")
                kwargs[name] = kwargs.pop(alias)
        return method(self, *args, **kwargs)

    return call


def _add_keyword_aliases() -> None:
    # Wrapped once at import; co_varnames avoids inspect.signature's cost on every method.
    for name in dir(MLGraphBuilder):
        method = getattr(MLGraphBuilder, name)
        if name.startswith("_") or not callable(method) or not hasattr(method, "__code__"):
            continue
        code = method.__code__
        params = code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]
        renames = dict(PYWEBNN_KEYWORDS.get(name, {}))
        if len(params) > 1 and params[1] == "input" and "x" not in params:
            renames.setdefault("x", "input")
        if renames:
            setattr(MLGraphBuilder, name, _renaming(method, renames))


_add_keyword_aliases()
