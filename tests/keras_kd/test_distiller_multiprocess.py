"""Distillation across processes: JAX multi-process `DataParallel`, and
TensorFlow's `MultiWorkerMirroredStrategy`, which keras-kd refuses.

Each test starts its worker processes itself on localhost (a free port, a
timeout, every process killed on failure); the workers live in
`tests/_scripts/`.
"""

import json
import os
import socket
import subprocess
import sys

import keras
import numpy as np
import pytest
from _paths import REPO_ROOT
from _paths import SCRIPTS

pytestmark = pytest.mark.slow

ROOT = REPO_ROOT
TIMEOUT = 240


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def worker_env(**extra):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", **extra)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    env.pop("XLA_FLAGS", None)
    return env


def run_together(commands, env):
    """Runs `commands` at once; returns their (returncode, stdout, stderr)
    when all end, killing every one still running at the timeout."""
    processes = [
        subprocess.Popen(
            command,
            env=env(i),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i, command in enumerate(commands)
    ]
    try:
        results = [p.communicate(timeout=TIMEOUT) for p in processes]
    finally:
        for p in processes:
            if p.poll() is None:
                p.kill()
                p.wait()
    return [(p.returncode, out, err) for p, (out, err) in zip(processes, results)]


@pytest.mark.skipif(
    keras.backend.backend() != "jax",
    reason="keras.distribution.initialize joins processes on JAX only",
)
def test_two_jax_processes_train_as_one_device(tmp_path):
    script = str(SCRIPTS / "jax_multiprocess.py")
    port = free_port()
    outputs = [tmp_path / f"process{i}.npz" for i in range(2)]
    commands = [
        [sys.executable, script, str(port), str(i), str(out)] for i, out in enumerate(outputs)
    ]
    processes = run_together(commands, lambda i: worker_env())
    # The reference: one device (this process's first) on the same batches.
    environ = dict(os.environ)
    sys.path.insert(0, str(SCRIPTS))
    try:
        import jax_multiprocess as worker
    finally:
        sys.path.remove(str(SCRIPTS))
        os.environ.clear()
        os.environ.update(environ)  # As the scripts set it on import.
    with keras.device("cpu:0"):
        worker.train(tmp_path / "single.npz")
    for code, _, err in processes:
        assert code == 0, err[-3000:]
    first, second, single = (np.load(path) for path in (*outputs, tmp_path / "single.npz"))
    weights = [k for k in single.files if k.startswith("w")]
    assert len(weights) == 4
    for key in single.files:
        # The two processes hold the same, replicated weights...
        np.testing.assert_array_equal(first[key], second[key], err_msg=key)
        # ...equal to one device trained on the same global batches.
        tolerance = 1e-5 if key.startswith("w") else 1e-4
        np.testing.assert_allclose(first[key], single[key], atol=tolerance, err_msg=key)


def mwms_distiller_error():
    """What constructing a Distiller under a MultiWorkerMirroredStrategy
    raises, run in a fresh process (the strategy must come first)."""
    code = (
        "import tensorflow as tf, keras, keras_kd\n"
        "strategy = tf.distribute.MultiWorkerMirroredStrategy()\n"
        "model = lambda: keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])\n"
        "with strategy.scope():\n"
        "    try:\n"
        "        keras_kd.Distiller(model(), model())\n"
        "    except ValueError as error:\n"
        "        print(error)\n"
    )
    process = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=worker_env(KERAS_BACKEND="tensorflow"),
    )
    assert process.returncode == 0, process.stderr[-3000:]
    return process.stdout


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="tf.distribute is TensorFlow's")
def test_multi_worker_mirrored_strategy_is_refused_naming_the_upstream_issue():
    message = mwms_distiller_error()
    assert "MultiWorkerMirroredStrategy" in message
    assert "keras-team/keras#20585" in message
    assert "keras.distribution.initialize" in message
    assert "MirroredStrategy" in message


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="tf.distribute is TensorFlow's")
def test_plain_keras_still_fails_under_two_multi_worker_workers():
    """Tells when keras-team/keras#20585 is fixed: then keras-kd's refusal
    (keras_kd._keras_compat.check_distribution) should be lifted."""
    script = str(SCRIPTS / "mwms_worker.py")
    ports = [str(free_port()), str(free_port())]
    commands = [[sys.executable, script, *ports, str(i)] for i in range(2)]
    env = worker_env(KERAS_BACKEND="tensorflow")
    for code, output, err in run_together(commands, lambda i: env):
        assert code == 0, err[-3000:]
        result = json.loads(output.strip().splitlines()[-1])
        assert not result["fitted"], (
            "Keras fixed #20585: lift keras-kd's refusal of "
            "MultiWorkerMirroredStrategy in keras_kd/_keras_compat.py"
        )
        assert "PerReplica" in result["error"], result["error"]
