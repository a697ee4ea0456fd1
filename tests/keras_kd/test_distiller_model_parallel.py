"""A teacher sharded by `keras.distribution.ModelParallel` teaches as the
unsharded one does (JAX).

`tests/_scripts/model_parallel.py` runs in a fresh process (the two virtual
CPU devices must exist before JAX starts): a `LayoutMap` splits the
teacher's kernels over the "model" axis of a (1, 2) mesh, and the student
trained from it is compared, weight for weight, with the unsharded run. The
FitNet case distils both the teacher's outputs and the (sharded) hidden
features it taps.
"""

import json
import os
import subprocess
import sys

import keras
import pytest
from _paths import SCRIPTS

pytestmark = pytest.mark.slow

SCRIPT = SCRIPTS / "model_parallel.py"


@pytest.mark.skipif(
    keras.backend.backend() != "jax",
    reason="keras.distribution.ModelParallel shards variables on JAX only",
)
def test_sharded_teacher_teaches_as_the_unsharded_one():
    env = dict(os.environ, KERAS_BACKEND="jax")
    process = subprocess.run(
        [sys.executable, str(SCRIPT), "fitnet"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert process.returncode == 0, process.stderr[-3000:]
    result = json.loads(process.stdout.strip().splitlines()[-1])
    # The layout map took effect: the teacher's kernels live in two shards.
    assert result["shards"]["teacher/hidden/kernel"] == 2, result["shards"]
    assert result["shards"]["teacher/head/kernel"] == 2, result["shards"]
    assert result["max_weight_difference"] < 1e-5, result
    for name, value in result["single"].items():
        assert abs(value - result["sharded"][name]) < 1e-4, (name, result)
