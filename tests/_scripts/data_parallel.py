"""Trains the same distillation on one device and data-parallel over two
virtual CPU devices, and prints how far apart the results are, as JSON.

Run in its own process: the devices must be set up before the backend
starts. Usage: `python data_parallel.py METHOD [METHOD ...]` with
`KERAS_BACKEND` set to tensorflow (MirroredStrategy) or jax
(keras.distribution.DataParallel); one JSON line per method, in order.
"""

import json
import os
import sys

os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_kd  # noqa: E402

BACKEND = keras.backend.backend()
if BACKEND == "tensorflow":
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)


def data():
    rng = np.random.default_rng(0)
    centers = rng.normal(scale=2.0, size=(3, 16))
    y = rng.integers(0, 3, size=256).astype("int32")
    x = (centers[y] + rng.normal(size=(256, 16))).astype("float32")
    return x, y


def mlp(name, units, activation=None):
    return keras.Sequential(
        [
            keras.Input((16,)),
            keras.layers.Dense(units, activation="relu", name="hidden"),
            keras.layers.Dense(3, activation=activation, name="head"),
        ],
        name=name,
    )


def build(method, weights):
    """The distiller for `method`, its models set to `weights` (or new)."""
    keras.utils.set_random_seed(0)
    teacher, second = mlp("teacher", 24, "softmax"), mlp("second", 12)
    student = mlp("student", 8)
    models = (teacher, second, student)
    if weights is not None:
        for model, values in zip(models, weights):
            model.set_weights(values)
    loss = keras_kd.losses.SoftTargetKD(2.0)
    if method == "kd":
        distiller = keras_kd.Distiller(teacher, student, loss, alpha=0.3)
    elif method == "fitnet":
        hint = keras_kd.losses.FitNetHint("hidden", "hidden", weight=0.5)
        distiller = keras_kd.Distiller(teacher, student, [loss, hint], alpha=0.3)
    elif method == "ensemble":
        distiller = keras_kd.Distiller([teacher, second], student, loss, alpha=0.3)
    elif method == "ema":
        ema = keras_kd.teachers.EMATeacher(student, decay=0.9)
        distiller = keras_kd.Distiller(ema, student, loss, alpha=0.3)
    else:
        raise SystemExit(f"unknown method {method}")
    distiller.compile(
        optimizer=keras.optimizers.SGD(0.05),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return distiller, models


def train(distiller, x, y):
    history = distiller.fit(x, y, epochs=2, batch_size=32, shuffle=False, verbose=0)
    logs = {k: v[-1] for k, v in history.history.items()}
    logs.update(
        {
            f"eval_{k}": v
            for k, v in distiller.evaluate(x, y, batch_size=32, verbose=0, return_dict=True).items()
        }
    )
    variables = [np.array(v) for v in distiller.variables]
    return variables, logs


_STRATEGIES = []


def distributed_scope():
    if BACKEND == "tensorflow":
        import tensorflow as tf

        # One strategy per process: a second MirroredStrategy's collectives
        # clash with the first one's (TensorFlow reuses instance keys).
        if not _STRATEGIES:
            _STRATEGIES.append(tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]))
        strategy = _STRATEGIES[0]
        return strategy.scope(), strategy.num_replicas_in_sync
    import contextlib

    devices = keras.distribution.list_devices("cpu")
    keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
    return contextlib.nullcontext(), len(devices)


def main(method):
    x, y = data()
    single, models = build(method, None)
    initial = [m.get_weights() for m in models]
    one_variables, one_logs = train(single, x, y)
    scope, replicas = distributed_scope()
    with scope:
        parallel, _ = build(method, initial)
    many_variables, many_logs = train(parallel, x, y)
    if BACKEND == "jax":  # the next method's single-device run starts undistributed
        keras.distribution.set_distribution(None)
    print(
        json.dumps(
            {
                "method": method,
                "replicas": replicas,
                "variables": len(one_variables),
                "max_weight_difference": max(
                    float(np.max(np.abs(a - b))) for a, b in zip(one_variables, many_variables)
                ),
                "single": one_logs,
                "parallel": many_logs,
            }
        )
    )


if __name__ == "__main__":
    for name in sys.argv[1:]:
        main(name)
