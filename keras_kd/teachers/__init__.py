"""Teachers: one interface for a single model, an ensemble, an EMA of the student
and stored targets (`TeacherCache`).

`Teacher` (base.py) is what the `Distiller` calls; `LiveTeacher` (live.py),
its base for the teachers that run models in the step (`ModelTeacher`,
`EnsembleTeacher`, `EMATeacher`), adds the teacher's own inputs and the
preprocessor; `TeacherCache` reads stored targets and derives from `Teacher`.

`Distiller(teacher=...)` accepts a `keras.Model`, a list of them (an
ensemble) or any `Teacher`; `get` turns each into the one `Teacher` object
the `Distiller` holds.
"""

import keras

from keras_kd.teachers.base import Teacher
from keras_kd.teachers.base import bind_teacher
from keras_kd.teachers.cache import TeacherCache
from keras_kd.teachers.ema import EMATeacher
from keras_kd.teachers.ensemble import EnsembleTeacher
from keras_kd.teachers.live import LiveTeacher
from keras_kd.teachers.single import ModelTeacher

__all__ = [
    "EMATeacher",
    "EnsembleTeacher",
    "LiveTeacher",
    "ModelTeacher",
    "Teacher",
    "TeacherCache",
    "bind_teacher",
    "get",
]


def get(teacher, teacher_weights=None, custom_objects=None):
    """The `Teacher` for what a user passed as `Distiller(teacher=...)`.

    Args:
        teacher: A `Teacher`; a built `keras.Model`; a list of them (an
            ensemble); or a config written by `keras.saving`
            (a dict, or a list of dicts for an ensemble).
        teacher_weights: One weight per model of an ensemble, or `None`.
        custom_objects: As in `keras.saving.deserialize_keras_object`.

    Returns:
        A `Teacher`.

    Example:

    >>> keras_kd.teachers.get([teacher_model, teacher_model_2]).member_weights
    [0.5, 0.5]
    """
    if isinstance(teacher, dict):
        teacher = keras.saving.deserialize_keras_object(teacher, custom_objects=custom_objects)
    if isinstance(teacher, (list, tuple)):
        models = [
            keras.saving.deserialize_keras_object(m, custom_objects=custom_objects)
            if isinstance(m, dict)
            else m
            for m in teacher
        ]
        return EnsembleTeacher(models, teacher_weights)
    if teacher_weights is not None:
        raise ValueError(
            "`teacher_weights` weighs the teachers of an ensemble, but the "
            f"teacher is {_describe(teacher)}. Received: "
            f"teacher_weights={teacher_weights!r}. Pass teacher=[teacher_1, "
            "teacher_2, ...], or drop teacher_weights."
        )
    if isinstance(teacher, Teacher):
        return teacher
    return ModelTeacher(teacher)  # Which says what it received, if not a model.


def _describe(teacher):
    """How an error message names a teacher that is not an ensemble."""
    if isinstance(teacher, EMATeacher):
        return "an EMATeacher"
    if isinstance(teacher, Teacher) and not isinstance(teacher, ModelTeacher):
        return f"a {type(teacher).__name__}"
    return "a single teacher"
