"""keras_kd.classification.compile_classifier: the hard loss from the student's head."""

import keras
import numpy as np
import pytest

import keras_kd
from keras_kd.classification import compile_classifier


def _model(units, activation=None, name="student"):
    return keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(units, activation=activation)], name=name
    )


@pytest.mark.parametrize(
    "units, activation, loss_class, from_logits",
    [
        (3, None, keras.losses.SparseCategoricalCrossentropy, True),
        (3, "softmax", keras.losses.SparseCategoricalCrossentropy, False),
        # Was sparse cross-entropy over one class: 0 whatever the label (or,
        # on TensorFlow, "label 1 outside the valid range [0, 1)").
        (1, "sigmoid", keras.losses.BinaryCrossentropy, False),
        (1, None, keras.losses.BinaryCrossentropy, True),
    ],
)
def test_the_hard_loss_fits_the_head(units, activation, loss_class, from_logits):
    distiller = keras_kd.Distiller(
        _model(units, activation, "teacher"), _model(units, activation), distillation_loss="kd"
    )
    compile_classifier(distiller, "adam")
    assert type(distiller.loss) is loss_class
    assert distiller.loss.get_config()["from_logits"] is from_logits


def test_without_labels_there_is_no_hard_loss():
    teacher = _model(3, name="teacher")
    distiller = keras_kd.Distiller(teacher, _model(3), distillation_loss="kd", alpha=0.0)
    compile_classifier(distiller, "adam", labelled=False)
    assert distiller.loss is None


def test_a_binary_student_learns_its_labels():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 4)).astype("float32")
    y = (x[:, 0] + x[:, 1] > 0).astype("int32")
    keras.utils.set_random_seed(0)
    teacher = _model(1, "sigmoid", "teacher")  # untrained: the labels must do the teaching
    distiller = keras_kd.Distiller(teacher, _model(1, "sigmoid"), distillation_loss="kd", alpha=1.0)
    compile_classifier(distiller, keras.optimizers.Adam(0.05))
    history = distiller.fit(x, y, epochs=20, batch_size=64, verbose=0).history
    assert history["student_loss"][-1] < 0.5 * history["student_loss"][0]
    predicted = (distiller.student.predict(x, verbose=0)[:, 0] > 0.5).astype("int32")
    assert np.mean(predicted == y) > 0.9
