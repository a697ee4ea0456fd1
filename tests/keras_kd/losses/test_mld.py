"""MLD, multi-level logit distillation (Jin et al., CVPR 2023): against the
NumPy reference written from the paper's formulas, its masks and ensembles,
a Distiller that trains and saves with it, and bad arguments."""

import keras
import numpy as np
import pytest
from _numpy_losses import numpy_mld

import keras_kd
from keras_kd import losses
from keras_kd.losses.base import EnsembleOutputs
from keras_kd.losses.base import ModelOutputs


def logits(seed, shape=(6, 5), scale=3.0):
    return np.random.default_rng(seed).normal(scale=scale, size=shape).astype("float32")


def loss_value(loss, teacher, student):
    return float(keras.ops.convert_to_numpy(loss(teacher, student)))


@pytest.mark.parametrize(
    "temperatures, weights, standardize",
    [
        ((2.0, 3.0, 4.0, 5.0, 6.0), (1.0, 1.0, 1.0), False),
        ((4.0,), (1.0, 0.0, 0.0), False),
        ((1.0,), (0.0, 1.0, 0.0), False),
        ((0.5, 8.0), (0.0, 0.0, 1.0), False),
        ((2.0, 3.0), (0.5, 2.0, 3.0), True),
    ],
)
def test_matches_numpy(temperatures, weights, standardize):
    t, s = logits(0), logits(1, scale=1.0)
    loss = losses.MLD(temperatures, *weights, standardize=standardize)
    value = loss_value(loss, ModelOutputs(t, "logits"), ModelOutputs(s, "logits"))
    expected = numpy_mld(t, s, temperatures, weights, standardize)
    np.testing.assert_allclose(value, expected, rtol=1e-4, atol=1e-6)


def test_instance_term_is_soft_target_kd_summed_over_temperatures():
    t, s = logits(2), logits(3)
    value = losses.multi_level_kd(t, s, [2.0, 4.0], 1.0, 0.0, 0.0)
    kd = sum(
        np.mean(keras.ops.convert_to_numpy(losses.soft_target_kd(t, s, temperature)))
        for temperature in (2.0, 4.0)
    )
    np.testing.assert_allclose(float(value), kd, rtol=1e-5)


def test_standardize_changes_the_instance_term_only():
    """Sun et al.'s MLKD: kd_loss takes logit_stand, bc_loss and cc_loss not."""
    t, s = logits(4), logits(5)
    teacher, student = ModelOutputs(t, "logits"), ModelOutputs(s, "logits")
    instance = losses.MLD(standardize=True, batch_weight=0.0, class_weight=0.0)
    base = loss_value(instance, teacher, student)
    moved = ModelOutputs(5.0 * t + 2.0, "logits"), ModelOutputs(0.5 * s - 9.0, "logits")
    np.testing.assert_allclose(loss_value(instance, *moved), base, rtol=1e-4)
    plain = losses.MLD(batch_weight=0.0, class_weight=0.0)
    assert not np.isclose(loss_value(plain, teacher, student), base, rtol=1e-2)
    relations = {
        flag: loss_value(losses.MLD(standardize=flag, instance_weight=0.0), teacher, student)
        for flag in (True, False)
    }
    np.testing.assert_allclose(relations[True], relations[False], rtol=1e-6)


@pytest.mark.slow
def test_masked_rows_are_left_out():
    t, s = logits(6, (2, 4, 5)), logits(7, (2, 4, 5))
    mask = np.array([[1, 1, 0, 1], [0, 1, 1, 0]], "float32")
    value = losses.multi_level_kd(t, s, [2.0, 3.0], mask=mask)
    kept = mask.reshape(-1) > 0
    expected = numpy_mld(t.reshape(-1, 5)[kept], s.reshape(-1, 5)[kept], [2.0, 3.0])
    np.testing.assert_allclose(float(value), expected, rtol=1e-4)
    nothing = losses.multi_level_kd(t, s, [2.0], mask=np.zeros((2, 4), "float32"))
    assert float(nothing) == 0.0


def test_ensemble_teacher_reads_its_soft_target_at_each_temperature():
    members = [logits(8), logits(9)]
    s = logits(10)
    ensemble = EnsembleOutputs(members, ["logits", "logits"], [0.5, 0.5])
    value = loss_value(losses.MLD([1.0, 4.0]), ensemble, ModelOutputs(s, "logits"))
    # numpy_mld softens its teacher itself: give it logits whose softmax at
    # each T is the mixture, one temperature at a time.
    expected = 0.0
    for temperature in (1.0, 4.0):
        mixture = sum(
            np.exp(z / temperature - np.log(np.exp(z / temperature).sum(-1, keepdims=True)))
            for z in np.asarray(members, "float64")
        )
        expected += numpy_mld(temperature * np.log(mixture / 2), s, [temperature])
    np.testing.assert_allclose(value, expected, rtol=1e-4)


def test_distiller_trains_and_saves_with_mld(tmp_path):
    teacher = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4)])
    student = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4)])
    loss = losses.MLD([2.0, 4.0], batch_weight=2.0, standardize=True, weight=0.5)
    distiller = keras_kd.Distiller(teacher, student, distillation_loss=loss, alpha=0.5)
    distiller.compile(
        optimizer="sgd", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    x = np.random.default_rng(0).normal(size=(16, 3)).astype("float32")
    history = distiller.fit(x, np.arange(16) % 4, epochs=2, batch_size=8, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    path = str(tmp_path / "distiller.keras")
    distiller.save(path)
    restored = keras.saving.load_model(path).distillation_losses[0]
    assert isinstance(restored, losses.MLD) and restored.get_config() == loss.get_config()
    assert "mld" in losses.registered_names() and "mld" in losses.output_level_names()
    assert isinstance(losses.get("mld"), losses.MLD)


@pytest.mark.parametrize(
    "arguments, words",
    [
        ({"temperatures": []}, "at least one temperature"),
        ({"temperatures": 4.0}, "must be a list of temperatures"),
        ({"temperatures": "2,4"}, "of type str"),
        ({"temperatures": None}, "of type NoneType"),
        ({"temperatures": [2.0, 0.0]}, "holds a bad temperature.*temperature=0.0"),
        ({"temperatures": [-1]}, "holds a bad temperature"),
        ({"temperatures": [float("nan")]}, "holds a bad temperature"),
        ({"temperatures": [[2.0]]}, "must be a list of temperatures"),
        ({"temperatures": [True]}, "holds a bad temperature"),
        ({"instance_weight": -1.0}, "instance_weight"),
        ({"batch_weight": "1"}, "batch_weight"),
        ({"class_weight": float("inf")}, "class_weight"),
        ({"standardize": "yes"}, "MLD `standardize` must be True or False"),
        ({"standardize": 1}, "standardize=1 of type int"),
    ],
)
def test_hostile_arguments(arguments, words):
    with pytest.raises(ValueError, match=words):
        losses.MLD(**arguments)


def test_hostile_function_arguments():
    z = np.zeros((2, 3), "float32")
    with pytest.raises(ValueError, match="received 1 for 2 temperatures"):
        losses.multi_level_kd([z], z, [2.0, 4.0])
    with pytest.raises(ValueError, match="at least one temperature"):
        losses.multi_level_kd(z, z, ())
    with pytest.raises(ValueError, match="must be True or False"):
        losses.multi_level_kd(z, z, standardize=None)


def test_numpy_temperatures_and_defaults():
    loss = losses.MLD(np.array([2.0, 3.0]))
    assert loss.temperatures == (2.0, 3.0)
    assert losses.MLD().get_config()["temperatures"] == [2.0, 3.0, 4.0, 5.0, 6.0]


@pytest.mark.parametrize(
    "temperatures, words",
    [
        (np.array(4.0), "must be a list of temperatures.*array\\(4\\.\\)"),
        (np.array([[2.0, 3.0]]), "must be a list of temperatures"),
        (range(2, 4), "of type range"),
        ([1e4], "holds a bad temperature.*temperature=10000.0"),
    ],
)
def test_hostile_temperature_containers(temperatures, words):
    with pytest.raises(ValueError, match=words):
        losses.MLD(temperatures)


@pytest.mark.parametrize(
    "teacher, student, words",
    [
        (np.zeros((4, 5)), np.zeros((4, 3)), r"shapes must match.*\(4, 5\).*\(4, 3\)"),
        (np.zeros((4, 5)), np.zeros((3, 5)), r"shapes must match.*\(4, 5\).*\(3, 5\)"),
        (np.zeros((2, 3, 5)), np.zeros((2, 5)), "shapes must match"),
    ],
)
def test_hostile_function_shapes(teacher, student, words):
    with pytest.raises(ValueError, match=words):
        losses.multi_level_kd(teacher.astype("float32"), student.astype("float32"))


def test_a_one_unit_head_reads_as_two_classes_and_refuses_standardization():
    """A one-unit logit z is the binary head [0, z], in the function as in
    the class (before, the function soft-maxed one class and returned 0)."""
    z = logits(11, (6, 1))
    two = np.concatenate([np.zeros_like(z), z], axis=-1)
    value = float(losses.multi_level_kd(z, -z, [2.0, 4.0]))
    assert value > 0.1
    np.testing.assert_allclose(value, numpy_mld(two, -two, [2.0, 4.0]), rtol=1e-4)
    mld = losses.MLD([2.0, 4.0])
    np.testing.assert_allclose(
        loss_value(mld, ModelOutputs(z, "logits"), ModelOutputs(-z, "logits")), value, rtol=1e-5
    )
    with pytest.raises(ValueError, match="needs 3 or more classes"):
        losses.multi_level_kd(two, two, standardize=True)
    teacher = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    student = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match=r"MLD\(standardize=True\) on model .*needs 3"):
        keras_kd.Distiller(teacher, student, distillation_loss=losses.MLD(standardize=True))


@pytest.mark.parametrize(
    "teacher, student, standardize",
    [
        (np.full((4, 5), 7.0), logits(12, (4, 5)), True),  # rows with standard deviation 0
        # exp(300 / 2) overflows float32: only a log-softmax stays finite (the
        # NumPy reference, in float64, still holds it).
        (300 * np.sign(logits(13, (4, 5))), -300 * np.sign(logits(13, (4, 5))), False),
        (300 * np.sign(logits(13, (4, 5))), -300 * np.sign(logits(13, (4, 5))), True),
        (logits(14, (1, 5)), logits(15, (1, 5)), True),  # a batch of one
    ],
    ids=["zero_std_rows", "huge_logits", "huge_logits_standardized", "batch_of_one"],
)
@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_hostile_inputs_match_numpy(teacher, student, dtype, standardize):
    t = keras.ops.cast(np.asarray(teacher, "float32"), dtype)
    s = keras.ops.cast(np.asarray(student, "float32"), dtype)
    loss = losses.MLD([2.0, 4.0], standardize=standardize)
    value = loss_value(loss, ModelOutputs(t, "logits"), ModelOutputs(s, "logits"))
    as_float32 = [keras.ops.convert_to_numpy(keras.ops.cast(v, "float32")) for v in (t, s)]
    expected = numpy_mld(*as_float32, [2.0, 4.0], standardize=standardize)
    assert np.isfinite(value)
    np.testing.assert_allclose(value, expected, rtol=1e-4, atol=1e-4)
