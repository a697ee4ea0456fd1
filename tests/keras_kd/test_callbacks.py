"""Schedules of the distillation hyper-parameters reach the compiled train
step on every backend.

With a learning rate of 0 the weights never move, so each epoch's reported
losses differ only by the scheduled value, which is checked against NumPy.
A value baked into the compiled step at its first trace (a Python float, or
a variable the JAX state does not carry) would repeat the first epoch's
value and fail these tests.
"""

import json

import keras
import numpy as np
import pytest

import keras_kd
from keras_kd import losses
from keras_kd.callbacks import AlphaSchedule
from keras_kd.callbacks import DistillationWarmup
from keras_kd.callbacks import TemperatureSchedule


def dense(units, name):
    return keras.Sequential(
        [
            keras.Input((16,)),
            keras.layers.Dense(units, activation="relu"),
            keras.layers.Dense(3),
        ],
        name=name,
    )


@pytest.fixture
def data(blobs):
    x, y = blobs
    return x[:48], y[:48]


@pytest.fixture
def models():
    return dense(8, "teacher"), dense(4, "student")


def frozen(distiller, loss=True, jit_compile="auto"):
    """Compiled with a learning rate of 0: every epoch sees the same weights."""
    distiller.compile(
        optimizer=keras.optimizers.SGD(learning_rate=0.0),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True) if loss else None,
        jit_compile=jit_compile,
    )
    return distiller


def fit(distiller, data, epochs, callback):
    x, y = data
    return distiller.fit(
        x, y, epochs=epochs, batch_size=16, shuffle=False, callbacks=[callback], verbose=0
    ).history


def log_softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def numpy_kd(teacher_logits, student_logits, temperature):
    log_t = log_softmax(teacher_logits.astype("float64") / temperature)
    log_s = log_softmax(student_logits.astype("float64") / temperature)
    return temperature**2 * np.mean(np.sum(np.exp(log_t) * (log_t - log_s), axis=-1))


def numpy_ce(y, student_logits):
    return -np.mean(log_softmax(student_logits.astype("float64"))[np.arange(len(y)), y])


def logits(model, x):
    return model.predict(x, verbose=0)


# -- DistillationWarmup ---------------------------------------------------------


# XLA, jax.jit, torch.compile (36 s of CPU with torch.compile; 9 s on JAX uncompiled)
@pytest.mark.slow
@pytest.mark.parametrize("jit_compile", [False, True])
def test_warmup_multiplies_the_distillation_term_by_epoch_over_epochs(data, models, jit_compile):
    x, y = data
    teacher, student = models
    distiller = frozen(
        keras_kd.Distiller(teacher, student, losses.SoftTargetKD(2.0), alpha=0.25),
        jit_compile=jit_compile,
    )
    history = fit(distiller, data, 4, DistillationWarmup(3))

    kd = numpy_kd(logits(teacher, x), logits(student, x), 2.0)
    ce = numpy_ce(y, logits(student, x))
    factors = np.array([1 / 3, 2 / 3, 1.0, 1.0])  # epochs 1..4, counted from 1
    np.testing.assert_allclose(history["distillation_scale"], factors)
    np.testing.assert_allclose(history["loss"], 0.25 * ce + 0.75 * factors * kd, rtol=1e-4)
    # The reported distillation loss is the unscaled divergence.
    np.testing.assert_allclose(history["distillation_loss"], [kd] * 4, rtol=1e-4)
    assert distiller.distillation_scale == 1.0


@pytest.mark.slow
def test_dkd_warmup_equals_a_fixed_weight_of_one_over_epochs(data, models):
    teacher, student = models
    warm = frozen(keras_kd.Distiller(teacher, student, losses.DKD(), alpha=0.5))
    first_epoch = fit(warm, data, 1, DistillationWarmup(20))["loss"][0]
    fixed = frozen(keras_kd.Distiller(teacher, student, losses.DKD(weight=1 / 20), alpha=0.5))
    x, y = data
    expected = fixed.fit(x, y, epochs=1, batch_size=16, shuffle=False, verbose=0).history["loss"][0]
    np.testing.assert_allclose(first_epoch, expected, rtol=1e-5)
    full = frozen(keras_kd.Distiller(teacher, student, losses.DKD(), alpha=0.5))
    unscaled = full.fit(x, y, epochs=1, batch_size=16, shuffle=False, verbose=0).history["loss"][0]
    assert abs(unscaled - first_epoch) > 1e-3  # the factor changed the loss


def test_warmup_resumes_at_initial_epoch(data, models):
    teacher, student = models
    distiller = frozen(keras_kd.Distiller(teacher, student, alpha=0.5))
    x, y = data
    history = distiller.fit(
        x,
        y,
        epochs=6,
        initial_epoch=4,
        batch_size=16,
        callbacks=[DistillationWarmup(10)],
        verbose=0,
    ).history
    np.testing.assert_allclose(history["distillation_scale"], [0.5, 0.6])


# -- TemperatureSchedule ----------------------------------------------------------


def test_temperature_schedule_sets_the_temperature_of_each_epoch(data, models):
    x, _ = data
    teacher, student = models
    loss = losses.SoftTargetKD(temperature=4.0)
    distiller = frozen(keras_kd.Distiller(teacher, student, loss, alpha=0.0))
    temperatures = [1.0, 2.5, 6.0]
    history = fit(distiller, data, 3, TemperatureSchedule(lambda epoch: temperatures[epoch]))

    z_t, z_s = logits(teacher, x), logits(student, x)
    expected = [numpy_kd(z_t, z_s, t) for t in temperatures]
    np.testing.assert_allclose(history["distillation_loss"], expected, rtol=1e-4)
    np.testing.assert_allclose(history["loss"], expected, rtol=1e-4)  # alpha = 0
    assert history["temperature"] == temperatures
    assert loss.temperature == 6.0 and type(loss.temperature) is float
    assert loss.get_config()["temperature"] == 6.0


def test_temperature_schedule_sets_every_loss_with_a_temperature(data, models):
    teacher, student = models
    tempered = [losses.SoftTargetKD(4.0), losses.DKD(temperature=4.0), losses.DIST(temperature=1.0)]
    distiller = frozen(keras_kd.Distiller(teacher, student, [*tempered, losses.RKD()], alpha=0.5))
    fit(distiller, data, 2, TemperatureSchedule(lambda epoch: 3.0 + epoch))
    assert [loss.temperature for loss in tempered] == [4.0, 4.0, 4.0]


# -- AlphaSchedule ------------------------------------------------------------------


def test_alpha_schedule_moves_weight_between_the_two_terms(data, models):
    x, y = data
    teacher, student = models
    distiller = frozen(keras_kd.Distiller(teacher, student, losses.SoftTargetKD(2.0), alpha=0.3))
    alphas = [1.0, 0.0, 0.5]
    history = fit(distiller, data, 3, AlphaSchedule(lambda epoch: alphas[epoch]))

    kd = numpy_kd(logits(teacher, x), logits(student, x), 2.0)
    ce = numpy_ce(y, logits(student, x))
    assert history["alpha"] == alphas
    np.testing.assert_allclose(history["loss"], [ce, kd, 0.5 * ce + 0.5 * kd], rtol=1e-4)
    assert distiller.alpha == 0.5 and type(distiller.get_config()["alpha"]) is float

    # Set by hand between calls, alpha reaches the compiled test step too.
    distiller.alpha = 1.0
    logs = distiller.evaluate(x, y, batch_size=16, verbose=0, return_dict=True)
    np.testing.assert_allclose(logs["loss"], ce, rtol=1e-4)


def test_scheduled_values_save_as_floats_and_load(tmp_path, data, models):
    x, y = data
    teacher, student = models
    distiller = frozen(keras_kd.Distiller(teacher, student, losses.SoftTargetKD(4.0), alpha=0.1))
    distiller.fit(
        x,
        y,
        epochs=2,
        batch_size=16,
        verbose=0,
        callbacks=[AlphaSchedule(lambda e: 0.6), TemperatureSchedule(lambda e: 1.5)],
    )
    config = distiller.get_config()
    json.dumps(config)  # plain floats, no variables
    assert config["alpha"] == 0.6 and config["distillation_loss"][0]["config"]["temperature"] == 1.5

    path = str(tmp_path / "scheduled.keras")
    distiller.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.alpha == 0.6 and loaded.distillation_losses[0].temperature == 1.5
    expected = distiller.evaluate(x, y, batch_size=16, verbose=0, return_dict=True)
    got = loaded.evaluate(x, y, batch_size=16, verbose=0, return_dict=True)
    for key in ("loss", "student_loss", "distillation_loss"):
        np.testing.assert_allclose(got[key], expected[key], rtol=1e-5)


# -- Errors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "callback",
    [DistillationWarmup(3), TemperatureSchedule(lambda e: 2.0), AlphaSchedule(lambda e: 0.5)],
    ids=["warmup", "temperature", "alpha"],
)
def test_callback_on_a_model_that_is_not_a_distiller(data, callback):
    x, y = data
    model = dense(4, "plain")
    model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    name = type(callback).__name__
    with pytest.raises(
        ValueError,
        match=rf"{name} changes the hyper-parameters of a keras_kd.Distiller.*Received: .*'plain'.*Sequential",
    ):
        model.fit(x, y, epochs=1, callbacks=[callback], verbose=0)


@pytest.mark.parametrize(
    "value, shown",
    [
        (0.0, "0.0"),
        (-1, "-1"),
        (float("nan"), "nan"),
        (float("inf"), "inf"),
        (None, "None"),
        ("4", "'4'"),
        ([2.0, 3.0], r"\[2.0, 3.0\]"),
    ],
)
def test_temperature_schedule_returning_an_invalid_value(data, models, value, shown):
    distiller = frozen(keras_kd.Distiller(*models, losses.SoftTargetKD(2.0)))
    schedule = TemperatureSchedule(lambda epoch: 2.0 if epoch == 0 else value)
    with pytest.raises(
        ValueError,
        match=rf"TemperatureSchedule: schedule\(1\) returned temperature={shown}, but the temperature must be a finite number > 0",
    ):
        fit(distiller, data, 2, schedule)


@pytest.mark.parametrize(
    "value, shown", [(1.5, "1.5"), (-0.1, "-0.1"), (True, "True"), (float("nan"), "nan")]
)
def test_alpha_schedule_returning_an_invalid_value(data, models, value, shown):
    distiller = frozen(keras_kd.Distiller(*models))
    with pytest.raises(
        ValueError,
        match=rf"AlphaSchedule: schedule\(0\) returned alpha={shown}, but the alpha must be a number in \[0, 1\]",
    ):
        fit(distiller, data, 1, AlphaSchedule(lambda epoch: value))


def test_schedules_accept_numpy_and_backend_scalars(data, models):
    distiller = frozen(keras_kd.Distiller(*models, losses.SoftTargetKD(2.0)))
    history = fit(
        distiller, data, 1, TemperatureSchedule(lambda e: keras.ops.convert_to_tensor(3.0))
    )
    assert history["temperature"] == [3.0]
    history = fit(distiller, data, 1, AlphaSchedule(lambda e: np.float32(0.25)))
    assert history["alpha"] == [0.25]


@pytest.mark.parametrize("epochs", [0, -3, 2.5, True, "20"])
def test_warmup_epochs_must_be_a_positive_integer(epochs):
    with pytest.raises(
        ValueError,
        match=r"`epochs` is the number of warm-up epochs and must be an integer >= 1. Received: epochs=",
    ):
        DistillationWarmup(epochs)


def test_schedule_must_be_callable():
    with pytest.raises(
        ValueError,
        match=r"TemperatureSchedule `schedule` must be a function epoch -> temperature. Received: schedule=4.0",
    ):
        TemperatureSchedule(4.0)
    with pytest.raises(
        ValueError,
        match=r"AlphaSchedule `schedule` must be a function epoch -> alpha. Received: schedule=\[0.1\]",
    ):
        AlphaSchedule([0.1])


def test_temperature_schedule_without_a_loss_that_has_one(data, models):
    distiller = frozen(keras_kd.Distiller(*models, losses.RKD()))
    # The losses that have one are read from the registry, not written out.
    with pytest.raises(
        ValueError,
        match=r"none of this Distiller's losses has one. Received: distillation losses \['RKD'\]. Losses with a temperature: .*DKD \('dkd'\).*SoftTargetKD \('kd'\)",
    ):
        fit(distiller, data, 1, TemperatureSchedule(lambda e: 2.0))


@keras.saving.register_keras_serializable(package="test_callbacks")
class PlainTemperatureKD(losses.DistillationLoss):
    def __init__(self, temperature=2.0, **kwargs):
        super().__init__(**kwargs)
        self.temperature = temperature

    def call(self, teacher, student, y=None):
        return losses.soft_target_kd(teacher.outputs, student.outputs, self.temperature)


def test_temperature_schedule_refuses_a_temperature_the_step_would_not_see(data, models):
    distiller = frozen(keras_kd.Distiller(*models, PlainTemperatureKD()))
    with pytest.raises(
        ValueError,
        match=r"cannot change the temperature of PlainTemperatureKD: its `temperature` is a plain attribute",
    ):
        fit(distiller, data, 1, TemperatureSchedule(lambda e: 2.0))


def test_alpha_schedule_needs_a_compiled_loss(data, models):
    distiller = frozen(keras_kd.Distiller(*models, alpha=0.0), loss=False)
    with pytest.raises(
        ValueError, match=r"AlphaSchedule set alpha=0.5.*compile\(\) received no `loss`"
    ):
        fit(distiller, data, 1, AlphaSchedule(lambda e: 0.5))


def test_alpha_schedule_needs_labels(data, models):
    x, _ = data
    distiller = frozen(keras_kd.Distiller(*models, alpha=0.0))
    schedule = AlphaSchedule(lambda epoch: 0.0 if epoch == 0 else 0.5)
    with pytest.raises(
        ValueError,
        match=r"AlphaSchedule set alpha=0.5.*the training data has no labels \(y is None\)",
    ):
        distiller.fit(x, epochs=2, batch_size=16, callbacks=[schedule], verbose=0)
