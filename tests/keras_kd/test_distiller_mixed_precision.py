"""Distillation under mixed precision (`mixed_bfloat16`, `mixed_float16`).

Under a mixed policy a model's outputs come in the 16-bit compute dtype.
Every registered distillation loss must still be computed in float32 (its
value on 16-bit inputs is the float32 value of those same inputs, not a
16-bit one that overflows) and finite for logits of +-1e4 at temperatures
0.5 to 50. And a student distilled under a mixed policy on the 8x8 digits
must be as accurate as one distilled in float32. (The conftest resets the
dtype policy after each test.)
"""

import keras
import numpy as np
import pytest
from keras import ops

import keras_kd
from keras_kd.losses import ModelOutputs
from keras_kd.losses.registry import registered_names

POLICIES = ["mixed_bfloat16", "mixed_float16"]
TEMPERATURES = [0.5, 1.0, 4.0, 50.0]
CLASSES = 10


def make_loss(name, temperature):
    """The registered loss `name`, at `temperature` (None: its default)."""
    if name == "at":
        return keras_kd.losses.AttentionTransfer([("maps", "maps")])
    if temperature is not None:
        cls = keras_kd.losses.registry.registered_class(name)
        return cls(temperature=temperature)
    return keras_kd.losses.registry.registered_class(name)()


def views(dtype, seed=0):
    """Teacher and student outputs of +-1e4 logits (and feature maps), in
    `dtype`, with the labels."""
    rng = np.random.default_rng(seed)
    logits = rng.choice([-1e4, 1e4], size=(2, 8, CLASSES)) * rng.uniform(
        0.5, 1.0, size=(2, 8, CLASSES)
    )
    maps = rng.normal(scale=100.0, size=(2, 8, 4, 4, 3))
    y = rng.integers(0, CLASSES, size=(8,)).astype("int32")
    teacher, student = (
        ModelOutputs(ops.cast(logits[i], dtype), "logits", {"maps": ops.cast(maps[i], dtype)})
        for i in range(2)
    )
    return teacher, student, y


def as_float32(view):
    return ModelOutputs(
        ops.cast(view.outputs, "float32"),
        view.kind,
        {k: ops.cast(v, "float32") for k, v in view.features.items()},
    )


def test_every_registered_loss_is_checked():
    assert set(registered_names()) >= {"at", "dist", "dkd", "fitnet", "kd", "rkd"}


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("name", sorted(registered_names()))
def test_losses_are_float32_and_finite_for_large_logits(policy, name):
    keras.config.set_dtype_policy(policy)
    compute_dtype = keras.config.dtype_policy().compute_dtype
    teacher, student, y = views(compute_dtype)
    assert keras.backend.standardize_dtype(teacher.outputs.dtype) == compute_dtype
    tempered = name in ("kd", "dkd", "dist")
    for temperature in TEMPERATURES if tempered else [None]:
        loss = make_loss(name, temperature)
        value = loss(teacher, student, y)
        assert keras.backend.standardize_dtype(value.dtype) == "float32", (
            name,
            temperature,
            value.dtype,
        )
        value = ops.convert_to_numpy(value)
        assert np.all(np.isfinite(value)), (name, temperature, value)
        # Computed in float32: the value of the same (16-bit) inputs read
        # as float32, not a 16-bit computation cast up at the end.
        expected = ops.convert_to_numpy(loss(as_float32(teacher), as_float32(student), y))
        np.testing.assert_allclose(
            value, expected, rtol=1e-4, atol=1e-6, err_msg=f"{name} T={temperature}"
        )


def digits():
    """The 8x8 digits, scaled to [0, 1]: (x_train, y_train, x_test, y_test)."""
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x, y = (x / 16.0).astype("float32"), y.astype("int32")
    order = np.random.default_rng(0).permutation(len(x))
    train, test = order[:1300], order[1300:]
    return x[train], y[train], x[test], y[test]


def mlp(units, name):
    return keras.Sequential(
        [
            keras.Input((64,)),
            keras.layers.Dense(units, activation="relu"),
            keras.layers.Dense(CLASSES),
        ],
        name=name,
    )


def hard_loss():
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True)


@pytest.fixture(scope="module")
def digits_teacher():
    """A float32 MLP teacher trained on the digits, the data, and the test
    accuracy of the student distilled from it in float32."""
    keras.config.set_dtype_policy("float32")
    data = digits()
    keras.utils.set_random_seed(0)
    teacher = mlp(128, "teacher")
    teacher.compile(keras.optimizers.Adam(1e-2), hard_loss())
    teacher.fit(data[0], data[1], epochs=15, batch_size=128, verbose=0)
    reference, _ = distil(teacher, data, "float32")
    return teacher, data, reference


def distil(teacher, data, policy):
    """Test accuracy (percent) of a student distilled under `policy`, and
    the optimizer Keras compiled it with."""
    x_train, y_train, x_test, y_test = data
    keras.config.set_dtype_policy(policy)
    keras.utils.set_random_seed(0)
    student = mlp(32, "student")
    # The student really computes in 16 bits (identical accuracies are not a no-op).
    assert student.layers[-1].compute_dtype == policy.replace("mixed_", ""), student.dtype_policy
    distiller = keras_kd.Distiller(teacher, student, keras_kd.losses.SoftTargetKD(4.0), alpha=0.3)
    distiller.compile(keras.optimizers.Adam(1e-2), hard_loss())
    history = distiller.fit(x_train, y_train, epochs=8, batch_size=128, verbose=0)
    for name in ("loss", "distillation_loss", "student_loss"):
        assert np.all(np.isfinite(history.history[name])), (name, history.history)
    logits = ops.convert_to_numpy(ops.cast(student(x_test), "float32"))
    accuracy = 100.0 * float(np.mean(np.argmax(logits, -1) == y_test))
    return accuracy, distiller.optimizer


@pytest.mark.slow
@pytest.mark.parametrize("policy", POLICIES)
def test_digits_accuracy_under_mixed_precision_matches_float32(digits_teacher, policy):
    teacher, data, reference = digits_teacher
    accuracy, optimizer = distil(teacher, data, policy)
    print(f"{policy}: {accuracy:.2f}% (float32: {reference:.2f}%)")
    if policy == "mixed_float16":
        # Keras scales the loss under float16, on every backend.
        assert isinstance(optimizer, keras.optimizers.LossScaleOptimizer)
    assert reference > 90.0, reference
    assert abs(accuracy - reference) <= 0.5, (policy, accuracy, reference)
