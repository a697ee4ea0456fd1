"""The interface every teacher keeps: what the `Distiller` asks of a teacher.

A teacher produces, for the inputs of one step, the soft targets (and the
tapped intermediate features) the distillation losses read. The `Distiller`
holds exactly one `Teacher` and never asks what kind it is: a single model,
an ensemble, an EMA copy of the student, or stored targets all answer the
same calls. Teachers that run Keras models in the step derive from
`keras_kd.teachers.LiveTeacher` (live.py), which adds what running a model
needs: the teacher's own inputs, a preprocessor, shape checks.
"""

import inspect
from collections.abc import Callable
from collections.abc import Sequence

import keras
from keras import ops

from keras_kd import checks
from keras_kd import outputs as outputs_lib
from keras_kd.teachers import _inputs as inputs_lib


class Teacher(keras.layers.Layer):
    """Base class of the teachers a `Distiller` learns from.

    A `Teacher` is a Keras layer so that the models it holds are tracked,
    saved and loaded with the `Distiller` (frozen: it is never trainable),
    but it is never called as a layer. The `Distiller` calls:

    1. `bind(student, teacher_layers, teacher_outputs, preprocessor)` once,
       to check the teacher against the student, the layers the losses tap
       and the Distiller's `teacher_preprocessor`: a teacher refuses there,
       with a message that says why, what it cannot do. A preprocessor it
       does not refuse it takes (`self.preprocessor`, as `LiveTeacher.bind`
       does); `bind_teacher`, through which the Distiller calls `bind`,
       refuses one that is dropped;
    2. `split_inputs(x)` and `targets(teacher_inputs)` in every train and
       test step: what the student reads of the batch's `x` and what the
       teacher reads, then the teacher's targets as a nested structure of
       tensors (no gradient flows back through them). A teacher that reads
       stored targets finds them in `x` and hands the student the rest; a
       live teacher (`LiveTeacher`) reads `x`, `x["teacher"]` or
       `teacher_preprocessor(x)` (docs/inputs.md);
    3. `view(targets)` on that structure, to give the losses a
       `keras_kd.losses.ModelOutputs`;
    4. `after_train_step(distiller, step_result)` after the optimizer step,
       in the same traced step (the EMA update);
    5. `get_config()` / `from_config()` to save and load itself, and
       `preprocessor_config()` for the Distiller's own config.

    Subclasses implement `bind`, `forward(inputs)` and `view(targets)`, set
    `kinds` (one of `"logits"` / `"probabilities"` per set of targets) in
    `bind`, and implement `split_inputs` unless the teacher reads what the
    student reads.

    Args:
        **kwargs: Passed to `keras.layers.Layer` (e.g. `name`).
    """

    def __init__(self, **kwargs):
        kwargs.setdefault("trainable", False)
        super().__init__(**kwargs)
        self.kinds = []
        self.built = True

    # -- Set-up ------------------------------------------------------------

    def bind(self, student, teacher_layers, teacher_outputs="auto", preprocessor=None):
        """Checks the teacher against the student and the Distiller's settings.

        Args:
            student: The `Distiller`'s student model.
            teacher_layers: Names of the teacher layers the distillation
                losses read (may be empty).
            teacher_outputs: `"auto"`, `"logits"` or `"probabilities"`.
            preprocessor: The Distiller's `teacher_preprocessor`, or `None`.
        """
        raise NotImplementedError(
            f"{type(self).__name__} must implement `bind(student, "
            "teacher_layers, teacher_outputs, preprocessor)`."
        )

    def feature_shapes(self):
        """`{layer name: shape}` of the tapped layers, batch axis included."""
        return {}

    def check_output_shape(self, student):
        """Raises when the teacher's outputs cannot be compared with the student's.

        Nothing to compare here; teachers that know their output shape check it.
        """
        del student

    def preprocessor_config(self):
        """The config of the teacher's preprocessor for a saved file (`None`: none)."""
        return None

    # -- The step ------------------------------------------------------------

    def split_inputs(self, inputs):
        """`(student inputs, teacher inputs)` of a batch's `x`: here `x` for both.

        Also called on what `predict` and `evaluate` receive; the teacher
        inputs are `None` when the batch holds nothing the teacher can read
        (the `Distiller` then runs the student alone outside training).
        """
        return inputs, inputs

    def forward(self, inputs):
        """The teacher's raw targets for `inputs`: a nested structure of tensors."""
        raise NotImplementedError(f"{type(self).__name__} must implement `forward(inputs)`.")

    def targets(self, inputs):
        """`forward(inputs)`, the gradient stopped on every tensor."""
        return keras.tree.map_structure(ops.stop_gradient, self.forward(inputs))

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
        """The Keras models this teacher runs in the step (none here)."""
        return []


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
    return outputs_lib.probed_output_kind(model)


def bind_teacher(
    teacher: "Teacher",
    student: keras.Model,
    teacher_layers: Sequence[str],
    teacher_outputs: str = "auto",
    preprocessor: "keras.layers.Layer | Callable | None" = None,
) -> None:
    """`teacher.bind(...)`, as the `Distiller` calls it, with the contract checked.

    A teacher written before `bind` took `preprocessor` still binds when
    there is none; given one, it must accept it, and then take it
    (`teacher.preprocessor`, as `LiveTeacher.bind` does) or refuse it by
    raising: a preprocessor received and dropped would never run.

    Args:
        teacher: The `Teacher`.
        student: The `Distiller`'s student.
        teacher_layers: Names of the tapped teacher layers.
        teacher_outputs: `"auto"`, `"logits"` or `"probabilities"`.
        preprocessor: The `Distiller`'s `teacher_preprocessor`, or `None`.

    Raises:
        TypeError: `bind` cannot take the preprocessor.
        ValueError: `bind` took it without keeping or refusing it.
    """
    name = type(teacher).__name__
    if preprocessor is None and not _accepts(teacher.bind, 4):
        # A teacher written against the three-argument bind.
        teacher.bind(student, teacher_layers, teacher_outputs)
        return
    if not _accepts(teacher.bind, 4):
        raise TypeError(
            f"{name}.bind takes no `preprocessor`, but the Distiller received "
            f"teacher_preprocessor={inputs_lib.name_of(preprocessor)!r}. A Teacher's bind is "
            "bind(student, teacher_layers, teacher_outputs='auto', preprocessor=None) "
            "(keras_kd.teachers.Teacher): add the argument, and take it (derive from "
            "keras_kd.teachers.LiveTeacher and call super().bind(...)) or raise a "
            "ValueError that says why this teacher cannot use one."
        )
    teacher.bind(student, teacher_layers, teacher_outputs, preprocessor=preprocessor)
    if preprocessor is not None and getattr(teacher, "preprocessor", None) is not preprocessor:
        raise ValueError(
            f"{name}.bind received teacher_preprocessor={inputs_lib.name_of(preprocessor)!r} "
            "but neither took it (its `preprocessor` is "
            f"{inputs_lib.name_of(getattr(teacher, 'preprocessor', None))!r}) nor refused it: "
            "it would never run. Derive the teacher from keras_kd.teachers.LiveTeacher "
            "and call super().bind(student, teacher_layers, teacher_outputs, "
            "preprocessor) in its bind, or raise a ValueError there if it cannot "
            "use a preprocessor."
        )


def _accepts(method, count):
    """Whether `method` can be called with `count` positional arguments."""
    try:
        inspect.signature(method).bind(*range(count))
    except TypeError:
        return False
    except ValueError:  # No signature to read (a builtin): assume it does.
        return True
    return True
