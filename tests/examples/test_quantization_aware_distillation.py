"""examples/quantization_aware_distillation.py runs end to end in its quick mode: a quantization-aware
student distilled in Keras 3 becomes an int8 file that LiteRT runs as Keras does, and a
MediaPipe-ready one (metadata, uint8 RGB input, probabilities)."""

import os
import re
import subprocess
import sys

import pytest
from _once import example_runs_on_tensorflow  # noqa: E402
from _paths import REPO_ROOT

import tflite_export


@pytest.mark.slow
@example_runs_on_tensorflow
def test_compression_example_writes_an_int8_file_that_agrees_with_keras(tmp_path):
    script = os.path.join(str(REPO_ROOT), "examples", "quantization_aware_distillation.py")
    completed = subprocess.run(
        [sys.executable, script, "--quick", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    rows = dict(
        (name, (int(size.replace(",", "")), float(agreement)))
        for name, size, agreement in re.findall(
            r"^\| (float32|int8 \(QAT\)) \| ([\d,]+) \| [\d.]+% \| ([\d.]+)% \|$",
            completed.stdout,
            flags=re.MULTILINE,
        )
    )
    assert set(rows) == {"float32", "int8 (QAT)"}, completed.stdout
    assert rows["int8 (QAT)"][1] >= 99.0
    assert rows["int8 (QAT)"][0] < rows["float32"][0]
    assert (tmp_path / "student_qat.keras").exists()
    ready = re.search(
        r"MediaPipe-ready: .*test accuracy on uint8 RGB frames ([\d.]+)%", completed.stdout
    )
    assert ready, completed.stdout
    info = tflite_export.read_metadata(tmp_path / "student_int8_mediapipe.tflite")
    assert info.labels == [f"digit {d}" for d in range(10)]
    assert info.output_name == "probabilities" and info.input.shape == (-1, 8, 8, 3)
