"""Runs a tflite_export worker module in a TensorFlow process.

Conversion and TFMOT need Keras' TensorFlow backend; a user on JAX or PyTorch
cannot switch backends inside a running process. The parent writes its inputs
to a folder, starts `python -m <module> <job>` with `KERAS_BACKEND=tensorflow`,
streams the child's output (the progress bars) and, when the child fails,
raises with the child's stderr in full.
"""

import json
import os
import subprocess
import sys


def run_tensorflow_worker(module, job_path, work_dir, what, legacy_keras=False):
    """Runs `python -m module job_path` with the TensorFlow backend.

    Args:
        module: Importable module name with a `__main__` entry point.
        job_path: Path of the JSON job file the worker reads.
        work_dir: Folder for the child's stderr log.
        what: Short description of the job, for the error message.
        legacy_keras: Whether the child's `tf.keras` is tf-keras (Keras 2),
            as TFMOT needs.

    Raises:
        RuntimeError: The child exited with a non-zero code; the message holds
            the command and the child's stderr.
    """
    env = dict(os.environ, KERAS_BACKEND="tensorflow")
    if legacy_keras:
        env["TF_USE_LEGACY_KERAS"] = "1"
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    stderr_path = os.path.join(work_dir, "stderr.txt")
    command = [sys.executable, "-m", module, job_path]
    with open(stderr_path, "wb") as stderr:
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=stderr, env=env
        )
        # Chunks, not lines: the Keras progress bar redraws with "\r".
        while chunk := os.read(process.stdout.fileno(), 4096):
            sys.stdout.write(chunk.decode("utf-8", errors="replace"))
            sys.stdout.flush()
        process.stdout.close()
        code = process.wait()
    if code != 0:
        with open(stderr_path, encoding="utf-8", errors="replace") as f:
            log = f.read()
        raise RuntimeError(
            f"The TensorFlow process that {what} failed (exit code {code}). "
            f"Command: {' '.join(command)}\nIts stderr, in full:\n{log}"
        )


def write_outcome(result_path, work):
    """Runs a worker's `work()` and writes its outcome for the parent.

    Args:
        result_path: Path of the JSON file the parent reads.
        work: Callable returning a JSON-serializable dict. A `ValueError`
            (bad input the parent re-raises with the same message) becomes
            `{"error": message}`; anything else fails the process, whose
            stderr the parent shows in full.
    """
    try:
        outcome = work()
    except ValueError as error:
        outcome = {"error": str(error)}
    with open(result_path, "w") as f:
        json.dump(outcome, f)
