"""Markers for what the suite runs on one backend, to keep CI under its time
limit: each says why once is enough.

The features an example uses are tested on all three backends in their own
test files; the example itself (minutes of compiling and training on JAX
and PyTorch) runs once, on TensorFlow.
"""

import keras
import pytest


def _on_tensorflow_only(reason):
    """Skips the test on JAX and PyTorch, saying `reason`."""
    return pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason=reason)


example_runs_on_tensorflow = _on_tensorflow_only(
    "the example runs once (TensorFlow); its features are tested on every backend"
)

# TFMOT's fine-tuning runs in the TensorFlow worker whatever the backend of the
# calling process, so what happens inside it is tested once; each backend's
# hand-off to the worker stays tested by the module's own fixture run.
worker_behaviour_runs_on_tensorflow = _on_tensorflow_only(
    "inside the TensorFlow worker, the same on every backend; the hand-off is tested on each"
)

# tflite_export's examples convert in TensorFlow (in a child process from JAX
# and PyTorch, 25-65 s an example module there); converting from every
# backend is tested in tests/tflite_export (test_convert, test_metadata,
# test_evaluate, test_worker).
conversion_example_runs_on_tensorflow = _on_tensorflow_only(
    "the example converts in TensorFlow; conversion from every backend is tested in "
    "tests/tflite_export"
)

# The suite's files and marks do not depend on the backend: checked once.
suite_layout_runs_on_tensorflow = _on_tensorflow_only(
    "the suite's files and marks are the same under every backend"
)

# Which layer kinds convert to an int8 file is decided by the converter, in
# TensorFlow whatever backend trained the model; that a model quantization-
# aware trained on every backend becomes an int8 file agreeing with it is
# tested on each (test_compressed: the CNN, the subclassed model, the pruned).
layer_coverage_runs_on_tensorflow = _on_tensorflow_only(
    "which layers convert is the converter's (TensorFlow); training on every backend "
    "then converting is tested on each"
)

# benchmarks/pays.py is run on TensorFlow (the commands in RESULTS_pays.md);
# a run of it end to end (minutes of compiling on JAX) is tested there, its
# arguments, records and tables on every backend, and the library features
# it trains with in their own test files.
benchmark_run_runs_on_tensorflow = _on_tensorflow_only(
    "the benchmark runs on TensorFlow; its arguments and records are tested on every backend"
)
