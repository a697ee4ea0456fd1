"""SoftTargetKD against Hinton et al. (2015), computed independently in NumPy."""

import keras
import numpy as np
import pytest

from keras_kd import losses
from keras_kd.losses.base import ModelOutputs


def numpy_log_softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def hinton_kd(teacher_logits, student_logits, temperature):
    """T^2 * sum_c p_t (log p_t - log p_s), p = softmax(z / T), in float64."""
    t = np.asarray(teacher_logits, "float64") / temperature
    s = np.asarray(student_logits, "float64") / temperature
    log_pt, log_ps = numpy_log_softmax(t), numpy_log_softmax(s)
    return temperature**2 * (np.exp(log_pt) * (log_pt - log_ps)).sum(-1)


def numpy_softmax(z):
    return np.exp(numpy_log_softmax(np.asarray(z, "float64")))


def kd(teacher, student, temperature, **kinds):
    value = losses.soft_target_kd(teacher, student, temperature, **kinds)
    return keras.ops.convert_to_numpy(value)


@pytest.mark.parametrize("temperature", [0.5, 1.0, 4.0, 20.0, 50.0])
def test_matches_hinton_formula_on_logits(temperature):
    rng = np.random.default_rng(1)
    t = rng.normal(scale=3.0, size=(8, 10)).astype("float32")
    s = rng.normal(scale=3.0, size=(8, 10)).astype("float32")
    expected = hinton_kd(t, s, temperature)
    np.testing.assert_allclose(kd(t, s, temperature), expected, rtol=5e-5, atol=1e-6)


def test_includes_the_temperature_squared_factor():
    rng = np.random.default_rng(2)
    t, s = rng.normal(size=(2, 4, 5)).astype("float32")
    kl_at_t = hinton_kd(t, s, 8.0) / 64.0
    np.testing.assert_allclose(kd(t, s, 8.0) / kl_at_t, 64.0, rtol=1e-4)


@pytest.mark.parametrize("temperature", [0.5, 1.0, 50.0])
def test_finite_and_exact_for_logits_of_1e4(temperature):
    t = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 5e3]], "float32")
    s = np.array([[-1e4, 1e4, 0.0], [1e4, -1e4, 0.0]], "float32")
    value = kd(t, s, temperature)
    assert np.all(np.isfinite(value))
    np.testing.assert_allclose(value, hinton_kd(t, s, temperature), rtol=1e-5)
    np.testing.assert_allclose(kd(t, t, temperature), 0.0, atol=1e-3)


@pytest.mark.parametrize("temperature", [1.0, 4.0])
def test_probability_heads_are_read_as_log_probabilities(temperature):
    rng = np.random.default_rng(3)
    t_logits = rng.normal(scale=2.0, size=(6, 7))
    s_logits = rng.normal(scale=2.0, size=(6, 7))
    expected = hinton_kd(t_logits, s_logits, temperature)
    t_probs = numpy_softmax(t_logits).astype("float32")
    s_probs = numpy_softmax(s_logits).astype("float32")
    both = kd(
        t_probs, s_probs, temperature, teacher_kind="probabilities", student_kind="probabilities"
    )
    mixed = kd(t_probs, s_logits.astype("float32"), temperature, teacher_kind="probabilities")
    np.testing.assert_allclose(both, expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(mixed, expected, rtol=1e-4, atol=1e-5)
    # Treating probabilities as logits would give a different, wrong value.
    assert not np.allclose(kd(t_probs, s_logits, temperature), expected, rtol=1e-2)


def test_one_unit_sigmoid_head_is_a_two_class_distribution():
    rng = np.random.default_rng(4)
    t_logit = rng.normal(scale=2.0, size=(5, 1))
    s_logit = rng.normal(scale=2.0, size=(5, 1)).astype("float32")
    t_prob = (1.0 / (1.0 + np.exp(-t_logit))).astype("float32")
    two_class = lambda z: np.concatenate([np.zeros_like(z), z], axis=-1)  # noqa: E731
    expected = hinton_kd(two_class(t_logit), two_class(s_logit), 3.0)
    value = kd(t_prob, s_logit, 3.0, teacher_kind="probabilities")
    np.testing.assert_allclose(value, expected, rtol=1e-4, atol=1e-5)


def test_computes_in_float32_from_half_precision_inputs():
    rng = np.random.default_rng(5)
    t = rng.normal(size=(4, 10)).astype("float16")
    s = rng.normal(size=(4, 10)).astype("float16")
    value = losses.soft_target_kd(t, s, 2.0)
    assert keras.backend.standardize_dtype(value.dtype) == "float32"
    np.testing.assert_allclose(keras.ops.convert_to_numpy(value), hinton_kd(t, s, 2.0), rtol=1e-3)


def test_class_reads_kinds_from_the_views_unless_told():
    rng = np.random.default_rng(6)
    t_logits = rng.normal(size=(3, 4))
    s = rng.normal(size=(3, 4)).astype("float32")
    t_probs = numpy_softmax(t_logits).astype("float32")
    teacher = ModelOutputs(t_probs, "probabilities")
    student = ModelOutputs(s, "logits")
    expected = hinton_kd(t_logits, s, 2.0)
    value = losses.SoftTargetKD(temperature=2.0)(teacher, student)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(value), expected, rtol=1e-4)
    forced = losses.SoftTargetKD(2.0, teacher_outputs="logits")(teacher, student)
    assert not np.allclose(keras.ops.convert_to_numpy(forced), expected, rtol=1e-2)


def test_config_round_trip_and_registered_name():
    loss = losses.SoftTargetKD(temperature=3.0, teacher_outputs="probabilities", weight=0.5)
    clone = losses.SoftTargetKD.from_config(loss.get_config())
    assert clone.get_config() == loss.get_config()
    assert isinstance(losses.get("kd"), losses.SoftTargetKD)
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(loss))
    assert restored.get_config() == loss.get_config()


@pytest.mark.parametrize("temperature", [0, -1.0, "4"])
def test_rejects_non_positive_temperature(temperature):
    with pytest.raises(
        ValueError, match=r"temperature must be a number > 0.*Received: temperature="
    ):
        losses.SoftTargetKD(temperature=temperature)


def test_rejects_unknown_output_kind_and_loss_name():
    with pytest.raises(ValueError, match="teacher_outputs.*'logits' or 'probabilities'.*'softmax'"):
        losses.SoftTargetKD(teacher_outputs="softmax")
    with pytest.raises(
        ValueError, match="Unknown distillation loss 'kld'. Registered names: .*'kd'"
    ):
        losses.get("kld")
    with pytest.raises(
        ValueError,
        match="`weight` multiplies the loss in a weighted list and must be a number >= 0, not NaN or infinite. Received: weight=-1",
    ):
        losses.SoftTargetKD(weight=-1)
