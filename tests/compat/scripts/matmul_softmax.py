# pywebnn-style script: matmul + add + softmax, keyword forms.
import numpy as np

import webnnc as webnn

rng = np.random.default_rng(1)
context = webnn.ML().create_context(power_preference="default", accelerated=False)
builder = context.create_graph_builder()
a = builder.input("a", [2, 4], "float32")
b = rng.standard_normal([4, 3]).astype(np.float32)
bias = rng.standard_normal([3]).astype(np.float32)
logits = builder.add(builder.matmul(a, builder.constant(b)), builder.constant(bias))
probs = builder.softmax(x=logits, axis=1)
flat = builder.reshape(x=probs, new_shape=[6])
graph = builder.build({"probs": probs, "flat": flat})

data = rng.standard_normal([2, 4]).astype(np.float32)
out = context.compute(graph, {"a": data})
z = data.astype(np.float64) @ b + bias
ref = np.exp(z - z.max(axis=1, keepdims=True))
ref /= ref.sum(axis=1, keepdims=True)
np.testing.assert_allclose(out["probs"], ref, rtol=1e-5, atol=1e-6)
np.testing.assert_allclose(out["flat"], ref.reshape(6), rtol=1e-5, atol=1e-6)

# a preallocated output dict as the third argument: results are returned for every output
prealloc = {"probs": np.zeros([2, 3], np.float64)}
again = context.compute(graph, {"a": data}, prealloc)
np.testing.assert_allclose(again["probs"], ref, rtol=1e-5, atol=1e-6)
assert sorted(again) == ["flat", "probs"]
print("ok")
