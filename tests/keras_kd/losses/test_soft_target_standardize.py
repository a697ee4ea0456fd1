"""SoftTargetKD(standardize=True): logit standardization (Sun et al., CVPR
2024) against an independent NumPy computation, its config, and bad input."""

import keras
import numpy as np
import pytest

import keras_kd
from keras_kd import losses
from keras_kd.losses.base import ModelOutputs


def numpy_standardize(z):
    """(z - mean) / (std + 1e-7) per row, std unbiased (torch.std), float64."""
    z = np.asarray(z, "float64")
    return (z - z.mean(-1, keepdims=True)) / (z.std(-1, ddof=1, keepdims=True) + 1e-7)


def numpy_log_softmax(z):
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def numpy_standardized_kd(teacher, student, temperature):
    """T^2 KL(softmax(std(t)/T) || softmax(std(s)/T)), the paper's kd_loss."""
    log_pt = numpy_log_softmax(numpy_standardize(teacher) / temperature)
    log_ps = numpy_log_softmax(numpy_standardize(student) / temperature)
    return temperature**2 * (np.exp(log_pt) * (log_pt - log_ps)).sum(-1)


def loss_value(loss, teacher, student, teacher_kind="logits"):
    value = loss(ModelOutputs(teacher, teacher_kind), ModelOutputs(student, "logits"))
    return keras.ops.convert_to_numpy(value)


@pytest.mark.parametrize("temperature", [0.5, 1.0, 2.0, 4.0, 20.0])
def test_matches_numpy(temperature):
    rng = np.random.default_rng(0)
    t = rng.normal(scale=5.0, size=(8, 10)).astype("float32")
    s = rng.normal(scale=0.5, size=(8, 10)).astype("float32")
    loss = losses.SoftTargetKD(temperature=temperature, standardize=True)
    np.testing.assert_allclose(
        loss_value(loss, t, s), numpy_standardized_kd(t, s, temperature), rtol=1e-4, atol=1e-6
    )


def test_differs_from_plain_kd_and_ignores_scale_and_shift():
    rng = np.random.default_rng(1)
    t = rng.normal(size=(4, 6)).astype("float32")
    s = rng.normal(size=(4, 6)).astype("float32")
    standardized = losses.SoftTargetKD(temperature=2.0, standardize=True)
    plain = losses.SoftTargetKD(temperature=2.0)
    base = loss_value(standardized, t, s)
    assert not np.allclose(base, loss_value(plain, t, s), rtol=1e-2)
    moved = loss_value(standardized, 7.0 * t - 3.0, 0.25 * s + 11.0)
    np.testing.assert_allclose(moved, base, rtol=1e-4, atol=1e-6)


def test_softmax_head_standardizes_as_its_logits():
    """log(softmax(z)) = z - logsumexp(z): the z-score removes that constant."""
    rng = np.random.default_rng(2)
    t = rng.normal(scale=3.0, size=(5, 10)).astype("float32")
    s = rng.normal(size=(5, 10)).astype("float32")
    probabilities = np.exp(numpy_log_softmax(t.astype("float64"))).astype("float32")
    loss = losses.SoftTargetKD(temperature=4.0, standardize=True)
    np.testing.assert_allclose(
        loss_value(loss, probabilities, s, "probabilities"),
        loss_value(loss, t, s),
        rtol=1e-4,
        atol=1e-5,
    )


def test_equal_logits_give_finite_values_and_gradients():
    t = np.zeros((2, 5), "float32")
    s = np.ones((2, 5), "float32")
    loss = losses.SoftTargetKD(temperature=1.0, standardize=True)
    np.testing.assert_allclose(loss_value(loss, t, s), 0.0, atol=1e-6)
    huge = 1e4 * np.eye(2, 5, dtype="float32")
    np.testing.assert_allclose(
        loss_value(loss, huge, s), numpy_standardized_kd(huge, s, 1.0), rtol=1e-5
    )
    student = keras.Sequential(
        [keras.Input((3,)), keras.layers.Dense(5, kernel_initializer="zeros")]
    )
    teacher = keras.Sequential([keras.Input((3,)), keras.layers.Dense(5)])
    distiller = keras_kd.Distiller(teacher, student, distillation_loss=loss, alpha=0.0)
    distiller.compile(optimizer="sgd")
    distiller.fit(np.ones((4, 3), "float32"), epochs=1, batch_size=4, verbose=0)
    assert all(np.all(np.isfinite(keras.ops.convert_to_numpy(w))) for w in student.weights)


def test_config_round_trip_and_saved_distiller(tmp_path):
    loss = losses.SoftTargetKD(temperature=2.0, standardize=True, weight=0.5)
    assert loss.get_config()["standardize"] is True
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(loss))
    assert restored.standardize is True and restored.temperature == 2.0
    assert losses.SoftTargetKD().get_config()["standardize"] is False
    teacher = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4)])
    student = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4)])
    distiller = keras_kd.Distiller(teacher, student, distillation_loss=loss, alpha=0.0)
    path = str(tmp_path / "distiller.keras")
    distiller.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.distillation_losses[0].standardize is True


@pytest.mark.parametrize(
    "standardize, words",
    [
        ("yes", "standardize` must be True or False"),
        (1, "Received: standardize=1 of type int"),
        (None, "of type NoneType"),
        (np.array([True]), "must be True or False"),
    ],
)
def test_hostile_standardize(standardize, words):
    with pytest.raises(ValueError, match=words):
        losses.SoftTargetKD(standardize=standardize)
    with pytest.raises(ValueError, match=words):
        losses.soft_target_kd(np.zeros((1, 3)), np.zeros((1, 3)), standardize=standardize)


def test_numpy_bool_is_accepted():
    assert losses.SoftTargetKD(standardize=np.bool_(True)).standardize is True


def dense_pair(units):
    teacher = keras.Sequential([keras.Input((3,)), keras.layers.Dense(units)])
    return teacher, keras.Sequential([keras.Input((3,)), keras.layers.Dense(units)])


@pytest.mark.parametrize(
    "outputs, words",
    [
        # Two logits z-score to +-0.71 whatever their gap: only the argmax is left.
        (np.array([[0.1, 5.0], [3.0, -1.0]], "float32"), "needs 3 or more classes, but .* have 2"),
        (np.array([[2.0], [-7.0]], "float32"), "a one-unit sigmoid head counts as 2"),
    ],
    ids=["two_classes", "one_unit"],
)
def test_hostile_outputs_with_too_few_classes(outputs, words):
    with pytest.raises(ValueError, match=words):
        losses.soft_target_kd(outputs, outputs[::-1], temperature=2.0, standardize=True)
    teacher, student = dense_pair(outputs.shape[-1])
    loss = losses.SoftTargetKD(2.0, standardize=True)
    with pytest.raises(ValueError, match=r"SoftTargetKD\(standardize=True\) on model .*needs 3"):
        keras_kd.Distiller(teacher, student, distillation_loss=loss)
    # Without standardization a binary head distils as before.
    keras_kd.Distiller(*dense_pair(outputs.shape[-1]), distillation_loss=losses.SoftTargetKD(2.0))


@pytest.mark.parametrize(
    "teacher, student, expected",
    [
        # Rows of equal logits (standard deviation 0) standardize to zeros.
        (np.full((3, 4), 7.0), np.full((3, 4), -2.0), 0.0),
        # A batch of one, logits of +-1e4, three classes.
        (1e4 * np.array([[1.0, -1.0, 0.0]]), np.array([[0.0, 1.0, 2.0]]), None),
    ],
    ids=["zero_std_rows", "batch_of_one_huge_logits"],
)
@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_hostile_inputs_match_numpy(teacher, student, expected, dtype):
    loss = losses.SoftTargetKD(temperature=2.0, standardize=True)
    t = keras.ops.cast(np.asarray(teacher, "float32"), dtype)
    s = keras.ops.cast(np.asarray(student, "float32"), dtype)
    value = loss_value(loss, t, s)
    reference = numpy_standardized_kd(
        keras.ops.convert_to_numpy(keras.ops.cast(t, "float32")),
        keras.ops.convert_to_numpy(keras.ops.cast(s, "float32")),
        2.0,
    )
    assert value.dtype == np.float32 and np.all(np.isfinite(value))
    np.testing.assert_allclose(value, reference if expected is None else expected, atol=1e-5)
