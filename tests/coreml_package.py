"""Open a stored CoreML package the way a Mac would start to: every test that reads one does.

CoreML compiles and predicts only on macOS, but whether a package *opens* can be checked
anywhere: unpacked with the runtime's own ``webnnc.cache.archive.unpack``, every item its
``Manifest.json`` lists must exist, ``coremltools.models.MLModel(path, skip_model_load=True)``
must read it, and its spec must agree with itself (an ML Program whose ``main`` inputs and
outputs are the ones the model description declares, whose weight references point at a
file of the package). A package that fails here could never be compiled to ``.mlmodelc``.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["check_package", "open_package"]


def open_package(data: bytes, folder: Path) -> Any:
    """Unpack ``data`` into ``folder/model.mlpackage`` and open it; return its spec."""
    import coremltools as ct

    from webnnc.cache.archive import unpack

    package = folder / "model.mlpackage"
    unpack(data, package)
    manifest = json.loads((package / "Manifest.json").read_text())
    for ident, item in manifest["itemInfoEntries"].items():
        path = package / "Data" / item["path"]
        assert path.exists(), f"Manifest.json item {item['name']!r} ({ident}) has no {item['path']} in the package"
    assert manifest["rootModelIdentifier"] in manifest["itemInfoEntries"], "Manifest.json: no root model item"
    model = ct.models.MLModel(str(package), skip_model_load=True)
    spec = model.get_spec()
    _check_spec(spec, package)
    return spec


def check_package(data: bytes) -> Any:
    """:func:`open_package` in a temporary folder; return the spec."""
    with tempfile.TemporaryDirectory(prefix="webnnc-test-pkg-") as tmp:
        return open_package(data, Path(tmp))


def _check_spec(spec: Any, package: Path) -> None:
    assert spec.WhichOneof("Type") == "mlProgram", f"expected an ML Program, found {spec.WhichOneof('Type')}"
    fn = spec.mlProgram.functions["main"]
    declared_in = [i.name for i in spec.description.input]
    declared_out = [o.name for o in spec.description.output]
    assert [i.name for i in fn.inputs] == declared_in, "main's inputs differ from the model description"
    block = fn.block_specializations[fn.opset]
    assert list(block.outputs) == declared_out, "main's outputs differ from the model description"
    weights = package / "Data" / "com.apple.CoreML" / "weights"
    for op in block.operations:
        for attr in op.attributes.values():
            if attr.HasField("blobFileValue"):
                name = attr.blobFileValue.fileName.rsplit("/", 1)[-1]
                assert (weights / name).is_file(), f"{op.type} reads weights from {name}, which the package lacks"
