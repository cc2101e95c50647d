# pywebnn-style script: MLTensor + dispatch, positional flags.
import numpy as np

import webnnc as webnn

context = webnn.ML().create_context(device_type="cpu")
builder = context.create_graph_builder()
x = builder.input("x", [2, 3], "float32")
graph = builder.build({"y": builder.relu(builder.sub(x, builder.constant(np.ones([2, 3], np.float32))))})

t_in = context.create_tensor([2, 3], "float32", True, True)
t_out = context.create_tensor([2, 3], "float32", True, True)
assert isinstance(t_in, webnn.MLTensor)
assert t_in.shape == [2, 3] and t_in.size == 6 and t_in.data_type == "float32"
assert t_in.readable and t_in.writable and not t_in.exportable_to_gpu

context.write_tensor(t_in, np.array([[0, 1, 2], [3, 4, 5]], np.float32))
context.dispatch(graph, {"x": t_in}, {"y": t_out})
np.testing.assert_array_equal(context.read_tensor(t_out), [[0, 0, 1], [2, 3, 4]])

try:
    context.write_tensor(t_in, np.zeros([3, 2], np.float32))  # same size, wrong shape
except ValueError:
    pass
else:
    raise AssertionError("write_tensor accepted a [3, 2] array for a [2, 3] tensor")
t_in.destroy()
print("ok")
