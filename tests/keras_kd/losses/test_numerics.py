"""`softmax_kl_divergence` against an exact computation in `decimal` (50
digits), from the same float32 logits: high temperatures, logits of 1e-3 to
1e4, teacher probabilities that underflow to 0, masked classes."""

import decimal
import math

import keras
import numpy as np
import pytest
from _gradients import gradient
from _numpy_losses import np_divergence
from _numpy_losses import np_log_softmax

from keras_kd.losses._numerics import log_softmax
from keras_kd.losses._numerics import softmax_kl_divergence
from keras_kd.losses.soft_target import soft_target_kd

PRECISION = decimal.Context(prec=50, Emin=-(10**6), Emax=10**6)


def exact_log_softmax(row):
    row = [decimal.Decimal(float(v)) for v in row]
    top = max(row)
    total = sum((PRECISION.exp(v - top) for v in row), decimal.Decimal(0))
    return [v - top - PRECISION.ln(total) for v in row]


def exact_kl(teacher_logits, student_logits):
    """`sum p_t (log p_t - log p_s)` per row, in 50-digit decimals."""
    values = []
    for t, s in zip(teacher_logits, student_logits):
        log_pt, log_ps = exact_log_softmax(t), exact_log_softmax(s)
        values.append(float(sum(PRECISION.exp(a) * (a - b) for a, b in zip(log_pt, log_ps))))
    return np.array(values)


def exact_softmax(row):
    return np.array([float(PRECISION.exp(v)) for v in exact_log_softmax(row)])


def tempered_pair(scale, temperature, close, seed=0):
    """Teacher and student logits `z / T` in float32, as a loss divides them."""
    rng = np.random.default_rng(seed)
    t = rng.normal(scale=scale, size=(16, 10))
    s = (
        t + rng.normal(scale=0.01 * scale, size=t.shape)
        if close
        else rng.normal(scale=scale, size=t.shape)
    )
    divide = np.float32(temperature)
    return t.astype("float32") / divide, s.astype("float32") / divide


def assert_exact(value, expected):
    # Relative 2e-4, or 1e-9 absolute for divergences too small to matter:
    # the textbook sum p_t (log p_t - log p_s) in float32 misses these rows
    # by up to 100% (its error, ~1e-7 absolute, is the size of the value).
    np.testing.assert_allclose(value, expected, rtol=2e-4, atol=1e-9)


@pytest.mark.parametrize("close", [False, True], ids=["random", "close"])
@pytest.mark.parametrize("scale", [1e-3, 1.0, 1e2, 1e4])
@pytest.mark.parametrize("temperature", [1.0, 4.0, 20.0, 100.0])
def test_matches_exact_kl_from_tiny_to_huge_logits(temperature, scale, close):
    t, s = tempered_pair(scale, temperature, close)
    value = keras.ops.convert_to_numpy(softmax_kl_divergence(t, s))
    assert value.dtype == np.float32 and value.shape == (16,)
    assert_exact(value, exact_kl(t, s))


def test_is_more_accurate_than_differencing_the_log_softmaxes():
    # Close distributions at T = 100: each log-ratio is ~1e-4, the
    # divergence ~1e-8; the textbook form keeps no correct digit of it.
    t, s = tempered_pair(1.0, 100.0, close=False)
    expected = exact_kl(t, s)
    log_pt = keras.ops.convert_to_numpy(log_softmax(t))
    log_ps = keras.ops.convert_to_numpy(log_softmax(s))
    textbook = (np.exp(log_pt) * (log_pt - log_ps)).sum(-1)
    value = keras.ops.convert_to_numpy(softmax_kl_divergence(t, s))
    assert np.max(np.abs(value / expected - 1)) < 1e-4
    assert np.max(np.abs(textbook / expected - 1)) > 1e-3


# Rows: name, teacher logits, student logits (already divided by T).
HOSTILE = [
    (
        "teacher probabilities underflow to 0 where the student's do not",
        [0.0, -150.0, -1e4, -90.0, 5.0],
        [-3.0, 0.0, 0.0, -90.0, -50.0],
    ),
    ("logits of +-1e4, opposite argmax", [1e4, -1e4, 0.0, 20.0, 3e3], [-1e4, 1e4, 0.0, 1.0, 0.0]),
    (
        "both underflow on most classes",
        [-100.0, 0.0, -100.0, -200.0, -87.0],
        [0.0, -100.0, 0.0, 1.0, -87.0],
    ),
    (
        "log-ratios of exactly -1 and 1, where the two forms meet",
        [2.0, 1.0, 0.5, -1.0],
        [1.0, 2.0, 0.5, -1.0],
    ),
    (
        "masked class of -1e30 in both (DKD)",
        [-1e30, 2.0, 1.0, 0.5, -1.0],
        [-1e30, 1.0, 2.0, 0.5, -1.0],
    ),
    ("identical one-hot rows", [1e4, 0.0, 0.0, 0.0, 0.0], [1e4, 0.0, 0.0, 0.0, 0.0]),
    ("identical rows at T = 1000", [2e-3, 1e-3, 0.0, -1e-3, 4e-4], [2e-3, 1e-3, 0.0, -1e-3, 4e-4]),
    (
        "nearly equal rows at T = 1000",
        [2e-3, 1e-3, 0.0, -1e-3, 4e-4],
        [2.1e-3, 0.9e-3, 0.0, -1e-3, 4e-4],
    ),
    (
        "student probability underflows where the teacher's is 1",
        [50.0, 0.0, 0.0, 0.0, 0.0],
        [-1e4, 0.0, 0.0, 0.0, 0.0],
    ),
]


@pytest.mark.parametrize("name,teacher,student", HOSTILE, ids=[row[0] for row in HOSTILE])
def test_hostile_rows_exact_with_finite_gradients(name, teacher, student):
    t = np.array([teacher], "float32")
    s = np.array([student], "float32")
    value = keras.ops.convert_to_numpy(softmax_kl_divergence(t, s))
    assert_exact(value, exact_kl(t, s))
    # d KL / d s = p_s - p_t, and d KL / d t is finite.
    grad_s = gradient(lambda v: softmax_kl_divergence(t, v), s)
    grad_t = gradient(lambda v: softmax_kl_divergence(v, s), t)
    assert np.all(np.isfinite(grad_s)) and np.all(np.isfinite(grad_t)), name
    np.testing.assert_allclose(grad_s[0], exact_softmax(s[0]) - exact_softmax(t[0]), atol=1e-6)


def test_gradient_with_respect_to_the_teacher_matches_reverse_kl_use():
    # Reverse KL (MiniLLM) differentiates the first argument: d KL / d t =
    # p_t * (log p_t - log p_s - KL), checked against the exact values.
    t, s = tempered_pair(3.0, 4.0, close=False, seed=3)
    grad_t = gradient(lambda v: softmax_kl_divergence(v, s), t)
    kl = exact_kl(t, s)
    expected = []
    for row_t, row_s, row_kl in zip(t, s, kl):
        log_pt = np.array([float(v) for v in exact_log_softmax(row_t)])
        log_ps = np.array([float(v) for v in exact_log_softmax(row_s)])
        expected.append(np.exp(log_pt) * (log_pt - log_ps - row_kl))
    np.testing.assert_allclose(grad_t, np.array(expected), rtol=1e-4, atol=1e-7)


def test_log_softmax_is_exact_for_large_logits():
    values = keras.ops.convert_to_numpy(log_softmax(np.array([[1e4, 0.0, -1e4]], "float32")))
    np.testing.assert_array_equal(values, [[0.0, -1e4, -2e4]])
    assert math.isclose(float(np.exp(values).sum()), 1.0)


# Classes masked with a logit of -inf (a language model's forbidden tokens):
# name, teacher logits, student logits, divergences whose value is finite.
# The expected value is the float64 divergence with -inf read as -1e30.
MASKED = [
    (
        "the same classes masked in both",
        [-np.inf, 2.0, 1.0, 0.5, -np.inf],
        [-np.inf, 1.0, 2.0, 0.5, -np.inf],
        ("forward", "reverse", "jsd"),
    ),
    (
        "a class the teacher masks and the student keeps",
        [-np.inf, 2.0, 1.0, 0.5],
        [0.0, 1.0, 2.0, 0.5],
        ("forward", "jsd"),
    ),
    (
        "a class the student masks and the teacher keeps",
        [0.0, 2.0, 1.0, 0.5],
        [-np.inf, 1.0, 2.0, 0.5],
        ("reverse", "jsd"),
    ),
]


@pytest.mark.parametrize("temperature", [2.0, 1000.0])
@pytest.mark.parametrize(
    "name,teacher,student,divergence",
    [(n, t, s, d) for n, t, s, ds in MASKED for d in ds],
    ids=[f"{n}-{d}" for n, _, _, ds in MASKED for d in ds],
)
def test_logits_of_minus_infinity_are_masked_classes_not_nan(
    name, teacher, student, divergence, temperature
):
    t = np.array([teacher, teacher[::-1]], "float32")
    s = np.array([student, student[::-1]], "float32")
    value = keras.ops.convert_to_numpy(soft_target_kd(t, s, temperature, divergence=divergence))
    finite_t, finite_s = np.maximum(t, -1e30), np.maximum(s, -1e30)
    # As the same classes masked with -1e30 (DKD's mask), and the float64 value.
    as_finite = soft_target_kd(finite_t, finite_s, temperature, divergence=divergence)
    np.testing.assert_allclose(value, keras.ops.convert_to_numpy(as_finite), rtol=1e-6)
    expected = np_divergence(finite_t, finite_s, temperature, divergence)
    # 1e-3: at T = 1000 the float32 division t / T already differs by 1e-4.
    np.testing.assert_allclose(value, expected, rtol=1e-3, err_msg=name)
    # Scaled by 100, as a loss weight or distillation_scale would.
    grad_s = gradient(lambda v: 100.0 * soft_target_kd(t, v, temperature, divergence=divergence), s)
    grad_t = gradient(lambda v: 100.0 * soft_target_kd(v, s, temperature, divergence=divergence), t)
    assert np.all(np.isfinite(grad_s)) and np.all(np.isfinite(grad_t)), name
    if divergence == "forward":
        # d (100 T^2 KL) / d s = 100 T (p_s - p_t); 0 where both are masked.
        p_t = np.exp(np_log_softmax(finite_t / temperature))
        p_s = np.exp(np_log_softmax(finite_s / temperature))
        np.testing.assert_allclose(grad_s, 100.0 * temperature * (p_s - p_t), rtol=1e-3, atol=1e-4)


def test_minus_infinity_keeps_nan_as_nan():
    # A NaN logit is a broken teacher: it must show, not be floored away.
    t = np.array([[np.nan, 1.0, -np.inf]], "float32")
    s = np.array([[0.0, 1.0, -np.inf]], "float32")
    assert np.isnan(keras.ops.convert_to_numpy(softmax_kl_divergence(t, s))).all()
    assert np.isnan(keras.ops.convert_to_numpy(log_softmax(t))[0, :2]).all()
