"""BuilderCore: the part of the builder every operator family builds on.

The operator families (``webnnc.compiler.ops``) are mixins of :class:`MLGraphBuilder`; for
type checkers they derive from this class, so that the finished builder lists its bases
explicitly and every builder method is visible to mypy and IDEs (``b.rleu(x)`` is an error).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from webnnc.compiler.errors import ValidationError, WebNNTypeError
from webnnc.compiler.frontend._operand import MLOperand
from webnnc.compiler.ir import Graph, Node, OperandDescriptor, Value
from webnnc.compiler.limits import check_options, check_output

__all__ = ["BuilderCore"]


class BuilderCore:
    """The graph under construction and the helpers the operator families call.

    Args:
        context: the owning ``MLContext`` (may be None when the compiler is used alone).
        on_build: called with the finished IR graph by ``build()``; its result is what
            ``build()`` returns (the facade passes a function that compiles and loads).
    """

    def __init__(
        self, context: Any = None, *, on_build: Callable[[Graph], Any] | None = None
    ) -> None:
        self._context = context
        self._on_build = on_build
        self._graph = Graph()
        self._built = False

    def _check_open(self, op: str) -> None:
        if self._built:
            raise ValidationError(f"{op}: this builder has already built its graph; create a new builder")

    def _value(self, op: str, arg: str, operand: Any) -> Value:
        """The IR value behind an operand argument, checked to belong to this builder."""
        if not isinstance(operand, MLOperand):
            raise WebNNTypeError(f"{op}: {arg} must be an MLOperand; found {type(operand).__name__}")
        if operand._builder is not self:
            raise ValidationError(f"{op}: {arg} was created by another builder")
        return operand._value

    def _add(
        self,
        op_type: str,
        inputs: Sequence[Value | None],
        outputs: Sequence[OperandDescriptor],
        attributes: Mapping[str, Any] | None = None,
    ) -> list[MLOperand]:
        self._check_open(op_type)
        # the one place every operator's inferred output passes: a derived dimension above
        # 2^31-1 or a tensor above the byte limit fails here, naming the operator
        check_output(op_type, outputs)
        check_options(op_type, attributes)
        node = self._graph.append(Node(op_type, inputs, outputs, attributes))
        return [MLOperand(self, v) for v in node.outputs]

    def _add1(
        self,
        op_type: str,
        inputs: Sequence[Value | None],
        output: OperandDescriptor,
        attributes: Mapping[str, Any] | None = None,
    ) -> MLOperand:
        return self._add(op_type, inputs, [output], attributes)[0]

    @property
    def graph(self) -> Graph:
        """The IR graph under construction."""
        return self._graph
