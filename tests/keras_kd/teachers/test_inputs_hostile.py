"""What the teacher and the student read, hostile cases (
defects 11, 12, 25): shape mistakes named in keras-kd's words, a
preprocessor that changes the batch size, one model as both."""

import keras
import numpy as np
import pytest

import keras_kd


def dense(width, units=3, seed=0):
    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input((width,)), keras.layers.Dense(units)])


def fit(x, teacher_width=6, student_width=4, **kwargs):
    d = keras_kd.Distiller(dense(teacher_width), dense(student_width, seed=1), alpha=0.0, **kwargs)
    d.compile("sgd")
    d.fit(x, epochs=1, batch_size=4, verbose=0)
    return d


STUDENT_X = np.zeros((8, 4), "float32")
TEACHER_X = np.ones((8, 6), "float32")


def shared_layer():
    layer = keras.layers.Dense(3)
    teacher = keras.Sequential([keras.Input((4,)), layer])
    student = keras.Sequential([keras.Input((4,)), keras.layers.Dense(4), layer])
    return keras_kd.Distiller(teacher, student)


def own_preprocessor():
    teacher = keras_kd.teachers.ModelTeacher(dense(6))
    teacher.set_preprocessor(keras.layers.Dense(6, name="own"))
    return teacher


def keeps_its_preprocessor():
    teacher = own_preprocessor()
    distiller = keras_kd.Distiller(teacher, dense(4), alpha=0.0)
    assert distiller.teacher.preprocessor.name == "own"
    distiller.compile("sgd")
    distiller.fit(STUDENT_X, epochs=1, batch_size=4, verbose=0)
    assert distiller.get_config()["teacher_preprocessor"]["config"]["name"] == "own"


def same_model():
    m = dense(4)
    return keras_kd.Distiller(m, m)


# (id, call, error words or None for a correct result)
CASES = [
    (
        "teacher-shaped-x",
        lambda: fit(TEACHER_X),
        r"The student 'sequential.*' reads inputs of shape \(None, 4\), but x in this step has shape \(\d+, 6\): the input shapes differ",
    ),
    (
        "swapped-dict",
        lambda: fit({"teacher": STUDENT_X, "student": TEACHER_X}),
        r"but x\['student'\] in this step has shape \(\d+, 6\): the input shapes differ",
    ),
    ("student-x-alone", lambda: fit(STUDENT_X), r"input shapes differ"),
    (
        "preprocessor-drops-samples",
        lambda: fit(
            STUDENT_X,
            student_width=4,
            teacher_width=4,
            teacher_preprocessor=keras.layers.Lambda(lambda t: t[:1]),
        ),
        r"teacher_preprocessor '.*' must give one teacher input per student input, but on a batch of 3 it gave a batch of \[1\]",
    ),
    (
        "same-model-twice",
        same_model,
        r"The teacher and the student are the same model '.*'.*clone_model",
    ),
    ("shared-layer", shared_layer, r"shares 2 weights with the teacher"),
    (
        # Before: accepted, and the first step failed inside fit().
        "preprocessor-of-the-wrong-shape",
        lambda: keras_kd.Distiller(
            dense(6), dense(4), teacher_preprocessor=keras.layers.Lambda(lambda t: t[:, :3])
        ),
        r"The teacher '.*' reads inputs of shape \(None, 6\), but its inputs on a batch of the "
        r"student's inputs have shape \(3, 3\): the output of teacher_preprocessor",
    ),
    (
        "teacher-preprocessor-and-another",
        lambda: keras_kd.Distiller(
            own_preprocessor(), dense(4), teacher_preprocessor=keras.layers.Rescaling(3.0)
        ),
        r"already has the preprocessor 'own', and the Distiller received "
        r"teacher_preprocessor='rescaling.*': a teacher reads through one",
    ),
    # Correct results: the dict in the right order; a teacher's own
    # preprocessor is kept (before, bind replaced it with None).
    ("dict-in-order", lambda: fit({"teacher": TEACHER_X, "student": STUDENT_X}), None),
    ("teacher-keeps-its-preprocessor", lambda: keeps_its_preprocessor(), None),
]


@pytest.mark.parametrize("call, words", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_inputs_are_named_in_keras_kd_words(call, words):
    if words is None:
        call()
        return
    with pytest.raises(ValueError, match=words):
        call()
