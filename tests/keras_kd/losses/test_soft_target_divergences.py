"""SoftTargetKD's divergences (forward KL, reverse KL, generalized JSD)
against NumPy float64 implementations written here from the papers:
Hinton et al. (2015), MiniLLM (Gu et al., 2024) and GKD (Agarwal et al.,
2024, with TRL's convention for `beta`)."""

import keras
import numpy as np
import pytest
from _gradients import gradient
from _numpy_losses import np_divergence
from _numpy_losses import np_log_softmax

import keras_kd
from keras_kd import losses
from keras_kd.losses.base import ModelOutputs

DIVERGENCES = ["forward", "reverse", "jsd"]


def to_numpy(value):
    return keras.ops.convert_to_numpy(value)


def kd(teacher, student, temperature, divergence, beta=0.5):
    return to_numpy(
        losses.soft_target_kd(teacher, student, temperature, divergence=divergence, beta=beta)
    )


def sequences(seed, shape=(3, 5, 7), scale=3.0):
    rng = np.random.default_rng(seed)
    return (rng.normal(scale=scale, size=shape).astype("float32") for _ in range(2))


CASES = [("forward", 0.5), ("reverse", 0.5), ("jsd", 0.1), ("jsd", 0.5), ("jsd", 0.9)]


@pytest.mark.parametrize("divergence,beta", CASES)
def test_matches_numpy_per_position(divergence, beta):
    t, s = sequences(1)
    for temperature in (0.5, 1.0, 4.0, 20.0, 50.0):
        value = kd(t, s, temperature, divergence, beta)
        assert value.shape == (3, 5) and value.dtype == np.float32
        expected = np_divergence(t, s, temperature, divergence, beta)
        np.testing.assert_allclose(
            value, expected, rtol=2e-4, atol=1e-6, err_msg=f"T={temperature}"
        )


def test_each_position_is_its_own_distribution():
    t, s = sequences(2)
    whole = kd(t, s, 2.0, "jsd")
    for step in range(t.shape[1]):
        np.testing.assert_allclose(
            whole[:, step], kd(t[:, step], s[:, step], 2.0, "jsd"), rtol=1e-6
        )


def test_forward_is_the_default_and_reverse_swaps_the_arguments():
    t, s = sequences(3)
    np.testing.assert_array_equal(
        to_numpy(losses.soft_target_kd(t, s, 2.0)), kd(t, s, 2.0, "forward")
    )
    np.testing.assert_allclose(kd(t, s, 2.0, "reverse"), kd(s, t, 2.0, "forward"), rtol=1e-6)
    assert not np.allclose(kd(t, s, 2.0, "reverse"), kd(t, s, 2.0, "forward"), rtol=1e-2)


def test_jsd_end_points_are_the_kl_divergences_and_half_is_symmetric():
    t, s = sequences(4)
    np.testing.assert_array_equal(kd(t, s, 2.0, "jsd", 0.0), kd(t, s, 2.0, "forward"))
    np.testing.assert_array_equal(kd(t, s, 2.0, "jsd", 1.0), kd(t, s, 2.0, "reverse"))
    np.testing.assert_allclose(kd(t, s, 2.0, "jsd", 0.5), kd(s, t, 2.0, "jsd", 0.5), rtol=1e-5)
    # Bounded by T^2 log 2, reached for disjoint distributions.
    disjoint_t = np.array([[0.0, -1e4, -1e4]], "float32")
    disjoint_s = np.array([[-1e4, 0.0, -1e4]], "float32")
    np.testing.assert_allclose(kd(disjoint_t, disjoint_s, 1.0, "jsd"), np.log(2.0), rtol=1e-6)
    assert np.all(kd(t, s, 1.0, "jsd") <= np.log(2.0))


@pytest.mark.parametrize("divergence,beta", CASES)
@pytest.mark.parametrize("temperature", [0.5, 50.0])
def test_finite_and_exact_for_logits_of_1e4_with_finite_gradients(divergence, beta, temperature):
    t = np.array(
        [[[1e4, -1e4, 0.0], [-1e4, 1e4, 5e3]], [[0.0, 0.0, 0.0], [1e4, 1e4, -1e4]]], "float32"
    )
    s = np.array(
        [[[-1e4, 1e4, 0.0], [1e4, -1e4, 0.0]], [[1e4, -1e4, 3.0], [1e4, 1e4, -1e4]]], "float32"
    )
    value = kd(t, s, temperature, divergence, beta)
    assert np.all(np.isfinite(value))
    np.testing.assert_allclose(
        value, np_divergence(t, s, temperature, divergence, beta), rtol=1e-5, atol=1e-3
    )
    np.testing.assert_allclose(kd(t, t, temperature, divergence, beta), 0.0, atol=1e-3)
    grad = gradient(
        lambda v: losses.soft_target_kd(t, v, temperature, divergence=divergence, beta=beta), s
    )
    assert np.all(np.isfinite(grad))


@pytest.mark.parametrize("divergence,beta", [("forward", 0.5), ("reverse", 0.5), ("jsd", 0.3)])
def test_gradient_matches_numpy_finite_differences(divergence, beta):
    t, s = sequences(5, shape=(2, 3, 4), scale=2.0)
    temperature = 2.0
    grad = gradient(
        lambda v: losses.soft_target_kd(t, v, temperature, divergence=divergence, beta=beta), s
    )
    expected = np.zeros(s.shape)
    eps = 1e-5
    for index in np.ndindex(s.shape):
        up, down = s.astype("float64"), s.astype("float64")
        up[index] += eps
        down[index] -= eps
        expected[index] = (
            np_divergence(t, up, temperature, divergence, beta).sum()
            - np_divergence(t, down, temperature, divergence, beta).sum()
        ) / (2 * eps)
    np.testing.assert_allclose(grad, expected, rtol=1e-3, atol=1e-5)


def test_class_passes_divergence_and_beta_and_reads_probability_heads():
    t_logits, s = sequences(6)
    teacher = ModelOutputs(np.exp(np_log_softmax(t_logits)).astype("float32"), "probabilities")
    loss = losses.SoftTargetKD(temperature=2.0, divergence="jsd", beta=0.3)
    value = to_numpy(loss(teacher, ModelOutputs(s, "logits")))
    np.testing.assert_allclose(
        value, np_divergence(t_logits, s, 2.0, "jsd", 0.3), rtol=1e-4, atol=1e-6
    )


def test_config_round_trip():
    for divergence, beta in CASES:
        loss = losses.SoftTargetKD(temperature=1.0, divergence=divergence, beta=beta, weight=0.5)
        config = loss.get_config()
        assert (config["divergence"], config["beta"]) == (divergence, beta)
        assert losses.SoftTargetKD.from_config(config).get_config() == config
        restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(loss))
        assert isinstance(restored, losses.SoftTargetKD) and restored.get_config() == config
    assert losses.SoftTargetKD().get_config()["divergence"] == "forward"


@pytest.mark.parametrize("divergence", ["kl", "Forward", "js", None])
def test_rejects_an_unknown_divergence(divergence):
    message = (
        r"SoftTargetKD `divergence` must be one of \('forward', 'reverse', 'jsd'\)\. "
        rf"Received: divergence={divergence!r}"
    )
    with pytest.raises(ValueError, match=message):
        losses.SoftTargetKD(divergence=divergence)
    with pytest.raises(ValueError, match=message):
        losses.soft_target_kd(np.zeros((1, 2)), np.zeros((1, 2)), divergence=divergence)


@pytest.mark.parametrize("beta", [-0.1, 1.5, float("nan"), True, "0.5"])
def test_rejects_beta_outside_zero_one(beta):
    with pytest.raises(
        ValueError,
        match=(
            r"SoftTargetKD `beta` is the mixture weight of the generalized Jensen-Shannon "
            r"divergence and must be a number in \[0, 1\]\. 0 gives forward KL, 1 reverse KL, "
            rf"0.5 the symmetric JSD\. Received: beta={beta!r}"
        ),
    ):
        losses.SoftTargetKD(divergence="jsd", beta=beta)


@pytest.mark.parametrize("divergence,beta", [("reverse", 0.5), ("jsd", 0.3)])
def test_a_distiller_step_on_sequences_equals_plain_gradient_descent(divergence, beta):
    """One SGD step of the Distiller on (batch, time, classes) outputs, weight
    for weight against the gradient of the NumPy loss by finite differences."""
    rng = np.random.default_rng(7)
    x = rng.normal(size=(4, 6, 3)).astype("float32")
    y = rng.integers(0, 5, size=(4, 6)).astype("int32")
    w_t, w_s = rng.normal(size=(3, 5)), rng.normal(scale=0.5, size=(3, 5))
    teacher = keras.Sequential([keras.Input((6, 3)), keras.layers.Dense(5, use_bias=False)])
    student = keras.Sequential([keras.Input((6, 3)), keras.layers.Dense(5, use_bias=False)])
    teacher.set_weights([w_t.astype("float32")])
    student.set_weights([w_s.astype("float32")])
    alpha, temperature, lr = 0.3, 2.0, 0.5
    distiller = keras_kd.Distiller(
        teacher,
        student,
        alpha=alpha,
        distillation_loss=losses.SoftTargetKD(temperature, divergence=divergence, beta=beta),
    )
    distiller.compile(
        keras.optimizers.SGD(lr), keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    distiller.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)

    def total(w):
        z_s, z_t = x.astype("float64") @ w, x.astype("float64") @ w_t
        ce = -np.take_along_axis(np_log_softmax(z_s), y[..., None], -1).mean()
        soft = np_divergence(z_t, z_s, temperature, divergence, beta).mean()
        return alpha * ce + (1 - alpha) * soft

    grad = np.zeros_like(w_s)
    for index in np.ndindex(w_s.shape):
        up, down = w_s.copy(), w_s.copy()
        up[index] += 1e-6
        down[index] -= 1e-6
        grad[index] = (total(up) - total(down)) / 2e-6
    np.testing.assert_allclose(student.get_weights()[0], w_s - lr * grad, rtol=1e-4, atol=1e-5)
