# pywebnn-style script: save a graph to .webnn and load it back.
import os
import sys
import tempfile

import numpy as np

import webnnc as webnn

context = webnn.ML().create_context(device_type="cpu")
builder = context.create_graph_builder()
x = builder.input("x", [2, 3], "float32")
y = builder.mul(builder.tanh(x), builder.constant(np.full([2, 3], 2.0, np.float32)))
graph = builder.build({"y": y})

folder = tempfile.mkdtemp()
path = os.path.join(folder, "model.webnn")
graph.save(path)
loaded = webnn.MLGraph.load(path)
assert loaded.get_input_names() == ["x"] and loaded.get_output_names() == ["y"]
data = np.linspace(-2, 2, 6, dtype=np.float32).reshape(2, 3)
expected = 2 * np.tanh(data.astype(np.float64))
np.testing.assert_allclose(context.compute(loaded, {"x": data})["y"], expected, rtol=1e-5, atol=1e-6)
np.testing.assert_allclose(context.compute(graph, {"x": data})["y"], expected, rtol=1e-5, atol=1e-6)
print("ok", file=sys.stdout)
