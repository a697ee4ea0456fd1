"""The example script and notebook run end to end (their quick mode), on every backend."""

import json
import os
import subprocess
import sys

import keras
import pytest
from _paths import REPO_ROOT

from keras_kd.apps.data import FASHION_MNIST_CLASSES
from tflite_export import tflite_file

ROOT = str(REPO_ROOT)


@pytest.mark.slow
def test_distill_to_android_writes_a_checked_int8_file(tmp_path):
    script = os.path.join(ROOT, "examples", "distill_to_android.py")
    completed = subprocess.run(
        [sys.executable, script, "--quick", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr[-3000:]
    out = completed.stdout
    assert "| file | bytes | vs float32 | test accuracy | agrees with Keras | latency (batch 1) |" in out
    assert "| int8 | " in out and "| float32 | " in out
    with open(tmp_path / "student_int8.json") as f:
        sidecar = json.load(f)
    assert sidecar["labels"][9] == "Ankle boot"
    assert sidecar["normalization"] == {"mean": 0.0, "std": 255.0}
    for name in ("teacher.keras", "student.keras", "student_float32.tflite", "student_int8.tflite"):
        assert (tmp_path / name).exists(), name


def notebook_code(path):
    """The notebook's code cells in order, without IPython magics (`%`, `!`)."""
    with open(path, encoding="utf-8") as f:
        notebook = json.load(f)
    assert notebook["nbformat"] == 4
    lines = []
    for cell in notebook["cells"]:
        if cell["cell_type"] != "code":
            continue
        assert not cell["outputs"], "the notebook is committed without outputs"
        source = "".join(cell["source"])
        lines += [line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))]
        lines.append("")
    return "\n".join(lines)


@pytest.mark.slow
@pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="the notebook is the Colab path; the script above runs the same steps on every backend",
)
def test_distill_to_android_notebook_runs_in_order(tmp_path):
    notebook = os.path.join(ROOT, "examples", "distill_to_android.ipynb")
    script = tmp_path / "notebook.py"
    script.write_text(notebook_code(notebook), encoding="utf-8")
    completed = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=600,
        env=dict(os.environ, KERAS_KD_NOTEBOOK_QUICK="1"),
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr[-3000:]
    out = completed.stdout
    assert "QUICK=True" in out
    assert "| file | bytes | vs float32 | test accuracy | agrees with Keras | latency (batch 1) |" in out
    assert "| float32 | " in out and "| int8 | " in out

    kernels = tflite_file.weight_dtypes(tflite_file.interpreter(tmp_path / "student_int8.tflite"))
    assert "int8" in kernels["CONV_2D"] and "int8" in kernels["FULLY_CONNECTED"]
    with open(tmp_path / "student_int8.json") as f:
        sidecar = json.load(f)
    assert sidecar["quantization"] == "int8"
    assert sidecar["labels"] == list(FASHION_MNIST_CLASSES) and len(sidecar["labels"]) == 10
    assert sidecar["normalization"] == {"mean": 0.0, "std": 255.0}
    assert (tmp_path / "student_float32.tflite").exists()
