"""MLOperand: the builder-side handle of an IR value."""

from __future__ import annotations

from typing import TYPE_CHECKING

from webnnc.compiler.ir import DataType, Value

if TYPE_CHECKING:
    from webnnc.compiler.frontend._core import BuilderCore

__all__ = ["MLOperand"]


class MLOperand:
    """An operand created by an :class:`MLGraphBuilder` (``MLOperand`` in the spec)."""

    __slots__ = ("_builder", "_value")

    def __init__(self, builder: BuilderCore, value: Value) -> None:
        self._builder = builder
        self._value = value

    @property
    def data_type(self) -> str:
        """The WebNN data type name, e.g. ``"float32"``."""
        return self._value.data_type.value

    @property
    def dtype(self) -> str:  # pywebnn spelling
        return self.data_type

    @property
    def shape(self) -> list[int]:
        return list(self._value.shape)

    @property
    def rank(self) -> int:
        return self._value.rank

    @property
    def name(self) -> str | None:
        return self._value.name

    @property
    def value(self) -> Value:
        """The underlying IR value."""
        return self._value

    def _dt(self) -> DataType:
        return self._value.data_type

    def __repr__(self) -> str:
        return f"MLOperand({self.data_type}, shape={self.shape})"
