"""Distillation demonstrably transfers knowledge, on real data (digits)."""

import keras
import numpy as np
import pytest

import keras_kd
from keras_kd.apps.data import load_digits

pytestmark = pytest.mark.slow


def mlp(hidden, softmax=False, name=None):
    return keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Flatten(),
            keras.layers.Dense(hidden, activation="relu"),
            keras.layers.Dense(10, activation="softmax" if softmax else None),
        ],
        name=name,
    )


def sparse_ce():
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def accuracy(model, x, y):
    return float(np.mean(np.argmax(model.predict(x, verbose=0), -1) == y))


@pytest.fixture(scope="module")
def digits_and_teacher():
    keras.utils.set_random_seed(0)
    (x_train, y_train), (x_test, y_test) = load_digits()
    teacher = mlp(128, softmax=True, name="teacher")
    teacher.compile(keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy")
    teacher.fit(x_train, y_train, epochs=30, batch_size=64, verbose=0)
    return (x_train, y_train), (x_test, y_test), teacher


def test_soft_targets_on_unlabeled_images_beat_labels_alone(digits_and_teacher):
    (x_train, y_train), (x_test, y_test), teacher = digits_and_teacher
    labeled = np.random.default_rng(0).permutation(len(x_train))[: len(x_train) // 10]
    x_few, y_few = x_train[labeled], y_train[labeled]

    keras.utils.set_random_seed(1)
    alone = mlp(16, name="student_alone")
    alone.compile(keras.optimizers.Adam(3e-3), sparse_ce())
    alone.fit(x_few, y_few, epochs=150, batch_size=32, verbose=0)

    keras.utils.set_random_seed(1)
    student = mlp(16, name="student")
    # Soft targets on every training image (no labels) ...
    unlabeled = keras_kd.Distiller(teacher, student, alpha=0.0)
    unlabeled.compile(keras.optimizers.Adam(3e-3))
    unlabeled.fit(x_train, epochs=30, batch_size=64, verbose=0)
    # ... then the few labels, still with the teacher watching.
    labeled_step = keras_kd.Distiller(teacher, student, alpha=0.5)
    labeled_step.compile(keras.optimizers.Adam(1e-3), loss=sparse_ce())
    labeled_step.fit(x_few, y_few, epochs=20, batch_size=32, verbose=0)

    teacher_acc = accuracy(teacher, x_test, y_test)
    alone_acc, distilled_acc = accuracy(alone, x_test, y_test), accuracy(student, x_test, y_test)
    print(
        f"teacher {teacher_acc:.3f}  alone on 10% labels {alone_acc:.3f}  distilled {distilled_acc:.3f}"
    )
    assert teacher_acc > 0.93
    assert distilled_acc >= alone_acc + 0.03


def test_probability_teacher_and_its_logit_copy_agree_exactly(digits_and_teacher):
    (x_train, _), _, teacher = digits_and_teacher
    copy = mlp(128, softmax=False, name="logit_copy")
    copy.set_weights(teacher.get_weights())
    distiller = keras_kd.Distiller(teacher, copy, alpha=0.0)
    assert (distiller.teacher.kind, distiller.student_kind) == ("probabilities", "logits")
    distiller.compile(optimizer="adam")
    logs = distiller.evaluate(x_train, verbose=0, return_dict=True)
    assert logs["distillation_loss"] < 1e-5
    # Confusing probabilities for logits would give a large loss instead.
    confused = keras_kd.Distiller(teacher, copy, alpha=0.0, teacher_outputs="logits")
    confused.compile(optimizer="adam")
    assert confused.evaluate(x_train, verbose=0, return_dict=True)["distillation_loss"] > 0.1
