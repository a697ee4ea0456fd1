"""Tiny models and data shared by the compression tests."""

import keras
import numpy as np


def images(n=96, seed=0):
    """`(x, y)`: 8x8x1 images of 3 classes, learnable in a few steps."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, size=n).astype("int32")
    x = rng.normal(scale=0.3, size=(n, 8, 8, 1)).astype("float32")
    x[np.arange(n), 2 * y, 2 * y, 0] += 2.0
    return x, y


def cnn(batch_norm=True, name="cnn"):
    """Conv (+BN) + ReLU + pool + Dense: the shapes of the project's student."""
    inputs = keras.Input((8, 8, 1), name="image")
    h = keras.layers.Conv2D(4, 3, padding="same", name="conv")(inputs)
    if batch_norm:
        h = keras.layers.BatchNormalization(name="bn")(h)
    h = keras.layers.ReLU(name="relu")(h)
    h = keras.layers.MaxPooling2D(name="pool")(h)
    h = keras.layers.Flatten(name="flatten")(h)
    h = keras.layers.Dense(16, activation="relu", name="hidden")(h)
    outputs = keras.layers.Dense(3, name="logits")(h)
    return keras.Model(inputs, outputs, name=name)


def mlp():
    return keras.Sequential(
        [keras.Input((16,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(3)],
        name="mlp",
    )


@keras.saving.register_keras_serializable(package="tests_compression")
class SubclassedStudent(keras.Model):
    """A subclassed CNN student: no layer graph, only Python `call`."""

    def __init__(self, classes=3, **kwargs):
        super().__init__(**kwargs)
        self.classes = classes
        self.conv = keras.layers.Conv2D(4, 3, padding="same", activation="relu")
        self.pool = keras.layers.MaxPooling2D()
        self.flatten = keras.layers.Flatten()
        self.head = keras.layers.Dense(classes)

    def call(self, inputs):
        return self.head(self.flatten(self.pool(self.conv(inputs))))

    def get_config(self):
        return {**super().get_config(), "classes": self.classes}


def subclassed():
    model = SubclassedStudent(name="subclassed")
    model(np.zeros((1, 8, 8, 1), "float32"))
    return model


def compile_for_labels(model, learning_rate=1e-2):
    model.compile(
        keras.optimizers.Adam(learning_rate),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return model


def predict(model, x):
    return keras.ops.convert_to_numpy(model(x, training=False))
