"""Sequence (token-level) distillation: outputs (batch, time, classes) distil
per position; Keras masks and per-position sample weights decide which
positions count, for every output-level loss and for the hard loss, in
training, evaluation and the reported metrics. Every value is checked
against NumPy; padding to 20 or to 40 trains weight for weight alike."""

import keras
import numpy as np
import pytest
from _numpy_losses import kl
from _numpy_losses import numpy_dist
from _numpy_losses import numpy_dkd
from _numpy_losses import numpy_rkd
from _numpy_losses import softmax

import keras_kd
from keras_kd import losses

VOCABULARY = CLASSES = 7
BATCH, TIME = 6, 20


def token_model(units, mask_zero=True, name=None, seed=0):
    """Embedding -> Dense -> Dense: each position's logits from its token."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((None,), dtype="int32")
    spread = keras.initializers.RandomNormal(stddev=1.0)
    hidden = keras.layers.Embedding(
        VOCABULARY, 6, mask_zero=mask_zero, embeddings_initializer=spread
    )(inputs)
    hidden = keras.layers.Dense(units, activation="tanh")(hidden)
    # Spread-out logits: distributions far from uniform, as after training.
    head = keras.layers.Dense(CLASSES, kernel_initializer=spread)
    return keras.Model(inputs, head(hidden), name=name)


def padded_tokens(time=TIME, seed=0):
    """(x, y, lengths): tokens 1.. at real positions, 0 (padding) after."""
    rng = np.random.default_rng(seed)
    lengths = np.array([2, 12, 5, 9, 3, 7])
    x = np.zeros((BATCH, time), "int32")
    y = np.zeros((BATCH, time), "int32")
    for i, n in enumerate(lengths):
        x[i, :n] = rng.integers(1, VOCABULARY, n)
        y[i, :n] = rng.integers(0, CLASSES, n)
    return x, y


@pytest.fixture
def models():
    return token_model(16, name="teacher", seed=1), token_model(5, name="student", seed=2)


def sparse_ce():
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def compiled(teacher, student, loss, alpha=0.3, **kwargs):
    distiller = keras_kd.Distiller(teacher, student, distillation_loss=loss, alpha=alpha)
    distiller.compile(keras.optimizers.SGD(0.1), sparse_ce(), **kwargs)
    return distiller


def numpy_ce(logits, labels):
    p = softmax(logits)
    return -np.log(np.take_along_axis(p, labels[..., None], -1)[..., 0])


# Per-position losses: NumPy values (batch, time), computed independently.
TEMPERATURE = 2.0


def numpy_kd(t, s, y):
    return TEMPERATURE**2 * kl(softmax(t / TEMPERATURE), softmax(s / TEMPERATURE))


def numpy_dkd_per_position(t, s, y):
    flat = numpy_dkd(
        t.reshape(-1, CLASSES), s.reshape(-1, CLASSES), y.reshape(-1), 1.0, 2.0, TEMPERATURE
    )
    return flat.reshape(y.shape)


def numpy_fitnet(t, s, y):
    return ((s - t) ** 2).mean(-1)


# (weight in EVERY_OUTPUT_LEVEL_LOSS, NumPy loss) of the per-position losses.
PER_POSITION_NUMPY = [(1.0, numpy_kd), (0.5, numpy_dkd_per_position), (0.1, numpy_fitnet)]


def outputs(teacher, student, x):
    return (
        np.asarray(teacher.predict(x, verbose=0), "float64"),
        np.asarray(student.predict(x, verbose=0), "float64"),
    )


def check(logs, soft, hard):
    np.testing.assert_allclose(logs["distillation_loss"], soft, rtol=2e-5, atol=1e-6)
    np.testing.assert_allclose(logs["student_loss"], hard, rtol=2e-5, atol=1e-6)
    np.testing.assert_allclose(logs["loss"], 0.3 * hard + 0.7 * soft, rtol=2e-5, atol=1e-6)


def numpy_losses(teacher, student, x, y, mask):
    """(per-position soft loss, per-position hard loss, batch-level soft loss)."""
    t, s = outputs(teacher, student, x)
    per_position = sum(weight * numpy_loss(t, s, y) for weight, numpy_loss in PER_POSITION_NUMPY)
    rows = mask.astype(bool)
    batch_level = (
        # DIST: the rows it correlates are the real tokens only.
        numpy_dist(t[rows], s[rows], 1.0, 1.0, TEMPERATURE)
        # RKD: relations between sequences whose padded positions are zeros.
        + 0.1 * numpy_rkd(t * mask[..., None], s * mask[..., None], 1.0, 1.0)
    )
    return per_position, numpy_ce(s, y), batch_level


@pytest.mark.slow
def test_every_output_level_loss_with_masks_and_sample_weights_matches_numpy(models):
    teacher, student = models
    x, y = padded_tokens()
    mask = (x != 0).astype("float64")
    rng = np.random.default_rng(5)
    position_weight = rng.uniform(0.5, 2.0, size=x.shape).astype("float32")
    sample_weight = rng.uniform(0.5, 2.0, size=BATCH).astype("float32")
    per_position, hard, batch_level = numpy_losses(teacher, student, x, y, mask)

    def expected(weights):
        # The defined reduction: sum(w * loss) over counted positions / their
        # count; batch-level losses (DIST, RKD) read which positions count.
        return (
            (per_position * weights).sum() / mask.sum() + batch_level,
            (hard * weights).sum() / mask.sum(),
        )

    distiller = compiled(
        teacher,
        student,
        [make() for make in EVERY_OUTPUT_LEVEL_LOSS],
        weighted_metrics=["accuracy"],
    )
    correct = (outputs(teacher, student, x)[1].argmax(-1) == y).astype("float64")
    # A Keras mask (Embedding(mask_zero=True)): the mean over real tokens.
    logs = distiller.evaluate(x, y, batch_size=BATCH, verbose=0, return_dict=True)
    check(logs, *expected(mask))
    np.testing.assert_allclose(logs["accuracy"], (correct * mask).sum() / mask.sum(), rtol=1e-5)
    # Keras' own masked reduction of the student's loss gives the same hard loss.
    student.compile(loss=sparse_ce())
    np.testing.assert_allclose(
        student.evaluate(x, y, batch_size=BATCH, verbose=0), expected(mask)[1], rtol=2e-5
    )
    # Per-sample weights: each sample's weight on each of its real tokens.
    logs = distiller.evaluate(
        x, y, sample_weight=sample_weight, batch_size=BATCH, verbose=0, return_dict=True
    )
    check(logs, *expected(sample_weight[:, None] * mask))
    # Weighted label metrics: a weighted mean over the real tokens (Keras
    # alone cannot broadcast (batch,) weights over (batch, time) outputs).
    weights = sample_weight[:, None] * mask
    np.testing.assert_allclose(
        logs["accuracy"], (correct * weights).sum() / weights.sum(), rtol=1e-5
    )
    # In training, with per-position weights: the logs of a step hold the
    # values before its update.
    logs = distiller.train_on_batch(x, y, sample_weight=position_weight, return_dict=True)
    check(logs, *expected(position_weight * mask))

    # (A 0/1 per-position weight without a mask: see the padding test.)


EVERY_OUTPUT_LEVEL_LOSS = [
    lambda: losses.SoftTargetKD(TEMPERATURE),
    lambda: losses.DKD(alpha=1.0, beta=2.0, temperature=TEMPERATURE, weight=0.5),
    lambda: losses.FitNetHint(weight=0.1),
    lambda: losses.DIST(beta=1.0, gamma=1.0, temperature=TEMPERATURE),
    lambda: losses.RKD(distance_weight=1.0, angle_weight=1.0, weight=0.1),
]


def train(time, mask_zero=True, use_sample_weight=False, steps=2):
    """Weights after `steps` steps on the same tokens padded to `time`."""
    teacher = token_model(16, mask_zero=mask_zero, name="teacher", seed=1)
    student = token_model(5, mask_zero=mask_zero, name="student", seed=2)
    distiller = compiled(
        teacher, student, [make() for make in EVERY_OUTPUT_LEVEL_LOSS], metrics=["accuracy"]
    )
    x, y = padded_tokens(time)
    weight = (x != 0).astype("float32") if use_sample_weight else None
    logs = [
        distiller.train_on_batch(x, y, sample_weight=weight, return_dict=True) for _ in range(steps)
    ]
    return student.get_weights(), logs


@pytest.mark.slow
def test_padding_to_20_or_40_gives_the_same_losses_and_weights():
    weights_20, logs_20 = train(20)
    weights_40, logs_40 = train(40)
    # A 0/1 per-position weight without any Keras mask trains exactly alike.
    weights_sw, logs_sw = train(40, mask_zero=False, use_sample_weight=True)
    for other_weights, other_logs in [(weights_40, logs_40), (weights_sw, logs_sw)]:
        for ours, theirs in zip(weights_20, other_weights):
            np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)
        for ours, theirs in zip(logs_20, other_logs):
            for key in ("loss", "student_loss", "distillation_loss"):
                np.testing.assert_allclose(ours[key], theirs[key], rtol=1e-5, atol=1e-6)
    # The weights compared are trained ones, not the initial ones.
    initial = token_model(5, name="student", seed=2).get_weights()
    assert max(np.abs(a - b).max() for a, b in zip(initial, weights_20)) > 1e-3


def test_fully_padded_batch_gives_zero_not_nan(models):
    teacher, student = models
    x = np.zeros((BATCH, TIME), "int32")
    logs = compiled(teacher, student, "kd").evaluate(
        x, x, batch_size=BATCH, verbose=0, return_dict=True
    )
    assert logs["distillation_loss"] == 0.0 and logs["student_loss"] == 0.0


def test_sample_weight_of_another_shape_names_both_shapes(models):
    teacher, student = models
    x, y = padded_tokens()
    distiller = compiled(teacher, student, "kd")
    with pytest.raises(
        ValueError,
        match=(
            r"`sample_weight` must weigh each sample, shape \(batch,\), or each position "
            r"of the outputs, shape \(batch, \*positions\) = \(\w+, 20\)\. Received: "
            r"sample_weight of shape \(\w+, 7\) for student outputs of shape "
            r"\(\w+, 20, 7\)\. Give one weight per sample, or one per position"
        ),
    ):
        distiller.evaluate(
            x, y, sample_weight=np.ones((BATCH, 7), "float32"), batch_size=BATCH, verbose=0
        )


@pytest.mark.parametrize("divergence, beta", [("reverse", 0.5), ("jsd", 0.5), ("jsd", 0.1)])
def test_the_language_model_divergences_count_only_real_tokens(models, divergence, beta):
    from _numpy_losses import np_divergence

    teacher, student = models
    x, y = padded_tokens()
    mask = (x != 0).astype("float64")
    t, s = outputs(teacher, student, x)
    per_position = np_divergence(t, s, TEMPERATURE, divergence, beta)  # (batch, time)
    loss = losses.SoftTargetKD(TEMPERATURE, divergence=divergence, beta=beta)
    logs = compiled(teacher, student, loss).evaluate(
        x, y, batch_size=BATCH, verbose=0, return_dict=True
    )
    np.testing.assert_allclose(
        logs["distillation_loss"], (per_position * mask).sum() / mask.sum(), rtol=2e-5
    )
