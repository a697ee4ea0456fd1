"""The augmentation guard, hostile inputs (issue 20, defects 9, 10, 25).

An augmentation layer must keep the batch's shape, hold no trainable
weights, and be the identity in inference; MixUp and CutMix are found
nested in a Sequential and against an AlphaSchedule that raises alpha.
"""

import keras
import numpy as np
import pytest

import keras_kd

X = np.random.default_rng(0).uniform(size=(8, 6, 6, 1)).astype("float32")
Y = np.arange(8) % 3


def models():
    keras.utils.set_random_seed(0)

    def model():
        return keras.Sequential(
            [keras.Input((6, 6, 1)), keras.layers.Flatten(), keras.layers.Dense(3)]
        )

    return model(), model()


def distiller(augmentation, alpha=0.0):
    teacher, student = models()
    return keras_kd.Distiller(teacher, student, augmentation=augmentation, alpha=alpha)


def fit_with_schedule(layer):
    d = distiller(layer)
    d.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    schedule = keras_kd.callbacks.AlphaSchedule(lambda epoch: 0.5 * epoch)
    d.fit(X, Y, epochs=2, callbacks=[schedule], verbose=0)


# (id, call, error words or None for a correct result)
CASES = [
    (
        "cutmix-in-sequential-alpha-0.5",
        lambda: distiller(keras.Sequential([keras.layers.CutMix(seed=0)]), alpha=0.5),
        r"holds \['CutMix'\], which blends the images",
    ),
    (
        "mixup-in-nested-sequential",
        lambda: distiller(
            [keras.Sequential([keras.Sequential([keras.layers.MixUp(seed=0)])])], alpha=0.1
        ),
        r"\['MixUp'\]",
    ),
    (
        "alpha-schedule-raises-alpha-with-mixup",
        lambda: fit_with_schedule(keras.layers.MixUp(seed=0)),
        r"alpha=0.5 gives weight to the student's hard-label loss",
    ),
    (
        "rescaling-in-inference-too",
        lambda: distiller(keras.layers.Rescaling(100.0)),
        r"Rescaling \('.*'\) changes the inputs in inference too",
    ),
    (
        "dense-augmentation",
        lambda: distiller(keras.layers.Dense(1)),
        r"Dense \('.*'\) changes the inputs in inference too",
    ),
    (
        "batch-normalization",
        lambda: distiller(keras.layers.BatchNormalization()),
        r"changes the inputs in inference too",
    ),
    (
        "flatten-changes-shape",
        lambda: distiller(keras.layers.Flatten()),
        r"Flatten \('.*'\) changes the shape of the inputs from \(None, 6, 6, 1\) to \(None, 36\).*input shapes differ",
    ),
    (
        "resizing-changes-shape",
        lambda: distiller(keras.layers.Resizing(4, 4)),
        r"changes the shape of the inputs from \(None, 6, 6, 1\) to \(None, 4, 4, 1\)",
    ),
    # Correct results: random layers, MixUp with alpha 0 and a schedule at 0.
    (
        "random-flip-and-translation",
        lambda: distiller(
            [keras.layers.RandomFlip(seed=0), keras.layers.RandomTranslation(0.1, 0.1, seed=1)]
        ),
        None,
    ),
    ("mixup-alpha-0", lambda: distiller(keras.layers.MixUp(seed=0)), None),
]


@pytest.mark.parametrize("call, words", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_augmentation_is_checked(call, words):
    if words is None:
        call()
        return
    with pytest.raises(ValueError, match=words):
        call()
