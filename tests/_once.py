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
