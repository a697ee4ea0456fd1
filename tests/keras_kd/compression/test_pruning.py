"""keras_kd.compression.pruning_aware and strip: the schedule against its
formula, masks by magnitude, and zeros that survive training, save, resume
and quantization-aware training, on every backend."""

import math
import os

import keras
import numpy as np
import pytest
from _compression_models import cnn
from _compression_models import compile_for_labels
from _compression_models import images
from _compression_models import predict
from _compression_models import subclassed

from keras_kd import compression
from keras_kd.compression import _sparsity
from keras_kd.compression import _wrap


def zhu_gupta(step, final, begin, end, initial=0.0):
    """Zhu & Gupta (2017), eq. 1, in plain NumPy."""
    t = np.clip((step - begin) / (end - begin), 0.0, 1.0)
    return final + (initial - final) * (1.0 - t) ** 3


@pytest.mark.parametrize("begin, end, initial", [(0, 10, 0.0), (5, 25, 0.2), (3, 4, 0.0)])
def test_schedule_is_the_polynomial_of_zhu_and_gupta(begin, end, initial):
    for step in range(0, 30):
        got = float(_sparsity.sparsity_at(step, 0.8, begin, end, initial))
        assert got == pytest.approx(zhu_gupta(step, 0.8, begin, end, initial), abs=1e-6)


def test_masks_update_on_the_frequency_and_at_the_end():
    due = [bool(_sparsity.is_update_step(s, 2, 9, 3)) for s in range(12)]
    assert [s for s, d in enumerate(due) if d] == [2, 5, 8, 9]


def test_mask_zeroes_the_smallest_magnitudes():
    kernel = np.random.default_rng(0).normal(size=(10, 8)).astype("float32")
    mask = keras.ops.convert_to_numpy(_sparsity.magnitude_mask(kernel, 0.75))
    assert mask.sum() == 20
    kept = np.abs(kernel)[mask == 1]
    assert kept.min() > np.abs(kernel)[mask == 0].max()


def test_block_mask_prunes_whole_blocks_by_mean_magnitude():
    kernel = np.random.default_rng(0).normal(size=(4, 8)).astype("float32")
    mask = keras.ops.convert_to_numpy(_sparsity.magnitude_mask(kernel, 0.5, (1, 4)))
    blocks = mask.reshape(4, 2, 4)
    assert np.all((blocks == 0).all(-1) | (blocks == 1).all(-1))
    assert blocks[..., 0].sum() == 4
    scores = np.abs(kernel).reshape(4, 2, 4).mean(-1)
    assert scores[blocks[..., 0] == 1].min() > scores[blocks[..., 0] == 0].max()


def _fit(model, x, y, epochs=2):
    compile_for_labels(model).fit(x, y, epochs=epochs, batch_size=16, shuffle=False, verbose=0)
    return model


@pytest.mark.parametrize("make", [cnn, subclassed], ids=["functional", "subclassed"])
def test_training_reaches_the_target_and_strip_keeps_the_zeros(make):
    x, y = images(64)  # 4 steps per epoch
    pruned = compression.pruning_aware(make(), 0.75, begin_step=1, end_step=5, frequency=2)
    _fit(pruned, x, y)
    shares = compression.sparsity(pruned)
    assert len(shares) == 3 if make is cnn else 2
    for name, share in shares.items():
        assert share == pytest.approx(0.75, abs=0.02), name
    plain = compression.strip(pruned)
    assert type(plain) is type(make())
    assert list(compression.sparsity(plain).values()) == list(shares.values())
    np.testing.assert_allclose(predict(plain, x), predict(pruned, x), atol=1e-5)


def test_block_sparsity_trains(tmp_path):
    x, y = images(32)
    pruned = compression.pruning_aware(cnn(), 0.5, 0, 1, 1, block_size=(1, 4))
    _fit(pruned, x, y, epochs=1)
    # conv (9x4) and hidden (64x16) tile into 1x4 blocks; the 3-class head does not.
    assert set(compression.sparsity(pruned)) == {"conv", "hidden"}
    kernel = compression.strip(pruned).get_layer("hidden").kernel
    blocks = keras.ops.convert_to_numpy(kernel).reshape(-1, 4, 4)
    assert np.all((blocks == 0).all(-1) | (blocks != 0).all(-1))
    assert np.mean(blocks == 0) == pytest.approx(0.5, abs=0.02)


@pytest.mark.slow
def test_sparsity_survives_save_load_and_resume(tmp_path):
    x, y = images(64)

    def fresh():
        keras.utils.set_random_seed(5)
        return compression.pruning_aware(cnn(), 0.6, begin_step=0, end_step=6, frequency=1)

    whole = _fit(fresh(), x, y, epochs=2)
    first = _fit(fresh(), x, y, epochs=1)
    path = os.path.join(tmp_path, "pruned.keras")
    first.save(path)  # "killed" after 4 of 8 steps, halfway up the ramp
    resumed = keras.models.load_model(path)
    assert compression.sparsity(resumed) == compression.sparsity(first)
    resumed.fit(x, y, epochs=1, batch_size=16, shuffle=False, verbose=0)
    for a, b in zip(whole.weights, resumed.weights):
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b), atol=1e-5, err_msg=a.path
        )
    assert all(s == pytest.approx(0.6, abs=0.02) for s in compression.sparsity(resumed).values())


@pytest.mark.slow
def test_pruning_then_quantization_aware_training_keeps_the_zeros():
    x, y = images(64)
    pruned = _fit(compression.pruning_aware(cnn(), 0.8, 0, 3, 1), x, y, epochs=1)
    before = compression.sparsity(pruned)
    qat = _fit(compression.quantization_aware(pruned), x, y, epochs=1)
    assert compression.is_quantization_aware(qat)
    assert compression.sparsity(qat) == before
    assert all(s == pytest.approx(0.8, abs=0.02) for s in before.values())


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"target_sparsity": 1.0}, "must lie in \\[0, 1\\)"),
        ({"target_sparsity": -0.1}, "must lie in \\[0, 1\\)"),
        ({"target_sparsity": math.nan}, "must be a number"),
        ({"target_sparsity": True}, "must be a number"),
        ({"target_sparsity": "0.5"}, "must be a number"),
        ({"initial_sparsity": 0.9, "target_sparsity": 0.5}, "must not exceed"),
        ({"begin_step": 10, "end_step": 5}, "must not come before"),
        ({"begin_step": -1}, "at least 0"),
        ({"frequency": 0}, "at least 1"),
        ({"frequency": True}, "must be an integer"),
        ({"end_step": 2.5}, "must be an integer"),
        ({"block_size": (0, 4)}, "two positive integers"),
        ({"block_size": 4}, "two positive integers"),
        ({"block_size": (5, 5)}, "tiles none of the kernels of 'cnn'.*conv \\(9, 4\\)"),
    ],
)
def test_hostile_settings_are_refused_before_any_work(kwargs, words):
    with pytest.raises(ValueError, match=words):
        compression.pruning_aware(cnn(), **kwargs)


@pytest.mark.parametrize(
    "model, words",
    [
        (lambda: None, "takes a Keras model"),
        (lambda: keras.Sequential([keras.layers.Dense(3)]), "is not built"),
        (lambda: keras.Sequential([keras.Input((4,)), keras.layers.ReLU()]), "no layer to prune"),
        (lambda: compression.pruning_aware(cnn()), "already compressed"),
    ],
    ids=["none", "unbuilt", "no-kernel", "twice"],
)
def test_hostile_models_are_refused(model, words):
    with pytest.raises(ValueError, match=words):
        compression.pruning_aware(model())


def test_numpy_integers_are_accepted_as_settings():
    # block_size of NumPy integers was refused while begin_step's were taken.
    pruned = compression.pruning_aware(
        cnn(),
        np.float32(0.5),
        np.int64(0),
        np.int64(4),
        np.int64(2),
        block_size=(np.int64(1), np.int64(2)),
    )
    settings = _wrap.find_wrapper(pruned).pruning
    assert settings["block_size"] == (1, 2) and type(settings["block_size"][0]) is int


def test_strip_refuses_a_plain_model():
    with pytest.raises(ValueError, match="strip takes a model returned by"):
        compression.strip(cnn())
