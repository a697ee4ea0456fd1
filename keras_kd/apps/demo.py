"""The demo: does distillation beat training the same student alone?

Trains a teacher CNN, then the same small student twice with the same
epochs, optimizer and seed, once on the labels alone and once distilled from
the teacher, and reports parameters, size and test accuracy of all three.
"""

import dataclasses
import os
import time
from dataclasses import dataclass
from dataclasses import field

import keras
import numpy as np

from keras_kd.apps import comparison
from keras_kd.apps import data
from keras_kd.apps.reference_models import student_cnn
from keras_kd.apps.reference_models import teacher_cnn
from keras_kd.distiller import Distiller
from keras_kd.losses.soft_target import SoftTargetKD

DATASETS = {
    "fashion_mnist": data.load_fashion_mnist,
    "digits": data.load_digits,
}


@dataclass(frozen=True)
class Preset:
    """A dataset's demo settings: what `run_demo` uses where an argument is None.

    Attributes:
        epochs: Epochs for each student (the same for both).
        teacher_epochs: Epochs for the teacher.
        temperature: Softening temperature of `SoftTargetKD`.
        alpha: Weight of the hard-label loss in distillation.
        lr_schedule: `"constant"` or `"cosine"`, for both students.
        student_width: Filters of the student's first convolution
            (`reference_models.student_cnn`).

    Example:

    >>> PRESETS["digits"].temperature
    4.0
    >>> dataclasses.replace(PRESETS["digits"], epochs=2).epochs
    2
    """

    epochs: int
    teacher_epochs: int
    temperature: float
    alpha: float
    lr_schedule: str
    student_width: int


# Per dataset: what `run_demo` uses where an argument is left as None. The
# Fashion-MNIST values were chosen on a validation split (the last 10,000
# training images), never on the test set: with T=4, alpha=0.1 or 5 epochs,
# the 27k-parameter student distilled no better than alone; with T=2,
# alpha=0.5 and 12 epochs it gained +0.5 and +1.1 points over two seeds.
PRESETS: dict[str, Preset] = {
    "fashion_mnist": Preset(
        epochs=12,
        teacher_epochs=5,
        temperature=2.0,
        alpha=0.5,
        lr_schedule="constant",
        student_width=8,
    ),
    "digits": Preset(
        epochs=40,
        teacher_epochs=40,
        temperature=4.0,
        alpha=0.1,
        lr_schedule="constant",
        student_width=8,
    ),
}

# The share of the training set that `holdout="validation"` sets aside.
VALIDATION_FRACTION = 0.2


@dataclass
class DemoRow:
    """One line of the demo's table."""

    model: str
    params: int
    test_accuracy: float
    train_seconds: float
    probabilities: np.ndarray = field(default=None, repr=False, compare=False)

    @property
    def float32_kib(self):
        return self.params * 4 / 1024


def _sparse_ce():
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True)


class EpochProgress(keras.callbacks.Callback):
    """One progress bar for a whole `fit`, advanced once per epoch.

    The bar is redrawn in place, so a model's training takes one line
    instead of Keras' one line per epoch; it shows the last epoch's logs.

    Args:
        epochs: The number of epochs `fit` runs.

    Example:

    >>> model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(),
    ...                           keras.layers.Dense(10)])
    >>> model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    >>> _ = model.fit(x, y, epochs=2, verbose=0, callbacks=[EpochProgress(2)])
    """

    def __init__(self, epochs):
        super().__init__()
        self.epochs = epochs
        self.bar = None

    def on_train_begin(self, logs=None):
        # Every value shown as it is (an epoch's mean), not averaged again.
        self.bar = keras.utils.Progbar(self.epochs, unit_name="epoch", stateless_metrics=[])

    def on_epoch_end(self, epoch, logs=None):
        values = [(name, float(value)) for name, value in (logs or {}).items()]
        self.bar.update(epoch + 1, values=values)


def _fit_timed(model, *args, verbose="auto", epochs=1, **kwargs):
    """`model.fit`, with `EpochProgress` unless `verbose` is 0; its seconds."""
    callbacks = [] if verbose == 0 else [EpochProgress(epochs)]
    start = time.perf_counter()
    model.fit(*args, epochs=epochs, verbose=0, callbacks=callbacks, **kwargs)
    return time.perf_counter() - start


def run_demo(
    dataset="fashion_mnist",
    epochs=None,
    teacher_epochs=None,
    batch_size=128,
    temperature=None,
    alpha=None,
    learning_rate=2e-3,
    lr_schedule=None,
    seed=0,
    train_samples=None,
    labels=None,
    save_dir=None,
    verbose="auto",
    student_width=None,
    holdout="test",
    report_dir=None,
):
    """Runs teacher, student alone and distilled student; returns their rows.

    Args:
        dataset: `"fashion_mnist"` or `"digits"`.
        epochs: Epochs for each student (the same for both).
        teacher_epochs: Epochs for the teacher.
        batch_size: Batch size for every model.
        temperature: Softening temperature of `SoftTargetKD`.
        alpha: Weight of the hard-label loss in distillation.
        (`epochs`, `teacher_epochs`, `temperature`, `alpha` and
        `student_width` left as None take the dataset's values in `PRESETS`.)
        learning_rate: Adam learning rate for every model.
        lr_schedule: For both students, `"constant"` or `"cosine"` (decays
            to zero over the training steps); None takes the preset's.
        seed: Seed for weights and shuffling; both students start from the
            same initial weights.
        train_samples: Optional cap on the number of training images.
        labels: If given, the scarce-label case: the student alone learns
            from the labels of only this many training images (drawn at
            random with `seed`, repeated to the full training set's length
            so that both students take the same number of steps), and the
            distilled student from the teacher's soft targets on every
            training image, without any labels (`alpha=0`). The teacher is
            trained on all labels, like a model someone else trained.
        save_dir: If given, the three models are saved there as `.keras`.
        verbose: 0 prints nothing; anything else prints one line per model
            and one progress bar per model, advanced once per epoch.
        student_width: Filters of the student's first convolution
            (`student_cnn(width=...)`).
        holdout: `"test"` measures every model on the test set;
            `"validation"` sets aside `VALIDATION_FRACTION` of the training
            set (the same images for every seed), trains on the rest and
            measures there, never touching the test set: settings are
            chosen this way.
        report_dir: If given, `keras_kd.apps.comparison.write_comparison` writes
            `comparison.md`, `.html` and `.png` there: per-class accuracy,
            agreement with the teacher and calibration of the three models.

    Returns:
        A list of three `DemoRow`s: teacher, student alone, distilled; each
        holds its model's class probabilities on the held-out images
        (`row.probabilities`), for `keras_kd.apps.comparison`.

    Example:

    >>> rows = run_demo("digits", epochs=1, teacher_epochs=1,
    ...                 train_samples=256, verbose=0)
    >>> [row.model for row in rows]
    ['teacher', 'student alone', 'student distilled']
    >>> print(format_table(rows))
    | model | parameters | float32 size | test accuracy | train time |
    ...
    """
    if dataset not in DATASETS:
        raise ValueError(f"Unknown dataset {dataset!r}. Choose one of {sorted(DATASETS)}.")
    if holdout not in ("test", "validation"):
        raise ValueError(f"holdout must be 'test' or 'validation'. Received: {holdout!r}")
    settings = _settings(
        dataset,
        epochs=epochs,
        teacher_epochs=teacher_epochs,
        temperature=temperature,
        alpha=alpha,
        lr_schedule=lr_schedule,
        student_width=student_width,
    )
    _check_lr_schedule(settings.lr_schedule)
    (x_train, y_train), (x_test, y_test) = DATASETS[dataset]()
    if holdout == "validation":
        (x_train, y_train), (x_test, y_test) = validation_split(x_train, y_train)
    if train_samples:
        x_train, y_train = x_train[:train_samples], y_train[:train_samples]
    scarce = labels is not None
    if scarce:  # checked before minutes of teacher training
        _check_label_count(labels, len(x_train))

    teacher, teacher_time = train_teacher(
        x_train, y_train, settings.teacher_epochs, seed, learning_rate, batch_size, verbose
    )
    alone, alone_time, student, distill_time = train_students(
        teacher,
        x_train,
        y_train,
        settings.epochs,
        seed,
        settings.temperature,
        settings.alpha,
        learning_rate,
        batch_size,
        settings.lr_schedule,
        labels,
        verbose,
        settings.student_width,
    )
    names = [
        "teacher",
        f"student alone ({labels:,} labels)" if scarce else "student alone",
        "student distilled (no labels)" if scarce else "student distilled",
    ]
    models = (teacher, alone, student)
    seconds = (teacher_time, alone_time, distill_time)
    rows = []
    for name, model, time_taken in zip(names, models, seconds):
        probabilities = comparison.predict_probabilities(model, x_test)
        rows.append(
            DemoRow(
                name,
                model.count_params(),
                comparison.accuracy(probabilities, y_test),
                time_taken,
                probabilities,
            )
        )
    if save_dir:
        os.makedirs(save_dir, exist_ok=True)
        for model in models:
            model.save(os.path.join(save_dir, f"{model.name}.keras"))
    if report_dir:
        write_report(rows, y_test, report_dir, dataset, holdout)
    return rows


CLASS_NAMES = {"fashion_mnist": data.FASHION_MNIST_CLASSES, "digits": None}
REPORT_FILES = tuple(comparison.FILE_NAMES.values())


def write_report(rows, y, directory, dataset="digits", holdout="test"):
    """Writes the comparison of the demo's three models in `directory`.

    Args:
        rows: `run_demo`'s rows (they hold each model's probabilities).
        y: The labels of the images the probabilities are on.
        directory: Where `comparison.md`, `.html` and `.png` go.
        dataset: The dataset's name, for the caption and class names.
        holdout: `"test"` or `"validation"`: which images, for the caption.

    Returns:
        `{"markdown": path, "html": path, "figure": path}`.
    """
    comparison_ = comparison.compare(
        {row.model: row.probabilities for row in rows}, y, CLASS_NAMES[dataset]
    )
    caption = f"keras-kd demo on {dataset} ({holdout} images, Keras {keras.backend.backend()})."
    return comparison.write_comparison(comparison_, directory, caption=caption)


def _settings(dataset, **given):
    """The dataset's preset, with the values given (not None) in its place."""
    given = {name: value for name, value in given.items() if value is not None}
    return dataclasses.replace(PRESETS[dataset], **given)


def validation_split(x, y, fraction=VALIDATION_FRACTION):
    """Sets aside `fraction` of a training set, the same images every time.

    Args:
        x, y: Training images and labels.
        fraction: Share held out, drawn at random with a fixed seed.

    Returns:
        `((x_fit, y_fit), (x_validation, y_validation))`.

    Example:

    >>> (x_fit, y_fit), (x_val, y_val) = validation_split(np.zeros((10, 2)), np.arange(10))
    >>> len(x_fit), len(x_val), sorted(np.concatenate([y_fit, y_val]).tolist()) == list(range(10))
    (8, 2, True)
    """
    order = np.random.default_rng(1234).permutation(len(x))
    held = int(round(len(x) * fraction))
    fit, validation = order[held:], order[:held]
    return (x[fit], y[fit]), (x[validation], y[validation])


def train_teacher(x, y, epochs, seed=0, learning_rate=2e-3, batch_size=128, verbose="auto"):
    """Trains the demo's `teacher_cnn` on `(x, y)`.

    Args:
        x, y: Training images and integer labels.
        epochs: Training epochs.
        seed: Seed for weights and shuffling.
        learning_rate: Adam learning rate (constant).
        batch_size: Batch size.
        verbose: 0 for silence, else one progress bar (see `run_demo`).

    Returns:
        `(teacher, training seconds)`; the teacher outputs logits.

    Example:

    >>> teacher, seconds = train_teacher(x_train, y_train, epochs=1, verbose=0)
    >>> teacher.count_params()  # teacher_cnn, on 28x28 images and 10 classes
    390410
    """
    keras.utils.set_random_seed(seed)
    teacher = teacher_cnn(x.shape[1:], int(y.max()) + 1)
    teacher.compile(keras.optimizers.Adam(learning_rate), _sparse_ce())
    _log(verbose, f"Training the teacher ({teacher.count_params():,} parameters)")
    seconds = _fit_timed(teacher, x, y, epochs=epochs, batch_size=batch_size, verbose=verbose)
    return teacher, seconds


def train_students(
    teacher,
    x,
    y,
    epochs,
    seed=0,
    temperature=2.0,
    alpha=0.5,
    learning_rate=2e-3,
    batch_size=128,
    lr_schedule="constant",
    labels=None,
    verbose="auto",
    student_width=8,
):
    """Trains the same `student_cnn` alone and distilled from `teacher`.

    Both students start from the same weights and see the same number of
    steps with the same optimizer, learning-rate schedule and seed.

    Args:
        teacher: A trained Keras model that outputs logits or probabilities.
        x, y: Training images and integer labels.
        epochs: Epochs for each student.
        seed: Seed for weights and shuffling.
        temperature: Softening temperature of `SoftTargetKD`.
        alpha: Weight of the hard-label loss in distillation.
        learning_rate: Adam's (initial) learning rate.
        batch_size: Batch size.
        lr_schedule: `"constant"` or `"cosine"` (decay to zero).
        labels: If given, the student alone learns from only this many
            labeled images and the distilled one from soft targets alone
            (see `run_demo`).
        verbose: 0 for silence, else one progress bar per student.
        student_width: Filters of the student's first convolution.

    Returns:
        `(student alone, its seconds, distilled student, its seconds)`.

    Example:

    >>> alone, _, distilled, _ = train_students(teacher, x_train, y_train, 1, verbose=0)
    >>> alone.count_params() == distilled.count_params()
    True
    """
    _check_lr_schedule(lr_schedule)
    shape, classes = x.shape[1:], int(y.max()) + 1
    fit_args = dict(batch_size=batch_size, verbose=verbose, epochs=epochs)
    steps = epochs * -(-len(x) // batch_size)
    scarce = labels is not None
    x_alone, y_alone = _few_labels(x, y, labels, seed) if scarce else (x, y)
    alpha = 0.0 if scarce else alpha

    def optimizer():
        rate = learning_rate
        if lr_schedule == "cosine":
            rate = keras.optimizers.schedules.CosineDecay(learning_rate, steps)
        return keras.optimizers.Adam(rate)

    def student(name):
        keras.utils.set_random_seed(seed)
        return student_cnn(shape, classes, width=student_width, name=name)

    alone, distilled = student("student_alone"), student("student_distilled")
    alone.compile(optimizer(), _sparse_ce())
    what = f" on {labels:,} labeled images" if scarce else ""
    _log(verbose, f"Training the student alone{what} ({alone.count_params():,} parameters)")
    keras.utils.set_random_seed(seed)
    alone_time = _fit_timed(alone, x_alone, y_alone, **fit_args)

    distiller = Distiller(teacher, distilled, SoftTargetKD(temperature=temperature), alpha=alpha)
    distiller.compile(optimizer(), loss=None if scarce else _sparse_ce())
    what = ", soft targets only, no labels" if scarce else ""
    _log(verbose, f"Distilling the same student (T={temperature:g}, alpha={alpha:g}{what})")
    keras.utils.set_random_seed(seed)
    distill_time = _fit_timed(distiller, x, None if scarce else y, **fit_args)
    return alone, alone_time, distilled, distill_time


def accuracy(model, x, y):
    """Top-1 accuracy of `model` on `(x, y)`, as a float in [0, 1]."""
    return comparison.accuracy(model.predict(x, batch_size=512, verbose=0), y)


def _check_lr_schedule(lr_schedule):
    if lr_schedule not in ("constant", "cosine"):
        raise ValueError(f"lr_schedule must be 'constant' or 'cosine'. Received: {lr_schedule!r}")
    return lr_schedule


def _check_label_count(count, num_images):
    if not 0 < count <= num_images:
        raise ValueError(
            f"labels={count} must be between 1 and the number of training images ({num_images:,})."
        )


def _few_labels(x, y, count, seed):
    """`count` labeled examples drawn at random, repeated to `len(x)`."""
    _check_label_count(count, len(x))
    chosen = np.random.default_rng(seed).permutation(len(x))[:count]
    repeated = np.resize(chosen, len(x))
    return x[repeated], y[repeated]


def _log(verbose, message):
    if verbose != 0:
        print(f"\n== {message}", flush=True)


def format_table(rows):
    """Renders demo rows as a Markdown table."""
    lines = [
        "| model | parameters | float32 size | test accuracy | train time |",
        "|---|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row.model} | {row.params:,} | {row.float32_kib:,.1f} KiB | "
            f"{100 * row.test_accuracy:.2f}% | {row.train_seconds:.0f} s |"
        )
    alone, distilled = rows[1].test_accuracy, rows[2].test_accuracy
    lines.append("")
    lines.append(
        f"Distillation changed the student's test accuracy by "
        f"{100 * (distilled - alone):+.2f} points "
        f"({rows[0].params / rows[2].params:.0f}x fewer parameters than the teacher)."
    )
    return "\n".join(lines)
