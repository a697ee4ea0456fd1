"""TeacherCache.arrays: the stored targets in memory, for Keras' array path."""

import keras
import numpy as np
import pytest

import keras_kd


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(64, 6)).astype("float32"), rng.integers(0, 4, 64).astype("int32")


@pytest.fixture(scope="module")
def teacher():
    keras.utils.set_random_seed(0)
    return keras.Sequential([keras.Input((6,)), keras.layers.Dense(4)], name="teacher")


def fitted_weights(teacher, fit_arguments):
    keras.utils.set_random_seed(1)
    student = keras.Sequential([keras.Input((6,)), keras.layers.Dense(4)], name="student")
    distiller = keras_kd.Distiller(teacher, student, keras_kd.losses.SoftTargetKD(2.0), alpha=0.3)
    distiller.compile(
        keras.optimizers.SGD(0.1), keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    distiller.fit(**fit_arguments, batch_size=16, epochs=2, shuffle=False, verbose=0)
    return student.get_weights()


@pytest.mark.parametrize("top_k", [None, 2])
def test_arrays_train_as_the_live_teacher(tmp_path, data, teacher, top_k):
    x, y = data
    cache = keras_kd.TeacherCache.write(
        teacher, x, tmp_path / "cache", top_k=top_k, dtype="float32"
    )
    inputs, labels = cache.arrays(x, y)
    assert labels is y and inputs["x"] is x
    if top_k is None:
        np.testing.assert_allclose(
            inputs["teacher_targets"], teacher.predict(x, verbose=0), rtol=1e-5, atol=1e-6
        )
        expected = fitted_weights(teacher, {"x": x, "y": y})
    else:
        assert sorted(inputs["teacher_targets"]) == ["indices", "rest", "values"]
        expected = fitted_weights(cache, {"x": cache.dataset(x, y, batch_size=16, shuffle=False)})
    received = fitted_weights(cache, {"x": inputs, "y": labels})
    for a, b in zip(received, expected):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "x, y, words",
    [
        (np.zeros((64, 6), "float32"), None, "holds targets for data with fingerprint"),
        ("data", None, "takes the inputs as a NumPy array"),
        (None, np.zeros(3), "64 inputs but 3 labels"),
    ],
)
def test_hostile_arrays(tmp_path, data, teacher, x, y, words):
    cache = keras_kd.TeacherCache.write(teacher, data[0], tmp_path / "cache")
    with pytest.raises(ValueError, match=words):
        cache.arrays(data[0] if x is None else x, y)
