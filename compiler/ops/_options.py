"""Option parsing shared by the operator families: spelling, defaults, kinds.

Options arrive as Python keywords. The spec's names are accepted in snake_case
(``window_dimensions``) and in the spec's own camelCase (``windowDimensions``); pywebnn's
different spellings are mapped through a per-op alias table. ``None`` means "not given".
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from webnnc.compiler.errors import ValidationError, WebNNTypeError
from webnnc.compiler.ir import DataType

if TYPE_CHECKING:
    from webnnc.compiler.frontend._core import BuilderCore
    from webnnc.compiler.ir import Value

__all__ = [
    "check_same_type",
    "check_shape",
    "choice",
    "flag",
    "number",
    "operand_option",
    "parse_options",
    "snake_case",
]

_CAMEL = re.compile(r"(?<=[a-z0-9])([A-Z]+)")


def snake_case(name: str) -> str:
    """``windowDimensions`` -> ``window_dimensions`` (snake_case names pass through).

    >>> snake_case("outputShapeRounding")
    'output_shape_rounding'
    """
    try:
        return _SNAKE[name]
    except KeyError:
        pass
    result = _CAMEL.sub(lambda m: "_" + m.group(1).lower(), name)
    if len(_SNAKE) < _SNAKE_MAX:
        _SNAKE[name] = result
    return result


# snake_case() memo: every builder call spells each of its option names through it (conv2d
# seven per call); the regex substitutions were 0.7 ms of W3's ~10 ms of builder calls
# (cProfile, 365 per build). Bounded, so that hostile callers
# inventing option names cannot grow it without limit.
_SNAKE: dict[str, str] = {}
_SNAKE_MAX = 4096


def parse_options(
    op: str,
    given: Mapping[str, Any],
    known: Iterable[str],
    aliases: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Normalize option keywords to the spec's snake_case names; reject unknown ones.

    Args:
        op: the WebNN operator name (for messages).
        given: the keywords as passed.
        known: the snake_case spec names this operator accepts (``label`` is always accepted).
        aliases: other spellings (pywebnn's) -> spec snake_case name.

    Returns:
        spec name -> value, only for options given with a value other than None.
    """
    allowed = set(known) | {"label"}
    out: dict[str, Any] = {}
    source: dict[str, str] = {}
    names = {key: snake_case(key) for key in given}
    if aliases:
        names = {key: aliases.get(key, aliases.get(name, name)) for key, name in names.items()}
    unknown = sorted(key for key, name in names.items() if name not in allowed)
    if unknown:
        raise WebNNTypeError(f"{op}: unknown options {unknown}; expected some of {sorted(allowed)}")
    for key, value in given.items():
        name = names[key]
        if value is None:
            continue
        if name in out:
            raise WebNNTypeError(
                f"{op}: option {key!r} repeats {source[name]!r} (the same option spelled twice)"
            )
        out[name] = value
        source[name] = key
    out.pop("label", None)
    return out


def choice(op: str, arg: str, value: Any, choices: Iterable[str]) -> str:
    options = tuple(choices)
    if not isinstance(value, str) or value not in options:
        raise WebNNTypeError(f"{op}: {arg} must be one of {list(options)}; found {value!r}")
    return value


def flag(op: str, arg: str, value: Any) -> bool:
    if not isinstance(value, bool | int) or value not in (0, 1):
        raise WebNNTypeError(f"{op}: {arg} must be a bool; found {value!r}")
    return bool(value)


def number(op: str, arg: str, value: Any, *, finite: bool = True) -> float:
    """A float option (``MLNumber`` / ``float``); non-finite values only where allowed."""
    if isinstance(value, str) and value in ("NaN", "Infinity", "-Infinity"):
        value = float(value.replace("Infinity", "inf"))
    if isinstance(value, bool) or (not isinstance(value, int | float) and not hasattr(value, "__float__")):
        raise WebNNTypeError(f"{op}: {arg} must be a number; found {value!r}")
    result = float(value)
    if finite and not math.isfinite(result):
        raise WebNNTypeError(f"{op}: {arg} must be a finite number; found {result}")
    return result


def operand_option(builder: BuilderCore, op: str, arg: str, value: Any) -> Value | None:
    """The IR value of an optional operand option (None when not given)."""
    if value is None:
        return None
    return builder._value(op, arg, value)


def check_same_type(op: str, arg: str, found: DataType, ref_arg: str, ref: DataType) -> None:
    if found != ref:
        raise WebNNTypeError(
            f"{op}: {arg} data type ({found.value}) must match {ref_arg} ({ref.value})"
        )


def check_shape(op: str, arg: str, found: tuple[int, ...], expected: tuple[int, ...]) -> None:
    if tuple(found) != tuple(expected):
        raise ValidationError(f"{op}: {arg} must have shape {list(expected)}; found {list(found)}")
