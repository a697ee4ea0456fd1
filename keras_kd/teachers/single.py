"""`ModelTeacher`: one trained, frozen Keras model."""

import keras

from keras_kd import _saving
from keras_kd import validation
from keras_kd.losses.base import ModelOutputs
from keras_kd.taps import Tapped
from keras_kd.teachers.base import resolve_output_kind
from keras_kd.teachers.live import LiveTeacher


@keras.saving.register_keras_serializable(package="keras_kd")
class ModelTeacher(LiveTeacher):
    """A single trained model, run frozen (`training=False`) in every step.

    `Distiller(teacher=model, ...)` wraps `model` in a `ModelTeacher`; build
    one yourself only to subclass it.

    Args:
        model: A built `keras.Model`; it is set to `trainable = False`.
        **kwargs: Passed to `keras.layers.Layer`.

    Example:

    >>> teacher = keras_kd.teachers.ModelTeacher(teacher_model)
    >>> teacher.models[0] is teacher_model
    True
    """

    def __init__(self, model, **kwargs):
        super().__init__(**kwargs)
        self._set_models([validation.check_model(model, "teacher")])
        self._taps = Tapped(model, [], "teacher")

    @property
    def model(self):
        """The teacher model."""
        return self.models[0]

    @property
    def kind(self):
        """`"logits"` or `"probabilities"`: what the model outputs."""
        return self.kinds[0]

    def bind(self, student, teacher_layers, teacher_outputs="auto", preprocessor=None):
        super().bind(student, teacher_layers, teacher_outputs, preprocessor)
        model = self.models[0]
        self.kinds = [resolve_output_kind(model, teacher_outputs, "teacher")]
        self._taps = Tapped(model, teacher_layers, "teacher")

    def feature_shapes(self):
        return self._taps.feature_shapes()

    def forward(self, inputs):
        outputs, features = self._taps(inputs, training=False)
        return {"outputs": outputs, "features": features}

    def view(self, targets):
        return ModelOutputs(targets["outputs"], self.kind, targets["features"])

    def get_config(self):
        config = super().get_config()
        config["model"] = _saving.serialize_without_compile(self.models[0])
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        config["model"] = keras.saving.deserialize_keras_object(
            config["model"], custom_objects=custom_objects
        )
        return cls(**config)
