"""Function matching: augmentation the teacher and the student see alike
(`Distiller(augmentation=...)`) and `keras_kd.apps.recipes.function_matching`."""

import math

import keras
import numpy as np
import pytest
from keras import ops

import keras_kd
from keras_kd.apps import recipes

SHAPE = (6, 6, 1)


def _model(seed, name):
    """A linear classifier on 6x6 images (tiny, and sensitive to flips)."""
    model = keras.Sequential(
        [keras.Input(SHAPE), keras.layers.Flatten(), keras.layers.Dense(4, name="logits")],
        name=name,
    )
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(size=w.shape).astype("float32") for w in model.get_weights()])
    return model


def _data(count=32):
    rng = np.random.default_rng(1)
    return rng.random((count,) + SHAPE).astype("float32"), rng.integers(0, 4, count)


@keras.saving.register_keras_serializable(package="test_function_matching")
class AlwaysFlip(keras.layers.Layer):
    """A deterministic 'augmentation': mirrors every image left-right."""

    def call(self, inputs, training=False):
        return ops.flip(inputs, axis=2) if training else inputs


def _distiller(teacher_seed=0, student_seed=1, **kwargs):
    kwargs.setdefault("distillation_loss", keras_kd.losses.SoftTargetKD(temperature=2.0))
    kwargs.setdefault("alpha", 0.0)
    distiller = keras_kd.Distiller(
        _model(teacher_seed, "teacher"), _model(student_seed, "student"), **kwargs
    )
    distiller.compile(
        keras.optimizers.SGD(0.5), keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    return distiller


def _random_layers(seed, all_kinds=False):
    """A random flip and mixup (across the batch); with `all_kinds`, also a
    translation and CutMix (each costs seconds of compilation on JAX)."""
    layers = [
        keras.layers.RandomFlip("horizontal_and_vertical", seed=seed),
        keras.layers.RandomTranslation(0.3, 0.3, seed=seed + 1),
        keras.layers.MixUp(alpha=0.8, seed=seed + 2),
        keras.layers.CutMix(seed=seed + 3),
    ]
    return layers if all_kinds else [layers[0], layers[2]]


def _fit(distiller, x, y, epochs=1):
    return distiller.fit(x, y, epochs=epochs, batch_size=8, shuffle=False, verbose=0)


def _assert_same_weights(a, b):
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=1e-5, atol=1e-6)


def test_the_step_equals_a_plain_run_on_the_augmented_inputs():
    # Teacher and student differ, so the loss reads both models' views: the
    # step matches, weight for weight, a plain Distiller fed flipped images.
    x, y = _data()
    augmented = _distiller(augmentation=AlwaysFlip())
    plain = _distiller()
    _fit(augmented, x, y)
    _fit(plain, np.flip(x, axis=2), y)
    _assert_same_weights(augmented.student, plain.student)
    # (That flipping changes the loss, so this could fail: the next test.)


@pytest.mark.slow
def test_teacher_and_student_see_the_same_random_views():
    # The student is a copy of the teacher: with the same view the KL
    # divergence between their outputs is 0 and the student never moves;
    # with views drawn apart it would not be (the second run).
    x, y = _data()
    distiller = _distiller(teacher_seed=0, student_seed=0, augmentation=_random_layers(seed=3))
    before = distiller.student.get_weights()
    history = _fit(distiller, x, y, epochs=2)
    assert history.history["distillation_loss"] == pytest.approx([0.0, 0.0], abs=1e-7)
    for w0, w1 in zip(before, distiller.student.get_weights()):
        np.testing.assert_allclose(w0, w1, atol=1e-6)
    # The same layers do change the images.
    views = x
    for layer in _random_layers(seed=3):
        views = layer(views, training=True)
    assert float(np.max(np.abs(ops.convert_to_numpy(views) - x))) > 0.1


def test_augmentation_is_off_in_evaluate_and_predict():
    x, y = _data()
    augmented = _distiller(augmentation=AlwaysFlip())
    plain = _distiller()
    np.testing.assert_allclose(
        augmented.predict(x, verbose=0), plain.student.predict(x, verbose=0), rtol=1e-6
    )
    scores = augmented.evaluate(x, y, batch_size=8, return_dict=True, verbose=0)
    clean = plain.evaluate(x, y, batch_size=8, return_dict=True, verbose=0)
    flipped = plain.evaluate(np.flip(x, axis=2), y, batch_size=8, return_dict=True, verbose=0)
    assert scores["distillation_loss"] == pytest.approx(clean["distillation_loss"], rel=1e-5)
    assert scores["distillation_loss"] != pytest.approx(flipped["distillation_loss"], rel=1e-3)


def test_seeded_augmentation_is_reproducible():
    x, y = _data()
    runs = []
    for seed in (5, 5, 6):
        distiller = _distiller(augmentation=keras.layers.RandomFlip(seed=seed))
        _fit(distiller, x, y)
        runs.append(distiller.student.get_weights()[0])
    np.testing.assert_array_equal(runs[0], runs[1])
    assert not np.allclose(runs[0], runs[2])


def test_save_and_load_keep_the_augmentation(tmp_path):
    x, _ = _data()
    distiller = _distiller(augmentation=_random_layers(seed=7, all_kinds=True))
    path = str(tmp_path / "fm.keras")
    distiller.save(path)
    loaded = keras.saving.load_model(path)
    assert [layer.get_config() for layer in loaded.augmentation] == [
        layer.get_config() for layer in distiller.augmentation
    ]
    assert [type(layer) for layer in loaded.augmentation] == [
        keras.layers.RandomFlip,
        keras.layers.RandomTranslation,
        keras.layers.MixUp,
        keras.layers.CutMix,
    ]
    np.testing.assert_allclose(
        loaded.predict(x, verbose=0), distiller.predict(x, verbose=0), rtol=1e-6
    )
    assert keras_kd.Distiller.from_config(_distiller().get_config()).augmentation == []


def test_a_cached_teacher_is_refused(tmp_path):
    x, _ = _data(8)
    cache = keras_kd.TeacherCache.write(_model(0, "teacher"), x, str(tmp_path / "cache"))
    with pytest.raises(ValueError, match="needs a live teacher, but the teacher is a TeacherCache"):
        keras_kd.Distiller(cache, _model(1, "student"), alpha=0.0, augmentation=AlwaysFlip())


def test_mixing_with_a_hard_label_loss_is_refused():
    with pytest.raises(ValueError, match=r"holds \['MixUp'\].*alpha=0.5 gives weight"):
        _distiller(alpha=0.5, augmentation=[AlwaysFlip(), keras.layers.MixUp(seed=0)])
    distiller = _distiller(augmentation=keras.layers.CutMix(seed=0))
    distiller.alpha = 0.3
    x, y = _data(8)
    with pytest.raises(ValueError, match=r"holds \['CutMix'\].*alpha=0.3"):
        _fit(distiller, x, y)
    # Augmentation that keeps the labels works with the hard-label loss.
    _distiller(alpha=0.5, augmentation=AlwaysFlip())


def test_what_is_not_an_augmentation_is_refused():
    with pytest.raises(ValueError, match="takes a Keras layer or a list of them.*type str"):
        _distiller(augmentation="flip")
    x, _ = _data(4)
    with pytest.raises(ValueError, match="`x` is a dict of several inputs"):
        keras_kd.augment.apply([AlwaysFlip()], {"teacher": x, "student": x})


def test_function_matching_recipe_is_the_papers_setup():
    distiller = recipes.function_matching(_model(0, "teacher"), _model(1, "student"), seed=4)
    assert distiller.alpha == 0.0
    (loss,) = distiller.distillation_losses
    assert isinstance(loss, keras_kd.losses.SoftTargetKD) and loss.temperature == 1.0
    assert [(type(layer).__name__, layer.seed) for layer in distiller.augmentation] == [
        ("RandomFlip", 4),
        ("RandomTranslation", 5),
        ("MixUp", 6),
    ]
    assert distiller.augmentation[2].alpha == 0.2
    # (Its training runs in tests/examples/test_function_matching.py: the example.)
    bare = recipes.function_matching_augmentation(None, None, None)
    assert bare == []
    with pytest.raises(ValueError, match=r"in \(0, 1\].*mixup_alpha=1.5"):
        recipes.function_matching(_model(0, "t"), _model(1, "s"), mixup_alpha=1.5)


def test_patient_schedule_is_a_warmup_then_a_cosine_decay():
    schedule = recipes.patient_schedule(0.1, epochs=5, steps_per_epoch=10, warmup_epochs=1)
    for step in (0, 3, 10, 20, 35, 50):
        if step < 10:
            expected = 0.1 * step / 10
        else:
            expected = 0.05 * (1 + math.cos(math.pi * (step - 10) / 40))
        assert float(schedule(step)) == pytest.approx(expected, abs=1e-7)
    with pytest.raises(ValueError, match="`warmup_epochs` must be >= 0 and less than epochs=5"):
        recipes.patient_schedule(0.1, epochs=5, steps_per_epoch=10, warmup_epochs=5)
    with pytest.raises(ValueError, match="`steps_per_epoch` must be an integer >= 1.*0"):
        recipes.patient_schedule(0.1, epochs=5, steps_per_epoch=0)
