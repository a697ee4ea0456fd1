"""The TensorFlow side of `convert` for JAX and PyTorch callers.

`python -m tflite_export.convert_worker JOB`, started by `convert` with
`KERAS_BACKEND=tensorflow`: loads the `.keras` model, converts it with the
job's settings and writes the bytes. A `ValueError` (bad input, unsupported
op) goes into the result file for the parent to raise; anything else fails
the process, whose stderr the parent shows.
"""

import json
import sys

import numpy as np


def main(job_path):
    with open(job_path) as f:
        job = json.load(f)
    from tflite_export.convert import load_model_file
    from tflite_export.tf_subprocess import write_outcome
    from tflite_export.tflite_converter import to_tflite_bytes

    samples = None
    if job["calibration"]:
        with np.load(job["calibration"]) as stored:
            samples = [stored[f"arr_{i}"] for i in range(len(stored.files))]
    def work():
        model = load_model_file(job["model"])
        content = to_tflite_bytes(
            model,
            job["mode"],
            calibration=samples,
            allow_select_tf_ops=job["allow_select_tf_ops"],
            output_name=job["output_name"],
            verbose=job["verbose"],
        )
        with open(job["output"], "wb") as f:
            f.write(content)
        return {"bytes": len(content)}

    write_outcome(job["result"], work)

if __name__ == "__main__":
    main(sys.argv[1])
