"""Property-based tests of every registered distillation loss (issue 14).

The losses are read from the registry, so a newly registered loss is
covered: one that reads the final outputs with its default arguments is
built as is; one that reads intermediate layers must be listed in
`INTERMEDIATE` (a test fails until it is). Hypothesis runs derandomized, so
CI is deterministic.
"""

import keras
import numpy as np
import pytest
from _gradients import gradient
from hypothesis import HealthCheck
from hypothesis import assume
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from keras_kd import losses
from keras_kd.losses.registry import FINAL_OUTPUTS

# 25 examples per property (10 on JAX, where every new shape compiles each op
# again: 287 s of CPU for this file at 25); fewer in the fast tier, whose
# profile tests/conftest.py loads.
FULL_EXAMPLES = 10 if keras.backend.backend() == "jax" else 25
# The padded-sequence property builds a new reduction per example: 4 (2 on JAX).
PADDING_EXAMPLES = 2 if keras.backend.backend() == "jax" else 4
SETTINGS = settings(
    max_examples=min(FULL_EXAMPLES, settings().max_examples),
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow],
)
EPS32 = float(np.finfo(np.float32).eps)
# Shapes come from a few that hold the edges (one row, two classes) and one
# of each larger kind: the values vary freely, and on JAX, where every new
# shape compiles each op again, the examples reuse what is compiled.
BATCHES = (1, 2, 6)
CLASSES = (2, 3, 8)

# Losses on intermediate layers: how to build one on a single feature map.
INTERMEDIATE = {"at": lambda cls: cls([("features", "features")])}
# The divergences between softened distributions: zero for equal inputs and
# unchanged by adding a constant to a row of logits.
SHIFT_INVARIANT = {"kd", "dkd", "dist"}


def build(name):
    """`(loss, uses_features)` for a registered name."""
    info = losses.describe(name)
    if info.reads == FINAL_OUTPUTS:
        return info.loss_class(), False
    return INTERMEDIATE[name](info.loss_class), True


def view(z, kind="logits", uses_features=False, dtype="float32"):
    values = keras.ops.cast(z, dtype)
    if uses_features:
        # (batch, classes) read as a (batch, 1, classes, 1) feature map.
        maps = keras.ops.reshape(values, (z.shape[0], 1, z.shape[1], 1))
        return losses.ModelOutputs(values, kind, {"features": maps})
    return losses.ModelOutputs(values, kind)


def evaluate(name, teacher, student, y, temperature, teacher_kind="logits", dtype="float32"):
    loss, uses_features = build(name)
    if "temperature" in losses.describe(name).hyperparameters:
        loss.temperature = temperature
    value = loss(
        view(teacher, teacher_kind, uses_features, dtype),
        view(student, "logits", uses_features, dtype),
        y,
    )
    return np.asarray(keras.ops.convert_to_numpy(value), "float64")


NAMES = losses.registered_names()


def test_every_registered_loss_can_be_built():
    for name in NAMES:
        build(name)  # A KeyError names an intermediate loss to add above.


@st.composite
def problems(draw, min_batch=1):
    """Logits up to +-1e4 (multiples of 1/8: a shift by an integer is exact)."""
    batch = draw(st.sampled_from([b for b in BATCHES if b >= min_batch]))
    classes = draw(st.sampled_from(CLASSES))
    ticks = st.integers(-80_000, 80_000)
    shape = (batch, classes)
    teacher = np.array(draw(st.lists(ticks, min_size=batch * classes, max_size=batch * classes)))
    student = np.array(draw(st.lists(ticks, min_size=batch * classes, max_size=batch * classes)))
    y = np.array(draw(st.lists(st.integers(0, classes - 1), min_size=batch, max_size=batch)))
    temperature = draw(st.floats(0.5, 50.0))
    return (
        (teacher.reshape(shape) / 8).astype("float32"),
        (student.reshape(shape) / 8).astype("float32"),
        y.astype("int32"),
        temperature,
    )


def softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return (e / e.sum(axis=-1, keepdims=True)).astype("float32")


@pytest.mark.parametrize("name", NAMES)
@SETTINGS
@given(problem=problems())
def test_finite_for_any_finite_logits(name, problem):
    teacher, student, y, temperature = problem
    for dtype in ("float32", "bfloat16"):
        value = evaluate(name, teacher, student, y, temperature, dtype=dtype)
        assert np.all(np.isfinite(value)), (dtype, value)


@pytest.mark.parametrize("name", [n for n in NAMES if build(n)[1] is False])
@SETTINGS
@given(problem=problems())
def test_finite_for_a_softmax_teacher_with_zero_probabilities(name, problem):
    """Softmax of logits 1e4 apart holds exact zeros (defect 5)."""
    teacher, student, y, temperature = problem
    value = evaluate(name, softmax(teacher), student, y, temperature, "probabilities")
    assert np.all(np.isfinite(value)), value


@pytest.mark.parametrize("name", NAMES)
@SETTINGS
@given(problem=problems())
def test_non_negative(name, problem):
    teacher, student, y, temperature = problem
    value = evaluate(name, teacher, student, y, temperature)
    scale = max(temperature**2, 1.0)
    assert np.all(value >= -1e-5 * scale * (1.0 + np.abs(value))), value


@pytest.mark.parametrize("name", NAMES)
@SETTINGS
@given(problem=problems(min_batch=2))
def test_zero_when_teacher_and_student_agree(name, problem):
    teacher, _, y, temperature = problem
    if name == "dist":
        # A Pearson correlation is 1 only up to its epsilon (1e-8) over the
        # spread of the softened rows and columns: require a spread.
        p = softmax(teacher / temperature)
        for axis in (0, 1):
            centered = p - p.mean(axis=axis, keepdims=True)
            assume(np.all((centered**2).sum(axis=axis) > 1e-5))
    value = evaluate(name, teacher, teacher, y, temperature)
    np.testing.assert_allclose(value, 0.0, atol=1e-3 * max(temperature**2, 1.0))


@pytest.mark.parametrize("name", sorted(SHIFT_INVARIANT & set(NAMES)))
@SETTINGS
@given(
    problem=problems(),
    shifts=st.lists(st.integers(-100, 100), min_size=12, max_size=12),
)
def test_invariant_to_a_constant_added_to_a_row(name, problem, shifts):
    teacher, student, y, temperature = problem
    batch = teacher.shape[0]
    teacher_shift = np.array(shifts[:batch], "float32")[:, None]
    student_shift = np.array(shifts[6 : 6 + batch], "float32")[:, None]
    before = evaluate(name, teacher, student, y, temperature)
    after = evaluate(name, teacher + teacher_shift, student + student_shift, y, temperature)
    # Exact shifts; only the division by T rounds: one float32 ulp of the
    # largest tempered logit, through a loss scaled by T^2.
    largest = float(max(np.abs(teacher).max(), np.abs(student).max())) + 100.0
    atol = 8 * EPS32 * largest * max(temperature, 1.0) + 1e-5 * max(temperature**2, 1.0)
    np.testing.assert_allclose(after, before, rtol=1e-4, atol=atol)


@SETTINGS
@given(
    problem=problems(),
    scales=st.tuples(st.floats(0.1, 10.0), st.floats(0.1, 10.0)),
    shifts=st.tuples(st.integers(-100, 100), st.integers(-100, 100)),
)
def test_standardized_kd_ignores_the_scale_and_shift_of_rows(problem, scales, shifts):
    """Logit standardization (Sun et al., 2024): a z-score per row."""
    teacher, student, y, temperature = problem
    assume(np.all(teacher.std(-1) > 1e-2) and np.all(student.std(-1) > 1e-2))
    assume(teacher.shape[-1] >= 3)  # Two classes are refused (test_soft_target_standardize.py).
    loss = losses.SoftTargetKD(temperature=temperature, standardize=True)

    def value(t, s):
        return keras.ops.convert_to_numpy(loss(view(t), view(s)))

    before = value(teacher, student)
    after = value(
        (scales[0] * teacher + shifts[0]).astype("float32"),
        (scales[1] * student + shifts[1]).astype("float32"),
    )
    assert np.all(np.isfinite(before)) and np.all(before >= -1e-5)
    np.testing.assert_allclose(after, before, rtol=1e-3, atol=1e-4 * max(temperature**2, 1.0))


# -- Counted rows: none, one, NaN weights on padding (issue 20, defects 1, 2) --


def reduced(name, teacher, student, y, mask, sample_weight):
    """The Distiller's reduction of one registered loss over positions."""
    from keras_kd.losses.reduction import PositionWeights

    loss, uses_features = build(name)

    def sequence_view(z, kind, weights):
        z = keras.ops.cast(z, "float32")
        features = None
        if uses_features:
            features = {"features": keras.ops.expand_dims(z, -1)}
        return losses.ModelOutputs(z, kind, features, mask=weights.mask)

    def value(student_logits):
        weights = PositionWeights(student_logits, mask, sample_weight)
        return weights.reduce(
            loss(
                sequence_view(teacher, "logits", weights),
                sequence_view(student_logits, "logits", weights),
                y,
            )
        )

    return value


@st.composite
def padded_sequences(draw):
    """(batch, time, classes) logits where zero or one position counts."""
    batch, time = draw(st.sampled_from(BATCHES[:2])), draw(st.sampled_from((1, 3)))
    classes = draw(st.sampled_from(CLASSES))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    teacher = rng.normal(scale=3.0, size=(batch, time, classes)).astype("float32")
    student = rng.normal(scale=3.0, size=(batch, time, classes)).astype("float32")
    y = rng.integers(0, classes, size=(batch, time)).astype("int32")
    mask = np.zeros((batch, time), bool)
    counted = draw(st.sampled_from([None, *range(batch * time)]))
    if counted is not None:
        mask.flat[counted] = True
    # Padding carries NaN weights: the mask already excludes it.
    sample_weight = np.where(mask, 1.0, np.nan).astype("float32")
    return teacher, student, y, mask, sample_weight, counted


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
@settings(SETTINGS, max_examples=min(PADDING_EXAMPLES, settings().max_examples))
@given(problem=padded_sequences())
def test_finite_with_zero_or_one_counted_row_and_nan_weights_on_padding(name, problem):
    teacher, student, y, mask, sample_weight, counted = problem
    function = reduced(name, teacher, student, y, mask, sample_weight)
    value = float(keras.ops.convert_to_numpy(function(student)))
    grad = gradient(function, student)
    assert np.isfinite(value), value
    assert np.all(np.isfinite(grad)), grad
    if counted is None:
        # Nothing counts (docs/sequences.md): 0, and nothing to learn.
        assert value == 0.0
        np.testing.assert_array_equal(grad, 0.0)
        return
    if not build(name)[1]:
        # Only the counted position moves the student (an intermediate
        # layer's loss reads whole samples).
        others = np.ones(mask.shape, bool)
        others.flat[counted] = False
        np.testing.assert_array_equal(grad[others], 0.0)
        # And the value is the loss of that position alone.
        b, t = np.unravel_index(counted, mask.shape)
        alone = reduced(
            name,
            teacher[b : b + 1, t : t + 1],
            student[b : b + 1, t : t + 1],
            y[b : b + 1, t : t + 1],
            None,
            None,
        )(student[b : b + 1, t : t + 1])
        np.testing.assert_allclose(value, keras.ops.convert_to_numpy(alone), rtol=1e-4, atol=1e-5)
