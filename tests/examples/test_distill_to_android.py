"""The example script runs end to end (its quick mode), once (TensorFlow): the
export from a JAX or PyTorch process (a TensorFlow child), metadata and
uint8 input included, is tested on every backend in tests/tflite_export/.

The notebook runs in tests/examples/test_colab_install.py, in a simulated Colab runtime.
"""

import json
import os
import subprocess
import sys

import pytest
from _once import example_runs_on_tensorflow
from _paths import REPO_ROOT

ROOT = str(REPO_ROOT)


@pytest.mark.slow
@example_runs_on_tensorflow
def test_distill_to_android_writes_a_checked_int8_file(tmp_path):
    script = os.path.join(ROOT, "examples", "distill_to_android.py")
    completed = subprocess.run(
        [sys.executable, script, "--quick", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    out = completed.stdout
    assert (
        "| file | bytes | vs float32 | test accuracy | agrees with Keras | latency (batch 1) |"
        in out
    )
    assert "| int8 | " in out and "| float32 | " in out
    with open(tmp_path / "student_int8.json") as f:
        sidecar = json.load(f)
    assert sidecar["labels"][9] == "Ankle boot" and sidecar["image_input"] == "uint8_rgb"
    assert sidecar["normalization_in_model"] == {"mean": 0.0, "std": 255.0}
    assert "metadata labels  10 (T-shirt/top, Trouser" in out
    for name in ("teacher.keras", "student.keras", "student_float32.tflite", "student_int8.tflite"):
        assert (tmp_path / name).exists(), name
