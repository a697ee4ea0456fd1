"""benchmarks/_pays_models.py: the flip-averaged teacher the students of
benchmarks/pays.py learn from."""

import re

import keras
import numpy as np
import pytest
from _paths import import_benchmark

import keras_kd


@pytest.fixture(scope="module")
def models():
    return import_benchmark("_pays_models")


def _conv_teacher(shape, head=None, units=4):
    return keras.Sequential(
        [keras.Input(shape), keras.layers.Flatten(), keras.layers.Dense(units, activation=head)]
    )


def _numpy_flip_mean(teacher, x, width_axis, log=False):
    """The mean of teacher(x) and teacher(x mirrored), by NumPy."""
    outputs = [teacher.predict(v, verbose=0) for v in (x, np.flip(x, axis=width_axis))]
    if log:
        outputs = [np.log(o) for o in outputs]
    return (outputs[0] + outputs[1]) / 2


@pytest.mark.parametrize(
    "shape, head, data_format, width_axis, log",
    [
        ((6, 5, 2), None, "channels_last", 2, False),
        ((6, 5), None, "channels_last", 2, False),  # no channel axis
        # Before: the mirror of channels_first images flipped their height.
        ((2, 6, 5), None, "channels_first", 3, False),
        # Before: probabilities averaged, and the result read as logits (the
        # Average hides the softmax): the students divided probabilities by T.
        ((6, 5, 2), "softmax", "channels_last", 2, True),
    ],
    ids=["logits", "no_channel_axis", "channels_first", "softmax_head"],
)
def test_flip_averaged_is_the_mean_over_the_mirror_image(
    models, tmp_path, shape, head, data_format, width_axis, log
):
    previous = keras.config.image_data_format()
    keras.config.set_image_data_format(data_format)
    try:
        teacher = _conv_teacher(shape, head)
        averaged = models.flip_averaged(teacher)
    finally:
        keras.config.set_image_data_format(previous)
    x = np.random.default_rng(0).uniform(size=(3, *shape)).astype("float32")
    expected = _numpy_flip_mean(teacher, x, width_axis, log)
    np.testing.assert_allclose(averaged.predict(x, verbose=0), expected, atol=1e-5)
    assert keras_kd.outputs.detect_output_kind(averaged) == "logits"
    # Before: saved, but not loaded back (HorizontalFlip was not serializable).
    averaged.save(tmp_path / "averaged.keras")
    loaded = keras.saving.load_model(tmp_path / "averaged.keras")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), expected, atol=1e-5)


@pytest.mark.parametrize(
    "teacher, words",
    [
        # Before: "Could not automatically infer the output shape" of HorizontalFlip.
        (lambda: _conv_teacher((5,)), "flip_averaged mirrors images, (batch, height, width"),
        (lambda: _conv_teacher((6, 5, 2), "sigmoid"), "a sigmoid over several units"),
    ],
    ids=["features", "multi_label"],
)
def test_flip_averaged_refuses_what_it_cannot_mirror_or_average(models, teacher, words):
    with pytest.raises(ValueError, match=re.escape(words)):
        models.flip_averaged(teacher())
