"""The interface every teacher keeps: what the `Distiller` asks of a teacher.

A teacher produces, for the inputs of one step, the soft targets (and the
tapped intermediate features) the distillation losses read. The `Distiller`
holds exactly one `Teacher` and never asks what kind it is: a single model,
an ensemble, an EMA copy of the student, or stored targets all answer the
same five calls.
"""

import keras
from keras import ops

from keras_kd import checks
from keras_kd import outputs as outputs_lib
from keras_kd import validation
from keras_kd.teachers import _inputs as inputs_lib


class Teacher(keras.layers.Layer):
    """Base class of the teachers a `Distiller` learns from.

    A `Teacher` is a Keras layer so that the models it holds are tracked,
    saved and loaded with the `Distiller` (frozen: it is never trainable),
    but it is never called as a layer. The `Distiller` calls:

    1. `bind(student, teacher_layers, teacher_outputs)` once, to check the
       teacher against the student and the layers the losses tap;
    2. `split_inputs(x)` and `targets(teacher_inputs)` in every train and
       test step: what the student reads of the batch's `x`, and the
       teacher's targets as a nested structure of tensors (no gradient
       flows back through them). By default both read `x`; a teacher on
       other inputs reads `x["teacher"]` (the student `x["student"]`) or
       `teacher_preprocessor(x)` (see `set_preprocessor` and
       docs/inputs.md). A teacher that reads stored targets finds them in
       `x` and hands the student the rest;
    3. `view(targets)` on that structure, to give the losses a
       `keras_kd.losses.ModelOutputs`;
    4. `after_train_step(distiller, step_result)` after the optimizer step,
       in the same traced step (the EMA update);
    5. `get_config()` / `from_config()` to save and load itself.

    Subclasses implement `forward(inputs)` and `view(targets)`, and set
    `models` (the Keras models they run, possibly none) and `kinds` (one of
    `"logits"` / `"probabilities"` per model) in `bind`.

    Args:
        **kwargs: Passed to `keras.layers.Layer` (e.g. `name`).
    """

    def __init__(self, **kwargs):
        kwargs.setdefault("trainable", False)
        super().__init__(**kwargs)
        self.kinds = []
        self.preprocessor = None
        self._student_spec = None
        self.built = True

    # -- Set-up ------------------------------------------------------------

    def bind(self, student, teacher_layers, teacher_outputs="auto"):
        """Checks the teacher against the student and the tapped layers.

        Args:
            student: The `Distiller`'s student model.
            teacher_layers: Names of the teacher layers the distillation
                losses read (may be empty).
            teacher_outputs: `"auto"`, `"logits"` or `"probabilities"`.
        """
        raise NotImplementedError(
            f"{type(self).__name__} must implement `bind(student, "
            "teacher_layers, teacher_outputs)`."
        )

    def feature_shapes(self):
        """`{layer name: shape}` of the tapped layers, batch axis included."""
        return {}

    def check_output_shape(self, student):
        """Raises when the teacher's outputs cannot be compared with the student's."""
        if self.models:
            validation.check_same_output_shape(self.models[0], student)

    def set_preprocessor(self, preprocessor):
        """Makes the teacher's inputs `preprocessor(x)` of the student's `x`.

        The preprocessor is part of the teacher: frozen, run in inference
        mode (`training=False`) in every train and test step, and saved with
        it. `Distiller(teacher_preprocessor=...)` calls this once, before
        `bind`.

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
        """Records the student's name and input shape, for error messages.

        Subclasses call it from `bind`.
        """
        self._student_spec = (student.name, validation.input_shape(student))
        inputs_lib.check_preprocessor_batch(self.preprocessor, self._student_spec[1])

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

    def forward(self, inputs):
        """The teacher's raw targets for `inputs`: a nested structure of tensors."""
        raise NotImplementedError(f"{type(self).__name__} must implement `forward(inputs)`.")

    def targets(self, inputs):
        """`forward(teacher_inputs(inputs))`, the gradient stopped on every tensor."""
        return keras.tree.map_structure(
            ops.stop_gradient, self.forward(self.teacher_inputs(inputs))
        )

    def view(self, targets):
        """The `ModelOutputs` the losses read, from `targets(inputs)`."""
        raise NotImplementedError(f"{type(self).__name__} must implement `view(targets)`.")

    def after_train_step(self, distiller, step_result):
        """Runs after the optimizer step inside the train step.

        Args:
            distiller: The `Distiller` being trained.
            step_result: What the backend's `train_step` returned.

        Returns:
            `step_result`, possibly with updated state (on JAX).
        """
        del distiller
        return step_result

    @property
    def metrics(self):
        # A teacher model may have been compiled: its metrics (a "loss" that
        # never moves) are not the Distiller's.
        return []

    @property
    def models(self):
        """The Keras models this teacher runs (empty for stored targets)."""
        return list(getattr(self, "_teacher_models", []))

    def _set_models(self, models):
        # Tracked as a list attribute, so saving walks it like a Model's layers.
        self._teacher_models = list(models)
        for model in self._teacher_models:
            model.trainable = False


def resolve_output_kind(model, setting, role):
    """What `model` outputs: `setting` itself, or read off the model for `"auto"`.

    Args:
        model: A built Keras model.
        setting: `"auto"`, `"logits"` or `"probabilities"`.
        role: `"teacher"` or `"student"`, for error messages.

    Returns:
        `"logits"` or `"probabilities"`.
    """
    checks.validate_output_kind(setting, f"{role}_outputs")
    if setting != "auto":
        return setting
    return outputs_lib.detect_output_kind(model, sample_outputs=validation.probe_outputs(model))
