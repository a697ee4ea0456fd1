"""The child entry point: `python -m tflite_export._worker job.json`.

Started by `run_job` with `KERAS_BACKEND=tensorflow` (and, for TFMOT,
`TF_USE_LEGACY_KERAS=1`, which must be set before TensorFlow is imported):
reads the `Job`, runs its task and writes the outcome for the parent (see
`write_outcome`).
"""

import sys

from tflite_export._worker._job import read_job
from tflite_export._worker._runner import write_outcome


def _task(name):
    """The function that runs a job of task `name` in TensorFlow."""
    if name == "convert":
        from tflite_export.tflite._converter import convert_job

        return convert_job
    from tflite_export.tfmot._child import run_tfmot_job

    return run_tfmot_job


def main(job_path):
    job = read_job(job_path)
    task = _task(job.task)
    write_outcome(job.result_path, lambda: task(job))


if __name__ == "__main__":
    main(sys.argv[1])
