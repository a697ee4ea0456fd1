"""examples/from_keras_distillation.py runs end to end (its quick mode)."""

import os
import re
import subprocess
import sys

import pytest
from _once import example_runs_on_tensorflow

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.slow  # About 11 s of CPU time: TensorFlow's import and five short trainings.
@example_runs_on_tensorflow
def test_code_for_keras_distillation_runs_on_both_distillers():
    script = os.path.join(ROOT, "examples", "from_keras_distillation.py")
    env = {**os.environ, "PYTHONPATH": ROOT}
    completed = subprocess.run(
        [sys.executable, script, "--quick"],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    out = completed.stdout
    for label in (
        "teacher",
        "student alone",
        "student, keras.distillation.Distiller",
        "student, keras_kd.Distiller",
    ):
        row = re.search(rf"^\| {re.escape(label)} \| [\d,]+ \| (\d+\.\d+)% \|", out, re.M)
        assert row, (label, out)
        assert 0.0 <= float(row.group(1)) <= 100.0
    assert re.search(
        r"loss='sparse_categorical_crossentropy'.*outputs logits.*from_logits=True", out
    ), out
