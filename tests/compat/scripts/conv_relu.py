# pywebnn-style script: conv2d + relu. Runs unchanged on pywebnn with `import webnn`.
import numpy as np

import webnnc as webnn

rng = np.random.default_rng(0)
ml = webnn.ML()
context = ml.create_context(device_type="cpu")
builder = context.create_graph_builder()
x = builder.input("x", [1, 2, 5, 5], "float32")
w = rng.standard_normal([3, 2, 3, 3]).astype(np.float32)
y = builder.conv2d(x, builder.constant(w), pads=[1, 1, 1, 1], strides=[1, 1], input_layout="nchw", filter_layout="oihw")
out = builder.relu(x=y)
graph = builder.build({"out": out})

assert graph.get_input_names() == ["x"]
assert graph.get_output_names() == ["out"]
assert graph.operation_count == 2, graph.operation_count
assert graph.operand_count == 4, graph.operand_count

data = rng.standard_normal([1, 2, 5, 5])  # float64, numpy's default: converted to float32
result = context.compute(graph, {"x": data})["out"]

padded = np.pad(data.astype(np.float32), ((0, 0), (0, 0), (1, 1), (1, 1)))
ref = np.zeros([1, 3, 5, 5], np.float64)
for o in range(3):
    for i in range(5):
        for j in range(5):
            ref[0, o, i, j] = np.sum(padded[0, :, i : i + 3, j : j + 3] * w[o])
np.testing.assert_allclose(result, np.maximum(ref, 0), rtol=1e-5, atol=1e-5)
print("ok")
