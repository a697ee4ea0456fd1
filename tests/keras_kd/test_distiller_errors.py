"""Bad input: each error names what was received and what is expected."""

import keras
import numpy as np
import pytest

import keras_kd


def dense(classes=3, units=4, built=True):
    layers = [keras.layers.Dense(units, activation="relu"), keras.layers.Dense(classes)]
    if built:
        return keras.Sequential([keras.Input((16,))] + layers)
    return keras.Sequential(layers)


def test_output_shapes_that_differ():
    with pytest.raises(
        ValueError,
        match=r"shapes must match.*teacher '.*' outputs shape \(None, 10\), student '.*' outputs shape \(None, 3\)",
    ):
        keras_kd.Distiller(dense(classes=10), dense(classes=3))


@pytest.mark.parametrize("alpha", [-0.1, 1.5, "0.5"])
def test_alpha_outside_zero_one(alpha):
    with pytest.raises(ValueError, match=r"`alpha`.*in \[0, 1\]. Received: alpha="):
        keras_kd.Distiller(dense(), dense(), alpha=alpha)


@pytest.mark.parametrize("temperature", [0.0, -2.0])
def test_temperature_zero_or_below(temperature):
    with pytest.raises(
        ValueError, match=f"temperature must be a number > 0.*Received: temperature={temperature}"
    ):
        keras_kd.Distiller(
            dense(), dense(), distillation_loss=keras_kd.losses.SoftTargetKD(temperature)
        )


def test_teacher_that_is_not_built():
    with pytest.raises(ValueError, match=r"The teacher '.*' is not built.*teacher\(x\[:1\]\)"):
        keras_kd.Distiller(dense(built=False), dense())


def test_compile_without_loss_while_alpha_above_zero():
    distiller = keras_kd.Distiller(dense(), dense(), alpha=0.5)
    with pytest.raises(ValueError, match=r"compile\(\) received no `loss`, but alpha=0.5.*alpha=0"):
        distiller.compile(optimizer="adam")
    keras_kd.Distiller(dense(), dense(), alpha=0.0).compile(optimizer="adam")


@pytest.mark.parametrize("teacher", [lambda x: x, "resnet50", np.zeros(3)])
def test_teacher_that_is_not_a_keras_model(teacher):
    with pytest.raises(
        ValueError, match=r"The teacher must be a keras.Model.*Received: an object of type"
    ):
        keras_kd.Distiller(teacher, dense())


def test_unknown_loss_name_and_empty_loss_list():
    with pytest.raises(
        ValueError, match=r"Unknown distillation loss 'hinton'. Registered names: \[.*'kd'"
    ):
        keras_kd.Distiller(dense(), dense(), distillation_loss="hinton")
    with pytest.raises(ValueError, match=r"`distillation_loss` is an empty list"):
        keras_kd.Distiller(dense(), dense(), distillation_loss=[])


def test_unknown_output_kind():
    with pytest.raises(
        ValueError,
        match=r"`teacher_outputs` must be one of 'auto', 'logits' or 'probabilities'. Received: teacher_outputs='softmax'",
    ):
        keras_kd.Distiller(dense(), dense(), teacher_outputs="softmax")


def test_multi_label_sigmoid_head():
    teacher = keras.Sequential([keras.Input((16,)), keras.layers.Dense(3, activation="sigmoid")])
    with pytest.raises(ValueError, match=r"ends in a sigmoid over 3 units \(a multi-label head\)"):
        keras_kd.Distiller(teacher, dense())
