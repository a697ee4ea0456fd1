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
import pathlib
import subprocess
import sys

import keras
import pytest

SCRIPT = pathlib.Path(__file__).parent / "_scripts" / "data_parallel.py"
METRICS = ("loss", "student_loss", "distillation_loss", "accuracy")


def run_case(method):
    env = dict(os.environ, KERAS_BACKEND=keras.backend.backend())
    process = subprocess.run(
        [sys.executable, str(SCRIPT), method], capture_output=True, text=True,
        timeout=300, env=env,
    )  # fmt: skip
    assert process.returncode == 0, process.stderr[-3000:]
    return json.loads(process.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(
    keras.backend.backend() not in ("tensorflow", "jax"),
    reason="Keras 3 distributes training on TensorFlow and JAX only",
)
@pytest.mark.parametrize("method", ["kd", "fitnet", "ensemble", "ema"])
def test_two_replicas_train_as_one_device(method):
    result = run_case(method)
    assert result["replicas"] == 2
    assert result["max_weight_difference"] < 1e-5, result
    for stage in ("", "eval_"):
        for name in METRICS:
            single, parallel = result["single"][stage + name], result["parallel"][stage + name]
            assert abs(single - parallel) < 1e-4, (stage + name, single, parallel)
