"""Run the WebNN conformance vectors of web-platform-tests (WPT) through webnnc.

The vectors live in ``tests/data/wpt/*.json`` (format: ``tests/data/wpt/README.md``). For one
case this module builds the graph with webnnc's builder (the spec's operator and option names
mapped to the pywebnn-style snake_case API), runs it once, and compares every output with
WPT's own rules:

- ULP for float32: distance between the sign-magnitude integer forms of the two values (bits
  of ``|v|``, negated when ``v`` is negative), so ``+0`` and ``-0`` are equal.
- ULP for float16: the expected value is first rounded to float16 the way WPT does it (round
  half up on the dropped bits, from the float32 value), then the same sign-magnitude distance
  on the 16-bit patterns.
- ATOL: ``|actual - expected| <= value`` in float64.
- Integer outputs: ``|actual - expected| <= value`` on exact integers (0 unless a tolerance
  says otherwise).
- One ``data`` value for a whole output: the first 1000 elements are compared, as in WPT.
- NaN matches NaN under ULP (WPT compares bit patterns, and every NaN this suite expects is a
  result of a NaN input); infinities must match exactly; under ATOL a NaN never passes.

A handful of multi-operator cases have no recorded tolerance (it depends on an intermediate
shape in WPT's code). For those the runner uses the largest tolerance that the corpus records
for a single-operator case of any operator involved with the same output data type, as the
vectors' README prescribes; :func:`case_tolerance` says which.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from webnnc.compiler.ops import OP_TO_METHOD, snake_case

__all__ = [
    "KNOWN_FAILURES_FILE",
    "WPT_DIR",
    "Tolerance",
    "WptCase",
    "build_case",
    "case_tolerance",
    "check_case",
    "compare_output",
    "decode_array",
    "known_failures",
    "load_cases",
    "method_name",
    "missing_operators",
    "operators_of",
    "option_name",
    "run_case",
]

WPT_DIR = Path(__file__).resolve().parents[1] / "data" / "wpt"
KNOWN_FAILURES_FILE = Path(__file__).resolve().parent / "known_failures.json"

_NUMPY: dict[str, Any] = {
    "float32": np.float32,
    "float16": np.float16,
    "int32": np.int32,
    "uint32": np.uint32,
    "int64": np.int64,
    "uint64": np.uint64,
    "int8": np.int8,
    "uint8": np.uint8,
    "int4": np.int8,
    "uint4": np.uint8,
}
_FLOAT_TYPES = ("float32", "float16")
_SCALAR_CHECK_LIMIT = 1000


# ---------------------------------------------------------------------------- names
def method_name(op: str) -> str:
    """The builder method for a WebNN operator name (``argMax`` -> ``arg_max``).

    >>> method_name("argMax"), method_name("where"), method_name("gatherND")
    ('arg_max', 'where_', 'gather_nd')
    """
    return OP_TO_METHOD.get(op) or snake_case(op)


def option_name(key: str) -> str:
    """The builder keyword for a spec option name (``keepDimensions`` -> ``keep_dimensions``).

    >>> option_name("keepDimensions"), option_name("outputDataType"), option_name("bias")
    ('keep_dimensions', 'output_data_type', 'bias')
    """
    return snake_case(key)


# ---------------------------------------------------------------------------- cases
@dataclass(frozen=True)
class WptCase:
    """One conformance vector: graph inputs, operator calls, expected outputs, tolerance."""

    file: str  # file stem, e.g. "reduce_sum"
    name: str
    raw: Mapping[str, Any] = field(repr=False, compare=False)

    @property
    def id(self) -> str:
        return f"{self.file}::{self.name}"

    @property
    def operators(self) -> tuple[str, ...]:
        """Distinct operator names used, in order of first use."""
        return tuple(dict.fromkeys(op["name"] for op in self.raw["operators"]))

    @property
    def required(self) -> bool:
        return bool(self.raw.get("required", True))


@cache
def load_cases(directory: Path = WPT_DIR) -> tuple[WptCase, ...]:
    """Every case of every ``*.json`` file in ``directory``, with unique ids."""
    out: list[WptCase] = []
    for path in sorted(directory.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        seen: dict[str, int] = {}
        for raw in data.get("cases", []):
            name = str(raw["name"]).strip()
            n = seen.get(name, 0)
            seen[name] = n + 1
            if n:  # WPT reuses a few names within a file; keep ids unique
                name = f"{name} #{n + 1}"
            out.append(WptCase(path.stem, name, raw))
    return tuple(out)


def known_failures(path: Path = KNOWN_FAILURES_FILE) -> dict[str, str]:
    """Case id -> concrete reason, for the cases webnnc is known not to pass yet."""
    if not path.exists():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    return {str(k): str(v) for k, v in data.items() if not k.startswith("_")}


def missing_operators(case: WptCase, builder_type: type) -> list[str]:
    """The case's operators that ``builder_type`` has no method for (not implemented yet)."""
    return [op for op in case.operators if not hasattr(builder_type, method_name(op))]


# ---------------------------------------------------------------------------- numbers
_SPECIAL = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
_INT_RE = re.compile(r"^-?\d+$")


def _number(value: Any) -> Any:
    """Decode one JSON number of the vectors (special floats and big integers are strings)."""
    if isinstance(value, str):
        if value in _SPECIAL:
            return _SPECIAL[value]
        if _INT_RE.match(value):
            return int(value)
        raise ValueError(f"not a number: {value!r}")
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int) and abs(value) > 2**53:
        # A plain JSON integer this large is a JavaScript double printed in full
        # (e.g. -9223372036854776000 is -2**63); its value is that double's.
        return int(float(value))
    return value


def decode_array(data: Any, descriptor: Mapping[str, Any]) -> np.ndarray:
    """The numpy array for a vector's ``data`` and ``descriptor`` (a scalar fills the shape)."""
    data_type = str(descriptor["dataType"])
    shape = tuple(int(d) for d in descriptor.get("shape", descriptor.get("dimensions", ())))
    dtype = np.dtype(_NUMPY[data_type])
    if not isinstance(data, list):  # one value fills the whole shape
        return np.full(shape, _one_value(_number(data), dtype, data_type), dtype=dtype)
    values = [_number(v) for v in data]
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        ints = [int(v) for v in values]
        for v in ints:
            if not info.min <= v <= info.max:
                raise ValueError(f"{v} does not fit {data_type}")
        arr = np.array(ints, dtype=dtype)
    else:
        arr = np.array(values, dtype=np.float64).astype(dtype)
    if arr.size != math.prod(shape):
        raise ValueError(f"{arr.size} values for shape {list(shape)}")
    return arr.reshape(shape)


def _one_value(value: Any, dtype: np.dtype[Any], data_type: str) -> Any:
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        if not info.min <= int(value) <= info.max:
            raise ValueError(f"{value} does not fit {data_type}")
        return int(value)
    return np.float64(value).astype(dtype)


def _literal(value: Any) -> Any:
    """Decode a literal argument or option value (recursively)."""
    if isinstance(value, list):
        return [_literal(v) for v in value]
    if isinstance(value, dict):
        return {k: _literal(v) for k, v in value.items()}
    if isinstance(value, str):
        return _number(value) if value in _SPECIAL or _INT_RE.match(value) else value
    return value


# ---------------------------------------------------------------------------- building
def _resolve(value: Any, env: Mapping[str, Any]) -> Any:
    """An argument value: operand names become operands, everything else a decoded literal."""
    if isinstance(value, str) and value in env:
        return env[value]
    if isinstance(value, list) and value and all(isinstance(v, str) and v in env for v in value):
        return [env[v] for v in value]
    return _literal(value)


def _call(builder: Any, op: Mapping[str, Any], env: Mapping[str, Any]) -> Any:
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    for argument in op["arguments"]:
        for key, value in argument.items():  # several keys: positional, in key order
            if key == "options":
                for opt, opt_value in value.items():
                    kwargs[option_name(opt)] = _resolve(opt_value, env)
            else:
                args.append(_resolve(value, env))
    method = getattr(builder, method_name(str(op["name"])))
    return method(*args, **kwargs)


def build_case(case: WptCase, context: Any) -> tuple[Any, dict[str, np.ndarray]]:
    """Build ``case`` with ``context``'s builder; return the graph and its input feeds.

    Raises whatever the builder raises (WebNN ``TypeError`` / ``ValueError`` subclasses for
    invalid graphs).
    """
    raw = case.raw
    builder = context.create_graph_builder()
    env: dict[str, Any] = {}
    feeds: dict[str, np.ndarray] = {}
    for name, spec in raw["inputs"].items():
        desc = spec["descriptor"]
        array = decode_array(spec["data"], desc)
        descriptor = {"dataType": desc["dataType"], "shape": list(array.shape)}
        if spec.get("constant"):
            env[name] = builder.constant(descriptor, array)
        else:
            env[name] = builder.input(name, descriptor)
            feeds[name] = array
    for op in raw["operators"]:
        result = _call(builder, op, env)
        outs = op["outputs"]
        if isinstance(outs, list):
            for out_name, operand in zip(outs, result, strict=True):
                env[out_name] = operand
        else:
            env[outs] = result
    outputs = {name: env[name] for name in raw["expectedOutputs"]}
    return builder.build(outputs), feeds


def run_case(case: WptCase, context: Any) -> dict[str, np.ndarray]:
    """Build and run ``case`` once; return its outputs by name."""
    graph, feeds = build_case(case, context)
    return dict(context.compute(graph, feeds))


# ---------------------------------------------------------------------------- comparison
@dataclass(frozen=True)
class Tolerance:
    metric: str  # "ULP" or "ATOL"
    value: float
    note: str = ""


@cache
def _single_op_tolerances() -> dict[tuple[str, str, str], float]:
    """(operator, output data type, metric) -> the largest tolerance of a single-op case."""
    table: dict[tuple[str, str, str], float] = {}
    for case in load_cases():
        tol = case.raw.get("tolerance")
        if tol is None or len(case.operators) != 1:
            continue
        for out in case.raw["expectedOutputs"].values():
            key = (case.operators[0], str(out["descriptor"]["dataType"]), str(tol["metricType"]))
            table[key] = max(table.get(key, 0.0), float(tol["value"]))
    return table


def case_tolerance(case: WptCase, data_type: str) -> Tolerance:
    """The case's tolerance; for a case without one, the largest per-operator ULP tolerance."""
    tol = case.raw.get("tolerance")
    if tol is not None:
        return Tolerance(str(tol["metricType"]), float(tol["value"]))
    table = _single_op_tolerances()
    found = [(op, table[(op, data_type, "ULP")]) for op in case.operators if (op, data_type, "ULP") in table]
    if not found:
        raise LookupError(f"{case.id}: no tolerance recorded and none derivable for {data_type}")
    op, value = max(found, key=lambda t: t[1])
    return Tolerance("ULP", value, f"no tolerance in the vector; largest single-op ULP ({op})")


def _float16_bits_wpt(expected: np.ndarray) -> np.ndarray:
    """Round float values to float16 bit patterns as WPT's ``toHalf`` does (via float32).

    The 13 dropped mantissa bits are rounded half up (not to even); values too small for a
    float16 subnormal become signed zero, too large become infinity.
    """
    x = expected.astype(np.float32).reshape(-1).view(np.uint32).astype(np.int64)
    sign = (x >> 16) & 0x8000
    mant = (x >> 12) & 0x07FF  # ten mantissa bits plus one rounding bit
    exp = (x >> 23) & 0xFF
    out = sign.copy()
    nan = (exp == 0xFF) & ((x & 0x007FFFFF) != 0)
    over = (exp > 142) & ~nan
    out[over] |= 0x7C00
    out[nan] |= 0x7E00
    sub = (exp >= 103) & (exp < 113)
    if sub.any():
        m = mant[sub] | 0x0800
        shift = 114 - exp[sub]
        out[sub] |= (m >> shift) + ((m >> (shift - 1)) & 1)
    norm = (exp >= 113) & (exp <= 142)
    out[norm] |= ((exp[norm] - 112) << 10) | (mant[norm] >> 1)
    out[norm] += mant[norm] & 1
    return out.astype(np.int64).reshape(expected.shape)


def _sign_magnitude(bits: np.ndarray, sign_bit: int) -> np.ndarray:
    magnitude = bits & (sign_bit - 1)
    return np.where(bits & sign_bit, -magnitude, magnitude)


def _ulp_distance(actual: np.ndarray, expected: np.ndarray, data_type: str) -> np.ndarray:
    if data_type == "float32":
        a = actual.astype(np.float32).view(np.uint32).astype(np.int64)
        e = expected.astype(np.float32).view(np.uint32).astype(np.int64)
        return np.abs(_sign_magnitude(a, 1 << 31) - _sign_magnitude(e, 1 << 31))
    a16 = actual.astype(np.float16).view(np.uint16).astype(np.int64)
    e16 = _float16_bits_wpt(expected)
    return np.abs(_sign_magnitude(a16, 1 << 15) - _sign_magnitude(e16, 1 << 15))


def compare_output(
    name: str, actual: Any, expected: Mapping[str, Any], tolerance: Tolerance
) -> list[str]:
    """Problems found comparing one output with its expectation (empty: it matches)."""
    desc = expected["descriptor"]
    data_type = str(desc["dataType"])
    shape = [int(d) for d in desc.get("shape", ())]
    actual = np.asarray(actual)
    want_dtype = np.dtype(_NUMPY[data_type])
    if actual.dtype != want_dtype:
        return [f"{name}: data type {actual.dtype} differs from the expected {data_type}"]
    if list(actual.shape) != shape:
        return [f"{name}: shape {list(actual.shape)} differs from the expected {shape}"]
    exp = expected["data"]
    if not isinstance(exp, list):
        # One expected value for a large output: WPT checks the first 1000 elements only.
        actual = actual.reshape(-1)[:_SCALAR_CHECK_LIMIT]
        shape = list(actual.shape)
        desc = {**desc, "shape": shape}
    if data_type in _FLOAT_TYPES:
        if isinstance(exp, list):
            e = np.array([_number(v) for v in exp], dtype=np.float64).reshape(shape)
        else:
            e = np.full(shape, _number(exp), dtype=np.float64)
        a = actual.astype(np.float64)
        a_nan, e_nan = np.isnan(a), np.isnan(e)
        if tolerance.metric == "ATOL":
            with np.errstate(invalid="ignore"):
                ok = np.abs(a - e) <= tolerance.value
        else:
            dist = _ulp_distance(actual, e, data_type)
            inf = np.isinf(a) | np.isinf(e)
            ok = (dist <= tolerance.value) & ~inf & ~a_nan & ~e_nan
            ok |= inf & (a == e)
            ok |= a_nan & e_nan
        bad = np.flatnonzero(~ok)
    else:
        a, e = actual, decode_array(exp, desc)
        if want_dtype == np.uint64:  # no wider integer type: compare as Python ints
            diff = np.array(
                [abs(int(x) - int(y)) for x, y in zip(a.reshape(-1), e.reshape(-1), strict=True)],
                dtype=object,
            )
        else:
            diff = np.abs(a.astype(np.int64) - e.astype(np.int64)).reshape(-1)
        bad = np.flatnonzero(diff > tolerance.value) if diff.size else np.array([], dtype=int)
    if bad.size == 0:
        return []
    flat_a, flat_e = np.asarray(a).reshape(-1), np.asarray(e).reshape(-1)
    shown = ", ".join(f"[{i}] {flat_a[i]!r} vs {flat_e[i]!r}" for i in bad[:5])
    return [
        f"{name}: {bad.size} of {flat_a.size} elements outside {tolerance.metric} "
        f"{tolerance.value:g}{' (' + tolerance.note + ')' if tolerance.note else ''}: {shown}"
    ]


def check_case(case: WptCase, context: Any) -> None:
    """Run ``case`` and raise ``AssertionError`` listing every mismatch."""
    outputs = run_case(case, context)
    problems: list[str] = []
    for name, expected in case.raw["expectedOutputs"].items():
        if name not in outputs:
            problems.append(f"{name}: missing from the graph's outputs {sorted(outputs)}")
            continue
        tol = case_tolerance(case, str(expected["descriptor"]["dataType"]))
        problems += compare_output(name, outputs[name], expected, tol)
    if problems:
        raise AssertionError(f"{case.id}:\n  " + "\n  ".join(problems))


def operators_of(cases: Iterable[WptCase]) -> Sequence[str]:
    """Every operator used by ``cases``, sorted."""
    return sorted({op for case in cases for op in case.operators})
