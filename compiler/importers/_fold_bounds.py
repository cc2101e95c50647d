"""Bounds on import-time constant folding: size before, time and memory during.

The ONNX importer folds every node whose inputs are constants with ONNX's reference
evaluator. A tiny file can ask it for anything: ``ConstantOfShape([25000, 25000])`` is
2.5 GB of zeros, a ``Loop`` with a trip count of 2^40 never ends. :func:`bounded_fold` is
the one gate every fold passes, for every operator alike:

1. **size, before**: ONNX's own shape inference runs on the node with its actual constant
   inputs (shape-like inputs as initializers, so ``ConstantOfShape``, ``Expand``, ``Tile``,
   ``Range``, ``Resize``, ``Pad``, ``OneHot``... infer from their values); a result that
   would exceed the element limit is not computed (~90 us a node). Where the inputs already
   bound the result, that bound replaces it while it is within the limit: broadcasting ops
   by their broadcast shape, ``Shape``/``Size`` by the input's rank, unary, gather, scatter,
   slice, reshape and reduction ops by the product of their inputs' sizes
   (``_BOUNDED_BY_INPUTS``). A ``Constant`` node is no fold at all: the importer reads its
   value like an initializer's, which the file already holds;
2. **time and memory, during**: the evaluation runs under a watchdog thread that raises
   :class:`FoldInterrupted` in the folding thread (``PyThreadState_SetAsyncExc``) when it
   runs past the time limit or the process grows past the memory limit, which bounds what
   shape inference cannot see (loop bodies, data-dependent shapes);
3. **size, after**: the result's element count is checked again.

A node that is not folded goes to its converter (``Expand`` of a constant becomes an
``expand``, whose output the builder bounds again); one without a converter (``Loop``) is
reported with the reason, in the importer's one error listing unsupported nodes.

Limits, each raised by an environment variable:

- ``WEBNNC_IMPORT_FOLD_ELEMENTS``: elements a folded result may have (default 2^24);
- ``WEBNNC_IMPORT_FOLD_SECONDS``: seconds one node's folding may take (default 10);
- ``WEBNNC_IMPORT_FOLD_MEMORY``: how much the process may grow while one node folds
  (default ``512M``).
"""

from __future__ import annotations

import ctypes
import logging
import math
import os
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from webnnc.compiler.limits import parse_size
from webnnc.compiler.ops import MAX_IMPORT_FOLDED_ELEMENTS

if TYPE_CHECKING:
    import onnx

__all__ = ["FoldInterrupted", "FoldRefused", "bounded_fold", "fold_limits"]

logger = logging.getLogger(__name__)

ELEMENTS_ENV = "WEBNNC_IMPORT_FOLD_ELEMENTS"
SECONDS_ENV = "WEBNNC_IMPORT_FOLD_SECONDS"
MEMORY_ENV = "WEBNNC_IMPORT_FOLD_MEMORY"
_DEFAULT_SECONDS = 10.0
_DEFAULT_MEMORY = 512 << 20
# Inputs up to this many elements go to shape inference with their values (shape, sizes,
# repeats, pads, trip counts are all tiny); larger ones with their type and shape only, so
# a weight is never serialized for it.
_VALUE_INPUT_MAX_ELEMENTS = 4096
# How often the watchdog looks at the clock and the process size while a node folds.
_POLL_S = 0.02


class FoldInterrupted(BaseException):
    """Raised inside a fold that ran past its time or memory limit.

    A ``BaseException``, so that the reference evaluator's own ``except Exception`` blocks
    cannot swallow it and keep looping.
    """


class FoldRefused(str):
    """Why a constant node was not folded (a limit): the importer neither expands such a node
    into its ONNX function body, which would compute the same thing, nor retries it."""

    __slots__ = ()


def fold_limits() -> tuple[int, float, int]:
    """(elements, seconds, memory bytes) for one node's folding, from the environment (the
    importer reads them once per import)."""
    from webnnc.compiler.importers._onnx_core import OnnxImportError

    def number(env: str, default: float) -> float:
        raw = os.environ.get(env)
        if not raw:
            return default
        try:
            value = float(raw)
        except ValueError:
            value = -1.0
        if not value > 0 or math.isinf(value):
            raise OnnxImportError(f"{env}: expected a positive number; found {raw!r}")
        return value

    elements = int(number(ELEMENTS_ENV, MAX_IMPORT_FOLDED_ELEMENTS))
    seconds = number(SECONDS_ENV, _DEFAULT_SECONDS)
    raw_memory = os.environ.get(MEMORY_ENV)
    memory = parse_size(raw_memory, MEMORY_ENV) if raw_memory else _DEFAULT_MEMORY
    return elements, seconds, memory


def _rss_bytes() -> int:
    """The process's resident size now (Linux), else its peak so far."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return int(peak) * (1 if sys.platform == "darwin" else 1024)


class _Watchdog:
    """One daemon thread per process that interrupts the armed thread past its limits.

    Arming and disarming only set a field under a lock (about 1 us; a notify per fold woke
    the thread for every one of the ~100 folds of an import, and reading the process size
    at each arm cost 17 us): the thread polls every ``_POLL_S`` while folds run, takes the
    size baseline when it first sees a fold, and sleeps without a timeout once idle.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        # thread, deadline, memory budget, token; None when nothing is folding
        self._armed: tuple[int, float, int, int] | None = None
        self._token = 0
        self._fired: tuple[int, str] | None = None
        self._sleeping = False
        self._pid = -1

    def arm(self, seconds: float, memory: int) -> int:
        with self._cond:
            if self._pid != os.getpid():  # first use, or a forked child (threads do not survive fork)
                self._pid = os.getpid()
                self._sleeping = False
                threading.Thread(target=self._run, name="webnnc-fold-watchdog", daemon=True).start()
            self._token += 1
            self._armed = (threading.get_ident(), time.monotonic() + seconds, memory, self._token)
            if self._sleeping:
                self._sleeping = False
                self._cond.notify()
            return self._token

    def disarm(self, token: int) -> str | None:
        """Stop watching; the reason when the watchdog fired (any pending interrupt is cleared)."""
        with self._cond:
            if self._armed is not None and self._armed[3] == token:
                self._armed = None
            fired = self._fired[1] if self._fired is not None and self._fired[0] == token else None
        if fired is not None:  # raised already, or still pending: make sure it is not raised later
            ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(threading.get_ident()), None)
        return fired

    def _run(self) -> None:
        seen_token, rss_limit, idle_polls = -1, 0, 0
        with self._cond:
            while True:
                if idle_polls > 50:  # a second without folds: sleep until the next arm
                    self._sleeping = True
                    while self._sleeping:
                        self._cond.wait()
                    idle_polls = 0
                self._cond.wait(_POLL_S)
                armed = self._armed
                if armed is None:
                    idle_polls += 1
                    continue
                idle_polls = 0
                thread, deadline, memory, token = armed
                if token != seen_token:  # a new fold: its baseline
                    seen_token, rss_limit = token, _rss_bytes() + memory
                    continue
                reason = "time" if time.monotonic() >= deadline else "memory" if _rss_bytes() > rss_limit else None
                if reason is None:
                    continue
                self._armed = None
                self._fired = (token, reason)
                ctypes.pythonapi.PyThreadState_SetAsyncExc(
                    ctypes.c_ulong(thread), ctypes.py_object(FoldInterrupted))


_WATCHDOG = _Watchdog()


def _predicted_elements(
    node: onnx.NodeProto, inputs: Sequence[np.ndarray | None], opsets: dict[str, int]
) -> int | None:
    """Elements of the node's outputs by ONNX shape inference on its actual inputs; None when
    some output's shape stays unknown (data-dependent, or a loop's scan outputs)."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.ModelProto()
    model.ir_version = onnx.IR_VERSION
    for domain, version in opsets.items():
        model.opset_import.add(domain=domain, version=version)
    graph = model.graph
    clone = graph.node.add()
    clone.CopyFrom(node)
    del clone.input[:]
    del clone.output[:]
    for i, (name, value) in enumerate(zip(node.input, inputs, strict=True)):
        clone.input.append(f"in{i}" if name else "")
        if not name or value is None:
            continue
        arr = np.asarray(value)
        if arr.size <= _VALUE_INPUT_MAX_ELEMENTS:
            graph.initializer.append(numpy_helper.from_array(arr, f"in{i}"))
        else:
            graph.input.append(helper.make_tensor_value_info(
                f"in{i}", helper.np_dtype_to_tensor_dtype(arr.dtype), list(arr.shape)))
    for i in range(len(node.output)):
        clone.output.append(f"out{i}")
        graph.output.add(name=f"out{i}")
    # data_prop stays off: every input is an initializer, which shape inference reads anyway,
    # and ONNX's data propagation materializes values as shape protos (a 10^7-element Range
    # -> Cast took 5 s and 1.4 GB in onnx 1.23)
    inferred = onnx.shape_inference.infer_shapes(model)
    total = 0
    for out in inferred.graph.output:
        tt = out.type.tensor_type
        if not tt.HasField("shape") or not all(d.HasField("dim_value") for d in tt.shape.dim):
            return None
        total += math.prod(d.dim_value for d in tt.shape.dim)
    return total


# Elementwise operators with broadcasting: the result has the broadcast shape of the inputs.
_BROADCASTING = frozenset({
    "Add", "And", "BitShift", "Div", "Equal", "Greater", "GreaterOrEqual", "Less", "LessOrEqual",
    "Max", "Mean", "Min", "Mod", "Mul", "Or", "Pow", "Sub", "Sum", "Where", "Xor",
})
# Operators whose results hold at most max(product, sum) of their inputs' element counts:
# unary elementwise ops, gathers, scatters, slices, concatenation, reshapes, reductions. None
# of them takes a size, shape, count or repeat as a value (those are ConstantOfShape, Expand,
# Tile, Range, Resize, Pad, OneHot, Loop, ...: they always get the forecast).
_BOUNDED_BY_INPUTS = frozenset({
    "Abs", "ArgMax", "ArgMin", "Cast", "CastLike", "Ceil", "Clip", "Concat", "Erf", "Exp", "Flatten",
    "Floor", "Gather", "GatherElements", "GatherND", "Identity", "IsInf", "IsNaN", "Log", "Neg", "Not",
    "Reciprocal", "ReduceL1", "ReduceL2", "ReduceMax", "ReduceMean", "ReduceMin", "ReduceProd",
    "ReduceSum", "ReduceSumSquare", "Relu", "Reshape", "Round", "ScatterElements", "ScatterND",
    "Sign", "Slice", "Sqrt", "Squeeze", "Transpose", "Unsqueeze",
})


def _bound_by_inputs(node: onnx.NodeProto, inputs: Sequence[np.ndarray | None]) -> int | None:
    """An upper bound of the node's result elements from its inputs alone, when its operator
    has one (``_BROADCASTING``: exact; ``_BOUNDED_BY_INPUTS``); None otherwise."""
    if node.domain not in ("", "ai.onnx"):
        return None
    present = [x for x in inputs if x is not None]
    if node.op_type in _BROADCASTING:
        try:
            return math.prod(np.broadcast_shapes(*(np.shape(x) for x in present)))
        except ValueError:  # not broadcastable: the evaluator will say so, the forecast first
            return None
    if node.op_type in ("Shape", "Size"):
        return max(1, max((np.ndim(x) for x in present), default=0))
    if node.op_type not in _BOUNDED_BY_INPUTS:
        return None
    sizes = [int(np.size(x)) for x in present]
    return max(math.prod(max(1, n) for n in sizes), sum(sizes)) * max(1, len(node.output))


def bounded_fold(
    node: onnx.NodeProto,
    inputs: Sequence[np.ndarray | None],
    opsets: dict[str, int],
    evaluate: Callable[[], list[np.ndarray] | None],
    limits: tuple[int, float, int] | None = None,
) -> list[np.ndarray] | FoldRefused | None:
    """``evaluate()`` (the node's fold) within the import folding limits.

    Args:
        limits: ``fold_limits()``, read once per import by the caller (default: read now).

    Returns:
        The folded results; or why folding was refused (a size, time or memory limit); or
        None when the evaluator could not fold the node (the caller converts it instead).
    """
    elements, seconds, memory = limits if limits is not None else fold_limits()
    try:
        bound = _bound_by_inputs(node, inputs)
        # the forecast (ONNX shape inference on the node, ~90 us) only where a cheap bound
        # from the inputs' sizes does not already settle it
        predicted = bound if bound is not None and bound <= elements else _predicted_elements(node, inputs, opsets)
    except Exception as e:  # inference is a forecast; the watchdog and the after-check still hold
        logger.debug("no size forecast for %s %r: %s", node.op_type, node.name, e)
        predicted = None
    if predicted is not None and predicted > elements:
        return FoldRefused(f"folding it would make {predicted} elements, above the import folding limit of "
                f"{elements} ({ELEMENTS_ENV} raises it)")
    token = _WATCHDOG.arm(seconds, memory)
    results: list[np.ndarray] | None = None
    fired: str | None = None
    try:
        try:
            results = evaluate()
        finally:
            fired = _WATCHDOG.disarm(token)
    except FoldInterrupted:  # raised while disarming: ask again for the reason
        fired = fired or _WATCHDOG.disarm(token) or "time"
    if fired == "time":
        return FoldRefused(f"folding it ran past the {seconds:g} s import folding limit ({SECONDS_ENV} raises it)")
    if fired == "memory":
        return FoldRefused(f"folding it grew the process by more than {memory} bytes, the import folding "
                f"memory limit ({MEMORY_ENV} raises it)")
    if results is not None and sum(r.size for r in results) > elements:
        return FoldRefused(f"its folded result has {sum(r.size for r in results)} elements, above the import "
                f"folding limit of {elements} ({ELEMENTS_ENV} raises it)")
    return results
