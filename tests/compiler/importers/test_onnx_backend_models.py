"""ONNX's own backend test models (shipped in the onnx package) with their stored outputs.

Every model under ``onnx/backend/test/data/{pytorch-converted,pytorch-operator,simple}``
either imports, compiles and reproduces its stored reference output (rtol 1e-4, atol 1e-5:
float32 results recorded from PyTorch; NaNs must match), or is refused for a reason WebNN
itself imposes (4-D convolution, float64/string tensors, sequences, run-time shapes, custom
domains). Models older than opset 7 are upgraded by onnx.version_converter on the way in.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from webnnc.compiler import import_onnx
from webnnc.compiler.importers import OnnxImportError, UnsupportedOnnxOperatorsError

DATA = Path(onnx.__file__).parent / "backend" / "test" / "data"
MODELS = sorted(
    p.parent for family in ("pytorch-converted", "pytorch-operator", "simple")
    for p in (DATA / family).glob("*/model.onnx")
    if any(p.parent.glob("test_data_set_*"))
)
# Refusals that are WebNN's limits, not the importer's.
WEBNN_LIMITS = (
    "-D spatial input",  # 4-D and higher convolution / pooling (1-D to 3-D import)
    "element type double",
    "element type string",
    "sequence or optional types",
    "WebNN has no sequence types",
    "custom domain",
    "is computed at run time",
    "dynamic dimensions",
)


@pytest.mark.skipif(not MODELS, reason="this onnx installation ships no backend test data")
@pytest.mark.parametrize("folder", MODELS, ids=[f"{p.parent.name}/{p.name}" for p in MODELS])
def test_backend_model(folder: Path, nocache_context: Any) -> None:
    model = onnx.load(str(folder / "model.onnx"))
    data = sorted(folder.glob("test_data_set_*"))[0]
    inputs = [numpy_helper.to_array(onnx.load_tensor(str(f))) for f in sorted(data.glob("input_*.pb"))]
    outputs = [numpy_helper.to_array(onnx.load_tensor(str(f))) for f in sorted(data.glob("output_*.pb"))]
    inits = {t.name for t in model.graph.initializer}
    names = [i.name for i in model.graph.input if i.name not in inits]
    builder = nocache_context.create_graph_builder()
    try:
        outs = import_onnx(model, builder=builder)
    except (UnsupportedOnnxOperatorsError, OnnxImportError) as e:
        assert any(reason in str(e) for reason in WEBNN_LIMITS), f"refused for an unexpected reason: {e}"
        return
    got = nocache_context.compute(builder.build(outs), dict(zip(names, inputs, strict=True)))
    for out, ref in zip(model.graph.output, outputs, strict=True):
        assert got[out.name].shape == ref.shape
        np.testing.assert_allclose(got[out.name].astype(np.float64), ref.astype(np.float64),
                                   rtol=1e-4, atol=1e-5, equal_nan=True, err_msg=folder.name)
