"""Keras 3 model -> tf-keras (Keras 2) clone with identical weights.

tensorflow-model-optimization (TFMOT) only wraps tf-keras models: it rejects
every Keras 3 model ("`to_quantize` can only either be a keras Sequential or
Functional model"). The bridge rebuilds a Keras 3 Sequential or Functional
model in tf-keras, layer by layer from each layer's config, walks the Keras 3
graph to wire the clone the same way, and copies the weights, so the clone
computes the same function. Weights travel back with `layer_weights` /
`set_layer_weights`, which both Keras versions share.

`check_bridgeable` needs only Keras 3 (any backend) and is run in the user's
process for early, clear errors; `to_tf_keras` needs TensorFlow and tf-keras.
"""

import keras

from keras_kd import _keras_compat
from keras_kd._keras_compat import is_graph_model

# Keras 3 class name -> same-named tf-keras class. Their configs agree except
# for the keys normalized in `tf_keras_config`.
SUPPORTED_LAYERS = (
    "InputLayer",
    "Dense",
    "Conv1D",
    "Conv2D",
    "DepthwiseConv2D",
    "SeparableConv2D",
    "BatchNormalization",
    "MaxPooling1D",
    "MaxPooling2D",
    "AveragePooling1D",
    "AveragePooling2D",
    "GlobalMaxPooling1D",
    "GlobalMaxPooling2D",
    "GlobalAveragePooling1D",
    "GlobalAveragePooling2D",
    "Flatten",
    "Reshape",
    "Dropout",
    "Activation",
    "ReLU",
    "Softmax",
    "Add",
    "Subtract",
    "Multiply",
    "Average",
    "Maximum",
    "Minimum",
    "Concatenate",
    "ZeroPadding1D",
    "ZeroPadding2D",
    "Rescaling",
)

# Keras 3-only settings that tf-keras does not know; dropped when unset.
_KERAS3_ONLY_KEYS = ("quantization_config", "lora_rank", "lora_alpha")

_BUILTIN_ACTIVATIONS = (
    "linear",
    "relu",
    "relu6",
    "sigmoid",
    "softmax",
    "tanh",
    "elu",
    "selu",
    "gelu",
    "swish",
    "silu",
    "softplus",
    "softsign",
    "exponential",
    "hard_sigmoid",
    "hard_swish",
    "leaky_relu",
    "mish",
    "log_softmax",
)


def check_bridgeable(model):
    """Raises a clear error unless `model` can be cloned into tf-keras.

    Needs only Keras 3, so it runs on any backend before TensorFlow is
    involved.

    Args:
        model: A Keras 3 model.

    Returns:
        `model`.

    Example:

    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    >>> check_bridgeable(model) is model
    True
    """
    if not isinstance(model, keras.Model):
        raise ValueError(
            "The student must be a Keras 3 model (keras.Model). Received: "
            f"an object of type {type(model).__module__}."
            f"{type(model).__name__}."
        )
    if not is_graph_model(model):
        raise ValueError(
            f"The student '{model.name}' is a subclassed model "
            f"({type(model).__name__}), but the tf-keras bridge needs a "
            "Sequential or Functional model. TFMOT (quantization-aware "
            "training, pruning) works on tf-keras only, so the bridge "
            "rebuilds the model in tf-keras from its layer graph and "
            "configs; a subclassed model's `call()` is arbitrary Python with "
            "no graph to read. Rewrite the student as a Sequential or "
            "Functional model (the same layers, wired with keras.Input)."
        )
    for layer in model.layers:
        if is_graph_model(layer):
            check_bridgeable(layer)
        else:
            tf_keras_config(layer)
    return model


def _unsupported(layer, why):
    return ValueError(
        f"The tf-keras bridge cannot clone layer '{layer.name}' of class "
        f"{type(layer).__module__}.{type(layer).__name__}: {why} Supported "
        f"layers: {', '.join(SUPPORTED_LAYERS)}, and nested Sequential or "
        "Functional models of them. Replace the layer with supported ones, "
        "or leave this model out of quantization-aware training / pruning "
        "and use post-training quantization (tflite_export.convert)."
    )


def _plain(serialized):
    """A Keras 3 serialized object as the {class_name, config} tf-keras reads."""
    return {"class_name": serialized["class_name"], "config": serialized["config"]}


def tf_keras_config(layer):
    """The tf-keras class name and config that rebuild `layer`.

    Args:
        layer: A Keras 3 layer.

    Returns:
        `(class_name, config)`.
    """
    class_name = type(layer).__name__
    if class_name not in SUPPORTED_LAYERS or not type(layer).__module__.startswith("keras."):
        raise _unsupported(layer, "it is not one of the layers it knows.")
    config = dict(layer.get_config())
    config["dtype"] = "float32"
    for key in _KERAS3_ONLY_KEYS:
        if config.pop(key, None):
            raise _unsupported(layer, f"it sets the Keras 3-only option {key}.")
    for key, value in list(config.items()):
        if key.endswith("_initializer"):
            config.pop(key)  # The weights are copied over anyway.
        elif key.endswith(("_regularizer", "_constraint")) and value is not None:
            if value.get("module") not in ("keras.regularizers", "keras.constraints"):
                raise _unsupported(layer, f"its {key} is a custom object.")
            config[key] = _plain(value)
        elif key == "activation" and value not in _BUILTIN_ACTIVATIONS:
            raise _unsupported(layer, f"its activation {value!r} is not a built-in one.")
    if class_name == "InputLayer":
        config = {
            "batch_input_shape": tuple(config["batch_shape"]),
            "dtype": config.get("dtype") or "float32",
            "name": config["name"],
        }
    return class_name, config


def layer_weights(model):
    """`{layer name: [arrays]}` of every layer with weights (either Keras)."""
    return {layer.name: layer.get_weights() for layer in model.layers if layer.weights}


def set_layer_weights(model, weights):
    """Loads `layer_weights` output into a model with the same layer names.

    Args:
        model: A Keras 3 or tf-keras model.
        weights: Dict from layer name to the list of that layer's arrays.
    """
    for layer in model.layers:
        if layer.name not in weights:
            continue
        arrays = weights[layer.name]
        expected = [tuple(w.shape) for w in layer.weights]
        received = [tuple(a.shape) for a in arrays]
        if expected != received:
            raise ValueError(
                f"Layer '{layer.name}' ({type(layer).__name__}) holds weights "
                f"of shapes {expected}, but the weights given for it have "
                f"shapes {received}. The two models must have the same "
                "architecture."
            )
        layer.set_weights(arrays)


def to_tf_keras(model):
    """Clones a Keras 3 Sequential or Functional model into tf-keras.

    Each layer is rebuilt from its config in tf-keras, wired as in the
    original graph, and given the original's weights; outputs agree to
    float32 round-off. Layers run in float32 whatever the original's dtype
    policy.

    Args:
        model: A built Keras 3 Sequential or Functional model.

    Returns:
        A built `tf_keras.Model` with the same layer names and weights.

    Example:

    >>> import numpy as np
    >>> student = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    >>> clone = to_tf_keras(student)  # needs tensorflow and tf-keras
    >>> x = np.ones((3, 4), "float32")
    >>> bool(np.allclose(clone(x).numpy(), student.predict(x, verbose=0), atol=1e-5))
    True
    """
    import tf_keras

    check_bridgeable(model)
    if not model.built:
        raise ValueError(
            f"Model '{model.name}' is not built, so it has no weights to "
            "clone. Build it first, e.g. with a keras.Input."
        )
    clone = _clone_graph(model, tf_keras)
    _copy_weights(model, clone)
    return clone


def _copy_weights(source, target):
    for layer in source.layers:
        if is_graph_model(layer):
            _copy_weights(layer, target.get_layer(layer.name))
        elif layer.weights:
            set_layer_weights(target, {layer.name: layer.get_weights()})


def _new_layer(layer, tf_keras):
    if is_graph_model(layer):
        return _clone_graph(layer, tf_keras)
    class_name, config = tf_keras_config(layer)
    new = getattr(tf_keras.layers, class_name).from_config(config)
    new.trainable = layer.trainable
    return new


def _clone_graph(model, tf_keras):
    """A tf-keras model wired like `model`, with fresh layers."""
    inputs = [
        tf_keras.Input(
            batch_shape=tuple(tensor.shape),
            dtype=tensor.dtype,
            name=_keras_compat.producing_operation(tensor).name,
        )
        for tensor in model.inputs
    ]
    new_layers = {}

    def translate(operation):
        if id(operation) not in new_layers:
            new_layers[id(operation)] = _new_layer(operation, tf_keras)
        return new_layers[id(operation)]

    outputs = _keras_compat.run_through_graph(
        model, inputs[0] if len(inputs) == 1 else inputs, translate
    )
    return tf_keras.Model(inputs, outputs, name=model.name)
