"""A teacher on other inputs than the student's (issue 12, item 4).

`Distiller(teacher_preprocessor=f)` makes the teacher's inputs `f(x)` in the
step; `fit({"teacher": x_teacher, "student": x_student}, y)` gives each model
its own. Both must train exactly as a hand-written step does; `predict`,
`evaluate` and the saved student take the student's inputs alone.
"""

import keras
import numpy as np
import pytest
from keras import ops

import keras_kd

N, T, ALPHA, LR = 48, 2.0, 0.3, 0.5


@keras.saving.register_keras_serializable(package="test_teacher_inputs")
def upsample(x):
    """Nearest-neighbour 2x upsampling of `(batch, h, w, c)` images."""
    return ops.repeat(ops.repeat(x, 2, axis=1), 2, axis=2)


def linear(side, name):
    return keras.Sequential(
        [keras.Input((side, side, 1)), keras.layers.Flatten(), keras.layers.Dense(3)],
        name=name,
    )


@pytest.fixture
def pair():
    """A fixed 8x8 teacher, a 4x4 student's initial weights, and data."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(N, 4, 4, 1)).astype("float32")
    y = rng.integers(0, 3, size=N).astype("int32")
    teacher = linear(8, "teacher")
    teacher.set_weights([rng.normal(size=(64, 3)).astype("float32"), np.zeros(3, "float32")])
    return teacher, linear(4, "student").get_weights(), x, y


def student_from(weights, name="student"):
    student = linear(4, name)
    student.set_weights(weights)
    return student


def distil(teacher, weights, x, y, batch_size=16, epochs=1, **kwargs):
    """Trains a fresh student from `weights`; returns its weights and the Distiller."""
    distiller = keras_kd.Distiller(
        teacher, student_from(weights), keras_kd.losses.SoftTargetKD(T), alpha=ALPHA, **kwargs
    )
    distiller.compile(
        keras.optimizers.SGD(LR), keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    distiller.fit(x, y, batch_size=batch_size, epochs=epochs, shuffle=False, verbose=0)
    return distiller.student.get_weights(), distiller


def assert_same_weights(a, b):
    for wa, wb in zip(a, b, strict=True):
        np.testing.assert_allclose(wa, wb, rtol=1e-5, atol=1e-6)


def softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def numpy_step(weights, x, y, teacher_logits):
    """One SGD step on the whole batch, from Hinton's formula by hand.

    Loss: `alpha * CE(y, s) + (1 - alpha) * T^2 * KL(softmax(t/T) || softmax(s/T))`,
    averaged over the batch; its gradient in the logits is
    `alpha * (softmax(s) - onehot(y)) + (1 - alpha) * T * (softmax(s/T) - softmax(t/T))`.
    """
    kernel, bias = (w.astype("float64") for w in weights)
    flat = x.reshape(len(x), -1).astype("float64")
    logits = flat @ kernel + bias
    grad = ALPHA * (softmax(logits) - np.eye(3)[y]) + (1 - ALPHA) * T * (
        softmax(logits / T) - softmax(teacher_logits.astype("float64") / T)
    )
    grad /= len(x)
    return [kernel - LR * flat.T @ grad, bias - LR * grad.sum(axis=0)]


def test_preprocessor_dict_and_hand_written_step_agree_weight_for_weight(pair):
    teacher, weights, x, y = pair
    x_teacher = keras.ops.convert_to_numpy(upsample(x))
    by_hand = numpy_step(weights, x, y, teacher.predict(x_teacher, verbose=0))
    # One step on the whole batch: both forms against the formula.
    for kwargs, inputs in (
        ({"teacher_preprocessor": upsample}, x),
        ({}, {"teacher": x_teacher, "student": x}),
    ):
        trained, _ = distil(teacher, weights, inputs, y, batch_size=N, **kwargs)
        assert_same_weights(trained, by_hand)
    # Several steps, with a layer as the preprocessor: the same weights as the dict form.
    resizing = keras.layers.Resizing(8, 8, interpolation="bilinear")
    x_resized = keras.ops.convert_to_numpy(resizing(x))
    with_layer, _ = distil(teacher, weights, x, y, epochs=2, teacher_preprocessor=resizing)
    with_dict, _ = distil(teacher, weights, {"teacher": x_resized, "student": x}, y, epochs=2)
    assert_same_weights(with_layer, with_dict)
    assert not np.allclose(with_layer[0], weights[0])


def test_an_ensemble_reads_the_preprocessed_inputs(pair):
    teacher, weights, x, y = pair
    other = linear(8, "other_teacher")
    x_teacher = keras.ops.convert_to_numpy(upsample(x))
    with_preprocessor, _ = distil([teacher, other], weights, x, y, teacher_preprocessor=upsample)
    with_dict, _ = distil([teacher, other], weights, {"teacher": x_teacher, "student": x}, y)
    assert_same_weights(with_preprocessor, with_dict)


def test_predict_evaluate_and_the_saved_student_take_the_student_inputs(pair, tmp_path):
    teacher, weights, x, y = pair
    x_teacher = keras.ops.convert_to_numpy(upsample(x))
    _, distiller = distil(teacher, weights, {"teacher": x_teacher, "student": x}, y)
    expected = distiller.student.predict(x, verbose=0)
    np.testing.assert_allclose(distiller.predict(x, verbose=0), expected, atol=1e-6)
    both = {"teacher": x_teacher, "student": x}
    np.testing.assert_allclose(distiller.predict(both, verbose=0), expected, atol=1e-6)
    alone = distiller.evaluate(x, y, batch_size=N, verbose=0, return_dict=True)
    assert sorted(alone) == ["loss"]  # No distillation term without the teacher's inputs.
    student_ce = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(y, expected)
    np.testing.assert_allclose(alone["loss"], float(student_ce), rtol=1e-5)
    full = distiller.evaluate(both, y, batch_size=N, verbose=0, return_dict=True)
    assert {"distillation_loss", "student_loss"} <= set(full)
    np.testing.assert_allclose(full["student_loss"], float(student_ce), rtol=1e-5)
    path = str(tmp_path / "student.keras")
    distiller.student.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), expected, atol=1e-6)


@pytest.mark.parametrize("preprocessor", ["layer", "registered_function"])
def test_a_distiller_with_a_preprocessor_saves_and_loads(pair, tmp_path, preprocessor):
    teacher, weights, x, y = pair
    preprocessor = keras.layers.Resizing(8, 8) if preprocessor == "layer" else upsample
    distiller = keras_kd.Distiller(
        teacher, student_from(weights), teacher_preprocessor=preprocessor
    )
    distiller.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    path = str(tmp_path / "distiller.keras")
    distiller.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded.teacher.preprocessor) is type(preprocessor)
    saved, original = (d.get_config()["teacher_preprocessor"] for d in (loaded, distiller))
    assert saved["config"] == original["config"]
    before = distiller.evaluate(x, y, batch_size=N, verbose=0, return_dict=True)
    after = loaded.evaluate(x, y, batch_size=N, verbose=0, return_dict=True)
    np.testing.assert_allclose(after["distillation_loss"], before["distillation_loss"], rtol=1e-5)
    assert before["distillation_loss"] > 0


def test_a_plain_function_is_refused_at_save_time(pair, tmp_path):
    teacher, weights, x, y = pair
    distiller = keras_kd.Distiller(
        teacher, student_from(weights), teacher_preprocessor=lambda t: upsample(t)
    )
    with pytest.raises(ValueError) as raised:
        distiller.save(str(tmp_path / "distiller.keras"))
    for words in (
        "teacher_preprocessor is the plain Python function",
        "<lambda>",
        "register_keras_serializable",
        "keras.layers.Resizing",
    ):
        assert words in str(raised.value)


class MismatchedBatches(keras.utils.PyDataset):
    """One batch whose teacher entry holds fewer samples than the student's."""

    def __init__(self, x_teacher, x, y):
        super().__init__()
        self.batch = ({"teacher": x_teacher[:8], "student": x[:16]}, y[:16])

    def __len__(self):
        return 1

    def __getitem__(self, index):
        return self.batch


def raises_with(words, function, error=ValueError):
    with pytest.raises(error) as raised:
        function()
    for word in words:
        assert word in str(raised.value), (word, str(raised.value))


def test_errors_name_what_was_received_and_the_fix(pair):
    teacher, weights, x, y = pair
    x_teacher = keras.ops.convert_to_numpy(upsample(x))
    raises_with(  # The student's inputs, which the 8x8 teacher cannot read.
        [
            "input shapes differ",
            "teacher 'teacher' input shape (None, 8, 8, 1)",
            "student 'student' input shape (None, 4, 4, 1)",
            "{'teacher': x_teacher",
            "teacher_preprocessor=keras.layers.Resizing",
        ],
        lambda: distil(teacher, weights, x, y),
    )
    raises_with(  # A teacher entry of the wrong shape: both shapes named.
        [
            "The teacher 'teacher' reads inputs of shape (None, 8, 8, 1)",
            "shape (16, 4, 4, 1): x['teacher']",
        ],
        lambda: distil(teacher, weights, {"teacher": x, "student": x}, y),
    )
    raises_with(  # A preprocessor that makes the wrong shape: named when constructed.
        [
            "reads inputs of shape (None, 8, 8, 1)",
            "on a batch of the student's inputs have shape (3, 16, 16, 1)",
            "the output of teacher_preprocessor 'resizing",
        ],
        lambda: distil(teacher, weights, x, y, teacher_preprocessor=keras.layers.Resizing(16, 16)),
    )
    raises_with(
        ["under exactly the keys 'teacher' and 'student'", "keys ['student', 'teachers']"],
        lambda: distil(teacher, weights, {"teachers": x_teacher, "student": x}, y),
    )
    raises_with(
        [
            "has a teacher_preprocessor",
            "also gives the teacher inputs of its own",
            "Use one of the two",
        ],
        lambda: distil(
            teacher, weights, {"teacher": x_teacher, "student": x}, y, teacher_preprocessor=upsample
        ),
    )
    raises_with(  # Arrays of different lengths: Keras' own check, before any step.
        ["Data cardinality is ambiguous", "sizes: 48, 24"],
        lambda: distil(teacher, weights, {"teacher": x_teacher[:24], "student": x}, y),
    )
    if keras.backend.backend() != "tensorflow":
        # Batches of a PyDataset. (TensorFlow traces the step with unknown
        # batch sizes there, and fails with its own InvalidArgumentError.)
        raises_with(
            ["this batch holds 8 teacher inputs (x['teacher']) and 16 student inputs"],
            lambda: distil(teacher, weights, MismatchedBatches(x_teacher, x, y), None),
        )
    raises_with(
        ["must be a Keras layer", "Received: teacher_preprocessor=3 (of type int)"],
        lambda: keras_kd.Distiller(teacher, student_from(weights), teacher_preprocessor=3),
    )


def test_ema_teacher_takes_a_dict_view_and_refuses_a_preprocessor(pair):
    _, weights, x, y = pair

    def ema_distil(inputs, **kwargs):
        student = student_from(weights)
        teacher = keras_kd.teachers.EMATeacher(student, decay=0.5)
        distiller = keras_kd.Distiller(teacher, student, "kd", alpha=ALPHA, **kwargs)
        distiller.compile(
            keras.optimizers.SGD(LR), keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        )
        distiller.fit(inputs, y, batch_size=16, shuffle=False, verbose=0)
        return student.get_weights(), teacher.model.get_weights()

    raises_with(
        [
            "An EMATeacher is an average of the student's own weights",
            "teacher_preprocessor='resizing",
            "pass x as a dict {'teacher': x_teacher_view",
        ],
        lambda: ema_distil(x, teacher_preprocessor=keras.layers.Resizing(4, 4)),
    )
    plain = ema_distil(x)
    same_view = ema_distil({"teacher": x, "student": x})
    for a, b in zip(plain, same_view, strict=True):
        assert_same_weights(a, b)


def test_teacher_cache_refuses_other_inputs_and_caches_a_model_with_the_preprocessor(
    pair, tmp_path
):
    teacher, weights, x, y = pair
    resizing = keras.layers.Resizing(8, 8)
    wrapped = keras.Sequential([keras.Input((4, 4, 1)), resizing, teacher])
    cache = keras_kd.TeacherCache.write(wrapped, x, str(tmp_path / "cache"), dtype="float32")
    raises_with(
        [
            "A TeacherCache runs no teacher in the step",
            "teacher_preprocessor='resizing",
            "keras.Sequential([keras.Input(x.shape[1:]), preprocessor, teacher])",
        ],
        lambda: keras_kd.Distiller(cache, student_from(weights), teacher_preprocessor=resizing),
    )
    raises_with(
        ["reads the teacher's stored targets, not teacher inputs", "keys ['student', 'teacher']"],
        lambda: distil(cache, weights, {"teacher": x, "student": x}, y),
    )
    # The fix the message gives trains as the live teacher with the preprocessor.
    from_cache, _ = distil(cache, weights, cache.dataset(x, y, batch_size=16, shuffle=False), None)
    live, _ = distil(teacher, weights, x, y, teacher_preprocessor=resizing)
    assert_same_weights(from_cache, live)


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="tf.data is TensorFlow's")
def test_a_tf_data_dict_trains_as_numpy_does(pair):
    import tensorflow as tf

    teacher, weights, x, y = pair
    x_teacher = keras.ops.convert_to_numpy(upsample(x))
    both = {"teacher": x_teacher, "student": x}
    dataset = tf.data.Dataset.from_tensor_slices((both, y)).batch(16)
    from_dataset, _ = distil(teacher, weights, dataset, None)
    from_arrays, _ = distil(teacher, weights, both, y)
    assert_same_weights(from_dataset, from_arrays)


def test_a_multi_input_student_still_reads_its_dict_of_named_inputs():
    def two_inputs(name, units):
        a, b = keras.Input((3,), name="a"), keras.Input((2,), name="b")
        hidden = keras.layers.Dense(units)(keras.layers.Concatenate()([a, b]))
        return keras.Model({"a": a, "b": b}, keras.layers.Dense(3)(hidden), name=name)

    rng = np.random.default_rng(0)
    x = {
        "a": rng.normal(size=(16, 3)).astype("float32"),
        "b": rng.normal(size=(16, 2)).astype("float32"),
    }
    distiller = keras_kd.Distiller(two_inputs("teacher", 8), two_inputs("student", 4), alpha=ALPHA)
    distiller.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    history = distiller.fit(x, rng.integers(0, 3, 16), batch_size=16, verbose=0).history
    assert history["distillation_loss"][0] > 0  # Both models read the dict of named inputs.
