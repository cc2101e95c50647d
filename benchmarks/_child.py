"""One measured process of ``run_all.py``: import, load, first run, warm runs, peak RSS.

Run by the parent as ``python _child.py '<json spec>'``; prints one JSON line. It imports
only the standard library at the top, so the same file runs under the project's Python
(webnnc, ONNX Runtime) and under the peer's Python 3.12 virtual environment (pywebnn),
where webnnc is not installed: the workload functions then come from a copy of
``compiler/workloads.py`` named by ``workloads_path``.

Phases, each timed with ``time.perf_counter``:

- import: numpy and the library under test (``import webnnc``, ``import webnnc.runtime``,
  ``import onnxruntime`` or ``import webnn``);
- load: everything between import and a runnable graph: building the graph with the
  builder (compile on a miss, cache lookup + session on a hit), ``runtime.load()``, or
  creating an ONNX Runtime session (which optimizes the model);
- first: the first ``compute()`` / ``run()``;
- peer method (pywebnn's page): calls 1-5, cold = call 1, warm = mean of calls 2-5;
- warm: single calls after warm-up, until ``warm_runs`` calls or ``warm_budget_s``.
"""

from __future__ import annotations

import json
import resource
import statistics
import sys
import time
from typing import Any


class PeerBuilderAdapter:
    """pywebnn's builder under the keyword names ``compiler/workloads.py`` uses.

    The workloads pass the spec's ``padding=`` to ``conv2d``; pywebnn 0.5.12 calls it
    ``pads=``. Everything else is forwarded untouched.
    """

    def __init__(self, builder: Any) -> None:
        self._builder = builder

    def conv2d(self, x: Any, w: Any, **options: Any) -> Any:
        if "padding" in options:
            options["pads"] = options.pop("padding")
        return self._builder.conv2d(x, w, **options)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._builder, name)


def _best_ort_options(ort: Any) -> Any:
    import os

    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    so.intra_op_num_threads = cores
    so.inter_op_num_threads = 1
    so.add_session_config_entry("session.set_denormal_as_zero", "1")
    return so


def _peak_rss_mb() -> float:
    """Peak resident memory of this process in MiB.

    On Linux ``getrusage``'s ru_maxrss survives fork + exec, so a child started by a big
    parent reports at least the parent's peak; the kernel's per-address-space high-water
    mark (``VmHWM``), which exec resets, is the child's own. Elsewhere: ru_maxrss.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 2**10  # kB
    except OSError:
        pass
    rss = float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    return rss / 2**20 if sys.platform == "darwin" else rss / 2**10  # bytes there, KiB here


def main() -> None:
    spec = json.loads(sys.argv[1])
    system: str = spec["system"]
    workload: str = spec["workload"]
    clock = time.perf_counter
    info: dict[str, Any] = {"system": system, "workload": workload}

    t0 = clock()
    run: Any
    finish_loading: Any = None
    if system in ("webnnc-miss", "webnnc-hit"):
        import numpy as np

        import webnnc

        t1 = clock()
        from webnnc.compiler.workloads import WORKLOADS

        context = webnnc.ML().create_context(cache_dir=spec["cache_dir"])
        builder = context.create_graph_builder()
        graph = builder.build(WORKLOADS[workload](builder), name=spec["name"])
        info["source"] = graph.build_info.get("source")
        info["build_timings_ms"] = graph.build_info.get("timings_ms", {})
        finish_loading = graph.finish_loading

        def run(feeds: dict[str, Any]) -> Any:
            return context.compute(graph, feeds)

    elif system == "webnnc-load":
        import numpy as np

        import webnnc.runtime

        t1 = clock()
        model = webnnc.runtime.load(spec["name"], cache_dir=spec["cache_dir"])
        info["source"] = model.build_info.get("source")
        info["build_timings_ms"] = model.build_info.get("timings_ms", {})
        finish_loading = model.finish_loading
        run = model.run
    elif system in ("ort-default", "ort-best"):
        import numpy as np
        import onnxruntime as ort

        t1 = clock()
        so = _best_ort_options(ort) if system == "ort-best" else ort.SessionOptions()
        so.log_severity_level = 3
        session = ort.InferenceSession(spec["onnx_path"], so, providers=["CPUExecutionProvider"])

        def run(feeds: dict[str, Any]) -> Any:
            return session.run(None, feeds)

    elif system == "pywebnn":
        import numpy as np
        import webnn

        t1 = clock()
        sys.path.insert(0, spec["workloads_dir"])
        import workloads  # the copy of compiler/workloads.py

        ml_context = webnn.ML().create_context(device_type="cpu")
        builder = PeerBuilderAdapter(ml_context.create_graph_builder())
        peer_graph = builder.build(workloads.WORKLOADS[workload](builder))
        info["library"] = f"pywebnn {getattr(webnn, '__version__', '?')}"

        def run(feeds: dict[str, Any]) -> Any:
            return ml_context.compute(peer_graph, feeds)

    else:
        raise SystemExit(f"unknown system {system!r}")
    t2 = clock()

    x = np.random.default_rng(0).standard_normal([1, 3, 224, 224]).astype(np.float32)
    feeds = {"input": x}
    calls = []
    for _ in range(5):
        t = clock()
        out = run(feeds)
        calls.append((clock() - t) * 1e3)
    first = calls[0]
    sample = out["output"] if isinstance(out, dict) else out[0]
    info["output"] = f"{np.asarray(sample).dtype}{list(np.asarray(sample).shape)}"
    if spec.get("output_path"):  # the parent checks that every system computed the same thing
        np.save(spec["output_path"], np.asarray(sample))

    warm: list[float] = []
    if spec["warm_runs"] > 0:
        if finish_loading is not None:  # warm = the final session (deferred prepacking done)
            finish_loading()
        for _ in range(3):
            run(feeds)
        deadline = time.monotonic() + spec["warm_budget_s"]
        while len(warm) < spec["warm_runs"] and (len(warm) < 5 or time.monotonic() < deadline):
            t = clock()
            run(feeds)
            warm.append((clock() - t) * 1e3)

    info.update(
        import_ms=(t1 - t0) * 1e3,
        load_ms=(t2 - t1) * 1e3,
        first_ms=first,
        cold_ms=(t2 - t0) * 1e3 + first,
        peer_cold_ms=first,
        peer_warm_ms=statistics.fmean(calls[1:]),
        warm_ms=warm,
        peak_rss_mb=_peak_rss_mb(),
    )
    print(json.dumps(info))


if __name__ == "__main__":
    main()
