"""The fast tier (`python -m pytest -m "not slow"`) still covers every test
file but those named below: marking a test slow must not leave a module with
no quick check."""

import os
import subprocess
import sys

import pytest
from _once import suite_layout_runs_on_tensorflow

TESTS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(TESTS)


def _collected_files(*marker_arguments):
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"]
        + list(marker_arguments)
        + [TESTS],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return {line.split("::")[0] for line in result.stdout.splitlines() if "::" in line}


# Files with no fast test, and why: each runs whole programs (an example
# script, several processes, a client in its own venv), and the module it
# exercises has fast tests elsewhere.
WHOLLY_SLOW = {
    "tests/examples/test_distill_to_android.py": "runs an example script",
    "tests/examples/test_from_keras_distillation.py": "runs an example script",
    "tests/examples/test_function_matching.py": "runs an example script",
    "tests/examples/test_quantization_aware_distillation.py": "runs an example script",
    "tests/examples/test_regression.py": "runs an example script",
    "tests/examples/test_teacher_cache.py": "runs an example script",
    "tests/examples/test_teacher_inputs.py": "runs an example script",
    "tests/keras_kd/test_distiller_data_parallel.py": "replicas on logical devices",
    "tests/keras_kd/test_distiller_knowledge_transfer.py": "trains to a measured gain",
    "tests/keras_kd/test_distiller_model_parallel.py": "sharded variables",
    "tests/keras_kd/test_distiller_multiprocess.py": "two processes on localhost",
    "tests/tflite_export/tflite/test_mediapipe.py": "MediaPipe in its own venv",
    "tests/test_fast_tier.py": "this check: it collects the suite twice",
}


@pytest.mark.slow
@suite_layout_runs_on_tensorflow
def test_every_test_file_but_the_named_ones_has_a_test_in_the_fast_tier():
    everything = _collected_files()
    fast = _collected_files("-m", "not slow")
    assert everything, "pytest collected nothing"
    assert sorted(everything - fast) == sorted(WHOLLY_SLOW)
