"""Saving: config round-trip, .keras round-trip with resumable training, and a
student that loads without keras_kd."""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest

import keras_kd


def compiled_distiller(teacher, student):
    distiller = keras_kd.Distiller(
        teacher,
        student,
        distillation_loss=keras_kd.losses.SoftTargetKD(temperature=3.0),
        alpha=0.25,
    )
    distiller.compile(
        optimizer="adam",
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return distiller


def test_config_round_trip(trained_teacher, make_student):
    distiller = compiled_distiller(trained_teacher, make_student())
    clone = keras_kd.Distiller.from_config(distiller.get_config())
    assert clone.alpha == 0.25
    assert (
        clone.distillation_losses[0].get_config() == distiller.distillation_losses[0].get_config()
    )
    assert clone.teacher.kind == "probabilities" and not clone.teacher.trainable
    assert clone.student.count_params() == distiller.student.count_params()


def test_keras_file_round_trip_resumes_training(tmp_path, blobs, trained_teacher, make_student):
    x, y = blobs
    distiller = compiled_distiller(trained_teacher, make_student())
    distiller.fit(x, y, epochs=2, batch_size=64, verbose=0)
    path = str(tmp_path / "distiller.keras")
    distiller.save(path)

    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, keras_kd.Distiller)
    assert not loaded.teacher.trainable
    np.testing.assert_allclose(
        loaded.predict(x[:8], verbose=0), distiller.predict(x[:8], verbose=0), rtol=1e-5, atol=1e-6
    )
    assert int(loaded.optimizer.iterations) == int(distiller.optimizer.iterations)

    original = distiller.fit(x, y, epochs=1, batch_size=64, shuffle=False, verbose=0).history[
        "loss"
    ][0]
    resumed = loaded.fit(x, y, epochs=1, batch_size=64, shuffle=False, verbose=0).history["loss"][0]
    np.testing.assert_allclose(resumed, original, rtol=1e-4)
    teacher_weights = trained_teacher.get_weights()
    for before, after in zip(teacher_weights, loaded.teacher.get_weights()):
        np.testing.assert_array_equal(before, after)


@pytest.mark.slow
def test_student_saved_alone_loads_without_keras_kd(tmp_path, blobs, trained_teacher, make_student):
    x, y = blobs
    distiller = compiled_distiller(trained_teacher, make_student())
    distiller.fit(x, y, epochs=1, verbose=0)
    path = str(tmp_path / "student.keras")
    distiller.student.save(path)
    np.save(tmp_path / "x.npy", x[:4])
    np.save(tmp_path / "expected.npy", distiller.student.predict(x[:4], verbose=0))
    script = (
        "import sys; sys.modules['keras_kd'] = None\n"  # any import of keras_kd now fails
        "import keras, numpy as np\n"
        f"model = keras.saving.load_model({path!r})\n"
        f"out = model.predict(np.load({str(tmp_path / 'x.npy')!r}), verbose=0)\n"
        f"np.testing.assert_allclose(out, np.load({str(tmp_path / 'expected.npy')!r}), rtol=1e-5, atol=1e-6)\n"
        "print('loaded', model.count_params())\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=os.environ.copy()
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"loaded {distiller.student.count_params()}" in result.stdout
