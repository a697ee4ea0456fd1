"""What a model's final outputs are (logits or probabilities), and how to read
them as log-probabilities without ever confusing the two.

A teacher or student whose last layer applies a softmax (the Keras
applications, many tutorials) outputs probabilities. Dividing those by a
temperature as if they were logits is a silent, common bug; the functions here
detect a softmax or sigmoid head; `as_logits` and `log_softmax` (defined
with the losses' other numerics in `keras_kd.losses._numerics`, importable
from here) move every output into log-probability space first.
"""

import keras
import numpy as np
from keras import activations
from keras import layers

from keras_kd import _keras_compat
from keras_kd.losses._numerics import LOGITS
from keras_kd.losses._numerics import OUTPUT_KINDS  # noqa: F401  Public here.
from keras_kd.losses._numerics import PROBABILITIES
from keras_kd.losses._numerics import as_logits  # noqa: F401  Public here.
from keras_kd.losses._numerics import log_softmax  # noqa: F401  Public here.
from keras_kd.losses._numerics import validate_output_kind  # noqa: F401

_SQUASHING = {
    activations.softmax: "softmax",
    activations.sigmoid: "sigmoid",
}


def _final_layer(model):
    """The layer that produces the model's (first) output, when it can be known."""
    outputs = getattr(model, "outputs", None)
    if outputs:
        try:
            return _keras_compat.producing_operation(outputs[0])
        except AttributeError:  # Not a symbolic tensor: no graph to read.
            pass
    model_layers = getattr(model, "layers", None)
    if model_layers and isinstance(model, keras.Sequential):
        return model_layers[-1]
    return None


def _squashing_of(layer):
    """Returns "softmax", "sigmoid" or None for the activation a layer ends in."""
    if isinstance(layer, layers.Softmax):
        return "softmax"
    activation = getattr(layer, "activation", None)
    if activation is None:
        return None
    return _SQUASHING.get(activation)


def detect_output_kind(model, sample_outputs=None):
    """Tells whether a model outputs logits or probabilities.

    The model's graph is read first: a final `Softmax` layer, an `Activation`
    of softmax or sigmoid, or a layer whose `activation` is softmax or sigmoid
    mean probabilities. For a subclassed model, whose graph cannot be read,
    `sample_outputs` (the model's outputs on a real batch) decide: rows that
    are non-negative and sum to one are probabilities.

    Args:
        model: A built Keras model.
        sample_outputs: Optional NumPy array of the model's outputs, used
            only when the graph cannot be read.

    Returns:
        `"logits"` or `"probabilities"`.

    Example:

    >>> model = keras.Sequential([keras.Input((4,)),
    ...                           keras.layers.Dense(3, activation="softmax")])
    >>> detect_output_kind(model)
    'probabilities'
    """
    layer = _final_layer(model)
    if layer is not None:
        squashing = _squashing_of(layer)
        if squashing == "sigmoid" and _last_dim(model) not in (None, 1):
            raise ValueError(
                f"Model '{model.name}' ends in a sigmoid over "
                f"{_last_dim(model)} units (a multi-label head). Soft-target "
                "distillation needs one distribution per sample: give it a "
                "softmax or a one-unit sigmoid head, or logits."
            )
        return PROBABILITIES if squashing else LOGITS
    if sample_outputs is not None:
        return _kind_from_values(np.asarray(sample_outputs, dtype="float64"))
    return LOGITS


def _last_dim(model):
    shape = getattr(model, "output_shape", None)
    if isinstance(shape, tuple) and shape:
        return shape[-1]
    return None


def _kind_from_values(values):
    if values.size == 0 or values.min() < 0 or values.max() > 1:
        return LOGITS
    if values.shape[-1] == 1:
        # A one-unit head in [0, 1] everywhere is almost surely a sigmoid.
        return PROBABILITIES
    row_sums = values.sum(axis=-1)
    return PROBABILITIES if np.allclose(row_sums, 1.0, atol=1e-3) else LOGITS
