"""`run_job`: runs a `Job` in a TensorFlow child process, from the user's one.

The child is `python -m tflite_export._worker job.json` with
`KERAS_BACKEND=tensorflow` (and `TF_USE_LEGACY_KERAS=1` for TFMOT). Its
stdout (the progress bars) is streamed to this process's stdout; its stderr
is kept, and shown in full if it fails.
"""

import json
import os
import subprocess
import sys

from tflite_export._errors import ExportError

_ENTRY_POINT = "tflite_export._worker"


def run_job(job, what, arrays=None):
    """Runs `job` in a TensorFlow child process and returns its outcome.

    Args:
        job: A `Job`; the model file it names must already be written.
        what: What the job does, for error messages, e.g.
            `"converts the model to TFLite"`.
        arrays: Optional dict of NumPy arrays for the child
            (`Job.read_arrays`).

    Returns:
        The child's outcome: the dict its task returned.

    Raises:
        ExportError: The task failed (the message is the child's own), or
            the child process failed (the message holds its stderr).
    """
    path = job.write(arrays)
    _start_child(path, job.folder, what, job.legacy_keras)
    return read_outcome(job.result_path)


def _start_child(job_path, folder, what, legacy_keras):
    env = dict(os.environ, KERAS_BACKEND="tensorflow")
    if legacy_keras:
        env["TF_USE_LEGACY_KERAS"] = "1"
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    stderr_path = os.path.join(folder, "stderr.txt")
    command = [sys.executable, "-m", _ENTRY_POINT, job_path]
    with open(stderr_path, "wb") as stderr:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, env=env)
        # Chunks, not lines: the Keras progress bar redraws with "\r".
        while chunk := os.read(process.stdout.fileno(), 4096):
            sys.stdout.write(chunk.decode("utf-8", errors="replace"))
            sys.stdout.flush()
        process.stdout.close()
        code = process.wait()
    if code != 0:
        with open(stderr_path, encoding="utf-8", errors="replace") as f:
            log = f.read()
        raise ExportError(
            f"The TensorFlow process that {what} failed (exit code {code}). "
            f"Command: {' '.join(command)}\nIts stderr, in full:\n{log}"
        )


def read_outcome(result_path):
    """The outcome the child wrote; raises `ExportError` for a failed task."""
    with open(result_path) as f:
        outcome = json.load(f)
    if "error" in outcome:
        raise ExportError(outcome["error"])
    return outcome


def write_outcome(result_path, work):
    """Runs the child's `work()` and writes its outcome for the parent.

    Args:
        result_path: Path of the JSON file the parent reads.
        work: Callable returning a JSON-serializable dict. A `ValueError`
            (bad input, or an `ExportError`) becomes `{"error": message}`,
            which the parent raises as `ExportError`; anything else fails the
            process, whose stderr the parent shows in full.
    """
    try:
        outcome = work()
    except ValueError as error:
        outcome = {"error": str(error)}
    with open(result_path, "w") as f:
        json.dump(outcome, f)
