"""Recurrent networks: gru, gruCell, lstm, lstmCell (float32 / float16).

Shapes follow the spec: ``input`` is ``[steps, batch, input_size]`` for the networks and
``[batch, input_size]`` for the cells; weights stack the gates along their first (or second,
after the direction) dimension in the order ``layout`` names: "zrn" (default) or "rzn" for
GRU, "iofg" (default) or "ifgo" for LSTM. ``activations`` name the gate and cell functions:
two for GRU (default ["sigmoid", "tanh"]), three for LSTM (["sigmoid", "tanh", "tanh"]).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from webnnc.compiler.errors import ValidationError, WebNNTypeError
from webnnc.compiler.ir import OperandDescriptor
from webnnc.compiler.ops._options import (
    check_same_type,
    choice,
    flag,
    operand_option,
    parse_options,
)
from webnnc.compiler.ops._support import FLOATS, OperandLimits, operand
from webnnc.compiler.ops._validation import FLOAT_TYPES, check_data_type, check_rank

if TYPE_CHECKING:
    from webnnc.compiler.frontend._core import BuilderCore as _Base
    from webnnc.compiler.frontend._operand import MLOperand
    from webnnc.compiler.ir import Value
else:
    _Base = object

__all__ = ["OPS", "SUPPORT", "ACTIVATIONS", "RecurrentOps"]

ACTIVATIONS = ("relu", "sigmoid", "tanh")
DIRECTIONS = ("forward", "backward", "both")
GRU_LAYOUTS = ("zrn", "rzn")
LSTM_LAYOUTS = ("iofg", "ifgo")

OPS: dict[str, str] = {
    "gru": "gru",
    "gruCell": "gru_cell",
    "lstm": "lstm",
    "lstmCell": "lstm_cell",
}

_GRU_OPTIONS = ("bias", "recurrent_bias", "reset_after", "layout", "activations")
_LSTM_OPTIONS = ("bias", "recurrent_bias", "peephole_weight", "layout", "activations")
_NETWORK_OPTIONS = ("initial_hidden_state", "return_sequence", "direction")


def _positive(op: str, arg: str, value: Any) -> int:
    if isinstance(value, bool) or not hasattr(value, "__index__") or int(value) < 1:
        raise ValidationError(f"{op}: {arg} must be a positive integer; found {value!r}")
    return int(value)


def _activations(op: str, value: Any, default: tuple[str, ...]) -> tuple[str, ...]:
    if value is None:
        return default
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise WebNNTypeError(f"{op}: activations must be a list of {len(default)} names; found {value!r}")
    if len(value) != len(default):
        raise ValidationError(
            f"{op}: activations must list {len(default)} functions; found {len(value)} ({list(value)})"
        )
    return tuple(choice(op, f"activations[{i}]", a, ACTIVATIONS) for i, a in enumerate(value))


class RecurrentOps(_Base):
    """gru, gru_cell, lstm, lstm_cell."""

    def _operand(
        self, op: str, arg: str, operand: Any, x: Value, shape: tuple[int, ...], *, optional: bool = True
    ) -> Value | None:
        v = operand_option(self, op, arg, operand)
        if v is None:
            if not optional:
                raise WebNNTypeError(f"{op}: {arg} is required")
            return None
        check_same_type(op, arg, v.data_type, "input", x.data_type)
        if v.shape != shape:
            raise ValidationError(f"{op}: {arg} must have shape {list(shape)}; found {list(v.shape)}")
        return v

    def _recurrent_input(self, op: str, input: MLOperand, rank: int) -> Value:
        x = self._value(op, "input", input)
        check_data_type(op, "input", x.data_type, FLOAT_TYPES)
        check_rank(op, "input", x.shape, rank)
        return x

    def _network(
        self,
        op: str,
        gates: int,
        input: MLOperand,
        weight: MLOperand,
        recurrent_weight: MLOperand,
        steps: Any,
        hidden_size: Any,
        opts: dict[str, Any],
    ) -> tuple[Value, list[Value | None], dict[str, Any], int]:
        x = self._recurrent_input(op, input, 3)
        steps = _positive(op, "steps", steps)
        hidden = _positive(op, "hidden_size", hidden_size)
        if x.shape[0] != steps:
            raise ValidationError(
                f"{op}: steps ({steps}) must equal the input's first dimension ({x.shape[0]}); "
                f"input {list(x.shape)}"
            )
        direction = choice(op, "direction", opts.get("direction", "forward"), DIRECTIONS)
        dirs = 2 if direction == "both" else 1
        batch, size = x.shape[1], x.shape[2]
        w = self._operand(op, "weight", weight, x, (dirs, gates * hidden, size), optional=False)
        r = self._operand(op, "recurrent_weight", recurrent_weight, x, (dirs, gates * hidden, hidden), optional=False)
        b = self._operand(op, "bias", opts.get("bias"), x, (dirs, gates * hidden))
        rb = self._operand(op, "recurrent_bias", opts.get("recurrent_bias"), x, (dirs, gates * hidden))
        h0 = self._operand(op, "initial_hidden_state", opts.get("initial_hidden_state"), x, (dirs, batch, hidden))
        attrs = {
            "steps": steps,
            "hidden_size": hidden,
            "direction": direction,
            "return_sequence": flag(op, "return_sequence", opts.get("return_sequence", False)),
        }
        return x, [x, w, r, b, rb, h0], attrs, dirs

    def gru(
        self,
        input: MLOperand,
        weight: MLOperand,
        recurrent_weight: MLOperand,
        steps: int,
        hidden_size: int,
        **options: Any,
    ) -> list[MLOperand]:
        """Gated recurrent unit network. Returns ``[hidden]`` (``[directions, batch,
        hidden_size]``), plus the ``[steps, directions, batch, hidden_size]`` sequence when
        ``return_sequence``. Options: bias, recurrent_bias, initial_hidden_state,
        reset_after (True), return_sequence (False), direction ("forward", "backward",
        "both"), layout ("zrn"/"rzn"), activations."""
        op = "gru"
        opts = parse_options(op, options, (*_GRU_OPTIONS, *_NETWORK_OPTIONS))
        x, inputs, attrs, dirs = self._network(op, 3, input, weight, recurrent_weight, steps, hidden_size, opts)
        attrs["reset_after"] = flag(op, "reset_after", opts.get("reset_after", True))
        attrs["layout"] = choice(op, "layout", opts.get("layout", "zrn"), GRU_LAYOUTS)
        attrs["activations"] = _activations(op, opts.get("activations"), ("sigmoid", "tanh"))
        state = (dirs, x.shape[1], attrs["hidden_size"])
        outs = [OperandDescriptor(x.data_type, state)]
        if attrs["return_sequence"]:
            outs.append(OperandDescriptor(x.data_type, (x.shape[0], *state)))
        return self._add(op, inputs, outs, attrs)

    def lstm(
        self,
        input: MLOperand,
        weight: MLOperand,
        recurrent_weight: MLOperand,
        steps: int,
        hidden_size: int,
        **options: Any,
    ) -> list[MLOperand]:
        """Long short-term memory network. Returns ``[hidden, cell]`` (each ``[directions,
        batch, hidden_size]``), plus the hidden sequence when ``return_sequence``. Options:
        bias, recurrent_bias, peephole_weight, initial_hidden_state, initial_cell_state,
        return_sequence, direction, layout ("iofg"/"ifgo"), activations."""
        op = "lstm"
        opts = parse_options(op, options, (*_LSTM_OPTIONS, *_NETWORK_OPTIONS, "initial_cell_state"))
        x, inputs, attrs, dirs = self._network(op, 4, input, weight, recurrent_weight, steps, hidden_size, opts)
        hidden = attrs["hidden_size"]
        state = (dirs, x.shape[1], hidden)
        peephole = self._operand(op, "peephole_weight", opts.get("peephole_weight"), x, (dirs, 3 * hidden))
        c0 = self._operand(op, "initial_cell_state", opts.get("initial_cell_state"), x, state)
        inputs += [peephole, c0]
        attrs["layout"] = choice(op, "layout", opts.get("layout", "iofg"), LSTM_LAYOUTS)
        attrs["activations"] = _activations(op, opts.get("activations"), ("sigmoid", "tanh", "tanh"))
        outs = [OperandDescriptor(x.data_type, state), OperandDescriptor(x.data_type, state)]
        if attrs["return_sequence"]:
            outs.append(OperandDescriptor(x.data_type, (x.shape[0], *state)))
        return self._add(op, inputs, outs, attrs)

    def _cell(
        self,
        op: str,
        gates: int,
        input: MLOperand,
        weight: MLOperand,
        recurrent_weight: MLOperand,
        hidden_state: MLOperand,
        hidden_size: Any,
        opts: dict[str, Any],
    ) -> tuple[Value, list[Value | None], dict[str, Any]]:
        x = self._recurrent_input(op, input, 2)
        hidden = _positive(op, "hidden_size", hidden_size)
        batch, size = x.shape
        w = self._operand(op, "weight", weight, x, (gates * hidden, size), optional=False)
        r = self._operand(op, "recurrent_weight", recurrent_weight, x, (gates * hidden, hidden), optional=False)
        h = self._operand(op, "hidden_state", hidden_state, x, (batch, hidden), optional=False)
        b = self._operand(op, "bias", opts.get("bias"), x, (gates * hidden,))
        rb = self._operand(op, "recurrent_bias", opts.get("recurrent_bias"), x, (gates * hidden,))
        return x, [x, w, r, h, b, rb], {"hidden_size": hidden}

    def gru_cell(
        self,
        input: MLOperand,
        weight: MLOperand,
        recurrent_weight: MLOperand,
        hidden_state: MLOperand,
        hidden_size: int,
        **options: Any,
    ) -> MLOperand:
        """One GRU step: the new ``[batch, hidden_size]`` hidden state. Options: bias,
        recurrent_bias, reset_after (True), layout ("zrn"/"rzn"), activations."""
        op = "gruCell"
        opts = parse_options(op, options, _GRU_OPTIONS)
        x, inputs, attrs = self._cell(op, 3, input, weight, recurrent_weight, hidden_state, hidden_size, opts)
        attrs["reset_after"] = flag(op, "reset_after", opts.get("reset_after", True))
        attrs["layout"] = choice(op, "layout", opts.get("layout", "zrn"), GRU_LAYOUTS)
        attrs["activations"] = _activations(op, opts.get("activations"), ("sigmoid", "tanh"))
        out = OperandDescriptor(x.data_type, (x.shape[0], attrs["hidden_size"]))
        return self._add1(op, inputs, out, attrs)

    def lstm_cell(
        self,
        input: MLOperand,
        weight: MLOperand,
        recurrent_weight: MLOperand,
        hidden_state: MLOperand,
        cell_state: MLOperand,
        hidden_size: int,
        **options: Any,
    ) -> list[MLOperand]:
        """One LSTM step: ``[hidden, cell]``, each ``[batch, hidden_size]``. Options: bias,
        recurrent_bias, peephole_weight, layout ("iofg"/"ifgo"), activations."""
        op = "lstmCell"
        opts = parse_options(op, options, _LSTM_OPTIONS)
        x, inputs, attrs = self._cell(op, 4, input, weight, recurrent_weight, hidden_state, hidden_size, opts)
        hidden = attrs["hidden_size"]
        state = (x.shape[0], hidden)
        c = self._operand(op, "cell_state", cell_state, x, state, optional=False)
        peephole = self._operand(op, "peephole_weight", opts.get("peephole_weight"), x, (3 * hidden,))
        inputs += [c, peephole]
        attrs["layout"] = choice(op, "layout", opts.get("layout", "iofg"), LSTM_LAYOUTS)
        attrs["activations"] = _activations(op, opts.get("activations"), ("sigmoid", "tanh", "tanh"))
        outs = [OperandDescriptor(x.data_type, state), OperandDescriptor(x.data_type, state)]
        return self._add(op, inputs, outs, attrs)


# ---------------------------------------------------------------- support limits (onnx-cpu)
def _rnn_limits(
    ranks: dict[str, int], outputs: tuple[int, int], key: str = "outputs"
) -> dict[str, OperandLimits]:
    limits = {name: operand(FLOATS, ranks=(r, r)) for name, r in ranks.items()}
    return limits | {key: operand(FLOATS, ranks=outputs)}


_RNN = {"input": 3, "weight": 3, "recurrentWeight": 3, "bias": 2, "recurrentBias": 2, "initialHiddenState": 3}
_CELL = {"input": 2, "weight": 2, "recurrentWeight": 2, "hiddenState": 2, "bias": 1, "recurrentBias": 1}

SUPPORT: dict[str, dict[str, OperandLimits]] = {
    "gru": _rnn_limits(_RNN, (3, 4)),
    "lstm": _rnn_limits(_RNN | {"peepholeWeight": 2, "initialCellState": 3}, (3, 4)),
    "gruCell": _rnn_limits(_CELL, (2, 2), key="output"),
    "lstmCell": _rnn_limits(_CELL | {"cellState": 2, "peepholeWeight": 1}, (2, 2)),
}
