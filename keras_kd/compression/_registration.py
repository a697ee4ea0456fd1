"""One place that registers the compression classes for `.keras` files."""

import keras

PACKAGE = "keras_kd.compression"


def register(cls):
    """Registers `cls` as `keras_kd.compression>ClassName`."""
    return keras.saving.register_keras_serializable(package=PACKAGE)(cls)
