"""The Distiller's reduction over rows, hostile cases (issue 20, defects 1, 2).

A batch that counts one row (17 samples at `batch_size=16`, one real
token), none (an all-padded batch) or that carries NaN weights on padding
must train finite weights on every backend, and a batch where nothing
counts reports a distillation loss of 0 (docs/sequences.md). The
properties of every registered loss under the same cases are in
tests/test_loss_properties.py.
"""

import keras
import numpy as np
import pytest

import keras_kd

CLASSES = 4


def dense_models():
    keras.utils.set_random_seed(0)
    teacher = keras.Sequential([keras.Input((3,)), keras.layers.Dense(CLASSES)])
    student = keras.Sequential([keras.Input((3,)), keras.layers.Dense(CLASSES)])
    return teacher, student


def token_models():
    keras.utils.set_random_seed(0)

    def model():
        inputs = keras.Input((None,), dtype="int32")
        hidden = keras.layers.Embedding(5, 4, mask_zero=True)(inputs)
        return keras.Model(inputs, keras.layers.Dense(CLASSES)(hidden))

    return model(), model()


def dense_data(samples):
    rng = np.random.default_rng(0)
    return rng.normal(size=(samples, 3)).astype("float32"), rng.integers(0, CLASSES, samples)


def tokens(real):
    """4 sequences of 3 positions; `real` real tokens in the first one."""
    x = np.zeros((4, 3), "int32")
    x[0, :real] = 1 + np.arange(real)
    return x, np.ones((4, 3), "int32")


def fit(models, loss, x, y, batch_size, sample_weight=None, alpha=0.0):
    teacher, student = models
    distiller = keras_kd.Distiller(teacher, student, distillation_loss=loss, alpha=alpha)
    distiller.compile(
        keras.optimizers.SGD(0.1),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    history = distiller.fit(
        x,
        y,
        sample_weight=sample_weight,
        batch_size=batch_size,
        epochs=1,
        shuffle=False,
        verbose=0,
    )
    weights = [keras.ops.convert_to_numpy(w) for w in student.weights]
    return history.history, weights


def nan_on_padding(x):
    return np.where(x > 0, 1.0, np.nan).astype("float32")


# (id, models, loss, data, batch_size, sample_weight, alpha, expected distillation loss or None)
CASES = [
    ("dist-17-samples-batch-16", dense_models, "dist", dense_data(17), 16, None, 0.0, None),
    ("dist-one-sample", dense_models, "dist", dense_data(1), 1, None, 0.0, None),
    ("rkd-17-samples-batch-16", dense_models, "rkd", dense_data(17), 16, None, 0.0, None),
    ("dist-one-real-token", token_models, "dist", tokens(1), 4, None, 0.0, None),
    ("dist-all-padded", token_models, "dist", tokens(0), 4, None, 0.0, 0.0),
    ("rkd-all-padded", token_models, "rkd", tokens(0), 4, None, 0.0, 0.0),
    ("kd-all-padded", token_models, "kd", tokens(0), 4, None, 0.5, 0.0),
    ("kd-nan-weight-on-padding", token_models, "kd", tokens(2), 4, "nan", 0.5, None),
    ("dist-nan-weight-on-padding", token_models, "dist", tokens(2), 4, "nan", 0.5, None),
    ("mse-nan-weight-on-padding", token_models, "mse", tokens(2), 4, "nan", 0.0, None),
]


@pytest.mark.parametrize(
    "make_models, loss, data, batch_size, weight, alpha, expected",
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_reduction_over_rows_stays_finite(
    make_models, loss, data, batch_size, weight, alpha, expected
):
    x, y = data
    sample_weight = nan_on_padding(x) if weight == "nan" else None
    history, weights = fit(make_models(), loss, x, y, batch_size, sample_weight, alpha)
    for w in weights:
        assert np.all(np.isfinite(w)), w
    reported = history["distillation_loss"][-1]
    assert np.isfinite(reported), history
    assert np.isfinite(history["loss"][-1]), history
    if expected is not None:
        assert reported == pytest.approx(expected, abs=1e-7), history


# (outputs shape, values shape, what the mean counts): nothing weighted or
# masked, so every position counts once; a per-sample value counts once per
# position of its sample.
PLAIN_CASES = [
    ((4, 10), (4,), "mean over samples"),
    ((4, 3, 10), (4, 3), "mean over positions"),
    ((4, 3, 10), (4,), "per-sample value on each of 3 positions"),
    ((4, 1, 10), (4,), "per-sample value on its one position"),
    ((2, 3, 2, 10), (2, 3, 2), "mean over pixels"),
    ((2, 3, 2, 10), (2,), "per-sample value on each of 6 pixels"),
    ((2, 3, 2, 10), (2, 3, 2, 5), "per-position features averaged first"),
]


@pytest.mark.parametrize("outputs_shape, values_shape, what", PLAIN_CASES)
def test_unweighted_reduction_is_the_numpy_mean_over_positions(outputs_shape, values_shape, what):
    from keras_kd.losses.reduction import PositionWeights

    rng = np.random.default_rng(0)
    values = rng.normal(size=values_shape).astype("float32")
    weights = PositionWeights(np.zeros(outputs_shape, "float32"))
    positions = outputs_shape[1:-1]
    per_row = values
    if values.ndim > 1 + len(positions):
        per_row = values.reshape(values.shape[: 1 + len(positions)] + (-1,)).mean(-1)
    per_position = np.broadcast_to(
        per_row.reshape(per_row.shape + (1,) * (1 + len(positions) - per_row.ndim)),
        outputs_shape[:-1],
    )
    expected = per_position.sum() / per_position.size
    reduced = keras.ops.convert_to_numpy(weights.reduce(values))
    np.testing.assert_allclose(reduced, expected, rtol=1e-5, atol=1e-7, err_msg=what)
    assert weights.keras_sample_weight() is None and weights.metric_sample_weight() is None


# Without mask or weights and with every size known (JAX, PyTorch, eager
# TensorFlow), PositionWeights divides by a number and builds no weights
# unless a per-sample value must be broadcast: the same numbers as the
# general path, which a dynamic batch size (TensorFlow's traced step) takes.
@pytest.mark.parametrize(
    "outputs_shape, values, expected",
    [
        ((4, 3), [1.0, 2.0, 3.0, 6.0], 3.0),  # one value per sample
        ((2, 3, 3), [[1.0, 2.0, 3.0], [4.0, 5.0, 9.0]], 4.0),  # one per position
        ((2, 2, 3), [1.0, 3.0], 2.0),  # per sample, broadcast over positions
        ((0, 3), np.zeros((0,), "float32"), 0.0),  # an empty batch: 0, not NaN
        ((3, 3), 5.0, 5.0),  # a batch-level value, as it is
    ],
)
def test_plain_weights_reduce_to_the_mean(outputs_shape, values, expected):
    from keras_kd.losses.reduction import PositionWeights

    weights = PositionWeights(np.zeros(outputs_shape, "float32"))
    assert weights.divisor == float(np.prod(outputs_shape[:-1]))
    assert weights.keras_sample_weight() is None and weights.metric_sample_weight() is None
    reduced = weights.reduce(np.asarray(values, "float32"))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(reduced), expected, rtol=1e-6)
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(weights.weights), np.ones(outputs_shape[:-1], "float32")
    )
