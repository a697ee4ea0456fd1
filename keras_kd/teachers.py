"""Teachers beyond a single frozen model: ensembles, an EMA self-teacher,
and born-again generations."""

import keras
from keras import ops

from keras_kd import validation


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
            "`teacher` is an empty list. Give one keras.Model, or a list of "
            "at least one."
        )
    for i, teacher in enumerate(teachers):
        validation.check_model(teacher, f"teacher {i}")
    shapes = [validation.output_shape(t) for t in teachers]
    known = {s for s in shapes if s is not None}
    if len(known) > 1:
        listed = ", ".join(
            f"'{t.name}': {(None,) + s if s else 'unknown'}"
            for t, s in zip(teachers, shapes)
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
    if len(teacher_weights) != len(teachers) or any(
        not isinstance(w, (int, float)) or w < 0 for w in teacher_weights
    ) or sum(teacher_weights) <= 0:
        raise ValueError(
            "`teacher_weights` must hold one number >= 0 per teacher, not "
            f"all zero. Received: teacher_weights={teacher_weights!r} for "
            f"{len(teachers)} teachers. Pass e.g. teacher_weights="
            f"{[1.0] * len(teachers)}, or None for equal weights."
        )
    total = float(sum(teacher_weights))
    return [float(w) / total for w in teacher_weights]


@keras.saving.register_keras_serializable(package="keras_kd")
class EMATeacher:
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

    Example:

    >>> distiller = keras_kd.Distiller(
    ...     teacher=keras_kd.teachers.EMATeacher(student, decay=0.99),
    ...     student=student, distillation_loss="kd", alpha=0.5)
    """

    def __init__(self, student, decay=0.999):
        validation.check_model(student, "student")
        if not isinstance(decay, (int, float)) or not 0.0 <= decay < 1.0:
            raise ValueError(
                f"EMATeacher `decay` must be a number in [0, 1). Received: "
                f"decay={decay!r}. Typical values are 0.99 to 0.9999."
            )
        self.decay = float(decay)
        self.source = student
        self.model = keras.models.clone_model(student)
        self.model.set_weights(student.get_weights())
        self.model.name = f"{student.name}_ema"

    @classmethod
    def _from_model(cls, model, decay):
        ema = cls.__new__(cls)
        ema.decay, ema.source, ema.model = float(decay), None, model
        return ema

    def pairs(self, student):
        """`[(teacher variable, student variable)]` of the averaged weights."""
        if self.source is not None and self.source is not student:
            raise ValueError(
                f"This EMATeacher tracks the model '{self.source.name}', but "
                f"the Distiller's student is '{student.name}'. Build the "
                "EMATeacher from the same student object you pass to the "
                "Distiller."
            )
        teacher_weights, student_weights = self.model.weights, student.weights
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

    def get_config(self):
        return {
            "model": keras.saving.serialize_keras_object(self.model),
            "decay": self.decay,
        }

    @classmethod
    def from_config(cls, config):
        model = keras.saving.deserialize_keras_object(config["model"])
        return cls._from_model(model, config["decay"])


def born_again(make_student, teacher, x, y, generations=2, distillation_loss="kd",
               alpha=0.5, compile_kwargs=None, fit_kwargs=None):
    """Born-again networks (Furlanello et al., 2018): students teach students.

    Generation 1 distills `teacher` into a fresh `make_student()`; each later
    generation distills the previous generation's trained student into a new
    one of the same architecture.

    Args:
        make_student: Function returning a new, built, untrained student.
        teacher: The trained first teacher (`keras.Model`).
        x: Training inputs.
        y: Training labels.
        generations: Number of students to train (>= 1).
        distillation_loss: As in `Distiller`.
        alpha: Weight of the hard-label loss, as in `Distiller`.
        compile_kwargs: Passed to `Distiller.compile` (default: Adam and
            sparse categorical cross-entropy on logits, accuracy). An
            optimizer instance is copied, fresh, for each generation.
        fit_kwargs: Passed to `Distiller.fit`.

    Returns:
        The list of trained students, one per generation.

    Example:

    >>> students = keras_kd.teachers.born_again(
    ...     make_student, teacher, x_train, y_train, generations=2,
    ...     fit_kwargs={"epochs": 3, "batch_size": 128})
    """
    from keras_kd.distiller import Distiller  # The Distiller imports us.

    if not isinstance(generations, int) or generations < 1:
        raise ValueError(
            f"`generations` must be an integer >= 1. Received: {generations!r}"
        )
    students = []
    for _ in range(generations):
        distiller = Distiller(
            teacher=teacher, student=make_student(),
            distillation_loss=distillation_loss, alpha=alpha,
        )
        distiller.compile(**_fresh(compile_kwargs or _default_compile()))
        distiller.fit(x, y, **(fit_kwargs or {}))
        teacher = distiller.student
        students.append(teacher)
    return students


def _fresh(compile_kwargs):
    """Compile arguments with a new optimizer: one cannot train two models."""
    compile_kwargs = dict(compile_kwargs)
    optimizer = compile_kwargs.get("optimizer")
    if isinstance(optimizer, keras.optimizers.Optimizer):
        compile_kwargs["optimizer"] = type(optimizer).from_config(optimizer.get_config())
    return compile_kwargs


def _default_compile():
    return {
        "optimizer": "adam",
        "loss": keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        "metrics": ["accuracy"],
    }



def resolve_teacher(teacher, teacher_weights=None, student=None):
    """Splits the `teacher=` argument of the `Distiller` into its parts.

    Args:
        teacher: A `keras.Model`, a list of them (ensemble) or an
            `EMATeacher`.
        teacher_weights: Per-teacher weights of an ensemble, or `None`.
        student: The Distiller's student, which an `EMATeacher` must track.

    Returns:
        `(model or list of models, normalized weights or None, EMATeacher
        or None)`.
    """
    if isinstance(teacher, EMATeacher):
        _no_weights(teacher_weights, "an EMATeacher")
        if student is not None:
            teacher.pairs(student)  # Raises unless it tracks this student.
        return teacher.model, None, teacher
    if isinstance(teacher, (list, tuple)):
        return list(teacher), check_ensemble(teacher, teacher_weights), None
    validation.check_model(teacher, "teacher")
    _no_weights(teacher_weights, "a single teacher")
    return teacher, None, None


def _no_weights(teacher_weights, what):
    if teacher_weights is not None:
        raise ValueError(
            f"`teacher_weights` weighs the teachers of an ensemble, but the "
            f"teacher is {what}. Received: teacher_weights={teacher_weights!r}."
            " Pass teacher=[teacher_1, teacher_2, ...], or drop teacher_weights."
        )


def check_ensemble_taps(teacher_layers):
    """Raises when a loss asks to tap intermediate layers of an ensemble."""
    if teacher_layers:
        raise ValueError(
            "Losses on intermediate teacher layers (requested: "
            f"{list(teacher_layers)}) need one teacher, but the teacher is an "
            "ensemble, whose members' layers do not correspond. Use losses "
            "on the final outputs (SoftTargetKD, DKD, DIST, RKD with "
            "teacher_layer=None) with an ensemble, or distil from one teacher."
        )


def update_ema(distiller, step_result):
    """Moves the distiller's EMA teacher after its optimizer step.

    On TensorFlow and PyTorch the teacher's variables are assigned in place
    (inside the traced step on TensorFlow). On JAX the step is stateless:
    the new values go into the returned state, from which Keras writes them
    back like any non-trainable variable.

    Args:
        distiller: A `Distiller` built with an `EMATeacher`.
        step_result: What the backend's `train_step` returned.

    Returns:
        `step_result`, with the JAX state updated.
    """
    ema = distiller.ema_teacher
    pairs = ema.pairs(distiller.student)
    if keras.backend.backend() != "jax":
        for t, s in pairs:
            t.assign(ema.averaged(t.value, s.value))
        return step_result
    logs, (trainable, non_trainable, *rest) = step_result
    trainable_index = {id(v): i for i, v in enumerate(distiller.trainable_variables)}
    fixed_index = {id(v): i for i, v in enumerate(distiller.non_trainable_variables)}
    updated = list(non_trainable)
    for t, s in pairs:
        if id(s) in trainable_index:
            s_value = trainable[trainable_index[id(s)]]
        else:
            s_value = non_trainable[fixed_index[id(s)]]
        t_i = fixed_index[id(t)]
        updated[t_i] = ema.averaged(non_trainable[t_i], s_value)
    return logs, (trainable, updated, *rest)
