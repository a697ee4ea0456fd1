"""The Distiller trains on every backend, with every kind of input Keras takes."""

import os

import keras
import numpy as np
import pytest

import keras_kd


def sparse_ce():
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def compiled(distiller, **kwargs):
    distiller.compile(optimizer="adam", loss=sparse_ce(), metrics=["accuracy"], **kwargs)
    return distiller


class CountingDense(keras.layers.Dense):
    """A Dense layer that counts how often it runs (eager steps only)."""

    calls = 0

    def call(self, inputs):
        type(self).calls += 1
        return super().call(inputs)


def test_trains_with_falling_finite_loss_and_frozen_teacher(blobs, trained_teacher, make_student):
    x, y = blobs
    teacher_weights = [w.copy() for w in trained_teacher.get_weights()]
    distiller = compiled(keras_kd.Distiller(trained_teacher, make_student(), alpha=0.1))
    history = distiller.fit(x, y, epochs=4, batch_size=32, verbose=0).history
    assert np.all(np.isfinite(history["loss"]))
    assert history["loss"][-1] < history["loss"][0]
    assert history["distillation_loss"][-1] < history["distillation_loss"][0]
    for before, after in zip(teacher_weights, trained_teacher.get_weights()):
        np.testing.assert_array_equal(before, after)
    assert distiller.teacher.kind == "probabilities"
    assert distiller.student_kind == "logits"


@pytest.mark.slow
def test_each_model_runs_once_per_step(blobs):
    x, y = blobs
    CountingDense.calls = 0

    def counted(units, name):
        inputs = keras.Input((16,))
        hidden = CountingDense(units, activation="relu", name=f"{name}_counted")(inputs)
        return keras.Model(inputs, keras.layers.Dense(3)(hidden), name=name)

    teacher, student = counted(8, "teacher"), counted(4, "student")
    distiller = compiled(keras_kd.Distiller(teacher, student, alpha=0.5), run_eagerly=True)
    steps = len(x) // 64
    distiller.fit(x, y, batch_size=64, epochs=1, verbose=0)  # builds, once
    CountingDense.calls = 0
    distiller.fit(x, y, batch_size=64, epochs=1, verbose=0)
    assert CountingDense.calls == 2 * steps  # one teacher + one student pass


@pytest.mark.slow
@pytest.mark.parametrize("jit_compile", [False, True])
def test_jit_compile_on_and_off(blobs, trained_teacher, make_student, jit_compile, backend):
    if jit_compile and backend == "torch":
        pytest.skip("torch.compile of a whole train step takes minutes on CPU")
    x, y = blobs
    distiller = compiled(
        keras_kd.Distiller(trained_teacher, make_student()), jit_compile=jit_compile
    )
    history = distiller.fit(x, y, epochs=2, batch_size=64, verbose=0).history
    assert np.isfinite(history["loss"][-1])


def test_logs_student_and_distillation_losses_and_metrics(blobs, trained_teacher, make_student):
    x, y = blobs
    distiller = compiled(keras_kd.Distiller(trained_teacher, make_student(), alpha=0.3))
    history = distiller.fit(
        x, y, epochs=1, batch_size=64, validation_data=(x, y), verbose=0
    ).history
    for key in (
        "loss",
        "student_loss",
        "distillation_loss",
        "accuracy",
        "val_loss",
        "val_student_loss",
        "val_distillation_loss",
        "val_accuracy",
    ):
        assert key in history, key
    logs = distiller.evaluate(x, y, verbose=0, return_dict=True)
    expected = 0.3 * logs["student_loss"] + 0.7 * logs["distillation_loss"]
    np.testing.assert_allclose(logs["loss"], expected, rtol=1e-5)
    student_accuracy = np.mean(np.argmax(distiller.student.predict(x, verbose=0), -1) == y)
    np.testing.assert_allclose(logs["accuracy"], student_accuracy, atol=1e-6)


def test_predict_and_call_return_the_students_outputs(blobs, trained_teacher, make_student):
    x, _ = blobs
    student = make_student()
    distiller = keras_kd.Distiller(trained_teacher, student)
    expected = keras.ops.convert_to_numpy(student(x[:5]))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(distiller(x[:5])), expected, rtol=1e-6)
    np.testing.assert_allclose(distiller.predict(x[:5], verbose=0), expected, rtol=1e-5)


def test_sample_weight_scales_both_losses(blobs, trained_teacher, make_student):
    x, y = blobs
    distiller = compiled(keras_kd.Distiller(trained_teacher, make_student(), alpha=0.5))
    plain = distiller.evaluate(x, y, verbose=0, return_dict=True)
    doubled = distiller.evaluate(
        x, y, sample_weight=np.full(len(x), 2.0), verbose=0, return_dict=True
    )
    zero = distiller.evaluate(x, y, sample_weight=np.zeros(len(x)), verbose=0, return_dict=True)
    for key in ("loss", "student_loss", "distillation_loss"):
        np.testing.assert_allclose(doubled[key], 2 * plain[key], rtol=1e-5)
        np.testing.assert_allclose(zero[key], 0.0, atol=1e-7)
    distiller.fit(x, y, sample_weight=np.linspace(0, 1, len(x)), epochs=1, verbose=0)


def test_unlabeled_data_trains_on_distillation_alone(blobs, trained_teacher, make_student):
    x, _ = blobs
    distiller = keras_kd.Distiller(trained_teacher, make_student(), alpha=0.0)
    distiller.compile(optimizer="adam")
    history = distiller.fit(x, epochs=3, batch_size=64, verbose=0).history
    assert history["distillation_loss"][-1] < history["distillation_loss"][0]
    assert "student_loss" not in history


def test_unlabeled_data_with_alpha_above_zero_is_an_error(blobs, trained_teacher, make_student):
    x, _ = blobs
    distiller = compiled(keras_kd.Distiller(trained_teacher, make_student(), alpha=0.2))
    with pytest.raises(
        ValueError,
        match=r"alpha=0.2 weights the student's hard-label loss, but the data has no labels.*alpha=0",
    ):
        distiller.fit(x, epochs=1, verbose=0)


class BlobSequence(keras.utils.PyDataset):
    def __init__(self, x, y, batch_size):
        super().__init__()
        self.x, self.y, self.batch_size = x, y, batch_size

    def __len__(self):
        return len(self.x) // self.batch_size

    def __getitem__(self, index):
        rows = slice(index * self.batch_size, (index + 1) * self.batch_size)
        return self.x[rows], self.y[rows]


def test_trains_on_a_pydataset(blobs, trained_teacher, make_student):
    x, y = blobs
    distiller = compiled(keras_kd.Distiller(trained_teacher, make_student()))
    history = distiller.fit(
        BlobSequence(x, y, 64), validation_data=BlobSequence(x, y, 128), epochs=2, verbose=0
    )
    assert np.isfinite(history.history["val_loss"][-1])


def test_trains_on_a_tf_data_dataset(blobs, trained_teacher, make_student, backend):
    if backend != "tensorflow":
        pytest.skip("tf.data input is for the TensorFlow backend")
    import tensorflow as tf

    x, y = blobs
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(384).batch(64)
    distiller = compiled(keras_kd.Distiller(trained_teacher, make_student()))
    history = distiller.fit(dataset, validation_data=dataset, epochs=2, verbose=0)
    assert np.isfinite(history.history["val_loss"][-1])


class SubclassedNet(keras.Model):
    def __init__(self, units, softmax=False, **kwargs):
        super().__init__(**kwargs)
        self.hidden = keras.layers.Dense(units, activation="relu")
        self.head = keras.layers.Dense(3, activation="softmax" if softmax else None)

    def call(self, inputs):
        return self.head(self.hidden(inputs))


def functional(units, softmax=False):
    inputs = keras.Input((16,))
    hidden = keras.layers.Dense(units, activation="relu")(inputs)
    outputs = keras.layers.Dense(3)(hidden)
    if softmax:
        outputs = keras.layers.Softmax()(outputs)
    return keras.Model(inputs, outputs)


def sequential(units, softmax=False):
    return keras.Sequential(
        [
            keras.Input((16,)),
            keras.layers.Dense(units, activation="relu"),
            keras.layers.Dense(3, activation="softmax" if softmax else None),
        ]
    )


def subclassed(units, softmax=False):
    model = SubclassedNet(units, softmax)
    model(np.zeros((1, 16), "float32"))
    return model


@pytest.mark.parametrize("make_teacher", [sequential, functional, subclassed])
@pytest.mark.parametrize("make", [sequential, functional, subclassed])
def test_sequential_functional_and_subclassed_models(blobs, make_teacher, make):
    x, y = blobs
    teacher = make_teacher(16, softmax=True)
    distiller = compiled(keras_kd.Distiller(teacher, make(4), alpha=0.1))
    assert distiller.teacher.kind == "probabilities"
    assert distiller.student_kind == "logits"
    history = distiller.fit(x, y, epochs=1, batch_size=128, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_callbacks_early_stopping_checkpoint_and_backup(
    tmp_path, blobs, trained_teacher, make_student
):
    x, y = blobs
    distiller = compiled(keras_kd.Distiller(trained_teacher, make_student()))
    checkpoint = str(tmp_path / "best.keras")
    callbacks = [
        keras.callbacks.EarlyStopping(monitor="val_accuracy", patience=1, mode="max"),
        keras.callbacks.ModelCheckpoint(checkpoint, monitor="val_accuracy", save_best_only=True),
        keras.callbacks.BackupAndRestore(str(tmp_path / "backup")),
    ]
    distiller.fit(
        x, y, epochs=30, batch_size=64, validation_data=(x, y), callbacks=callbacks, verbose=0
    )
    restored = keras.saving.load_model(checkpoint)
    assert isinstance(restored, keras_kd.Distiller)


class StopAfter(keras.callbacks.Callback):
    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            raise RuntimeError("interrupted")


def test_backup_and_restore_resumes_an_interrupted_run(
    tmp_path, blobs, trained_teacher, make_student
):
    x, y = blobs
    distiller = compiled(keras_kd.Distiller(trained_teacher, make_student()))
    backup = keras.callbacks.BackupAndRestore(str(tmp_path / "backup"))
    with pytest.raises(RuntimeError, match="interrupted"):
        distiller.fit(x, y, epochs=4, callbacks=[backup, StopAfter(1)], verbose=0)
    history = distiller.fit(x, y, epochs=4, callbacks=[backup], verbose=0)
    assert len(history.history["loss"]) == 2  # epochs 3 and 4 only


def test_mixed_precision_student_keeps_float32_losses(blobs, trained_teacher):
    x, y = blobs
    keras.config.set_dtype_policy("mixed_bfloat16")
    student = sequential(4)
    keras.config.set_dtype_policy("float32")
    distiller = compiled(keras_kd.Distiller(trained_teacher, student))
    logs = distiller.evaluate(x, y, verbose=0, return_dict=True)
    assert np.isfinite(logs["distillation_loss"])
    history = distiller.fit(x, y, epochs=1, batch_size=64, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_env_backend_is_the_one_under_test(backend):
    assert backend == os.environ.get("KERAS_BACKEND", backend)


@pytest.mark.parametrize(
    "updates",
    [
        [(0.5, 64)],
        [(0.5, 64), (2.0, 32), (-1.25, 7)],
        [(np.float32(3.0), np.int32(5)), (1e-8, 1)],
        [(4.0, None), (2.0, None)],  # unweighted: each value once
    ],
)
def test_loss_trackers_report_what_keras_mean_reports(updates):
    # The Distiller's student_loss / distillation_loss trackers skip Mean's
    # broadcasting for their one value per step: same total, count, result.
    from keras_kd.distiller import _BatchMean

    ours, keras_mean = _BatchMean(name="ours"), keras.metrics.Mean(name="keras")
    for value, batch in updates:
        ours.update_state(value, sample_weight=batch)
        keras_mean.update_state(value, sample_weight=batch)
    for ours_value, keras_value in zip(
        (ours.total, ours.count, ours.result()),
        (keras_mean.total, keras_mean.count, keras_mean.result()),
    ):
        assert float(keras.ops.convert_to_numpy(ours_value)) == float(
            keras.ops.convert_to_numpy(keras_value)
        )


def test_the_jax_trainer_state_is_kept_untracked(trained_teacher, make_student):
    # Keras' JAX fit assigns it after every step; tracking would walk each array.
    distiller = keras_kd.Distiller(trained_teacher, make_student())
    state = {"trainable_variables": [np.zeros(2)], "non_trainable_variables": []}
    distiller._jax_state = state
    assert distiller._jax_state is state
    distiller.flag = [keras.layers.Dense(1)]  # Other attributes are tracked as before.
    assert type(distiller.flag) is not list
