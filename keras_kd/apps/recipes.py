"""Ready training recipes built from the library's parts."""

import keras

from keras_kd.checks import check_number
from keras_kd.checks import is_integer
from keras_kd.checks import is_real_number
from keras_kd.classification import compile_classifier
from keras_kd.distiller import Distiller
from keras_kd.losses.soft_target import SoftTargetKD
from keras_kd.teachers.cache import TeacherCache

__all__ = ["born_again", "function_matching", "function_matching_augmentation", "patient_schedule"]


def born_again(
    make_student,
    teacher,
    x,
    y,
    generations=2,
    distillation_loss="kd",
    alpha=0.5,
    compile_kwargs=None,
    fit_kwargs=None,
):
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
        compile_kwargs: Passed to `Distiller.compile` (default:
            `keras_kd.classification.compile_classifier`: Adam, sparse
            categorical cross-entropy read from the student's head, accuracy). An
            optimizer instance is copied, fresh, for each generation.
        fit_kwargs: Passed to `Distiller.fit`.

    Returns:
        The list of trained students, one per generation.

    Example:

    >>> students = keras_kd.apps.recipes.born_again(
    ...     make_student, teacher, x_train, y_train, generations=2,
    ...     fit_kwargs={"epochs": 1, "batch_size": 128, "verbose": 0})
    >>> len(students)
    2
    """
    if not is_integer(generations) or generations < 1:
        raise ValueError(f"`generations` must be an integer >= 1. Received: {generations!r}")
    students = []
    for _ in range(int(generations)):
        distiller = Distiller(
            teacher=teacher,
            student=make_student(),
            distillation_loss=distillation_loss,
            alpha=alpha,
        )
        if compile_kwargs is None:
            compile_classifier(distiller)
        else:
            distiller.compile(**_fresh(compile_kwargs))
        distiller.fit(x, y, **(fit_kwargs or {}))
        teacher = distiller.student
        students.append(teacher)
    return students


def function_matching(
    teacher,
    student,
    mixup_alpha=0.2,
    translation=0.1,
    flip="horizontal",
    temperature=1.0,
    distillation_loss=None,
    seed=None,
):
    """Function matching (Beyer et al., 2022): a consistent, patient teacher.

    "Knowledge distillation: A good teacher is patient and consistent"
    trains the student on the teacher's outputs alone (`alpha=0`, KL
    divergence at temperature 1), with the teacher and the student shown
    the *same* aggressively augmented view of every image (mixup included),
    for many epochs. The views are made inside the training step
    (`Distiller(augmentation=...)`), so the teacher is run on each new view
    and the student matches the teacher's function around the data, not
    only on the training images. Train it long: see `patient_schedule`.

    From a cache with views the teacher runs once: write
    `TeacherCache.write(teacher, x, directory, augmentation=
    function_matching_augmentation(...), views=E, seed=s)`, pass the cache
    as `teacher`, and train on `cache.dataset(x, y, ...)`: epoch `e` replays
    view `e mod E` of every image with the teacher's targets for it (the
    views are in the data, so the returned Distiller has no augmentation).

    The augmentation here suits small images such as Fashion-MNIST (the
    paper's inception crops are for ImageNet-sized ones): a random
    horizontal flip, a random translation and mixup; pass your own list to
    `Distiller(augmentation=...)` for other data.

    Args:
        teacher: The trained teacher: a `keras.Model`, a list of them, a
            live `keras_kd.teachers.Teacher`, or a `TeacherCache` written
            with views (then the augmentation arguments are unused).
        student: The student `keras.Model`, with the teacher's output shape.
        mixup_alpha: Strength of `keras.layers.MixUp` (in (0, 1]); `None`
            leaves mixup out.
        translation: Fraction of the height and width of a random
            translation (`keras.layers.RandomTranslation`); `None` or 0
            leaves it out.
        flip: `"horizontal"`, `"vertical"`, `"horizontal_and_vertical"`
            (`keras.layers.RandomFlip`), or `None`.
        temperature: Of the default `SoftTargetKD` loss (the paper: 1).
        distillation_loss: Any distillation loss (`Distiller`'s argument);
            defaults to `SoftTargetKD(temperature)`.
        seed: Integer seed of the augmentation layers (each gets its own,
            derived from it), for reproducible views; `None` for unseeded.

    Returns:
        A `keras_kd.Distiller` with `alpha=0` and the augmentation, to be
        compiled (e.g. with `keras.optimizers.Adam(patient_schedule(...))`).

    Example:

    >>> distiller = keras_kd.apps.recipes.function_matching(teacher, student, seed=0)
    >>> [type(layer).__name__ for layer in distiller.augmentation]
    ['RandomFlip', 'RandomTranslation', 'MixUp']
    >>> distiller.compile(optimizer=keras.optimizers.Adam(
    ...     keras_kd.apps.recipes.patient_schedule(2e-3, epochs=2, steps_per_epoch=2)))
    >>> history = distiller.fit(x_train, y_train, epochs=2, batch_size=16, verbose=0)
    """
    loss = distillation_loss or SoftTargetKD(temperature=temperature)
    if isinstance(teacher, TeacherCache):
        if not teacher.manifest.get("views"):
            raise ValueError(
                f"function_matching needs the teacher's targets for augmented "
                f"views, but the TeacherCache in {teacher.directory} holds the "
                "clean images' targets. Write it with views: TeacherCache.write("
                "teacher, x, directory, augmentation=keras_kd.apps.recipes."
                "function_matching_augmentation(seed=0), views=8), or pass the "
                "live teacher."
            )
        return Distiller(teacher=teacher, student=student, distillation_loss=loss, alpha=0.0)
    return Distiller(
        teacher=teacher,
        student=student,
        distillation_loss=loss,
        alpha=0.0,
        augmentation=function_matching_augmentation(mixup_alpha, translation, flip, seed),
    )


def function_matching_augmentation(mixup_alpha=0.2, translation=0.1, flip="horizontal", seed=None):
    """The layers `function_matching` augments with, in the order they run.

    Args:
        mixup_alpha: Strength of `keras.layers.MixUp`, or `None` for none.
        translation: Fraction of a `keras.layers.RandomTranslation`, or
            `None` / 0 for none.
        flip: Mode of a `keras.layers.RandomFlip`, or `None` for none.
        seed: Integer seed; layer `i` gets `seed + i`. `None`: unseeded.

    Returns:
        A list of Keras layers (the same list serves `Distiller(augmentation=...)`
        and a student trained alone on the same views).

    Example:

    >>> layers = keras_kd.apps.recipes.function_matching_augmentation(mixup_alpha=None, seed=0)
    >>> [(type(layer).__name__, layer.seed) for layer in layers]
    [('RandomFlip', 0), ('RandomTranslation', 1)]
    """
    if seed is not None and not is_integer(seed):
        raise ValueError(f"`seed` must be an integer or None. Received: seed={seed!r}")
    seed = None if seed is None else int(seed)
    makers = []
    if flip:
        makers.append(lambda s: keras.layers.RandomFlip(flip, seed=s))
    if translation:
        makers.append(
            lambda s: keras.layers.RandomTranslation(
                translation, translation, fill_mode="constant", seed=s
            )
        )
    if mixup_alpha:
        if not (is_real_number(mixup_alpha) and 0 < mixup_alpha <= 1):
            raise ValueError(
                "`mixup_alpha` is the strength of keras.layers.MixUp, in (0, 1], "
                f"or None for no mixup. Received: mixup_alpha={mixup_alpha!r}"
            )
        makers.append(lambda s: keras.layers.MixUp(alpha=mixup_alpha, seed=s))
    return [make(None if seed is None else seed + i) for i, make in enumerate(makers)]


def patient_schedule(learning_rate, epochs, steps_per_epoch, warmup_epochs=0):
    """A cosine-decay learning rate for long ("patient") training.

    Function matching keeps improving for many epochs; the paper trains with
    a linear warm-up and a cosine decay to zero over the whole run. This is
    `keras.optimizers.schedules.CosineDecay` set up in epochs.

    Args:
        learning_rate: The peak learning rate.
        epochs: Epochs of the whole run (warm-up included).
        steps_per_epoch: Batches per epoch (`ceil(samples / batch_size)`).
        warmup_epochs: Epochs of linear warm-up from 0 to `learning_rate`.

    Returns:
        A `keras.optimizers.schedules.CosineDecay`, for any optimizer's
        `learning_rate`.

    Example:

    >>> schedule = keras_kd.apps.recipes.patient_schedule(1e-3, epochs=10, steps_per_epoch=100)
    >>> [round(float(schedule(step)), 6) for step in (0, 500, 1000)]
    [0.001, 0.0005, 0.0]
    """
    learning_rate = check_number(
        "patient_schedule",
        "learning_rate",
        learning_rate,
        0,
        low_inclusive=False,
        role="is the peak learning rate and",
    )
    for name, value in (("epochs", epochs), ("steps_per_epoch", steps_per_epoch)):
        if not is_integer(value) or value < 1:
            raise ValueError(f"`{name}` must be an integer >= 1. Received: {name}={value!r}")
    epochs, steps_per_epoch = int(epochs), int(steps_per_epoch)
    if not (is_real_number(warmup_epochs) and 0 <= warmup_epochs < epochs):
        raise ValueError(
            f"`warmup_epochs` must be >= 0 and less than epochs={epochs}. "
            f"Received: warmup_epochs={warmup_epochs!r}"
        )
    warmup_steps = int(warmup_epochs * steps_per_epoch)
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=0.0 if warmup_steps else learning_rate,
        decay_steps=epochs * steps_per_epoch - warmup_steps,
        warmup_target=learning_rate if warmup_steps else None,
        warmup_steps=warmup_steps,
    )


def _fresh(compile_kwargs):
    """Compile arguments with a new optimizer: one cannot train two models."""
    compile_kwargs = dict(compile_kwargs)
    optimizer = compile_kwargs.get("optimizer")
    if isinstance(optimizer, keras.optimizers.Optimizer):
        compile_kwargs["optimizer"] = type(optimizer).from_config(optimizer.get_config())
    return compile_kwargs
