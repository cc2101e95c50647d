"""IR graph -> CoreML ML Program, packed as one deterministic ``.mlpackage`` archive.

The only module, with its lowering package ``coreml``, that imports coremltools.

# NOTE: the artifact is the ``.mlpackage`` folder packed into a zip archive whose entries
# are sorted, stored uncompressed and stamped with a fixed time, so equal graphs give equal
# bytes. Two things in a saved package are not a function of the model and are normalized
# before packing: ``Manifest.json`` gets fresh random item identifiers on every save (they
# are replaced by identifiers derived from each item's path), and the model description
# records the conversion date (removed). The cache key never looks at the package: it is
# the graph's structural digest (constants included), the options and the coremltools
# version, like every other target's key.
# NOTE: float32 graphs are converted with ``compute_precision=FLOAT32``: coremltools would
# otherwise insert fp16 casts, and WebNN's float32 semantics (and the WPT tolerances) would
# no longer hold. float16 graphs are fp16 end to end (fp16 model inputs need iOS 16 /
# macOS 13, the deployment target used here).
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import re
import shutil
import tempfile
import time
import uuid
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any

import numpy as np

# coremltools logs a warning per missing native proxy when imported on Linux; those are
# expected here (prediction is macOS-only) and would only be noise, so they are muted for
# the duration of the import alone.
_ct_logger = logging.getLogger("coremltools")
_ct_level = _ct_logger.level
_ct_logger.setLevel(logging.ERROR)
import coremltools as ct  # noqa: E402
from coremltools.converters.mil import Builder as mb  # noqa: E402, N813
from coremltools.converters.mil.mil import Function, Program, types  # noqa: E402
from coremltools.proto import Model_pb2  # noqa: E402

_ct_logger.setLevel(_ct_level)

from webnnc.cache.archive import pack_directory  # noqa: E402
from webnnc.compiler.emitters import Artifact  # noqa: E402
from webnnc.compiler.emitters.coreml import (  # noqa: E402
    CARRIED,
    LOWERINGS,
    MIL_TYPES,
    MilContext,
    check_node,
    lower_node,
    node_label,
)
from webnnc.compiler.emitters.coreml._rank import plan_views  # noqa: E402
from webnnc.compiler.errors import CompilerError, UnsupportedOperatorError  # noqa: E402
from webnnc.compiler.ir import DataType, Graph  # noqa: E402

__all__ = [
    "DEPLOYMENT_TARGET",
    "EMITTER",
    "MODEL_PATH",
    "WEIGHTS_DIR",
    "CoreMLEmitter",
    "pack_directory",
    "to_program",
]

logger = logging.getLogger(__name__)

DEPLOYMENT_TARGET = ct.target.iOS16  # macOS 13: fp16 model inputs and outputs
DEPLOYMENT_NAME = "iOS16"
# paths inside the .mlpackage folder (and inside the archive)
MODEL_PATH = "Data/com.apple.CoreML/model.mlmodel"
WEIGHTS_DIR = "Data/com.apple.CoreML/weights"
_ID_NAMESPACE = uuid.UUID("5e1f0a52-8f8c-4c3e-9d6e-7a1b2c3d4e5f")
_CONVERSION_DATE = "com.github.apple.coremltools.conversion_date"


# ---------------------------------------------------------------- names
def _mil_names(graph: Graph) -> tuple[dict[str, str], dict[str, str]]:
    """CoreML names for the graph's inputs and outputs (identifiers, unique across both)."""
    used: set[str] = set()

    def sanitize(name: str) -> str:
        base = re.sub(r"\W", "_", name, flags=re.ASCII) or "x"
        if not re.match(r"[A-Za-z_]", base):
            base = "_" + base
        candidate, k = base, 1
        while candidate in used:
            candidate, k = f"{base}_{k}", k + 1
        used.add(candidate)
        return candidate

    inputs = {v.name or "": sanitize(v.name or "") for v in graph.inputs}
    outputs = {name: sanitize(name) for name in graph.outputs}
    return inputs, outputs


# ---------------------------------------------------------------- IR -> MIL
_BOUNDARY_TYPES = (*MIL_TYPES, DataType.UINT8, *CARRIED)
_LISTED = 5  # node labels named per group of refused nodes
_REFUSED = "cannot be lowered to coreml: "


def _boundary_errors(graph: Graph) -> list[str]:
    named = [("input", v.name or "?", v) for v in graph.inputs]
    named += [("output", name, v) for name, v in graph.outputs.items()]
    errors = []
    for kind, name, v in named:
        if v.data_type not in _BOUNDARY_TYPES:
            nodes = [v.producer] if v.producer is not None else [n for n, _ in v.uses]
            where = ", ".join(f"{n.op_type} node {node_label(n)}" for n in nodes[:3])
            errors.append(
                f"graph {kind} {name!r}{f' ({where})' if where else ''}: data type "
                f"{v.data_type.value} cannot be a model {kind} on the coreml target (CoreML "
                f"supports {', '.join(t.value for t in MIL_TYPES)}, int64 carried as int32, and "
                "uint8 as a boolean)"
            )
    return errors


def _check_graph(graph: Graph, held: Collection[int]) -> None:
    """Raise one UnsupportedOperatorError listing every refused node, grouped by op and reason."""
    errors = _boundary_errors(graph)
    groups: dict[tuple[str, str], list[str]] = {}
    first: UnsupportedOperatorError | None = None
    for node in graph.nodes:
        try:
            check_node(node, LOWERINGS, held)
        except UnsupportedOperatorError as e:
            first = first or e
            # "op (node #3): cannot be lowered to coreml: reason": the reason, to group by
            reason = str(e).split("): ", 1)[-1].removeprefix(_REFUSED)
            groups.setdefault((node.op_type, reason), []).append(node_label(node))
    refused = sum(len(v) for v in groups.values())
    if first is not None and refused == 1 and not errors:
        raise first
    for (op, reason), labels in groups.items():
        shown = ", ".join(labels[:_LISTED]) + (f" and {len(labels) - _LISTED} more" if len(labels) > _LISTED else "")
        errors.append(f"{op} ({len(labels)} node{'s' if len(labels) > 1 else ''}: {shown}): {reason}")
    if len(errors) == 1:
        if groups:  # one op, several nodes: said like a single node's error
            errors[0] = errors[0].replace("): ", f"): {_REFUSED}", 1)
        raise UnsupportedOperatorError(errors[0] + ("" if "onnx-cpu" in errors[0] else "; compile for onnx-cpu instead"))
    if errors:
        raise UnsupportedOperatorError(
            f"the graph cannot be lowered to coreml: {refused} node(s) of {len({op for op, _ in groups})} "
            f"op type(s) refused{', and the model boundary' if len(errors) > len(groups) else ''} "
            "(compile for onnx-cpu instead):\n  " + "\n  ".join(errors)
        )


def to_program(graph: Graph) -> tuple[Program, dict[str, Any]]:
    """Lower ``graph`` to a MIL program; also return the I/O name maps for the manifest.

    Rank-0 inputs and outputs travel as shape ``[1]`` (CoreML's multi-arrays have rank >= 1)
    and are reshaped inside the program; the runtime reshapes them back. uint8 (WebNN's
    boolean type, for comparisons, logical ops and ``where``) travels as int32, listed in
    ``int32_carriers``: the runtime converts those inputs and outputs. int64 is carried as
    int32 (listed in ``int64_carriers``): the runtime narrows those inputs, refusing a value
    outside int32, and widens those outputs.

    Raises:
        UnsupportedOperatorError: ops or data types that CoreML cannot express, all of them
            in one message, grouped by op.
    """
    views = plan_views(graph)
    _check_graph(graph, views)  # fail before building anything
    in_names, out_names = _mil_names(graph)
    placeholders = {
        in_names[v.name or ""]: mb.placeholder(shape=v.shape or (1,), dtype=MIL_TYPES.get(v.data_type, types.int32))
        for v in graph.inputs
    }
    ctx = MilContext(views)
    prog = Program()
    with Function(placeholders, opset_version=DEPLOYMENT_TARGET) as func:
        for v in graph.inputs:
            var = func.inputs[in_names[v.name or ""]]
            if not v.shape:
                var = mb.reshape(x=var, shape=np.zeros(0, np.int32), name=ctx.fresh("scalar_in"))
            ctx.bind(v, var)
        for node in graph.nodes:
            lower_node(ctx, node, LOWERINGS)
        outputs = []
        for name, value in graph.outputs.items():
            var = ctx.var(value)
            if var.dtype == types.bool:  # a boolean result: the model outputs 0 / 1 as int32
                var = mb.cast(x=var, dtype="int32", name=ctx.fresh("bool_out"))
            # Each output gets an op of its own named after it: a value may be exported twice,
            # or be an input or a constant.
            if not value.shape:
                # (not reshape: coremltools' reshape fails on a constant-folded scalar)
                var = mb.expand_dims(x=var, axes=[0], name=out_names[name])
            else:
                var = mb.identity(x=var, name=out_names[name])
            outputs.append(var)
        func.set_outputs(outputs)
    prog.add_function("main", func)
    io_names = {
        "inputs": in_names,
        "outputs": out_names,
        "int32_carriers": sorted(
            [v.name or "" for v in graph.inputs if v.data_type == DataType.UINT8]
            + [n for n, v in graph.outputs.items() if v.data_type == DataType.UINT8]
        ),
        "int64_carriers": sorted(
            [v.name or "" for v in graph.inputs if v.data_type in CARRIED]
            + [n for n, v in graph.outputs.items() if v.data_type in CARRIED]
        ),
        "scalars": sorted([v.name or "" for v in graph.inputs if not v.shape] + [n for n, v in graph.outputs.items() if not v.shape]),
    }
    return prog, io_names


def _normalize_package(package: Path) -> None:
    """Make a saved .mlpackage a function of the model alone (see the module NOTE)."""
    manifest_path = package / "Manifest.json"
    manifest = json.loads(manifest_path.read_text())
    # An archive holds files only, so an empty folder does not survive packing; a manifest
    # item pointing at one (the weights folder of a graph without weights) would make the
    # unpacked package fail to open ("Item does not exist for identifier"). Such an item
    # describes nothing: it is dropped, with its folder.
    items = manifest.get("itemInfoEntries", {})
    for key, entry in list(items.items()):
        folder = package / "Data" / entry["path"]
        if folder.is_dir() and not any(p.is_file() for p in folder.rglob("*")):
            del items[key]
            shutil.rmtree(folder)
    ids = {
        old: str(uuid.uuid5(_ID_NAMESPACE, entry["path"]))
        for old, entry in manifest.get("itemInfoEntries", {}).items()
    }
    manifest["itemInfoEntries"] = {ids[k]: v for k, v in manifest["itemInfoEntries"].items()}
    if manifest.get("rootModelIdentifier") in ids:
        manifest["rootModelIdentifier"] = ids[manifest["rootModelIdentifier"]]
    manifest_path.write_text(json.dumps(manifest, indent=4, sort_keys=True) + "\n")

    spec_path = package / MODEL_PATH
    spec = Model_pb2.Model()
    spec.ParseFromString(spec_path.read_bytes())
    meta = spec.description.metadata.userDefined
    if _CONVERSION_DATE in meta:
        del meta[_CONVERSION_DATE]
    spec_path.write_bytes(spec.SerializeToString(deterministic=True))


@contextlib.contextmanager
def _quiet_coremltools() -> Iterator[None]:
    level = _ct_logger.level
    _ct_logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        _ct_logger.setLevel(level)


class CoreMLEmitter:
    """The ``coreml`` emitter: canonical IR -> packed ``.mlpackage`` (an ML Program)."""

    name = "coreml"

    def emit(self, graph: Graph, options: dict[str, Any] | None = None) -> Artifact:
        t0 = time.perf_counter()
        with _quiet_coremltools():  # value inference warns when it narrows float64 literals
            prog, io_names = to_program(graph)
        t1 = time.perf_counter()
        precision = ct.precision.FLOAT32
        # MIL's pass pipeline draws progress bars on stderr, and coremltools logs a warning for
        # every float64 literal it narrows (ours are narrowed on purpose); a library must not.
        with contextlib.redirect_stderr(io.StringIO()), _quiet_coremltools():
            try:
                model = ct.convert(
                    prog,
                    convert_to="mlprogram",
                    minimum_deployment_target=DEPLOYMENT_TARGET,
                    compute_precision=precision,
                    skip_model_load=True,
                )
            except Exception as e:  # coremltools' own passes rejected the program
                raise CompilerError(
                    f"coremltools {ct.__version__} could not convert the lowered MIL program for "
                    f"the coreml target ({type(e).__name__}: {e}); compile for onnx-cpu instead"
                ) from e
        t2 = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="webnnc-coreml-") as tmp:
            package = Path(tmp) / "model.mlpackage"
            model.save(str(package))
            _normalize_package(package)
            data = pack_directory(package)
        t3 = time.perf_counter()
        ops = [op.op_type for op in prog.functions["main"].operations]
        logger.debug("emitted CoreML ML Program: %d MIL ops, %d bytes", len(ops), len(data))
        info = {
            "coremltools": ct.__version__,
            "deployment_target": DEPLOYMENT_NAME,
            "compute_precision": "float32 (float16 graphs stay float16)",
            "coreml_io": io_names,
            "coreml_timings_ms": {
                "lower": round((t1 - t0) * 1e3, 3),
                "convert": round((t2 - t1) * 1e3, 3),
                "save_pack": round((t3 - t2) * 1e3, 3),
            },
        }
        return Artifact(data=data, format="mlpackage", info=info)

    def supported_ops(self) -> frozenset[str]:
        return frozenset(LOWERINGS)


EMITTER = CoreMLEmitter()
