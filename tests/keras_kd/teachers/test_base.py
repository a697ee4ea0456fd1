"""The Teacher interface is the one extension point for new kinds of teacher.

A teacher that reads stored targets (the shape of an offline cache) is
written here against `keras_kd.teachers.Teacher` alone, without touching the
Distiller, and must train the student exactly as the live teacher does.
"""

import keras
import numpy as np
import pytest
from keras import ops

import keras_kd
from keras_kd.losses.base import ModelOutputs


class StoredTargets(keras_kd.teachers.Teacher):
    """Targets computed before training, read from `x["targets"]`."""

    def __init__(self, kind, classes, **kwargs):
        super().__init__(**kwargs)
        self.kind, self.classes = kind, classes

    def bind(self, student, teacher_layers, teacher_outputs="auto"):
        if teacher_layers:
            raise ValueError(f"Stored targets hold no layers: {teacher_layers}")
        self.kinds = [self.kind]

    def check_output_shape(self, student):
        assert student.output_shape[-1] == self.classes

    def split_inputs(self, inputs):
        if not isinstance(inputs, dict):  # predict() on the student's inputs alone
            return inputs, None
        return inputs["x"], inputs["targets"]

    def forward(self, inputs):
        return ops.convert_to_tensor(inputs)

    def view(self, targets):
        return ModelOutputs(targets, self.kind)


def fit_and_weights(teacher, student, x, y):
    distiller = keras_kd.Distiller(teacher, student, keras_kd.losses.SoftTargetKD(2.0), alpha=0.3)
    distiller.compile(
        optimizer=keras.optimizers.SGD(0.1),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    history = distiller.fit(x, y, epochs=2, batch_size=32, shuffle=False, verbose=0).history
    return [np.array(w) for w in student.get_weights()], history


def test_a_new_teacher_kind_plugs_in_without_touching_the_distiller(
    blobs, trained_teacher, make_student
):
    x, y = blobs
    student = make_student(name="live")
    initial = student.get_weights()
    live_weights, live_history = fit_and_weights(trained_teacher, student, x, y)

    stored = trained_teacher.predict(x, verbose=0)  # a softmax head: probabilities
    replay = make_student(name="replay")
    replay.set_weights(initial)
    replay_weights, replay_history = fit_and_weights(
        StoredTargets("probabilities", 3), replay, {"x": x, "targets": stored}, y
    )
    for live, cached in zip(live_weights, replay_weights):
        np.testing.assert_allclose(cached, live, rtol=1e-5, atol=1e-6)
    for key in ("loss", "student_loss", "distillation_loss", "accuracy"):
        np.testing.assert_allclose(replay_history[key], live_history[key], rtol=1e-4, atol=1e-6)
    distiller = keras_kd.Distiller(StoredTargets("probabilities", 3), replay, alpha=0.3)
    np.testing.assert_allclose(
        distiller.predict({"x": x, "targets": stored}, verbose=0),
        replay.predict(x, verbose=0),
        rtol=1e-6,
    )
    np.testing.assert_allclose(
        distiller.predict(x, verbose=0), replay.predict(x, verbose=0), rtol=1e-6
    )


def test_teacher_arguments_resolve_to_one_teacher_object(trained_teacher, make_student):
    student = make_student()
    single = keras_kd.Distiller(trained_teacher, student)
    assert isinstance(single.teacher, keras_kd.teachers.ModelTeacher)
    assert single.teachers == [trained_teacher] and single.teacher.kind == "probabilities"
    other = make_student(name="other")
    ensemble = keras_kd.Distiller([trained_teacher, other], student, teacher_weights=[1, 3])
    assert isinstance(ensemble.teacher, keras_kd.teachers.EnsembleTeacher)
    assert ensemble.teacher.member_weights == [0.25, 0.75]
    assert ensemble.teacher.kinds == ["probabilities", "logits"]


def test_a_teacher_that_is_not_a_model_is_refused_by_name(make_student):
    with pytest.raises(
        ValueError,
        match=r"The teacher must be a keras.Model.*Received: an object of type builtins.str",
    ):
        keras_kd.Distiller("teacher.keras", make_student())


def test_the_base_interface_names_what_a_subclass_must_implement(make_student):
    class Incomplete(keras_kd.teachers.Teacher):
        pass

    with pytest.raises(NotImplementedError, match=r"Incomplete must implement `bind"):
        keras_kd.Distiller(Incomplete(), make_student())
