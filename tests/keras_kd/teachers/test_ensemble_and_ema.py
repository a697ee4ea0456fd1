"""Teacher ensembles, the EMA self-teacher and born-again generations."""

import os

import keras
import numpy as np
import pytest
from _numpy_losses import numpy_dist
from _numpy_losses import numpy_dkd

import keras_kd
from keras_kd import losses
from keras_kd.apps import recipes
from keras_kd.losses.base import EnsembleOutputs
from keras_kd.teachers import EMATeacher


def softmax(z):
    z = np.asarray(z, "float64")
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def numpy_ensemble_kd(member_logits, weights, student_logits, temperature):
    """T^2 KL(sum_i w_i softmax(z_i / T) || softmax(s / T))."""
    mixture = sum(w * softmax(z / temperature) for z, w in zip(member_logits, weights))
    ps = softmax(student_logits / temperature)
    return temperature**2 * (mixture * (np.log(mixture) - np.log(ps))).sum(-1)


def mlp(units, name, classes=3, activation=None):
    return keras.Sequential(
        [
            keras.Input((16,)),
            keras.layers.Dense(units, activation="relu", name="hidden"),
            keras.layers.Dense(classes, activation=activation, name="head"),
        ],
        name=name,
    )


def compile_(distiller, **kwargs):
    distiller.compile(
        optimizer=keras.optimizers.Adam(1e-2),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        **kwargs,
    )
    return distiller


# -- Ensembles ------------------------------------------------------------------


@pytest.mark.parametrize("temperature", [1.0, 4.0])
def test_ensemble_soft_targets_are_the_mean_of_softened_distributions(temperature):
    rng = np.random.default_rng(0)
    z1, z2, s = (rng.normal(scale=3, size=(6, 5)) for _ in range(3))
    weights = [0.7, 0.3]
    # The second teacher has a softmax head: its probabilities are read as such.
    teacher = EnsembleOutputs(
        [z1.astype("float32"), softmax(z2).astype("float32")], ["logits", "probabilities"], weights
    )
    student = losses.ModelOutputs(s.astype("float32"), "logits")
    mixture = sum(w * softmax(z / temperature) for z, w in zip((z1, z2), weights))
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(teacher.log_probabilities(temperature)),
        np.log(mixture),
        rtol=1e-5,
        atol=1e-6,
    )
    expected = numpy_ensemble_kd((z1, z2), weights, s, temperature)
    value = losses.SoftTargetKD(temperature)(teacher, student)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(value), expected, rtol=1e-4, atol=1e-6)
    # DKD and DIST read the same mixture: T * log(mixture) are logits for it.
    mixture_logits = temperature * np.log(mixture)
    y = np.arange(6) % 5
    dkd = losses.DKD(temperature=temperature)(teacher, student, y)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(dkd),
        numpy_dkd(mixture_logits, s, y, 1.0, 8.0, temperature),
        rtol=1e-4,
        atol=1e-6,
    )
    dist = losses.DIST(temperature=temperature)(teacher, student)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(dist),
        numpy_dist(mixture_logits, s, 1.0, 1.0, temperature),
        rtol=1e-4,
    )
    # Not the softmax of the mean logits, which would be a different target.
    averaged = losses.soft_target_kd(0.7 * z1 + 0.3 * z2, s, temperature)
    assert not np.allclose(keras.ops.convert_to_numpy(averaged), expected, rtol=1e-2)


def test_ensemble_distiller_runs_each_teacher_once_and_matches_numpy(blobs):
    x, y = blobs
    wide = mlp(32, "wide")
    deep = keras.Sequential(  # a different architecture, softmax head
        [
            keras.Input((16,)),
            keras.layers.Dense(8, activation="relu"),
            keras.layers.Dense(8, activation="relu"),
            keras.layers.Dense(3, activation="softmax"),
        ],
        name="deep",
    )
    student = mlp(4, "student")
    distiller = compile_(
        keras_kd.Distiller(
            [wide, deep], student, losses.SoftTargetKD(2.0), alpha=0.0, teacher_weights=[3, 1]
        )
    )
    assert distiller.teacher.member_weights == [0.75, 0.25]
    assert distiller.teacher.kinds == ["logits", "probabilities"]
    result = distiller.evaluate(x, y, batch_size=len(x), verbose=0, return_dict=True)
    z_deep = np.log(distiller.teachers[1].predict(x, verbose=0))
    expected = numpy_ensemble_kd(
        (wide.predict(x, verbose=0), z_deep), [0.75, 0.25], student.predict(x, verbose=0), 2.0
    ).mean()
    np.testing.assert_allclose(result["distillation_loss"], expected, rtol=1e-4)
    history = distiller.fit(x, y, batch_size=64, epochs=3, verbose=0).history
    assert history["distillation_loss"][-1] < history["distillation_loss"][0]
    assert all(not v.trainable for t in distiller.teachers for v in t.weights)


def test_ensemble_saves_and_loads(blobs, tmp_path):
    x, y = blobs
    distiller = compile_(
        keras_kd.Distiller([mlp(8, "t1"), mlp(16, "t2")], mlp(4, "s"), ["kd", "dist"], alpha=0.5)
    )
    distiller.fit(x, y, batch_size=64, epochs=1, verbose=0)
    path = os.path.join(tmp_path, "ensemble.keras")
    distiller.save(path)
    restored = keras.saving.load_model(path)
    assert [t.name for t in restored.teachers] == ["t1", "t2"]
    assert restored.teacher.member_weights == [0.5, 0.5]
    np.testing.assert_allclose(
        restored.predict(x[:8], verbose=0), distiller.predict(x[:8], verbose=0), rtol=1e-5
    )


def test_ensemble_errors_name_the_fix():
    s = mlp(4, "s")
    with pytest.raises(
        ValueError,
        match=r"must output the same shape.*'t3': \(None, 3\), 't4': \(None, 4\).*same classes",
    ):
        keras_kd.Distiller([mlp(8, "t3"), mlp(8, "t4", classes=4)], s)
    with pytest.raises(
        ValueError,
        match=r"one number >= 0 per teacher.*teacher_weights=\[1.0, -0.5\].*None for equal",
    ):
        keras_kd.Distiller([mlp(8, "a"), mlp(8, "b")], s, teacher_weights=[1.0, -0.5])
    with pytest.raises(ValueError, match=r"teacher_weights=\[1.0\] for 2 teachers"):
        keras_kd.Distiller([mlp(8, "a"), mlp(8, "b")], s, teacher_weights=[1.0])
    with pytest.raises(
        ValueError, match=r"teacher is a single teacher.*teacher=\[teacher_1, teacher_2"
    ):
        keras_kd.Distiller(mlp(8, "a"), s, teacher_weights=[1.0])
    with pytest.raises(
        ValueError, match=r"intermediate teacher layers.*\['hidden'\].*ensemble.*one teacher"
    ):
        keras_kd.Distiller([mlp(8, "a"), mlp(8, "b")], s, losses.FitNetHint("hidden", "hidden"))
    with pytest.raises(ValueError, match="empty list"):
        keras_kd.Distiller([], s)


# -- EMA self-teacher -------------------------------------------------------------


def bn_student():
    return keras.Sequential(
        [
            keras.Input((16,)),
            keras.layers.Dense(8, name="hidden"),
            keras.layers.BatchNormalization(name="bn"),
            keras.layers.Activation("relu"),
            keras.layers.Dense(3, name="head"),
        ],
        name="student",
    )


@pytest.mark.slow
@pytest.mark.parametrize("jit_compile", [False, "auto"])
def test_ema_teacher_is_the_numpy_ema_of_the_student_after_every_step(blobs, jit_compile):
    x, y = blobs
    student = bn_student()
    decay = 0.8
    ema = EMATeacher(student, decay=decay)
    distiller = compile_(keras_kd.Distiller(ema, student, "kd", alpha=0.5), jit_compile=jit_compile)
    assert (
        distiller.teacher is ema and ema.model is not student and distiller.teachers == [ema.model]
    )
    expected = [np.array(w, "float64") for w in student.get_weights()]
    for step in range(4):
        batch = slice(32 * step, 32 * (step + 1))
        distiller.train_on_batch(x[batch], y[batch])
        # mean teacher: e_k = decay * e_{k-1} + (1 - decay) * s_k (after step k)
        expected = [decay * e + (1 - decay) * s for e, s in zip(expected, student.get_weights())]
        for got, want in zip(ema.model.get_weights(), expected):
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    names = [w.path for w in ema.model.weights]
    assert any("moving_mean" in n for n in names)  # batch-norm statistics averaged too
    assert not np.allclose(ema.model.get_weights()[0], student.get_weights()[0])


def test_ema_teacher_updates_each_step_within_fit_and_saves(blobs, tmp_path):
    x, y = blobs
    student = mlp(8, "student")
    ema = EMATeacher(student, decay=0.5)
    distiller = compile_(keras_kd.Distiller(ema, student, "kd", alpha=0.5))
    seen = []

    def record_weights(batch, logs):
        if keras.backend.backend() == "jax":
            distiller.jax_state_sync()  # JAX keeps the weights in its state
        seen.append((student.get_weights()[0].copy(), ema.model.get_weights()[0].copy()))

    record = keras.callbacks.LambdaCallback(on_train_batch_end=record_weights)
    distiller.fit(x, y, batch_size=96, epochs=1, verbose=0, callbacks=[record])
    assert len(seen) == 4
    for (_, e_prev), (s_now, e_now) in zip(seen, seen[1:]):
        np.testing.assert_allclose(e_now, 0.5 * e_prev + 0.5 * s_now, rtol=1e-5, atol=1e-6)
    path = os.path.join(tmp_path, "ema.keras")
    distiller.save(path)
    restored = keras.saving.load_model(path)
    assert isinstance(restored.teacher, EMATeacher) and restored.teacher.decay == 0.5
    np.testing.assert_allclose(restored.teacher.get_weights()[0], ema.model.get_weights()[0])


def test_ema_errors_name_the_fix():
    student = mlp(4, "student")
    with pytest.raises(
        ValueError, match=r"decay` must be a number in \[0, 1\). .*Received: decay=1.5"
    ):
        EMATeacher(student, decay=1.5)
    with pytest.raises(
        ValueError, match=r"tracks the model 'student'.*student is 'other'.*same student object"
    ):
        keras_kd.Distiller(EMATeacher(student), mlp(4, "other"))
    with pytest.raises(ValueError, match="teacher_weights.*an EMATeacher"):
        keras_kd.Distiller(EMATeacher(student), student, teacher_weights=[1.0])


# -- Born-again -------------------------------------------------------------------


def test_born_again_chains_generations(blobs, trained_teacher):
    x, y = blobs
    made = []

    def make_student():
        made.append(mlp(4, f"gen{len(made) + 1}"))
        return made[-1]

    students = recipes.born_again(
        make_student,
        trained_teacher,
        x,
        y,
        generations=2,
        compile_kwargs={
            "optimizer": keras.optimizers.Adam(2e-2),
            "loss": keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        },
        fit_kwargs={"epochs": 8, "batch_size": 64, "verbose": 0},
    )
    assert students == made and [s.name for s in students] == ["gen1", "gen2"]
    accuracy = (students[-1].predict(x, verbose=0).argmax(-1) == y).mean()
    assert accuracy > 0.6
    with pytest.raises(ValueError, match="generations` must be an integer >= 1"):
        recipes.born_again(make_student, trained_teacher, x, y, generations=0)
