"""MLGraph: a compiled graph bound to one ONNX Runtime session.

# NOTE (output buffers): on the CPU target a graph owns one aligned allocation, laid out
# by the compiler's memory plan (``manifest.extra["memory_plan"]["outputs"]``), holding
# every output; it is bound once with ONNX Runtime's I/O binding and reused by every run.
# ``run()`` never returns memory that a later run overwrites: by default it returns copies
# of the pooled outputs. Measured on a 2-core x86 machine with ORT 1.32 (one Relu, per call):
# bound + copy 2.6 us against 3.2 us for a plain ``session.run`` at 64 B, 3.05 against 3.4 at
# 16 KiB, equal at 64 KiB, 42 against 24 us at 1 MiB; so outputs larger than
# ``_POOL_COPY_LIMIT`` bytes in total take the plain path. ``run(..., reuse_outputs=True)``
# returns read-only views of the pool itself, valid until the next run: no allocation and
# no copy, for callers that consume the result before running again. A run that finds the
# pool busy (another thread) or asks for a subset of outputs takes the plain path.
"""

from __future__ import annotations

import _thread
import os
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from webnnc.cache.dtypes import NUMPY_STORAGE, WIDENED
from webnnc.runtime.errors import InputMismatchError, WebNNRuntimeError

if TYPE_CHECKING:
    from webnnc.cache.manifest import IOSpec, Manifest
    from webnnc.runtime._session import SessionUpgrade
    from webnnc.runtime.tensor import Dispatcher

__all__ = ["GRAPH_FILES", "NUMPY_DTYPES", "MLGraph", "convert_input"]

NUMPY_DTYPES: dict[str, Any] = {name: np.dtype(storage).type for name, storage in NUMPY_STORAGE.items()}
"""numpy storage of each WebNN data type at the graph boundary (int4/uint4 travel as int8/uint8)."""

_POOL_COPY_LIMIT = 1 << 16
_POOL_ALIGNMENT = 64


GRAPH_FILES: dict[str, Callable[..., Any]] = {}
"""``"save"`` / ``"load"``: how :meth:`MLGraph.save` and :meth:`MLGraph.load` reach the
compiler (they write and read the webnn-graph text format, which needs the IR). The facade
(``webnnc._context``) fills this in when it is imported; the runtime never imports the
compiler itself (ARCHITECTURE.md)."""


def _fmt(spec: IOSpec) -> str:
    return f"{spec.data_type}{list(spec.shape)}"


def _describe(x: Any) -> str:
    return f"{x.dtype}{list(x.shape)}" if isinstance(x, np.ndarray) else type(x).__name__


def convert_input(what: str, x: Any, dtype: np.dtype[Any], shape: tuple[int, ...], expected: str) -> np.ndarray:
    """``x`` as an array of ``dtype`` and ``shape``, or an :class:`InputMismatchError`.

    The conversions that keep every value's meaning are made (pywebnn's convenience, and
    numpy's default of float64 / int64 for literals): nested lists and scalars; a wider or
    narrower float to a float type (float64 -> float32), as long as finite values stay
    finite; an integer or bool to an integer type whose range holds every value; an integer
    to a float type that represents every value exactly. Anything else (float -> int, int64
    values out of int32's range, bool -> float, strings) and any shape other than the
    expected one is an error naming ``what``, the expected type and what was found.

    Args:
        what: how the error names the data, e.g. ``"input 'x'"``.
        x: the caller's data.
        dtype: the numpy storage type wanted.
        shape: the exact shape wanted.
        expected: the WebNN description for messages, e.g. ``"float32[2, 3]"``.
    """
    found = _describe(x)
    try:
        a = x if isinstance(x, np.ndarray) else np.asarray(x)
    except Exception as e:  # TypeError / ValueError, or whatever a foreign object's __array__ raises
        raise InputMismatchError(
            f"{what}: expected {expected}; cannot make an array of {found} ({type(e).__name__}: {e})"
        ) from None
    if a.dtype != dtype:
        a = _convert_values(what, a, dtype, expected)
    if a.shape != shape:
        raise InputMismatchError(f"{what}: expected shape {list(shape)} ({expected}); found {list(a.shape)}")
    return a


def _convert_values(what: str, a: np.ndarray, dtype: np.dtype[Any], expected: str) -> np.ndarray:
    src, dst = a.dtype.kind, dtype.kind
    problem = None
    if src not in "biuf":
        problem = "not numbers"
    elif dst == "f":
        if src == "b":
            problem = "booleans are not numbers of a float type"
        else:
            with np.errstate(over="ignore", invalid="ignore"):
                out = a.astype(dtype)
            if src == "f":
                if not np.array_equal(np.isfinite(out), np.isfinite(a)):
                    problem = f"values beyond {dtype}'s range"
            elif not np.array_equal(out.astype(a.dtype), a):
                problem = f"integers that {dtype} cannot represent exactly"
            if problem is None:
                return out
    elif dst in "iu" or (dst == "b" and src in "biu"):
        if src == "f":
            problem = "a float would be truncated to an integer type (cast it explicitly)"
        elif a.size and src != "b":
            info = np.iinfo(dtype) if dst != "b" else np.iinfo(np.uint8)
            lo, hi = a.min(), a.max()
            if int(lo) < int(info.min) or int(hi) > int(info.max):
                problem = f"values [{lo}, {hi}] outside {dtype}'s range [{info.min}, {info.max}]"
        if problem is None:
            return a.astype(dtype)
    else:
        problem = f"no conversion to {dtype}"
    raise InputMismatchError(f"{what}: expected {expected}; found {a.dtype} data: {problem}")


class _OutputPool:
    """Every output of a graph in one aligned allocation, bound to the session once."""

    def __init__(self, session: Any, manifest: Manifest) -> None:
        plan = manifest.extra.get("memory_plan", {}).get("outputs", {})
        layout: dict[str, tuple[int, np.dtype[Any], tuple[int, ...]]] = {}
        # the compiler's offsets; an output the plan does not place goes after them
        end = max((int(off) + int(n) for off, n in plan.values()), default=0)
        for spec in manifest.outputs:
            dtype = np.dtype(NUMPY_DTYPES[spec.data_type])
            nbytes = dtype.itemsize * int(np.prod(spec.shape, dtype=np.int64))
            placed = plan.get(spec.name)
            if placed is not None and int(placed[1]) == nbytes:
                offset = int(placed[0])
            else:
                offset = -(-end // _POOL_ALIGNMENT) * _POOL_ALIGNMENT
                end = offset + nbytes
            layout[spec.name] = (offset, dtype, tuple(spec.shape))
        self.nbytes = end
        self._memory = np.empty(end + _POOL_ALIGNMENT, np.uint8)
        base = -self._memory.ctypes.data % _POOL_ALIGNMENT
        self.arrays: dict[str, np.ndarray] = {}
        self.views: dict[str, np.ndarray] = {}
        self.binding = session.io_binding()
        for name, (offset, dtype, shape) in layout.items():
            start = base + offset
            count = int(np.prod(shape, dtype=np.int64))
            array = self._memory[start : start + count * dtype.itemsize].view(dtype).reshape(shape)
            self.binding.bind_output(name, "cpu", 0, dtype, list(shape), array.ctypes.data)
            self.arrays[name] = array
            view = array.view()
            view.flags.writeable = False
            self.views[name] = view
        self.session = session  # the pool's binding belongs to this session only
        self.lock = _thread.allocate_lock()  # threading.Lock, without importing threading (0.7 ms)


class _Unusable:
    """The session of a graph that lost it (``MLGraph._switch``): every use says why."""

    def __init__(self, why: str) -> None:
        self.why = why

    def __getattr__(self, name: str) -> Any:
        raise WebNNRuntimeError(self.why)


class MLGraph:
    """A compiled WebNN graph. Run it with ``context.compute(graph, inputs)`` or ``graph.run``.

    Attributes:
        build_info: how the graph was obtained (``source``: cache-hit / compiled /
            compiled-uncached / loaded, the cache key, and per-step timings in ms).
    """

    def __init__(
        self,
        manifest: Manifest,
        session: Any,
        *,
        build_info: dict[str, Any],
        ir_graph: Any = None,
    ) -> None:
        self._manifest = manifest
        self._session = session
        self._ir_graph = ir_graph
        self.build_info = build_info
        self._inputs = [(s.name, np.dtype(NUMPY_DTYPES[s.data_type]), tuple(s.shape), s) for s in manifest.inputs]
        self._input_names = frozenset(s.name for s in manifest.inputs)
        self._output_names = [s.name for s in manifest.outputs]
        self._pool: _OutputPool | None = None
        self._output_bytes = sum(
            np.dtype(NUMPY_DTYPES[s.data_type]).itemsize * int(np.prod(s.shape, dtype=np.int64))
            for s in manifest.outputs
        )
        self._pool_ok = manifest.target == "onnx-cpu" and all(
            s.data_type not in WIDENED for s in (*manifest.inputs, *manifest.outputs)
        )
        self._dispatcher: Dispatcher | None = None
        self._upgrade: SessionUpgrade | None = None  # the prepacked session still to come (loader.py)

    # -- the session's final form
    def finish_loading(self) -> bool:
        """Switch to the graph's final session now rather than at its second call.

        A graph compiled with weight prepacking opens on an unpacked session, so that its first
        result comes at once, and switches to the prepacked one at its second call
        (``load(prepacking=...)``; ``SessionUpgrade`` in ``runtime/_session.py``). Call this
        where that one-time wait is better spent now: after loading in a server, or before
        timing steady-state runs. Returns True when the graph runs on its final session (False
        when the switch was refused, with a warning: the graph stays unpacked).
        """
        upgrade = self._upgrade
        if upgrade is not None:
            with upgrade.lock:
                if self._upgrade is upgrade:
                    self._switch(upgrade)
        return self.build_info.get("session", {}).get("prepacking") != "deferred"

    def _current_session(self) -> Any:
        """The session a call runs on; the call that is due switches it first (under the lock,
        so no call sees the graph between its two sessions)."""
        upgrade = self._upgrade
        if upgrade is not None:
            with upgrade.lock:
                upgrade.calls += 1
                if upgrade.calls >= upgrade.START_AT_CALL and self._upgrade is upgrade:
                    self._switch(upgrade)
                return self._session
        return self._session

    def _switch(self, upgrade: SessionUpgrade) -> None:
        try:
            if not upgrade.refused():
                self._install_final(upgrade)
        finally:
            # only now: a call that finds no upgrade pending runs on ``_session`` unlocked
            self._upgrade = None

    def _install_final(self, upgrade: SessionUpgrade) -> None:
        # the first session goes before the final one maps the weights again (peak memory);
        # a call still running on it elsewhere keeps it alive until it returns
        self._session = self._pool = None
        if self._dispatcher is not None:
            self._dispatcher.rebind(None)
        session = upgrade.final()
        if session is None:
            try:
                session = upgrade.reopen()
            except Exception as e:  # the entry went away in between: this graph cannot run again
                why = (f"graph {self._manifest.key[:12]}…: its prepacked session failed ({upgrade.problem}) and "
                       f"reopening the unpacked one failed too ({type(e).__name__}: {str(e).splitlines()[0]}); "
                       "load it again")
                self._session = _Unusable(why)
                if self._dispatcher is not None:
                    self._dispatcher.rebind(self._session)
                raise WebNNRuntimeError(why) from None
        else:
            self.build_info.setdefault("session", {})["prepacking"] = "on (deferred)"
            self.build_info.setdefault("timings_ms", {})["session.prepacked"] = upgrade.created_ms
        self._session = session
        if self._dispatcher is not None:
            self._dispatcher.rebind(session)

    # -- description (pywebnn's names first)
    def get_input_names(self) -> list[str]:
        """The graph's input names, in declaration order."""
        return self.input_names

    def get_output_names(self) -> list[str]:
        """The graph's output names, in the order given to ``build()``."""
        return self.output_names

    @property
    def operand_count(self) -> int:
        """Operands of the graph as built: inputs, constants and every operation's outputs.

        Raises:
            WebNNRuntimeError: the graph came from ``runtime.load()``, without its IR.
        """
        ir = self._builder_graph("operand_count")
        return len(ir.inputs) + len(ir.constants) + sum(len(n.outputs) for n in ir.nodes)

    @property
    def operation_count(self) -> int:
        """Operations of the graph as built (before webnnc's optimizer).

        Raises:
            WebNNRuntimeError: the graph came from ``runtime.load()``, without its IR.
        """
        return len(self._builder_graph("operation_count").nodes)

    def _builder_graph(self, what: str) -> Any:
        if self._ir_graph is None:
            raise WebNNRuntimeError(
                f"MLGraph.{what}: this graph was loaded from a compiled artifact without the graph "
                "it was built from; build it with a builder (or MLGraph.load a .webnn file)"
            )
        return self._ir_graph

    # pywebnn's shape-inference diagnostics. webnnc infers every shape statically at build
    # time (an operand of unknown shape is a build error), so nothing is ever unknown.
    def _operands(self, what: str) -> list[Any]:
        ir = self._builder_graph(what)
        return [*ir.inputs, *ir.constants, *(v for n in ir.nodes for v in n.outputs)]

    def count_empty_shapes(self) -> int:
        """Operands of rank 0 (scalars)."""
        return sum(1 for v in self._operands("count_empty_shapes") if not v.shape)

    def count_scalar_constants(self) -> int:
        """Constants of rank 0."""
        return sum(1 for v in self._builder_graph("count_scalar_constants").constants if not v.shape)

    def count_unknown_shapes(self) -> int:
        """Always 0: every webnnc operand has a static shape."""
        self._builder_graph("count_unknown_shapes")
        return 0

    def count_unknown_shapes_excluding_scalar_ops(self) -> int:
        """Always 0 (see :meth:`count_unknown_shapes`)."""
        return self.count_unknown_shapes()

    def debug_unknown_shapes(self) -> list[str]:
        """Always empty (see :meth:`count_unknown_shapes`)."""
        self._builder_graph("debug_unknown_shapes")
        return []

    def debug_unknown_shapes_structured(self) -> list[dict[str, Any]]:
        """Always empty (see :meth:`count_unknown_shapes`)."""
        self._builder_graph("debug_unknown_shapes_structured")
        return []

    def debug_operand(self, idx: int) -> str:
        """One line about operand ``idx`` (inputs, then constants, then operation outputs)."""
        operands = self._operands("debug_operand")
        if not 0 <= idx < len(operands):
            raise IndexError(f"debug_operand: index {idx} out of range; the graph has {len(operands)} operands")
        v = operands[idx]
        kind = "Input" if v.producer is None and v.const is None else "Constant" if v.const is not None else "Output"
        return f"Operand[{idx}]: name={v.name!r}, kind={kind}, type={v.data_type.value}, shape={list(v.shape)}"

    def save(self, path: str | os.PathLike[str], quantized: bool = False) -> None:
        """Write the graph as it was built to ``path`` in the webnn-graph text format
        (``.webnn``, plus ``.weights`` and ``.manifest.json`` beside it when it has constants).

        ``MLGraph.load(path)`` (and ``webnnc compile path``) read it back. ``quantized`` is
        accepted for pywebnn compatibility; the text format has no such flag.

        Raises:
            WebNNRuntimeError: the graph has no builder graph (see :attr:`operand_count`),
                or the compiler is not installed.
        """
        _graph_files("save")(self._builder_graph("save"), path)

    @staticmethod
    def load(
        path: str | os.PathLike[str],
        manifest_path: str | os.PathLike[str] | None = None,
        weights_path: str | os.PathLike[str] | None = None,
    ) -> MLGraph:
        """Build a graph from a webnn-graph text file (``.webnn``) for the default CPU context
        (a cache hit after the first time).

        Args:
            path: the ``.webnn`` file.
            manifest_path: its ``.manifest.json`` (default: beside it).
            weights_path: its ``.weights`` file (default: beside it).
        """
        graph: MLGraph = _graph_files("load")(path, manifest_path, weights_path)
        return graph

    @property
    def input_names(self) -> list[str]:
        return [s.name for s in self._manifest.inputs]

    @property
    def output_names(self) -> list[str]:
        return list(self._output_names)

    @property
    def input_specs(self) -> tuple[IOSpec, ...]:
        return self._manifest.inputs

    @property
    def output_specs(self) -> tuple[IOSpec, ...]:
        return self._manifest.outputs

    @property
    def manifest(self) -> Manifest:
        return self._manifest

    @property
    def cache_hit(self) -> bool:
        return bool(self.build_info.get("source") in ("cache-hit", "loaded"))

    def __repr__(self) -> str:
        ins = ", ".join(f"{s.name}: {_fmt(s)}" for s in self._manifest.inputs)
        outs = ", ".join(f"{s.name}: {_fmt(s)}" for s in self._manifest.outputs)
        return f"<MLGraph ({ins}) -> ({outs}) [{self._manifest.target}, {self.build_info.get('source')}]>"

    # -- execution
    def _feeds(self, inputs: Mapping[str, Any]) -> dict[str, Any]:
        if not isinstance(inputs, Mapping):
            raise InputMismatchError(f"inputs must be a dict of name -> array; found {type(inputs).__name__}")
        feeds: dict[str, Any] = {}
        for name, dtype, shape, spec in self._inputs:
            try:
                x = inputs[name]
            except KeyError:
                expected = ", ".join(f"{s.name}: {_fmt(s)}" for s in self._manifest.inputs)
                raise InputMismatchError(
                    f"missing input {name!r}; the graph expects {{{expected}}}, got {sorted(inputs)}"
                ) from None
            if type(x) is not np.ndarray or x.dtype != dtype or x.shape != shape:
                x = convert_input(f"input {name!r}", x, dtype, shape, _fmt(spec))
            feeds[name] = x
        if len(inputs) != len(feeds):
            extra = sorted(set(inputs) - self._input_names)
            raise InputMismatchError(f"unknown inputs {extra}; the graph's inputs are {self.input_names}")
        return feeds

    def run(
        self,
        inputs: Mapping[str, Any],
        outputs: Sequence[str] | None = None,
        *,
        reuse_outputs: bool = False,
    ) -> dict[str, np.ndarray]:
        """Run once: named arrays in, named arrays (in the graph's data types) out.

        Args:
            inputs: input name -> array (converted to the input's data type if needed).
            outputs: the outputs to compute (default: all).
            reuse_outputs: return read-only views of the graph's output buffers instead of
                fresh arrays; they are overwritten by the next run of this graph. (CPU target
                only; other targets, a concurrent run, or ``outputs`` given: fresh arrays.)
        """
        feeds = self._feeds(inputs)
        session = self._current_session()
        if outputs is None and self._pool_ok:
            pooled = self._run_pooled(session, feeds, reuse_outputs)
            if pooled is not None:
                return pooled
        names = self._output_names if outputs is None else list(outputs)
        results = session.run(names, feeds)
        return dict(zip(names, results, strict=True))

    def _run_pooled(
        self, session: Any, feeds: dict[str, Any], reuse_outputs: bool
    ) -> dict[str, np.ndarray] | None:
        if not (reuse_outputs or self._output_bytes <= _POOL_COPY_LIMIT):
            return None
        pool = self._pool
        if pool is None or pool.session is not session:  # bound to the session it was made for
            pool = self._pool = _OutputPool(session, self._manifest)
        if not pool.lock.acquire(blocking=False):
            return None
        try:
            for name, x in feeds.items():
                pool.binding.bind_cpu_input(name, x)
            pool.session.run_with_iobinding(pool.binding)
            if reuse_outputs:
                return dict(pool.views)
            return {name: a.copy() for name, a in pool.arrays.items()}
        finally:
            pool.lock.release()

    __call__ = run


def _graph_files(what: str) -> Callable[..., Any]:
    fn = GRAPH_FILES.get(what)
    if fn is None:
        raise WebNNRuntimeError(
            f"MLGraph.{what}: needs the webnnc compiler, reached through the facade: "
            f"use webnnc.MLGraph.{what} (pip install 'webnnc[compiler]' where only the runtime is installed)"
        )
    return fn
