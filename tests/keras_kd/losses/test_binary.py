"""Per-class binary soft-target KD ("binary_kd") for multi-label sigmoid heads:
the formula against NumPy, stability at +-1e4 logits, ensembles, which losses
a multi-label head refuses, a Distiller step against a plain Keras fit weight
for weight, and a fit on generated multi-label data."""

import keras
import numpy as np
import pytest

import keras_kd
from keras_kd import losses
from keras_kd.losses.base import EnsembleOutputs
from keras_kd.losses.base import ModelOutputs
from keras_kd.outputs import check_heads
from keras_kd.outputs import detect_output_kind
from keras_kd.outputs import multi_label_units


def to_numpy(value):
    return keras.ops.convert_to_numpy(value)


def numpy_sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(z, "float64")))


def numpy_binary_kd(t, s, temperature):
    """T^2 sum_c [p log(p/q) + (1-p) log((1-p)/(1-q))], p, q = sigmoid(./T)."""
    p, q = numpy_sigmoid(t / temperature), numpy_sigmoid(s / temperature)
    kl = p * np.log(p / q) + (1 - p) * np.log((1 - p) / (1 - q))
    return temperature**2 * kl.sum(-1)


def numpy_bce(p, q):
    return -(p * np.log(q) + (1 - p) * np.log(1 - q))


def tagger(hidden, labels=4, activation=None, name=None):
    return keras.Sequential(
        [
            keras.Input((8,)),
            keras.layers.Dense(hidden, activation="relu"),
            keras.layers.Dense(labels, activation=activation),
        ],
        name=name,
    )


@pytest.mark.parametrize("temperature", [1.0, 2.0, 4.0])
@pytest.mark.parametrize("shape", [(6, 5), (2, 3, 5)])
def test_binary_kd_matches_numpy(temperature, shape):
    rng = np.random.default_rng(0)
    t = rng.normal(scale=3.0, size=shape).astype("float32")
    s = rng.normal(scale=3.0, size=shape).astype("float32")
    expected = numpy_binary_kd(t, s, temperature)
    np.testing.assert_allclose(
        to_numpy(losses.binary_kd(t, s, temperature)), expected, rtol=1e-4, atol=1e-6
    )
    # The KL is the binary cross-entropy minus the teacher's entropy.
    p, q = numpy_sigmoid(t / temperature), numpy_sigmoid(s / temperature)
    bce_minus_entropy = temperature**2 * (numpy_bce(p, q) - numpy_bce(p, p)).sum(-1)
    np.testing.assert_allclose(expected, bce_minus_entropy, rtol=1e-8, atol=1e-10)
    # A sigmoid head's probabilities give the same value as its logits.
    from_probabilities = losses.binary_kd(
        numpy_sigmoid(t).astype("float32"), s, temperature, teacher_kind="probabilities"
    )
    np.testing.assert_allclose(to_numpy(from_probabilities), expected, rtol=2e-3, atol=1e-5)
    loss = losses.BinaryKD(temperature=temperature)
    value = loss(ModelOutputs(t, "logits"), ModelOutputs(s, "logits"))
    np.testing.assert_allclose(to_numpy(value), expected, rtol=1e-4, atol=1e-6)


def test_binary_kd_is_finite_and_exact_at_huge_logits():
    t = np.array([[1e4, -1e4, 1e4, 0.0]], "float32")
    s = np.array([[-1e4, 1e4, 1e4 - 1.0, 0.0]], "float32")
    # Per class KL = softplus(b) - softplus(a) + sigmoid(a) (a - b), with
    # a, b = t / T, s / T, in float64 with the stable np.logaddexp.
    a, b = t.astype("float64") / 2.0, s.astype("float64") / 2.0
    expected = 4.0 * (np.logaddexp(0, b) - np.logaddexp(0, a) + numpy_sigmoid(a) * (a - b)).sum(-1)
    value = to_numpy(losses.binary_kd(t, s, temperature=2.0))
    assert np.isfinite(value).all()
    np.testing.assert_allclose(value, expected, rtol=1e-5)
    # A saturated sigmoid head: its 1 and 0 are read as logits of about
    # +-16 and -87, whose KL to logits of +-1e4 is about 1e-3 (float32 steps
    # of 1e-3 at 1e4).
    p = np.array([[1.0, 0.0, 0.5]], "float32")
    value = to_numpy(
        losses.binary_kd(p, np.array([[1e4, -1e4, 0.0]], "float32"), 1.0, "probabilities")
    )
    assert np.isfinite(value).all()
    np.testing.assert_allclose(value, [1.2e-3], atol=1e-3)


def test_an_ensemble_teacher_targets_the_mean_of_its_probabilities():
    rng = np.random.default_rng(1)
    a = rng.normal(scale=2.0, size=(4, 3)).astype("float32")
    b = numpy_sigmoid(rng.normal(scale=2.0, size=(4, 3))).astype("float32")
    s = rng.normal(size=(4, 3)).astype("float32")
    teacher = EnsembleOutputs([a, b], ["logits", "probabilities"], [0.5, 0.5])
    value = losses.BinaryKD(temperature=2.0)(teacher, ModelOutputs(s, "logits"))
    # The mixture of softened probabilities, as a logit at T = 2.
    mixture = 0.5 * numpy_sigmoid(a / 2.0) + 0.5 * numpy_sigmoid(np.log(b / (1 - b)) / 2.0)
    q = numpy_sigmoid(s / 2.0)
    expected = 4.0 * (
        mixture * np.log(mixture / q) + (1 - mixture) * np.log((1 - mixture) / (1 - q))
    ).sum(-1)
    np.testing.assert_allclose(to_numpy(value), expected, rtol=1e-3, atol=1e-6)


def test_registry_config_and_schedulable_temperature():
    info = losses.describe("binary_kd")
    assert (info.class_name, info.reads, info.hyperparameters) == (
        "BinaryKD",
        "final outputs",
        ("temperature",),
    )
    loss = losses.BinaryKD(temperature=3.0, weight=0.5)
    again = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(loss))
    assert type(again) is losses.BinaryKD and again.get_config() == loss.get_config()
    with pytest.raises(
        ValueError, match=r"temperature must be a number > 0.*Received: temperature=0"
    ):
        losses.BinaryKD(temperature=0)


def test_a_multi_label_head_is_refused_by_softmax_losses_and_accepted_by_binary_kd(tmp_path):
    teacher = tagger(16, activation="sigmoid", name="tagger")
    assert detect_output_kind(teacher) == "probabilities" and multi_label_units(teacher) == 4
    assert multi_label_units(tagger(16)) is None
    one_unit = tagger(16, labels=1, activation="sigmoid")
    assert multi_label_units(one_unit) is None
    for name in ("kd", "dkd"):
        with pytest.raises(
            ValueError,
            match=(
                r"Model 'tagger' ends in a sigmoid over 4 units \(a multi-label head\), but the distillation loss "
                r".* soft-maxes the outputs.*Use distillation_loss='binary_kd'"
            ),
        ):
            keras_kd.Distiller(teacher, tagger(4), distillation_loss=name)
    with pytest.raises(ValueError, match=r"Model 'student_tagger' ends in a sigmoid over 4 units"):
        check_heads(
            [losses.get("kd")], [tagger(4, activation="sigmoid", name="student_tagger")], ["logits"]
        )
    with pytest.raises(
        ValueError,
        match=(
            r"Model 'tagger' ends in a sigmoid over 4 units \(a multi-label head\), but TeacherCache.write "
            r"stores soft-maxed targets. Use distillation_loss='binary_kd'.*with a live teacher"
        ),
    ):
        keras_kd.TeacherCache.write(teacher, np.zeros((4, 8), "float32"), str(tmp_path / "cache"))
    assert not (tmp_path / "cache").exists()
    for name in ("binary_kd", "mse", ["binary_kd", "huber"]):
        distiller = keras_kd.Distiller(
            teacher, tagger(4, activation="sigmoid"), distillation_loss=name
        )
        assert distiller.student_kind == "probabilities"


def test_distilling_is_fitting_the_teachers_probabilities_weight_for_weight():
    """binary_kd at T=1 sums the binary cross-entropy over the C classes
    (less a constant); Keras' averages it: the same step at C times the
    learning rate."""
    rng = np.random.default_rng(2)
    x = rng.normal(size=(32, 8)).astype("float32")
    teacher = tagger(16, activation="sigmoid", name="teacher")
    keras.utils.set_random_seed(3)
    student = tagger(4, name="student")  # Logits.
    plain = keras.models.clone_model(student)
    plain.set_weights(student.get_weights())
    distiller = keras_kd.Distiller(
        teacher, student, distillation_loss=losses.BinaryKD(1.0), alpha=0.0
    )
    distiller.compile(keras.optimizers.SGD(0.05))
    distiller.fit(x, epochs=2, batch_size=16, shuffle=False, verbose=0)
    plain.compile(
        keras.optimizers.SGD(0.05 * 4), loss=keras.losses.BinaryCrossentropy(from_logits=True)
    )
    plain.fit(x, teacher.predict(x, verbose=0), epochs=2, batch_size=16, shuffle=False, verbose=0)
    for got, expected in zip(student.get_weights(), plain.get_weights()):
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6)


@pytest.mark.slow
def test_a_fit_on_generated_multi_label_data_closes_the_gap():
    """The labels of 4 tags are the teacher's own thresholded outputs, so the
    teacher is right by construction and needs no training."""
    rng = np.random.default_rng(4)
    x = rng.normal(size=(256, 8)).astype("float32")
    teacher = tagger(32, activation="sigmoid", name="teacher")
    kernel, bias = teacher.layers[-1].get_weights()
    teacher.layers[-1].set_weights([4.0 * kernel, bias])  # Confident tags.
    y = (teacher.predict(x, verbose=0) > 0.5).astype("float32")
    student = tagger(8, activation="sigmoid", name="student")

    def gap():
        t, s = teacher.predict(x, verbose=0), student.predict(x, verbose=0)
        return float(
            np.mean(to_numpy(losses.binary_kd(t, s, 1.0, "probabilities", "probabilities")))
        )

    before = gap()
    distiller = keras_kd.Distiller(teacher, student, distillation_loss="binary_kd", alpha=0.2)
    distiller.compile(
        keras.optimizers.Adam(0.02),
        loss="binary_crossentropy",
        metrics=[keras.metrics.BinaryAccuracy(name="acc")],
    )
    history = distiller.fit(x, y, epochs=12, batch_size=64, verbose=0)
    after = gap()
    assert np.isfinite(history.history["distillation_loss"]).all()
    assert after < 0.4 * before
    assert history.history["acc"][-1] > 0.8
