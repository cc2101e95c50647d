# pywebnn-style script: AsyncMLContext.
import asyncio

import numpy as np

import webnnc as webnn


async def main() -> None:
    context = webnn.ML().create_context(device_type="cpu")
    actx = webnn.AsyncMLContext(context)
    builder = actx.create_graph_builder()
    x = builder.input("x", [4], "float32")
    graph = builder.build({"y": builder.abs(x=x)})
    t_in = actx.create_tensor([4], "float32", True, True)
    t_out = actx.create_tensor([4], "float32", True, True)
    await actx.write_tensor_async(t_in, np.array([-1, 2, -3, 4], np.float32))
    await actx.dispatch(graph, {"x": t_in}, {"y": t_out})
    np.testing.assert_array_equal(await actx.read_tensor_async(t_out), [1, 2, 3, 4])
    np.testing.assert_array_equal(actx.compute(graph, {"x": np.array([-5, 0, 5, -0.5], np.float32)})["y"], [5, 0, 5, 0.5])
    assert actx.power_preference == "default"


asyncio.run(main())
print("ok")
