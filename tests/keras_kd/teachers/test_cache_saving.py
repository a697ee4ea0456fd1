"""A saved Distiller reopens the cache it trained from (issue 20, defect 13):
a cache folder rewritten by another teacher, or gone, is named at load."""

import shutil

import keras
import numpy as np
import pytest

import keras_kd

X = np.random.default_rng(0).normal(size=(16, 4)).astype("float32")
Y = np.arange(16) % 3


def dense(seed):
    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])


@pytest.fixture
def saved(tmp_path):
    cache = keras_kd.TeacherCache.write(dense(0), X, tmp_path / "cache")
    d = keras_kd.Distiller(cache, dense(1), alpha=0.0)
    d.compile("sgd")
    d.fit(cache.dataset(X, batch_size=8), epochs=1, verbose=0)
    d.save(tmp_path / "d.keras")
    return tmp_path


def test_the_same_cache_loads(saved):
    loaded = keras.saving.load_model(saved / "d.keras")
    assert (
        loaded.teacher.teacher_fingerprint
        == keras_kd.TeacherCache(saved / "cache").teacher_fingerprint
    )


@pytest.mark.parametrize(
    "change, words",
    [
        (
            "rewritten",
            r"has been rewritten since, by another teacher or for other data \(teacher_fingerprint",
        ),
        ("removed", r"cannot be read now: No finished TeacherCache"),
    ],
)
def test_a_changed_or_missing_cache_is_named_at_load(saved, change, words):
    shutil.rmtree(saved / "cache")
    if change == "rewritten":
        keras_kd.TeacherCache.write(dense(5), X, saved / "cache")
    with pytest.raises(Exception, match=words) as info:
        keras.saving.load_model(saved / "d.keras")
    assert "Restore that cache" in str(info.value)
