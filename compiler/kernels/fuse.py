"""Fuse an optimized ONNX artifact: regions -> custom-op nodes + one compiled kernel library.

:func:`fuse_artifact` is the compile stage after ONNX Runtime's offline optimizer. It finds
the regions the cost model keeps (``regions.py``), generates their C (``codegen.py``),
builds it with the system compiler (``toolchain.py``) and rewrites the graph so that each
region is one node of domain :data:`~webnnc.compiler.kernels.codegen.DOMAIN`. Anything that
goes wrong (no compiler, a failed build) leaves the artifact as it was, with one warning.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from webnnc.compiler.kernels.codegen import DOMAIN, library_source, op_name
from webnnc.compiler.kernels.regions import find_regions
from webnnc.compiler.kernels.toolchain import find_toolchain

if TYPE_CHECKING:
    from webnnc.compiler.emitters import Artifact

__all__ = ["KERNELS", "fuse_artifact", "fuse_model"]

logger = logging.getLogger(__name__)

KERNELS = "kernels.so"  # the artifact file holding the library (cache/manifest.py ENTRY_FILES)
_warned: set[str] = set()


def _warn_once(what: str, message: str) -> None:
    if what not in _warned:
        _warned.add(what)
        logger.warning(message)


def fuse_model(model: Any, **cost: int) -> tuple[Any, str, list[str]] | None:
    """Rewrite ``model`` (an onnx ModelProto, changed in place); return (model, C source, op names).

    None when the cost model keeps no region.
    """
    import onnx

    regions = find_regions(model, **cost)
    if not regions:
        return None
    graph = model.graph
    names: list[str] = []
    replaced: dict[int, Any] = {}  # index of a region's first node -> its fused node
    dropped: set[int] = set()
    index = {id(n): i for i, n in enumerate(graph.node)}
    for region in regions:
        name = op_name(region)
        names.append(name)
        members = [*region.nodes, *([region.reduction] if region.reduction is not None else [])]
        ids = [index[id(n)] for n in members]
        fused = onnx.helper.make_node(
            name, list(region.inputs), list(region.outputs), name=f"webnnc_fused_{len(names) - 1}", domain=DOMAIN
        )
        replaced[ids[0]] = fused
        dropped.update(ids[1:])
    source = library_source(regions)
    nodes = []
    for i, n in enumerate(graph.node):
        if i in replaced:
            nodes.append(replaced[i])
        elif i not in dropped:
            nodes.append(n)
    del graph.node[:]
    graph.node.extend(nodes)
    if not any(o.domain == DOMAIN for o in model.opset_import):
        model.opset_import.append(onnx.helper.make_opsetid(DOMAIN, 1))
    return model, source, names


def fuse_artifact(artifact: Artifact) -> Artifact:
    """``artifact`` with its regions fused, or unchanged when nothing pays or no compiler works."""
    import dataclasses

    import onnx

    toolchain = find_toolchain()
    if toolchain is None:
        _warn_once(
            "cc", "no C compiler found (cc, gcc or clang on PATH, or WEBNNC_CC): compiling without "
            "fused kernels (plain ONNX Runtime artifacts)",
        )
        return artifact
    t0 = time.perf_counter()
    model = onnx.load_model_from_string(artifact.data)
    fused = fuse_model(model)
    if fused is None:
        return dataclasses.replace(artifact, info={**artifact.info, "kernels": {"regions": 0}})
    model, source, names = fused
    t1 = time.perf_counter()
    try:
        library = toolchain.build(source)
    except RuntimeError as e:
        _warn_once("build", f"building fused kernels failed ({e}); compiling without them")
        return artifact
    t2 = time.perf_counter()
    data = model.SerializeToString()
    info = {
        **artifact.info,
        "kernels": {
            "regions": len(names),
            "ops": names,
            "compiler": toolchain.identity,
            "generate_ms": round((t1 - t0) * 1e3, 3),
            "build_ms": round((t2 - t1) * 1e3, 3),
        },
    }
    if artifact.folder is not None:
        # saved by the backend straight into the store's staging folder (its weights are never
        # read into memory): the fused graph and the library join them there
        import os

        for name, blob in (("model.onnx", data), (KERNELS, library)):
            with open(os.path.join(artifact.folder, name), "wb") as f:
                f.write(blob)
        return dataclasses.replace(artifact, data=data, info=info)
    return dataclasses.replace(artifact, data=data, files={**artifact.files, KERNELS: library}, info=info)
