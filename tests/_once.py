"""A marker for the example scripts that the suite runs on one backend.

The features an example uses are tested on all three backends in their own
test files; the example itself (minutes of compiling and training on JAX
and PyTorch) runs once, on TensorFlow, to keep CI under its time limit.
"""

import keras
import pytest

example_runs_on_tensorflow = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="the example runs once (TensorFlow); its features are tested on every backend",
)

# TFMOT's fine-tuning runs in the TensorFlow worker whatever the backend of the
# calling process, so what happens inside it is tested once; each backend's
# hand-off to the worker stays tested by the module's own fixture run.
worker_behaviour_runs_on_tensorflow = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="inside the TensorFlow worker, the same on every backend; the hand-off is tested on each",
)
