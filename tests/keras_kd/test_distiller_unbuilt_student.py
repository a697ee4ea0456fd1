"""Unbuilt students: a subclassed student never called before is built from
the teacher's input signature, its output kind is still detected, and it
trains, saves, loads and predicts on every backend."""

import keras
import numpy as np
import pytest

import keras_kd


@keras.saving.register_keras_serializable(package="test_unbuilt")
class Net(keras.Model):
    def __init__(self, units=4, classes=3, softmax=False, **kwargs):
        super().__init__(**kwargs)
        self.units, self.classes, self.softmax = units, classes, softmax
        self.hidden = keras.layers.Dense(units, activation="relu")
        self.head = keras.layers.Dense(classes)

    def call(self, inputs):
        logits = self.head(self.hidden(inputs))
        return keras.ops.softmax(logits) if self.softmax else logits

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "classes": self.classes,
            "softmax": self.softmax,
        }


@keras.saving.register_keras_serializable(package="test_unbuilt")
class TokenNet(keras.Model):
    """A subclassed sequence model: embedding with a mask, then a head."""

    def __init__(self, vocabulary=9, **kwargs):
        super().__init__(**kwargs)
        self.vocabulary = vocabulary
        self.embed = keras.layers.Embedding(vocabulary, 4, mask_zero=True)
        self.head = keras.layers.Dense(vocabulary)

    def call(self, inputs):
        return self.head(self.embed(inputs))

    def get_config(self):
        return {**super().get_config(), "vocabulary": self.vocabulary}


def sparse_ce():
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True)


@pytest.fixture
def teacher():
    """A softmax teacher; untrained: these tests are about the student."""
    return keras.Sequential(
        [
            keras.Input((16,)),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dense(3, activation="softmax"),
        ],
        name="teacher",
    )


@pytest.fixture
def subclassed_teacher(blobs):
    teacher = Net(16, softmax=True, name="sub_teacher")
    teacher(blobs[0][:1])
    return teacher


def test_unbuilt_subclassed_student_trains_saves_loads_and_predicts(tmp_path, blobs, teacher):
    x, y = blobs[0][:128], blobs[1][:128]
    student = Net(name="student")
    assert not student.built
    distiller = keras_kd.Distiller(teacher, student, alpha=0.1)
    assert student.built
    assert distiller.student_kind == "logits"
    assert distiller.teacher.kind == "probabilities"
    distiller.compile("adam", sparse_ce(), metrics=["accuracy"])
    before = distiller.evaluate(x, y, verbose=0, return_dict=True)
    distiller.fit(x, y, epochs=3, batch_size=32, verbose=0)
    after = distiller.evaluate(x, y, verbose=0, return_dict=True)
    assert after["loss"] < before["loss"]
    expected = student.predict(x[:8], verbose=0)
    np.testing.assert_allclose(distiller.predict(x[:8], verbose=0), expected, rtol=1e-6, atol=1e-6)

    path = str(tmp_path / "distiller.keras")
    distiller.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(loaded.predict(x[:8], verbose=0), expected, rtol=1e-5, atol=1e-6)
    loaded.fit(x, y, epochs=1, batch_size=64, verbose=0)  # Training resumes.

    student_path = str(tmp_path / "student.keras")
    student.save(student_path)
    np.testing.assert_allclose(
        keras.saving.load_model(student_path).predict(x[:8], verbose=0),
        expected,
        rtol=1e-5,
        atol=1e-6,
    )


def test_built_on_the_teachers_signature_trains_like_a_prebuilt_student(blobs, teacher):
    # Building in the Distiller changes nothing about the weights or the steps.
    x, y = blobs[0][:128], blobs[1][:128]
    weights = []
    for prebuild in (False, True):
        keras.utils.set_random_seed(3)
        student = Net()
        if prebuild:
            student(x[:1])
        distiller = keras_kd.Distiller(teacher, student, alpha=0.5)
        distiller.compile("sgd", sparse_ce())
        distiller.fit(x, y, epochs=2, batch_size=64, shuffle=False, verbose=0)
        weights.append(student.get_weights())
    for unbuilt, prebuilt in zip(*weights):
        np.testing.assert_array_equal(unbuilt, prebuilt)


def test_unbuilt_student_with_softmax_is_detected_as_probabilities(blobs, subclassed_teacher):
    x, y = blobs
    student = Net(softmax=True)
    distiller = keras_kd.Distiller(subclassed_teacher, student, alpha=0.1)
    assert distiller.student_kind == "probabilities"
    assert distiller.teacher.kind == "probabilities"  # A subclassed teacher, read off its outputs.
    distiller.compile("adam", "sparse_categorical_crossentropy")
    history = distiller.fit(x, y, epochs=1, batch_size=64, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_unbuilt_subclassed_sequence_student_reads_integer_tokens():
    inputs = keras.Input((6,), dtype="int32")
    hidden = keras.layers.Embedding(9, 8, mask_zero=True)(inputs)
    teacher = keras.Model(inputs, keras.layers.Dense(9)(hidden), name="token_teacher")
    student = TokenNet()
    distiller = keras_kd.Distiller(teacher, student, alpha=0.0)
    assert student.built and distiller.student_kind == "logits"
    x = np.random.default_rng(0).integers(1, 9, size=(16, 6)).astype("int32")
    x[:, 4:] = 0
    distiller.compile("adam")
    history = distiller.fit(x, epochs=1, batch_size=8, verbose=0)
    assert np.isfinite(history.history["distillation_loss"][0])
    assert distiller.predict(x[:2], verbose=0).shape == (2, 6, 9)


def test_unbuilt_student_and_a_teacher_without_input_shape(tmp_path, blobs, teacher):
    x, _ = blobs
    cache = keras_kd.TeacherCache.write(teacher, x[:16], str(tmp_path / "cache"))
    with pytest.raises(
        ValueError,
        match=(
            r"The student 'lonely' is not built \(it has no weights yet\), and the teacher "
            r"gives no input shape to build it from \(teacher models: \[\]\)\. Build the "
            r"student first, e\.g\. by calling it on a batch \(`student\(x\[:1\]\)`\)"
        ),
    ):
        keras_kd.Distiller(cache, Net(name="lonely"), alpha=0.0)
