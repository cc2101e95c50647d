"""MLTensor and dispatch(): buffers that stay bound (and on the GPU, on the device) across runs.

``context.compute()`` takes host arrays and returns new host arrays: every call copies inputs
in and outputs out. ``context.dispatch(graph, inputs, outputs)`` runs on :class:`MLTensor`
buffers instead: they are allocated once where the graph runs (device memory for the
``onnx-cuda`` target), written and read only when the caller asks (``write_tensor`` /
``read_tensor``), and bound to the session with ONNX Runtime's I/O binding.

# NOTE: CUDA graphs. A session created with ``enable_cuda_graph`` captures the kernels of a
# run once and replays them; the replay reads and writes the device addresses that were bound
# at capture time. So every distinct set of bound tensors gets its own captured graph
# (ORT's ``gpu_graph_id`` run option), remembered by the tensors' identities; past
# ``MAX_CUDA_GRAPHS`` sets a run goes without a graph (id -1) rather than capture forever.
# ``compute()`` on such a session goes through tensors the graph owns (``HostBridge``), so
# host-array calls replay one graph too.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import onnxruntime as ort

from webnnc.cache._log import get_logger
from webnnc.cache.dtypes import WIDENED
from webnnc.runtime.errors import InputMismatchError, WebNNRuntimeError
from webnnc.runtime.graph import NUMPY_DTYPES, convert_input

if TYPE_CHECKING:
    from webnnc.cache.manifest import IOSpec, Manifest

__all__ = ["MAX_CUDA_GRAPHS", "Dispatcher", "HostBridge", "MLTensor", "numpy_dtype"]

logger = get_logger(__name__)

MAX_CUDA_GRAPHS = 16


def numpy_dtype(data_type: str) -> np.dtype[Any]:
    """The numpy dtype of a WebNN data type name."""
    # int4/uint4 have no ONNX Runtime tensor type of their own to allocate
    supported = sorted(t for t in NUMPY_DTYPES if t not in WIDENED)
    if data_type not in supported:
        raise WebNNRuntimeError(f"MLTensor: unsupported data type {data_type!r}; expected one of {supported}")
    return np.dtype(NUMPY_DTYPES[data_type])


class MLTensor:
    """A buffer of one data type and shape, on the host (``"cpu"``) or a CUDA device.

    Create it with ``context.create_tensor(...)``; fill it with ``context.write_tensor``, read
    it with ``context.read_tensor`` and run graphs on it with ``context.dispatch``.
    """

    __slots__ = ("_shape", "_value", "data_type", "device", "exportable_to_gpu", "readable", "writable")

    def __init__(
        self, data_type: str, shape: Sequence[int], *, device: str = "cpu",
        readable: bool = True, writable: bool = True, exportable_to_gpu: bool = False,
    ) -> None:
        dims = tuple(int(d) for d in shape)
        if any(d < 0 for d in dims):
            raise WebNNRuntimeError(f"MLTensor: dimensions must be non-negative; found {list(dims)}")
        self.data_type = data_type
        self._shape = dims
        self.device = device
        self.readable = readable
        self.writable = writable
        # pywebnn's flag; a CUDA tensor already lives where a GPU consumer can take it
        self.exportable_to_gpu = exportable_to_gpu
        ort_device = {"cpu": "cpu", "gpu": "cuda"}.get(device)
        if ort_device is None:
            raise WebNNRuntimeError(f"MLTensor: device must be 'cpu' or 'gpu'; found {device!r}")
        self._value: Any = ort.OrtValue.ortvalue_from_shape_and_type(
            list(dims), numpy_dtype(data_type), ort_device, 0
        )

    @property
    def shape(self) -> list[int]:
        """The dimensions (a new list, as in pywebnn)."""
        return list(self._shape)

    @property
    def size(self) -> int:
        """The number of elements."""
        return math.prod(self._shape)

    @property
    def nbytes(self) -> int:
        return self.size * numpy_dtype(self.data_type).itemsize

    @property
    def ortvalue(self) -> Any:
        """The ONNX Runtime ``OrtValue`` holding the data (for interop)."""
        if self._value is None:
            raise WebNNRuntimeError("MLTensor: this tensor was destroyed")
        return self._value

    def destroy(self) -> None:
        """Release the buffer now (the spec's ``MLTensor.destroy()``)."""
        self._value = None

    def write(self, data: Any) -> None:
        if not self.writable:
            raise WebNNRuntimeError(f"write_tensor: {self!r} was created with writable=False")
        dtype = numpy_dtype(self.data_type)
        array = data
        if type(data) is not np.ndarray or data.dtype != dtype or data.shape != self._shape:
            array = convert_input(
                f"write_tensor: {self!r}", data, dtype, self._shape, f"{self.data_type}{list(self._shape)}"
            )
        self.ortvalue.update_inplace(np.ascontiguousarray(array))

    def read(self) -> np.ndarray[Any, Any]:
        if not self.readable:
            raise WebNNRuntimeError(f"read_tensor: {self!r} was created with readable=False")
        result: np.ndarray[Any, Any] = self.ortvalue.numpy()
        if self.device == "cpu":
            # a CPU OrtValue's numpy() may share the tensor's memory: the caller gets its own
            # copy, which the next dispatch will not overwrite (a device tensor's numpy() is
            # already a fresh host array)
            result = np.array(result, copy=True)
        return result

    def __repr__(self) -> str:
        return f"MLTensor({self.data_type}{list(self.shape)} on {self.device})"


def _check(kind: str, specs: Sequence[IOSpec], tensors: Mapping[str, MLTensor], device: str) -> None:
    expected = {s.name: s for s in specs}
    if set(tensors) != set(expected):
        raise InputMismatchError(
            f"dispatch: {kind}s must be exactly {sorted(expected)}; found {sorted(tensors)}"
        )
    for name, tensor in tensors.items():
        spec = expected[name]
        if not isinstance(tensor, MLTensor):
            raise InputMismatchError(f"dispatch: {kind} {name!r} must be an MLTensor; found {type(tensor).__name__}")
        if tensor.data_type != spec.data_type or tensor._shape != tuple(spec.shape):
            raise InputMismatchError(
                f"dispatch: {kind} {name!r} must be {spec.data_type}{list(spec.shape)}; "
                f"found {tensor.data_type}{list(tensor.shape)}"
            )
        if tensor.device != device:
            raise InputMismatchError(
                f"dispatch: {kind} {name!r} lives on {tensor.device}, the graph runs on {device}; "
                "create tensors with the graph's context"
            )


class Dispatcher:
    """Runs one session on bound MLTensors; rebinding only when the tensors change."""

    def __init__(self, session: Any, manifest: Manifest, *, device: str, cuda_graph: bool = False) -> None:
        self._session = session
        self._manifest = manifest
        self.device = device
        self.cuda_graph = cuda_graph
        self._binding: Any = session.io_binding()
        self._bound: tuple[int, ...] | None = None
        # bound tensor identities -> the run options naming that set's captured CUDA graph
        self._graph_runs: dict[tuple[int, ...], Any] = {}
        self._uncaptured: Any = None

    def rebind(self, session: Any) -> None:
        """Run on ``session`` from now on (a graph's final session replacing its first; None
        lets the old one go in between); bound again at the next dispatch."""
        self._session = session
        self._binding = None
        self._bound = None

    def dispatch(self, inputs: Mapping[str, MLTensor], outputs: Mapping[str, MLTensor]) -> None:
        _check("input", self._manifest.inputs, inputs, self.device)
        _check("output", self._manifest.outputs, outputs, self.device)
        ins = [(s.name, inputs[s.name]) for s in self._manifest.inputs]
        outs = [(s.name, outputs[s.name]) for s in self._manifest.outputs]
        key = tuple(id(t.ortvalue) for _, t in ins + outs)
        if self._binding is None:
            self._binding = self._session.io_binding()
        if key != self._bound:
            self._binding.clear_binding_inputs()
            self._binding.clear_binding_outputs()
            for name, t in ins:
                self._binding.bind_ortvalue_input(name, t.ortvalue)
            for name, t in outs:
                self._binding.bind_ortvalue_output(name, t.ortvalue)
            self._bound = key
        run_options = self._graph_run_options(key) if self.cuda_graph else None
        self._session.run_with_iobinding(self._binding, run_options)

    def _graph_run_options(self, key: tuple[int, ...]) -> Any:
        run_options = self._graph_runs.get(key)
        if run_options is not None:
            return run_options
        if len(self._graph_runs) < MAX_CUDA_GRAPHS:
            run_options = self._graph_runs[key] = _run_options(len(self._graph_runs))
            return run_options
        if self._uncaptured is None:
            logger.warning(
                "dispatch: more than %d distinct tensor sets on one graph; running without a CUDA graph",
                MAX_CUDA_GRAPHS,
            )
            self._uncaptured = _run_options(-1)
        return self._uncaptured


def _run_options(graph_id: int) -> Any:
    """Run options naming a captured CUDA graph (-1: run without one)."""
    run_options = ort.RunOptions()
    run_options.add_run_config_entry("gpu_graph_id", str(graph_id))
    return run_options


class HostBridge:
    """``session.run(names, feeds)`` over tensors the graph owns, for CUDA-graph sessions.

    MLGraph calls ``run`` as it would on a plain session; the bridge copies the host inputs
    into fixed device tensors, dispatches (replaying the captured CUDA graph) and copies the
    requested outputs back. Anything else is forwarded to the real session.
    """

    def __init__(self, session: Any, manifest: Manifest, dispatcher: Dispatcher) -> None:
        self._session = session
        self._dispatcher = dispatcher
        device = dispatcher.device
        self._inputs = {s.name: MLTensor(s.data_type, s.shape, device=device) for s in manifest.inputs}
        self._outputs = {s.name: MLTensor(s.data_type, s.shape, device=device) for s in manifest.outputs}

    def run(self, names: Sequence[str] | None, feeds: Mapping[str, Any], run_options: Any = None) -> list[Any]:
        for name, array in feeds.items():
            self._inputs[name].write(array)
        self._dispatcher.dispatch(self._inputs, self._outputs)
        wanted = list(self._outputs) if names is None else list(names)
        return [self._outputs[n].read() for n in wanted]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)
