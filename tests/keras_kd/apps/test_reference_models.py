"""keras_kd.apps.reference_models: the two teacher/student pairs behind the
README's numbers build for other image sizes and class counts, output what
they say (logits, or probabilities with `softmax=True`) and expose the layers
the taps and benchmarks read by name. (Their 28x28 parameter counts are the
docstring examples, run by tests/test_docstrings.py.)"""

import keras
import numpy as np
import pytest

from keras_kd.apps import reference_models


def images(count=4, shape=(16, 16, 1)):
    return np.random.default_rng(0).normal(size=(count, *shape)).astype("float32")


@pytest.mark.parametrize(
    "build",
    [
        reference_models.teacher_cnn,
        reference_models.student_cnn,
        reference_models.small_teacher_cnn,
        reference_models.tiny_student_cnn,
    ],
)
def test_every_model_takes_other_sizes_and_outputs_logits(build):
    model = build(input_shape=(16, 16, 1), classes=3)
    outputs = keras.ops.convert_to_numpy(model(images(), training=False))
    assert outputs.shape == (4, 3)
    assert model.layers[-1].activation is keras.activations.linear


def test_a_softmax_teacher_outputs_probabilities():
    teacher = reference_models.teacher_cnn((16, 16, 1), classes=3, softmax=True, name="t")
    probabilities = keras.ops.convert_to_numpy(teacher(images(), training=False))
    np.testing.assert_allclose(probabilities.sum(-1), 1.0, rtol=1e-5)
    assert teacher.name == "t" and (probabilities >= 0).all()


def test_the_student_width_sets_its_filters():
    narrow = reference_models.student_cnn((16, 16, 1), classes=3, width=4)
    wide = reference_models.student_cnn((16, 16, 1), classes=3, width=8)
    assert [narrow.get_layer(name).filters for name in ("conv1", "conv2")] == [4, 8]
    assert [wide.get_layer(name).filters for name in ("conv1", "conv2")] == [8, 16]


def test_the_named_layers_the_taps_read():
    teacher = reference_models.small_teacher_cnn((16, 16, 1), classes=3)
    student = reference_models.tiny_student_cnn((16, 16, 1), classes=3)
    assert teacher.get_layer("embedding").output.shape == (None, 128)
    # Two 2x2 poolings: 16x16 -> 4x4, times the 16 filters of conv2.
    assert student.get_layer("features").output.shape == (None, 4 * 4 * 16)
