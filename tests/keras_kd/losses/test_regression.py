"""Output matching for regression heads ("mse", "huber"): the formulas against
NumPy, the configs, the errors, a Distiller step against a plain Keras fit
weight for weight, and a small fit that closes the student-teacher gap."""

import warnings

import keras
import numpy as np
import pytest

import keras_kd
from keras_kd import losses
from keras_kd.losses.base import EnsembleOutputs
from keras_kd.losses.base import ModelOutputs


def to_numpy(value):
    return keras.ops.convert_to_numpy(value)


def numpy_huber(d, delta):
    d = np.abs(d)
    return np.where(d <= delta, 0.5 * d**2, delta * (d - 0.5 * delta))


def regressor(hidden, outputs=2, name=None):
    return keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(hidden, activation="tanh"),
            keras.layers.Dense(outputs),
        ],
        name=name,
    )


@pytest.mark.parametrize("shape", [(8, 3), (4, 5, 2)])
def test_mse_and_huber_match_numpy(shape):
    rng = np.random.default_rng(0)
    t = rng.normal(scale=2.0, size=shape).astype("float32")
    s = rng.normal(scale=2.0, size=shape).astype("float32")
    d = s.astype("float64") - t
    axes = -1  # One value per position: padding can be left out (issue 20).
    expected_mse = (d**2).mean(axes)
    np.testing.assert_allclose(to_numpy(losses.mse_distillation(t, s)), expected_mse, rtol=1e-5)
    for delta in (0.3, 1.0, 5.0):
        expected = numpy_huber(d, delta).mean(axes)
        value = losses.huber_distillation(t, s, delta=delta)
        np.testing.assert_allclose(to_numpy(value), expected, rtol=1e-5)
        loss = losses.HuberDistillation(delta=delta)
        value = loss(ModelOutputs(t, "logits"), ModelOutputs(s, "logits"))
        np.testing.assert_allclose(to_numpy(value), expected, rtol=1e-5)
    value = losses.get("mse")(ModelOutputs(t, "logits"), ModelOutputs(s, "logits"))
    np.testing.assert_allclose(to_numpy(value), expected_mse, rtol=1e-5)


def test_an_ensemble_teacher_is_matched_by_its_weighted_mean_output():
    rng = np.random.default_rng(1)
    a, b, s = (rng.normal(size=(5, 2)).astype("float32") for _ in range(3))
    teacher = EnsembleOutputs([a, b], ["logits", "logits"], [0.25, 0.75])
    target = 0.25 * a.astype("float64") + 0.75 * b
    value = losses.get("mse")(teacher, ModelOutputs(s, "logits"))
    np.testing.assert_allclose(to_numpy(value), ((s - target) ** 2).mean(-1), rtol=1e-5)


def test_registry_configs_and_round_trip():
    assert {"mse", "huber"} <= set(losses.output_level_names())
    assert losses.describe("huber").class_name == "HuberDistillation"
    for loss in (
        losses.MSEDistillation(weight=0.5),
        losses.HuberDistillation(delta=0.25, name="h"),
    ):
        config = keras.saving.serialize_keras_object(loss)
        again = keras.saving.deserialize_keras_object(config)
        assert type(again) is type(loss) and again.get_config() == loss.get_config()
    assert losses.HuberDistillation(delta=2).get_config() == {
        "weight": 1.0,
        "name": "huber",
        "delta": 2.0,
    }


@pytest.mark.parametrize("delta", [0, -1.0, float("nan"), "1"])
def test_huber_refuses_a_bad_delta(delta):
    with pytest.raises(
        ValueError, match=r"HuberDistillation `delta` must be a number > 0.*Received: delta="
    ):
        losses.HuberDistillation(delta=delta)


def test_outputs_of_different_kinds_are_refused():
    teacher = keras.Sequential([keras.Input((6,)), keras.layers.Dense(3, activation="softmax")])
    for loss in ("mse", losses.HuberDistillation(name="h")):
        with pytest.raises(
            ValueError,
            match=(
                r"The distillation loss (MSEDistillation \('mse'\)|HuberDistillation \('h'\)) compares .* value for "
                r"value, but the teacher outputs probabilities and the student logits. Give them the same head"
            ),
        ):
            keras_kd.Distiller(teacher, regressor(4, outputs=3), distillation_loss=loss)
    keras_kd.Distiller(
        teacher, regressor(4, outputs=3), distillation_loss="mse", student_outputs="probabilities"
    )


def test_soft_target_kd_with_a_regression_hard_loss_warns():
    distiller = keras_kd.Distiller(regressor(8), regressor(4), distillation_loss="kd", alpha=0.5)
    with pytest.warns(
        UserWarning,
        match=r"regression loss 'mse'.*SoftTargetKD \('kd'\) soft-maxes.*'mse' or 'huber'",
    ):
        distiller.compile("sgd", loss="mse")
    with pytest.warns(
        UserWarning, match=r"regression loss Huber, but the distillation loss SoftTargetKD"
    ):
        distiller.compile("sgd", loss=keras.losses.Huber())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        distiller.compile("sgd", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        distiller = keras_kd.Distiller(
            regressor(8), regressor(4), distillation_loss=["mse", "huber"], alpha=0.5
        )
        distiller.compile("sgd", loss=keras.losses.MeanSquaredError())


@pytest.mark.parametrize("name,plain_loss", [("mse", "mse"), ("huber", keras.losses.Huber(0.5))])
def test_distilling_is_fitting_the_teachers_outputs_weight_for_weight(name, plain_loss):
    """With alpha=0, distilling with "mse" ("huber") is a plain fit of the
    student on the teacher's predictions with Keras' MSE (Huber) loss."""
    rng = np.random.default_rng(2)
    x = rng.normal(size=(32, 6)).astype("float32")
    teacher = regressor(16, name="teacher")
    keras.utils.set_random_seed(3)
    student = regressor(4, name="student")
    plain = keras.models.clone_model(student)
    plain.set_weights(student.get_weights())
    loss = losses.get(name) if name == "mse" else losses.HuberDistillation(delta=0.5)
    distiller = keras_kd.Distiller(teacher, student, distillation_loss=loss, alpha=0.0)
    distiller.compile(keras.optimizers.SGD(0.1))
    distiller.fit(x, epochs=2, batch_size=16, shuffle=False, verbose=0)
    plain.compile(keras.optimizers.SGD(0.1), loss=plain_loss)
    plain.fit(x, teacher.predict(x, verbose=0), epochs=2, batch_size=16, shuffle=False, verbose=0)
    for got, expected in zip(student.get_weights(), plain.get_weights()):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_a_small_fit_closes_the_gap_to_a_regression_teacher():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(128, 6)).astype("float32")
    y = np.stack([np.sin(x[:, 0]) + x[:, 1], x[:, 2] * x[:, 3]], -1).astype("float32")
    teacher = regressor(32, name="teacher")
    teacher.compile(keras.optimizers.Adam(0.01), loss="mse")
    teacher.fit(x, y, epochs=10, batch_size=32, verbose=0)
    student = regressor(8, name="student")

    def gap():
        return float(np.mean((student.predict(x, verbose=0) - teacher.predict(x, verbose=0)) ** 2))

    before = gap()
    distiller = keras_kd.Distiller(teacher, student, distillation_loss="mse", alpha=0.2)
    distiller.compile(keras.optimizers.Adam(0.01), loss="mse")
    history = distiller.fit(x, y, epochs=10, batch_size=32, verbose=0)
    assert np.isfinite(history.history["distillation_loss"]).all()
    assert history.history["distillation_loss"][-1] < history.history["distillation_loss"][0]
    assert gap() < 0.5 * before
