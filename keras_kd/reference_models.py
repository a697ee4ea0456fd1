"""The teacher and student CNNs used by the demo, the examples and the
benchmarks, so that every number in the README comes from the same pair."""

import keras
from keras import layers


def teacher_cnn(input_shape=(28, 28, 1), classes=10, softmax=False, name="teacher"):
    """A three-block CNN teacher (390k parameters on 28x28 images).

    Each block halves the spatial size, which keeps a training epoch on
    Fashion-MNIST to about a minute on two CPU cores.

    Args:
        input_shape: Image shape, channels last.
        classes: Number of classes.
        softmax: If True the head outputs probabilities, else logits.
        name: Model name.

    Returns:
        A Functional `keras.Model`.

    Example:

    >>> teacher = teacher_cnn((28, 28, 1), classes=10)
    """
    inputs = keras.Input(input_shape, name="image")
    x = layers.Conv2D(32, 3, padding="same", activation="relu", name="conv1")(inputs)
    x = layers.MaxPooling2D(name="pool1")(x)
    x = layers.Conv2D(64, 3, padding="same", activation="relu", name="conv2")(x)
    x = layers.MaxPooling2D(name="pool2")(x)
    x = layers.Conv2D(128, 3, padding="same", activation="relu", name="conv3")(x)
    x = layers.MaxPooling2D(name="pool3")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dropout(0.3, name="dropout")(x)
    x = layers.Dense(256, activation="relu", name="embedding")(x)
    outputs = layers.Dense(
        classes, activation="softmax" if softmax else None, name="logits"
    )(x)
    return keras.Model(inputs, outputs, name=name)


def student_cnn(input_shape=(28, 28, 1), classes=10, width=8, name="student"):
    """A two-block CNN student, 15x smaller than `teacher_cnn`.

    26,698 parameters on 28x28 images with the default width.

    Args:
        input_shape: Image shape, channels last.
        classes: Number of classes.
        width: Filters of the first convolution (the second has twice as many).
        name: Model name.

    Returns:
        A Functional `keras.Model` that outputs logits.

    Example:

    >>> student = student_cnn((28, 28, 1), classes=10)
    """
    inputs = keras.Input(input_shape, name="image")
    x = layers.Conv2D(width, 3, padding="same", activation="relu", name="conv1")(inputs)
    x = layers.MaxPooling2D(name="pool1")(x)
    x = layers.Conv2D(2 * width, 3, padding="same", activation="relu", name="conv2")(x)
    x = layers.MaxPooling2D(name="pool2")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(32, activation="relu", name="embedding")(x)
    outputs = layers.Dense(classes, name="logits")(x)
    return keras.Model(inputs, outputs, name=name)
