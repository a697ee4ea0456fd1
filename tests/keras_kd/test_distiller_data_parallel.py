"""Data-parallel distillation equals the single-device run, weight for weight.

TensorFlow: `tf.distribute.MirroredStrategy` over two logical CPU devices;
JAX: `keras.distribution.DataParallel` over two host devices. Each case runs
`tests/_scripts/data_parallel.py` in a fresh process (the devices must be
set up before the backend starts), which trains the same teacher, student
and data on one device and on two, and reports the largest difference of
any variable and the logged metrics of both.
"""

import json
import os
import subprocess
import sys

import keras
import pytest
from _paths import SCRIPTS

pytestmark = pytest.mark.slow

SCRIPT = SCRIPTS / "data_parallel.py"
METRICS = ("loss", "student_loss", "distillation_loss", "accuracy")


METHODS = ("kd", "fitnet", "ensemble", "ema")


def run_cases(methods):
    """Every method in ONE fresh process (the devices are set up once)."""
    env = dict(os.environ, KERAS_BACKEND=keras.backend.backend())
    process = subprocess.run(
        [sys.executable, str(SCRIPT), *methods],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert process.returncode == 0, process.stderr[-3000:]
    results = [
        json.loads(line) for line in process.stdout.strip().splitlines() if line.startswith("{")
    ]
    return {result["method"]: result for result in results}


@pytest.fixture(scope="module")
def results():
    return run_cases(METHODS)


@pytest.mark.skipif(
    keras.backend.backend() not in ("tensorflow", "jax"),
    reason="Keras 3 distributes training on TensorFlow and JAX only",
)
@pytest.mark.parametrize("method", METHODS)
def test_two_replicas_train_as_one_device(results, method):
    result = results[method]
    assert result["replicas"] == 2
    assert result["max_weight_difference"] < 1e-5, result
    for stage in ("", "eval_"):
        for name in METRICS:
            single, parallel = result["single"][stage + name], result["parallel"][stage + name]
            assert abs(single - parallel) < 1e-4, (stage + name, single, parallel)


def small_model(name):
    return keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)], name=name)


@pytest.mark.skipif(keras.backend.backend() != "torch", reason="the PyTorch backend's refusal")
def test_a_keras_distribution_on_pytorch_is_refused_naming_the_backends_with_one():
    import keras_kd

    mesh = keras.distribution.DeviceMesh((1,), ["batch"], ["cpu:0"])
    # Keras itself accepts this on PyTorch, and then does not apply it.
    keras.distribution.set_distribution(keras.distribution.DataParallel(device_mesh=mesh))
    try:
        with pytest.raises(ValueError) as error:
            keras_kd.Distiller(small_model("teacher"), small_model("student"))
    finally:
        keras.distribution.set_distribution(None)
    message = str(error.value)
    assert "not supported on the PyTorch backend" in message
    assert "DataParallel" in message and "JAX" in message
    assert "MirroredStrategy" in message and "TensorFlow" in message
    assert "set_distribution(None)" in message


@pytest.mark.skipif(keras.backend.backend() != "torch", reason="the PyTorch backend's refusal")
@pytest.mark.parametrize("role", ["teacher", "student"])
def test_a_torch_data_parallel_wrapped_model_is_refused(role):
    import torch

    import keras_kd

    models = {"teacher": small_model("teacher"), "student": small_model("student")}
    models[role] = torch.nn.DataParallel(models[role])
    with pytest.raises(ValueError) as error:
        keras_kd.Distiller(models["teacher"], models["student"])
    message = str(error.value)
    assert f"The {role} is a torch.nn.DataParallel-wrapped module" in message
    assert "no distribution for the PyTorch backend" in message
    assert "Pass the Keras model itself" in message
