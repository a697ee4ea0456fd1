"""`LiveTeacher`: the base of the teachers that run Keras models in the step.

A single model, an ensemble and an EMA copy of the student all run their
models on the step's inputs, so they share what that needs here: the
teacher's own inputs (`x["teacher"]` of a dict `x`), a `teacher_preprocessor`
run in the step, and the checks that the models can read what they receive
(docs/inputs.md). Stored targets (`TeacherCache`) run no model and derive
from `Teacher` alone.
"""

from keras_kd import validation
from keras_kd.teachers import _inputs as inputs_lib
from keras_kd.teachers.base import Teacher


class LiveTeacher(Teacher):
    """Base class of the teachers that run Keras models in every step.

    Subclasses set their models with `_set_models` in `__init__` (frozen:
    `trainable = False`), extend `bind` (calling `super().bind`, which takes
    the preprocessor and records the student), and implement `forward` and
    `view`. The teacher's inputs are `x`, `x["teacher"]` for
    `x = {"teacher": ..., "student": ...}`, or `preprocessor(x)`.

    Args:
        **kwargs: Passed to `keras.layers.Layer` (e.g. `name`).

    Example:

    >>> teacher = keras_kd.teachers.ModelTeacher(teacher_model)
    >>> isinstance(teacher, keras_kd.teachers.LiveTeacher)
    True
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.preprocessor = None
        self._student_spec = None

    # -- Set-up ------------------------------------------------------------

    def bind(self, student, teacher_layers, teacher_outputs="auto", preprocessor=None):
        """Takes the preprocessor and records the student; subclasses extend it.

        The arguments are those of `Teacher.bind`; `preprocessor` becomes
        the teacher's (`set_preprocessor`), checked on a batch shaped as the
        student's inputs. Without one, a preprocessor set on the teacher
        before (`set_preprocessor`) is kept; given another, it is refused.
        """
        del teacher_layers, teacher_outputs
        if preprocessor is None:
            preprocessor = self.preprocessor
        elif self.preprocessor is not None and self.preprocessor is not preprocessor:
            raise ValueError(
                f"The {type(self).__name__} '{self.name}' already has the "
                f"preprocessor {inputs_lib.name_of(self.preprocessor)!r}, and the "
                f"Distiller received teacher_preprocessor="
                f"{inputs_lib.name_of(preprocessor)!r}: a teacher reads through one "
                "preprocessor. Pass the teacher_preprocessor alone, or construct "
                "the Distiller without it to keep the teacher's own."
            )
        self.set_preprocessor(preprocessor)
        self.remember_student(student)

    def set_preprocessor(self, preprocessor):
        """Makes the teacher's inputs `preprocessor(x)` of the student's `x`.

        The preprocessor is part of the teacher: frozen, run in inference
        mode (`training=False`) in every train and test step, and saved with
        it. `Distiller(teacher_preprocessor=...)` sets it through `bind`.

        Args:
            preprocessor: `None`, a `keras.layers.Layer` (e.g.
                `keras.layers.Resizing(28, 28)`) or a function of a tensor
                written with `keras.ops`.

        Example:

        >>> teacher = keras_kd.teachers.ModelTeacher(teacher_model)
        >>> teacher.set_preprocessor(keras.layers.Rescaling(2.0))
        >>> type(teacher.preprocessor).__name__
        'Rescaling'
        """
        self.preprocessor = inputs_lib.check_preprocessor(preprocessor)

    def preprocessor_config(self):
        """The preprocessor's config for a saved file (`None` without one).

        Raises for a plain function that is not registered with
        `keras.saving.register_keras_serializable`, whose code a file
        cannot hold.
        """
        return inputs_lib.serialize_preprocessor(self.preprocessor)

    def remember_student(self, student):
        """Records the student's name and input shape, for error messages."""
        self._student_spec = (student.name, validation.input_shape(student))
        inputs_lib.check_preprocessor_batch(self, self._student_spec[1])

    def check_output_shape(self, student):
        validation.check_same_output_shape(self.models[0], student)

    # -- The step ------------------------------------------------------------

    def split_inputs(self, inputs):
        """`(student inputs, teacher inputs)` of a batch's `x`.

        `x` itself for both; or, for `x = {"teacher": ..., "student": ...}`,
        each its entry. Also called on what `predict` and `evaluate`
        receive, which may hold the student's inputs alone: the teacher
        inputs are then `None` when the teacher cannot read them (its
        input shape differs and it has no preprocessor).
        """
        return inputs_lib.split(inputs, self)

    def teacher_inputs(self, inputs):
        """What the teacher's models read, from the teacher side of `split_inputs`.

        Applies the preprocessor and checks the shape against every model's
        input shape, naming both when they differ.
        """
        if inputs is None:
            raise ValueError(inputs_lib.unreadable_message(self))
        if self.preprocessor is not None:
            inputs = inputs_lib.preprocess(self.preprocessor, inputs)
        for model in self.models:
            inputs_lib.check_fits(model, inputs, self)
        return inputs

    def targets(self, inputs):
        """`forward(teacher_inputs(inputs))`, the gradient stopped on every tensor."""
        return super().targets(self.teacher_inputs(inputs))

    @property
    def models(self):
        """The Keras models this teacher runs."""
        return list(getattr(self, "_teacher_models", []))

    def _set_models(self, models):
        # Tracked as a list attribute, so saving walks it like a Model's layers.
        self._teacher_models = list(models)
        for model in self._teacher_models:
            model.trainable = False
