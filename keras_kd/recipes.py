"""Ready training recipes built from the library's parts."""

import keras

from keras_kd.distiller import Distiller

__all__ = ["born_again"]


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

    >>> students = keras_kd.recipes.born_again(
    ...     make_student, teacher, x_train, y_train, generations=2,
    ...     fit_kwargs={"epochs": 1, "batch_size": 128, "verbose": 0})
    >>> len(students)
    2
    """
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
