"""The WebNN builder front end."""

from __future__ import annotations

from webnnc.compiler.frontend._operand import MLOperand
from webnnc.compiler.frontend.builder import MLGraphBuilder
from webnnc.compiler.ops import METHOD_TO_OP, OP_TO_METHOD

__all__ = ["METHOD_TO_OP", "OP_TO_METHOD", "MLGraphBuilder", "MLOperand"]
