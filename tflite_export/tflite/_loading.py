"""Loading a `.keras` file with errors that say what is wrong."""

import os

import keras

# Registers the compressed-model classes, so their `.keras` files load here
# and in the TensorFlow child that converts them.
import keras_kd.compression  # noqa: F401


def load_model_file(path):
    """Loads a `.keras` file, or raises an error that says what is wrong."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(
            f"No such model file: {path}. Pass a Keras model or the path of a .keras file."
        )
    try:
        model = keras.saving.load_model(path, compile=False)
    except Exception as error:
        raise ValueError(
            f"{path} is not a Keras model file that can be loaded "
            f"({type(error).__name__}: {error}). Pass a file written by "
            "model.save('model.keras'), or the model object itself."
        ) from None
    if not isinstance(model, keras.Model):
        raise ValueError(f"{path} holds a {type(model).__name__}, not a Keras model.")
    return model
