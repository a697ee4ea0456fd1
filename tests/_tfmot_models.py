"""Tiny image data and models shared by the export, QAT and pruning tests."""

import keras
import numpy as np

L = keras.layers


def images(n=384, seed=0):
    """A 3-class 8x8x1 problem a tiny CNN learns in a few epochs: (x, y)."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=1.5, size=(3, 8, 8, 1))
    y = rng.integers(0, 3, size=n).astype("int32")
    x = (centers[y] + rng.normal(size=(n, 8, 8, 1))).astype("float32")
    return x, y


def teacher(x, y):
    """A trained teacher with a softmax head (outputs probabilities)."""
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            L.Flatten(),
            L.Dense(32, activation="relu"),
            L.Dense(3, activation="softmax"),
        ],
        name="teacher",
    )
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x, y, epochs=4, batch_size=32, verbose=0)
    return model


def student(x, y, epochs=2):
    """A trained CNN student with logits, including a layer (Rescaling)
    that TFMOT's 8-bit scheme does not wrap."""
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            L.Rescaling(0.5),
            L.Conv2D(4, 3, activation="relu"),
            L.Flatten(),
            L.Dense(16, activation="relu"),
            L.Dense(3),
        ],
        name="student",
    )
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, epochs=epochs, batch_size=32, verbose=0)
    return model


def problem():
    """`(x, y, (x_val, y_val), trained teacher, trained student)`."""
    keras.utils.set_random_seed(0)
    x, y = images(n=640)
    x, y, validation = x[:384], y[:384], (x[384:], y[384:])
    return x, y, validation, teacher(x, y), student(x, y, epochs=3)


def cnn(x, y, head=None):
    """A small trained CNN on 8x8x1 images, 3 classes."""
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1), name="image"),
            L.Conv2D(8, 3, activation="relu"),
            L.MaxPooling2D(),
            L.Flatten(),
            L.Dense(16, activation="relu"),
            L.Dense(3, activation=head),
        ],
        name="cnn",
    )
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=head is None))
    model.fit(x, y, epochs=3, batch_size=32, verbose=0)
    return model
