"""`EnsembleTeacher`: several models whose softened distributions are averaged."""

import math

import keras

from keras_kd import _saving
from keras_kd import losses as losses_lib
from keras_kd import validation
from keras_kd.checks import is_real_number
from keras_kd.losses.base import EnsembleOutputs
from keras_kd.teachers.base import resolve_output_kind
from keras_kd.teachers.live import LiveTeacher


@keras.saving.register_keras_serializable(package="keras_kd")
class EnsembleTeacher(LiveTeacher):
    """Several teachers read as one: the weighted mean of their soft targets.

    At temperature `T` the soft targets are `sum_i w_i softmax(z_i / T)`
    (not the softmax of averaged logits). Architectures may differ; output
    shapes may not. `Distiller(teacher=[model_1, model_2], ...)` builds one.

    Args:
        models: Non-empty list of built `keras.Model`s with outputs of the
            same shape.
        weights: `None` (equal weights) or one number >= 0 per model, not
            all zero; normalized to sum 1.
        **kwargs: Passed to `keras.layers.Layer`.

    Example:

    >>> ensemble = keras_kd.teachers.EnsembleTeacher(
    ...     [teacher_model, teacher_model_2], weights=[3, 1])
    >>> ensemble.member_weights
    [0.75, 0.25]
    """

    def __init__(self, models, weights=None, **kwargs):
        super().__init__(**kwargs)
        models = list(models)
        self.member_weights = check_ensemble(models, weights)
        self._set_models(models)

    def bind(self, student, teacher_layers, teacher_outputs="auto", preprocessor=None):
        check_ensemble_taps(teacher_layers)
        super().bind(student, teacher_layers, teacher_outputs, preprocessor)
        self.kinds = [
            resolve_output_kind(model, teacher_outputs, "teacher") for model in self.models
        ]

    def forward(self, inputs):
        return {"members": [model(inputs, training=False) for model in self.models]}

    def view(self, targets):
        return EnsembleOutputs(targets["members"], self.kinds, self.member_weights)

    def get_config(self):
        config = super().get_config()
        config["models"] = [_saving.serialize_without_compile(m) for m in self.models]
        config["weights"] = self.member_weights
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        config["models"] = [
            keras.saving.deserialize_keras_object(m, custom_objects=custom_objects)
            for m in config["models"]
        ]
        return cls(**config)


def check_ensemble(teachers, teacher_weights=None):
    """Validates an ensemble and returns its weights normalized to sum 1.

    Args:
        teachers: Non-empty list of built `keras.Model`s whose outputs have
            the same shape (architectures may differ).
        teacher_weights: `None` (equal weights) or one number >= 0 per
            teacher, not all zero.

    Returns:
        A list of floats summing to 1.
    """
    if not teachers:
        raise ValueError(
            "`teacher` is an empty list. Give one keras.Model, or a list of at least one."
        )
    for i, teacher in enumerate(teachers):
        validation.check_model(teacher, f"teacher {i}")
    shapes = [validation.output_shape(t) for t in teachers]
    if len({s for s in shapes if s is not None}) > 1:
        listed = ", ".join(
            f"'{t.name}': {(None,) + s if s else 'unknown'}" for t, s in zip(teachers, shapes)
        )
        raise ValueError(
            "The teachers of an ensemble must output the same shape, since "
            f"their distributions are averaged class by class. Received: "
            f"{listed}. Give every teacher the same classes, in the same "
            "order."
        )
    if teacher_weights is None:
        return [1.0 / len(teachers)] * len(teachers)
    teacher_weights = list(teacher_weights)
    if (
        len(teacher_weights) != len(teachers)
        or any(not is_real_number(w) or not 0 <= w < math.inf for w in teacher_weights)
        or sum(teacher_weights) <= 0
    ):
        raise ValueError(
            "`teacher_weights` must hold one number >= 0 per teacher, finite "
            f"and not all zero. Received: teacher_weights={teacher_weights!r} for "
            f"{len(teachers)} teachers. Pass e.g. teacher_weights="
            f"{[1.0] * len(teachers)}, or None for equal weights."
        )
    total = float(sum(teacher_weights))
    return [float(w) / total for w in teacher_weights]


def check_ensemble_taps(teacher_layers):
    """Raises when a loss asks to tap intermediate layers of an ensemble."""
    if teacher_layers:
        raise ValueError(
            "Losses on intermediate teacher layers (requested: "
            f"{list(teacher_layers)}) need one teacher, but the teacher is an "
            "ensemble, whose members' layers do not correspond. Use losses "
            f"on the final outputs ({', '.join(losses_lib.output_level_names())}) "
            "with an ensemble, or distil from one teacher."
        )
