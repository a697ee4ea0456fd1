"""`EMATeacher`: an exponential moving average of the student teaches it."""

import keras
from keras import ops

from keras_kd import _keras_compat
from keras_kd import _saving
from keras_kd import validation
from keras_kd.checks import check_number
from keras_kd.teachers.single import ModelTeacher


@keras.saving.register_keras_serializable(package="keras_kd")
class EMATeacher(ModelTeacher):
    """A teacher that is an exponential moving average of the student.

    Mean-teacher self-distillation (Tarvainen and Valpola, 2017): the teacher
    starts as a copy of the student and, after each optimizer step, moves
    towards it, `teacher = decay * teacher + (1 - decay) * student`, for
    every weight (batch-norm statistics included). The `Distiller` performs
    the update inside its train step on every backend, so it needs no
    callback and works under `jit_compile`.

    Args:
        student: The built student model the `Distiller` will train (the
            same object).
        decay: In [0, 1); larger means a slower, smoother teacher.
        model: Internal, for loading: the averaged copy itself, used instead
            of a fresh copy of `student`.
        **kwargs: Passed to `keras.layers.Layer`.

    Example:

    >>> distiller = keras_kd.Distiller(
    ...     teacher=keras_kd.teachers.EMATeacher(student, decay=0.99),
    ...     student=student, distillation_loss="kd", alpha=0.5)
    """

    def __init__(self, student=None, decay=0.999, model=None, **kwargs):
        decay = check_number(
            "EMATeacher",
            "decay",
            decay,
            0,
            1,
            high_inclusive=False,
            hint="Typical values are 0.99 to 0.9999.",
        )
        if model is None:
            validation.check_model(student, "student")
            model = keras.models.clone_model(student)
            model.set_weights(student.get_weights())
            model.name = f"{student.name}_ema"
        super().__init__(model, **kwargs)
        self.decay = float(decay)
        # A one-element tuple of a weak handle would do too; a plain
        # attribute would make the student a tracked part of the teacher.
        self._source = (lambda: student) if student is not None else None

    def bind(self, student, teacher_layers, teacher_outputs="auto", preprocessor=None):
        if preprocessor is not None:
            raise ValueError(
                "An EMATeacher is an average of the student's own weights, so "
                "it reads inputs shaped as the student's, and the Distiller "
                "received teacher_preprocessor="
                f"{getattr(preprocessor, 'name', preprocessor)!r}. Drop "
                "teacher_preprocessor; to show the EMA teacher another view of "
                "each sample (as mean teacher does with its own noise), pass "
                "x as a dict {'teacher': x_teacher_view, 'student': x}."
            )
        source = self._source() if self._source is not None else None
        if source is not None and source is not student:
            raise ValueError(
                f"This EMATeacher tracks the model '{source.name}', but "
                f"the Distiller's student is '{student.name}'. Build the "
                "EMATeacher from the same student object you pass to the "
                "Distiller."
            )
        self._source = lambda: student
        self._pairs(student)  # Raises unless the architectures match.
        super().bind(student, teacher_layers, teacher_outputs, preprocessor)

    def _pairs(self, student):
        """`[(teacher variable, student variable)]` of the averaged weights."""
        teacher_weights, student_weights = self.models[0].weights, student.weights
        shapes_t = [tuple(v.shape) for v in teacher_weights]
        shapes_s = [tuple(v.shape) for v in student_weights]
        if shapes_t != shapes_s:
            raise ValueError(
                "The EMA teacher's weights do not match the student's "
                f"({len(shapes_t)} vs {len(shapes_s)} variables). The EMA "
                "teacher must be a copy of this student's architecture."
            )
        return [
            (t, s)
            for t, s in zip(teacher_weights, student_weights)
            if "float" in keras.backend.standardize_dtype(t.dtype)
        ]

    def averaged(self, teacher_value, student_value):
        """The EMA update of one weight, without gradient."""
        return ops.stop_gradient(
            self.decay * teacher_value
            + (1.0 - self.decay) * ops.cast(student_value, teacher_value.dtype)
        )

    def after_train_step(self, distiller, step_result):
        pairs = self._pairs(distiller.student)
        return _keras_compat.assign_after_train_step(
            distiller,
            step_result,
            lambda value_of: [(t, self.averaged(value_of(t), value_of(s))) for t, s in pairs],
        )

    def get_config(self):
        config = keras.layers.Layer.get_config(self)
        config["model"] = _saving.serialize_without_compile(self.models[0])
        config["decay"] = self.decay
        return config
