"""Trains the same distillation unsharded and with the teacher's kernels
sharded over two virtual CPU devices by `keras.distribution.ModelParallel`
(JAX), and prints how far apart the results are, as JSON.

Usage: `python model_parallel.py METHOD` (kd, fitnet) with
`KERAS_BACKEND=jax`. The distiller, data and training are those of
`data_parallel.py`; only the distribution differs: a `LayoutMap` splits the
teacher's hidden kernel by columns and its head kernel by rows over the
"model" axis of a (1, 2) device mesh, as one would for a teacher too big
for one device.
"""

import json
import sys

import data_parallel as common  # Sets up the two devices first.
import keras
import numpy as np

LAYOUT = {
    "teacher/hidden/kernel": (None, "model"),
    "teacher/hidden/bias": ("model",),
    "teacher/head/kernel": ("model", None),
}


def model_parallel():
    devices = keras.distribution.list_devices("cpu")
    mesh = keras.distribution.DeviceMesh((1, 2), ["batch", "model"], devices)
    layout_map = keras.distribution.LayoutMap(mesh)
    for path, axes in LAYOUT.items():
        layout_map[path] = axes
    return keras.distribution.ModelParallel(layout_map=layout_map, batch_dim_name="batch")


def main(method):
    x, y = common.data()
    single, models = common.build(method, None)
    initial = [m.get_weights() for m in models]
    one_variables, one_logs = common.train(single, x, y)
    keras.distribution.set_distribution(model_parallel())
    sharded, (teacher, *_) = common.build(method, initial)
    shards = {
        variable.path: len({str(s.index) for s in variable.value.addressable_shards})
        for variable in teacher.weights
    }
    many_variables, many_logs = common.train(sharded, x, y)
    print(
        json.dumps(
            {
                "shards": shards,
                "max_weight_difference": max(
                    float(np.max(np.abs(a - b))) for a, b in zip(one_variables, many_variables)
                ),
                "single": one_logs,
                "sharded": many_logs,
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1])
