"""Taps: intermediate layers come from the same single forward pass of each
model, projectors train but stay out of the student, and bad layer requests
fail with the fix named."""

import os

import keras
import numpy as np
import pytest

import keras_kd
from keras_kd import losses


@keras.saving.register_keras_serializable(package="keras_kd_tests")
class CountingIdentity(keras.layers.Layer):
    """Identity that counts how often it runs on real (non-symbolic) data."""

    calls = {}

    def call(self, inputs):
        if not isinstance(inputs, keras.KerasTensor):
            CountingIdentity.calls[self.name] = CountingIdentity.calls.get(self.name, 0) + 1
        return inputs


def cnn(width, name, counter=None, size=8):
    inputs = keras.Input((size, size, 1))
    h = inputs if counter is None else CountingIdentity(name=counter)(inputs)
    h = keras.layers.Conv2D(width, 3, padding="same", activation="relu", name="conv1")(h)
    h = keras.layers.MaxPooling2D(name="pool")(h)
    h = keras.layers.Conv2D(2 * width, 3, padding="same", activation="relu", name="conv2")(h)
    h = keras.layers.GlobalAveragePooling2D(name="gap")(h)
    outputs = keras.layers.Dense(3, name="head")(h)
    return keras.Model(inputs, outputs, name=name)


@pytest.fixture
def images():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(48, 8, 8, 1)).astype("float32")
    return x, rng.integers(0, 3, size=48).astype("int32")


def compile_(distiller, **kwargs):
    distiller.compile(
        optimizer=keras.optimizers.Adam(1e-2),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        **kwargs,
    )
    return distiller


@pytest.mark.slow
def test_teacher_and_student_run_once_per_step_taps_included(images):
    x, y = images
    teacher = cnn(8, "teacher", counter="count_teacher")
    student = cnn(2, "student", counter="count_student")
    distiller = keras_kd.Distiller(
        teacher,
        student,
        distillation_loss=[
            losses.SoftTargetKD(4.0),
            losses.FitNetHint("conv2", "conv2", weight=0.5),
            losses.AttentionTransfer([("conv1", "conv1")]),
            losses.RKD("gap", "gap", weight=0.1),
        ],
        alpha=0.5,
    )
    compile_(distiller, run_eagerly=True)
    # The first fit also builds Keras' compiled metrics from one abstract
    # student call (jax.eval_shape / torch meta tensors); count after it.
    distiller.fit(x[:16], y[:16], batch_size=16, epochs=1, verbose=0)
    CountingIdentity.calls.clear()
    distiller.fit(x[:32], y[:32], batch_size=16, epochs=1, verbose=0)  # 2 steps
    assert CountingIdentity.calls == {"count_teacher": 2, "count_student": 2}
    CountingIdentity.calls.clear()
    distiller.evaluate(x[:16], y[:16], batch_size=16, verbose=0)  # 1 step
    assert CountingIdentity.calls == {"count_teacher": 1, "count_student": 1}


def test_fitnet_projector_trains_but_stays_out_of_the_student(images, tmp_path):
    x, y = images
    teacher, student = cnn(8, "teacher"), cnn(2, "student")
    student_params = student.count_params()
    hint = losses.FitNetHint("conv2", "conv1")  # (4, 4, 16) <- (8, 8, 2)
    distiller = compile_(
        keras_kd.Distiller(teacher, student, [losses.SoftTargetKD(4.0), hint], alpha=0.5)
    )
    assert [type(layer).__name__ for layer in hint.projector.layers] == ["Resizing", "Conv2D"]
    kernel_before = keras.ops.convert_to_numpy(hint.projector.weights[0]).copy()
    distiller.fit(x, y, batch_size=16, epochs=2, verbose=0)
    kernel_after = keras.ops.convert_to_numpy(hint.projector.weights[0])
    assert not np.allclose(kernel_before, kernel_after)  # it trained
    assert distiller.loss_layers == [hint.projector]
    assert distiller.student.count_params() == student_params
    path = os.path.join(tmp_path, "student.keras")
    distiller.student.save(path)
    assert keras.saving.load_model(path).count_params() == student_params

    # The projector saves and loads with the Distiller.
    path = os.path.join(tmp_path, "distiller.keras")
    distiller.save(path)
    restored = keras.saving.load_model(path, custom_objects={"CountingIdentity": CountingIdentity})
    restored_kernel = restored.distillation_losses[1].projector.weights[0]
    np.testing.assert_allclose(keras.ops.convert_to_numpy(restored_kernel), kernel_after)


def test_every_method_composes_in_a_weighted_list(images):
    x, y = images
    teacher, student = cnn(8, "teacher"), cnn(2, "student")
    distiller = compile_(
        keras_kd.Distiller(
            teacher,
            student,
            distillation_loss=[
                losses.SoftTargetKD(4.0),
                losses.DKD(weight=0.5),
                losses.DIST(),
                losses.FitNetHint("conv2", "conv2", weight=0.5),
                losses.AttentionTransfer([("conv2", "conv2")], weight=100.0),
                losses.RKD(weight=0.1),
            ],
            alpha=0.5,
        )
    )
    history = distiller.fit(x, y, batch_size=16, epochs=3, verbose=0).history
    assert np.all(np.isfinite(history["loss"]))
    assert history["distillation_loss"][-1] < history["distillation_loss"][0]
    config = distiller.get_config()
    assert [c["class_name"] for c in config["distillation_loss"]] == [
        "SoftTargetKD",
        "DKD",
        "DIST",
        "FitNetHint",
        "AttentionTransfer",
        "RKD",
    ]


def test_unknown_layer_lists_the_real_ones():
    teacher, student = cnn(8, "teacher"), cnn(2, "student")
    with pytest.raises(
        ValueError,
        match=r"student 'student' has no layer named 'conv3'.*\['input_layer.*'conv1', 'pool', 'conv2', 'gap', 'head'\]",
    ):
        keras_kd.Distiller(teacher, student, losses.FitNetHint("conv2", "conv3"))
    with pytest.raises(ValueError, match=r"teacher 'teacher' has no layer named 'block2'.*'conv1'"):
        keras_kd.Distiller(teacher, student, losses.AttentionTransfer([("block2", "conv2")]))


class Subclassed(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.conv = keras.layers.Conv2D(4, 3, name="conv2")
        self.pool = keras.layers.GlobalAveragePooling2D()
        self.head = keras.layers.Dense(3)

    def call(self, x):
        return self.head(self.pool(self.conv(x)))


def test_subclassed_models_cannot_be_tapped_and_the_error_says_why():
    teacher = cnn(8, "teacher")
    student = Subclassed(name="sub")
    student(np.zeros((1, 8, 8, 1), "float32"))
    with pytest.raises(
        ValueError,
        match=r"student 'sub' is a subclassed Subclassed.*cannot be tapped.*\['conv2'\].*Functional or Sequential",
    ):
        keras_kd.Distiller(teacher, student, losses.FitNetHint("conv2", "conv2"))
    # Losses on the final outputs work with subclassed models.
    keras_kd.Distiller(teacher, student, [losses.DKD(), losses.DIST(), losses.RKD()])


def test_sequential_models_can_be_tapped(images):
    x, y = images
    teacher = cnn(8, "teacher")
    student = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(4, 3, padding="same", name="c1"),
            keras.layers.GlobalAveragePooling2D(name="g"),
            keras.layers.Dense(3, name="out"),
        ]
    )
    distiller = compile_(
        keras_kd.Distiller(
            teacher,
            student,
            [losses.AttentionTransfer([("conv1", "c1")]), losses.FitNetHint("gap", "g")],
        )
    )
    history = distiller.fit(x, y, batch_size=16, epochs=1, verbose=0).history
    assert np.isfinite(history["loss"][-1])
