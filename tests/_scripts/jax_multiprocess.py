"""One process of a two-process JAX distillation joined over localhost.

Usage: `python jax_multiprocess.py PORT PROCESS_ID OUT.npz` (process id 0 or 1),
or `train(OUT.npz)` imported into a JAX process for the reference run of
the same global batches on one device. Each process has one CPU device;
the two join with `keras.distribution.initialize` and train under `DataParallel` over both
devices (Keras' multi-host path, which requires a `tf.data.Dataset` input).
Every process saves the student's weights and the logged metrics to OUT.
"""

import os
import sys

if __name__ == "__main__":
    os.environ["KERAS_BACKEND"] = "jax"
    os.environ["JAX_PLATFORMS"] = "cpu"
    os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=1"

import keras  # noqa: E402
import numpy as np  # noqa: E402

# The same data and models as the one-process data-parallel test.
from data_parallel import data  # noqa: E402
from data_parallel import mlp  # noqa: E402

GLOBAL_BATCH = 32


def train(out):
    import tensorflow as tf

    import keras_kd

    keras.utils.set_random_seed(0)
    teacher, student = mlp("teacher", 24, "softmax"), mlp("student", 8)
    distiller = keras_kd.Distiller(teacher, student, keras_kd.losses.SoftTargetKD(2.0), alpha=0.3)
    distiller.compile(
        optimizer=keras.optimizers.SGD(0.05),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    dataset = tf.data.Dataset.from_tensor_slices(data()).batch(GLOBAL_BATCH)
    history = distiller.fit(dataset, epochs=2, verbose=0)
    logs = {k: np.float64(v[-1]) for k, v in history.history.items()}
    weights = {f"w{i}": np.asarray(w) for i, w in enumerate(student.get_weights())}
    np.savez(out, **weights, **{f"log_{k}": v for k, v in logs.items()})


def main(argv):
    port, process_id, out = argv
    keras.distribution.initialize(
        job_addresses=f"127.0.0.1:{port}",
        num_processes=2,
        process_id=int(process_id),
    )
    devices = keras.distribution.list_devices()
    if len(devices) != 2:
        raise SystemExit(f"expected 2 devices across the processes, got {devices}")
    keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
    train(out)


if __name__ == "__main__":
    main(sys.argv[1:])
