"""The teacher and student CNNs behind every number in the README.

Two pairs, each under its own name, so that a table names the pair it used:

- `teacher_cnn` (390,410 parameters) and `student_cnn` (26,698): the demo,
  the examples, and the epoch-time, export and TFMOT benchmarks.
- `small_teacher_cnn` (206,922 parameters) and `tiny_student_cnn` (9,098):
  the methods benchmark (`benchmarks/methods.py`), which trains every method
  with three seeds and so uses a smaller pair.

Parameter counts are for 28x28x1 images and 10 classes.
"""

import keras
from keras import layers


def teacher_cnn(input_shape=(28, 28, 1), classes=10, softmax=False, name="teacher"):
    """A three-block CNN teacher (390,410 parameters on 28x28 images).

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

    >>> teacher_cnn((28, 28, 1), classes=10).count_params()
    390410
    """
    inputs = keras.Input(input_shape, name="image")
    x = layers.Flatten(name="flatten")(_conv_blocks(inputs, (32, 64, 128)))
    x = layers.Dropout(0.3, name="dropout")(x)
    x = layers.Dense(256, activation="relu", name="embedding")(x)
    outputs = layers.Dense(classes, activation="softmax" if softmax else None, name="logits")(x)
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

    >>> student_cnn((28, 28, 1), classes=10).count_params()
    26698
    """
    inputs = keras.Input(input_shape, name="image")
    x = layers.Flatten(name="flatten")(_conv_blocks(inputs, (width, 2 * width)))
    x = layers.Dense(32, activation="relu", name="embedding")(x)
    outputs = layers.Dense(classes, name="logits")(x)
    return keras.Model(inputs, outputs, name=name)


def small_teacher_cnn(input_shape=(28, 28, 1), classes=10, name="teacher"):
    """The methods benchmark's teacher: a two-block CNN.

    206,922 parameters on 28x28 images with 10 classes: 16 and 32 filters,
    then a 128-unit dense layer. Smaller than `teacher_cnn` (390,410), so
    that `benchmarks/methods.py` trains nine methods with three seeds each
    in minutes.

    Args:
        input_shape: Image shape, channels last.
        classes: Number of classes.
        name: Model name.

    Returns:
        A Functional `keras.Model` that outputs logits; its 128-unit
        embedding is the layer named `"embedding"`.

    Example:

    >>> small_teacher_cnn().count_params()
    206922
    """
    inputs = keras.Input(input_shape)
    h = layers.Flatten()(_conv_blocks(inputs, (16, 32)))
    h = layers.Dense(128, activation="relu", name="embedding")(h)
    h = layers.Dropout(0.3)(h)
    return keras.Model(inputs, layers.Dense(classes, name="logits")(h), name=name)


def tiny_student_cnn(input_shape=(28, 28, 1), classes=10, name="student"):
    """The methods benchmark's student: two convolutions and a linear head.

    9,098 parameters on 28x28 images with 10 classes (8 and 16 filters, no
    hidden dense layer), 23x fewer than `small_teacher_cnn`.

    Args:
        input_shape: Image shape, channels last.
        classes: Number of classes.
        name: Model name.

    Returns:
        A Functional `keras.Model` that outputs logits; its flattened
        features (784 on 28x28 images) are the layer named `"features"`.

    Example:

    >>> model = tiny_student_cnn()
    >>> model.count_params(), model.get_layer("features").output.shape
    (9098, (None, 784))
    """
    inputs = keras.Input(input_shape)
    h = layers.Flatten(name="features")(_conv_blocks(inputs, (8, 16)))
    return keras.Model(inputs, layers.Dense(classes, name="logits")(h), name=name)


def _conv_blocks(x, filters):
    """One block per entry of `filters`: a 3x3 ReLU convolution, then 2x2
    max pooling, named `conv1`, `pool1`, `conv2`, ... (the names the
    examples and feature-based losses tap)."""
    for i, f in enumerate(filters, start=1):
        x = layers.Conv2D(f, 3, padding="same", activation="relu", name=f"conv{i}")(x)
        x = layers.MaxPooling2D(name=f"pool{i}")(x)
    return x
