"""Checks on what a user hands the Distiller, each with an error that says
what was received and what is expected."""

import keras
import numpy as np

from keras_kd._keras_compat import built_input_shape
from keras_kd._keras_compat import is_graph_model


def check_model(model, role):
    """Raises unless `model` is a built Keras model."""
    if not isinstance(model, keras.Model):
        raise ValueError(
            f"The {role} must be a keras.Model (Sequential, Functional or "
            f"subclassed). Received: an object of type "
            f"{type(model).__module__}.{type(model).__name__}. Wrap the "
            "network in a Keras model, or load it with "
            "keras.saving.load_model()."
        )
    if not model.built:
        raise ValueError(
            f"The {role} '{model.name}' is not built: it has no weights yet, "
            "so it cannot be distilled. Build it first, e.g. by calling it "
            f"on a batch (`{role}(x[:1])`), by `{role}.build(input_shape)`, "
            "or by giving it a `keras.Input`. A teacher should also be "
            "trained before distillation."
        )
    return model


def check_alpha(alpha):
    """Returns `alpha` as a float after checking it lies in [0, 1]."""
    if not isinstance(alpha, (int, float)) or not 0.0 <= alpha <= 1.0:
        raise ValueError(
            "`alpha` is the weight of the student's hard-label loss and must "
            f"be a number in [0, 1]. Received: alpha={alpha!r}"
        )
    return float(alpha)


def check_distillation_scale(scale):
    """Returns `scale` as a float after checking it is a number >= 0."""
    if not isinstance(scale, (int, float)) or not 0.0 <= scale < float("inf"):
        raise ValueError(
            "`distillation_scale` multiplies the distillation term and must "
            f"be a finite number >= 0. Received: distillation_scale={scale!r}"
        )
    return float(scale)


def probe_outputs(model, batch_size=8, seed=0):
    """Outputs of a subclassed model on a random batch, as NumPy.

    A subclassed model's graph cannot be read, so its head (logits or
    probabilities) and output shape are read off real outputs. Returns
    `None` for Functional and Sequential models, or when the input shape of
    a subclassed model is unknown.
    """
    if is_graph_model(model):
        return None
    input_shape = built_input_shape(model)
    if input_shape is None:
        return None
    shape = (batch_size,) + tuple(d or 1 for d in input_shape[1:])
    x = np.random.default_rng(seed).normal(size=shape).astype("float32")
    return keras.ops.convert_to_numpy(model(x, training=False))


def output_shape(model):
    """The per-sample output shape of `model`, or `None` if unknown."""
    if is_graph_model(model):
        shape = model.output_shape
        if isinstance(shape, tuple) and all(
            isinstance(d, int) or d is None for d in shape
        ):
            return tuple(shape[1:])
        return None
    outputs = probe_outputs(model)
    return None if outputs is None else tuple(outputs.shape[1:])


def check_same_output_shape(teacher, student):
    """Raises when teacher and student outputs cannot be compared."""
    teacher_shape, student_shape = output_shape(teacher), output_shape(student)
    if None in (teacher_shape, student_shape):
        return
    if teacher_shape != student_shape:
        raise ValueError(
            "Soft-target distillation compares the teacher's and the "
            "student's outputs class by class, so their shapes must match. "
            f"Received: teacher '{teacher.name}' outputs shape "
            f"{(None,) + teacher_shape}, student '{student.name}' outputs "
            f"shape {(None,) + student_shape}. Give the student the "
            "teacher's number of classes."
        )
