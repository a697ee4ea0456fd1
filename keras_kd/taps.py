"""Expose a model's intermediate layers from its one forward pass.

A loss that compares intermediate layers must not cost a second forward
pass. `Tapped` wraps a Functional or Sequential model in a Functional view
that shares its layers and weights and returns the final outputs together
with the requested layers' outputs, all from the same call.
"""

import keras

from keras_kd._keras_compat import is_graph_model


def tappable_layer_names(model):
    """Names of the layers of `model` whose outputs can be tapped."""
    return [layer.name for layer in getattr(model, "layers", [])]


def _layer_output(model, layer_name, role):
    try:
        layer = model.get_layer(layer_name)
    except ValueError:
        raise ValueError(
            f"The {role} '{model.name}' has no layer named '{layer_name}'. "
            f"Its layers are: {tappable_layer_names(model)}."
        ) from None
    try:
        return layer.output
    except (AttributeError, ValueError) as error:
        raise ValueError(
            f"Layer '{layer_name}' of the {role} '{model.name}' has no "
            f"single output to tap ({error}). Tap a layer that is called "
            "once in the model."
        ) from None


class Tapped:
    """A model plus the intermediate layers a distillation loss reads.

    Deliberately not a Keras layer: the wrapped model is tracked by the
    Distiller already, and the view only adds a call path.

    Args:
        model: A built Keras model.
        layer_names: Names of layers to expose; may be empty.
        role: `"teacher"` or `"student"`, for error messages.

    Example:

    >>> tapped = Tapped(student, ["conv2"], role="student")
    >>> outputs, features = tapped(x, training=True)
    >>> tuple(features["conv2"].shape[1:])  # student_cnn on 28x28 images
    (14, 14, 16)
    """

    def __init__(self, model, layer_names, role):
        self.model = model
        self.layer_names = tuple(dict.fromkeys(layer_names))
        self._view = None
        self._feature_shapes = {}
        if self.layer_names:
            if not is_graph_model(model):
                raise ValueError(
                    f"The {role} '{model.name}' is a subclassed "
                    f"{type(model).__name__}, whose intermediate layers "
                    f"cannot be tapped (requested: {list(self.layer_names)}"
                    "): its graph is only known by running its Python "
                    "`call`. Build it as a Functional or Sequential model, "
                    "or use losses on the final outputs only (such as "
                    "SoftTargetKD)."
                )
            features = {name: _layer_output(model, name, role) for name in self.layer_names}
            self._feature_shapes = {name: tuple(tensor.shape) for name, tensor in features.items()}
            inputs = model.inputs
            self._view = keras.Model(
                # A lone input unwrapped, so calls with one tensor match it.
                inputs[0] if len(inputs) == 1 else inputs,
                {"outputs": model.outputs, "features": features},
                name=f"{model.name}_tapped",
            )
            self._single_output = len(model.outputs) == 1

    def __call__(self, x, training=False):
        """Returns `(outputs, {layer name: features})` from one pass."""
        if self._view is None:
            return self.model(x, training=training), {}
        result = self._view(x, training=training)
        outputs = result["outputs"]
        if self._single_output:
            outputs = outputs[0]
        return outputs, dict(result["features"])

    def feature_shapes(self):
        """`{layer name: shape}` of the tapped layers, batch axis included."""
        return dict(self._feature_shapes)
