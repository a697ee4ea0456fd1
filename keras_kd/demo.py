"""The demo: does distillation beat training the same student alone?

Trains a teacher CNN, then the same small student twice with the same
epochs, optimizer and seed, once on the labels alone and once distilled from
the teacher, and reports parameters, size and test accuracy of all three.
"""

import os
import time
from dataclasses import dataclass

import keras
import numpy as np

from keras_kd import data
from keras_kd.distiller import Distiller
from keras_kd.losses.soft_target import SoftTargetKD
from keras_kd.reference_models import student_cnn
from keras_kd.reference_models import teacher_cnn

DATASETS = {
    "fashion_mnist": data.load_fashion_mnist,
    "digits": data.load_digits,
}

# Per dataset: what `run_demo` uses where an argument is left as None. The
# Fashion-MNIST values were chosen on a validation split (the last 10,000
# training images), never on the test set: with T=4, alpha=0.1 or 5 epochs,
# the 27k-parameter student distilled no better than alone; with T=2,
# alpha=0.5 and 12 epochs it gained +0.5 and +1.1 points over two seeds.
PRESETS = {
    "fashion_mnist": dict(epochs=12, teacher_epochs=5, temperature=2.0, alpha=0.5,
                          lr_schedule="constant"),
    "digits": dict(epochs=40, teacher_epochs=40, temperature=4.0, alpha=0.1,
                   lr_schedule="constant"),
}


@dataclass
class DemoRow:
    """One line of the demo's table."""

    model: str
    params: int
    test_accuracy: float
    train_seconds: float

    @property
    def float32_kib(self):
        return self.params * 4 / 1024


def _sparse_ce():
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def _fit_timed(model, *args, **kwargs):
    start = time.perf_counter()
    model.fit(*args, **kwargs)
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
):
    """Runs teacher, student alone and distilled student; returns their rows.

    Args:
        dataset: `"fashion_mnist"` or `"digits"`.
        epochs: Epochs for each student (the same for both).
        teacher_epochs: Epochs for the teacher.
        batch_size: Batch size for every model.
        temperature: Softening temperature of `SoftTargetKD`.
        alpha: Weight of the hard-label loss in distillation.
        (`epochs`, `teacher_epochs`, `temperature` and `alpha` left as None
        take the dataset's values in `PRESETS`.)
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
        verbose: Keras verbosity for `fit`.

    Returns:
        A list of three `DemoRow`s: teacher, student alone, distilled.

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
        raise ValueError(
            f"Unknown dataset {dataset!r}. Choose one of {sorted(DATASETS)}."
        )
    preset = PRESETS[dataset]
    epochs = epochs or preset["epochs"]
    teacher_epochs = teacher_epochs or preset["teacher_epochs"]
    temperature = preset["temperature"] if temperature is None else temperature
    alpha = preset["alpha"] if alpha is None else alpha
    lr_schedule = _check_lr_schedule(lr_schedule or preset["lr_schedule"])
    (x_train, y_train), (x_test, y_test) = DATASETS[dataset]()
    if train_samples:
        x_train, y_train = x_train[:train_samples], y_train[:train_samples]
    scarce = labels is not None
    if scarce:  # checked before minutes of teacher training
        _check_label_count(labels, len(x_train))

    teacher, teacher_time = train_teacher(
        x_train, y_train, teacher_epochs, seed, learning_rate, batch_size, verbose
    )
    alone, alone_time, student, distill_time = train_students(
        teacher, x_train, y_train, epochs, seed, temperature, alpha,
        learning_rate, batch_size, lr_schedule, labels, verbose,
    )  # fmt: skip

    rows = [
        DemoRow("teacher", teacher.count_params(), accuracy(teacher, x_test, y_test), teacher_time),
        DemoRow(f"student alone ({labels:,} labels)" if scarce else "student alone",
                alone.count_params(), accuracy(alone, x_test, y_test), alone_time),
        DemoRow("student distilled (no labels)" if scarce else "student distilled",
                student.count_params(), accuracy(student, x_test, y_test), distill_time),
    ]
    if save_dir:
        os.makedirs(save_dir, exist_ok=True)
        for model in (teacher, alone, student):
            model.save(os.path.join(save_dir, f"{model.name}.keras"))
    return rows


def train_teacher(x, y, epochs, seed=0, learning_rate=2e-3, batch_size=128, verbose="auto"):
    """Trains the demo's `teacher_cnn` on `(x, y)`.

    Args:
        x, y: Training images and integer labels.
        epochs: Training epochs.
        seed: Seed for weights and shuffling.
        learning_rate: Adam learning rate (constant).
        batch_size: Batch size.
        verbose: Keras verbosity for `fit`.

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


def train_students(teacher, x, y, epochs, seed=0, temperature=2.0, alpha=0.5,
                   learning_rate=2e-3, batch_size=128, lr_schedule="constant",
                   labels=None, verbose="auto"):
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
        verbose: Keras verbosity for `fit`.

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

    keras.utils.set_random_seed(seed)
    alone = student_cnn(shape, classes, name="student_alone")
    keras.utils.set_random_seed(seed)
    student = student_cnn(shape, classes, name="student_distilled")
    alone.compile(optimizer(), _sparse_ce())
    what = f" on {labels:,} labeled images" if scarce else ""
    _log(verbose, f"Training the student alone{what} ({alone.count_params():,} parameters)")
    keras.utils.set_random_seed(seed)
    alone_time = _fit_timed(alone, x_alone, y_alone, **fit_args)

    distiller = Distiller(teacher, student, SoftTargetKD(temperature=temperature), alpha=alpha)
    distiller.compile(optimizer(), loss=None if scarce else _sparse_ce())
    what = ", soft targets only, no labels" if scarce else ""
    _log(verbose, f"Distilling the same student (T={temperature}, alpha={alpha}{what})")
    keras.utils.set_random_seed(seed)
    distill_time = _fit_timed(distiller, x, None if scarce else y, **fit_args)
    return alone, alone_time, student, distill_time


def accuracy(model, x, y):
    """Top-1 accuracy of `model` on `(x, y)`, as a float in [0, 1]."""
    predictions = model.predict(x, batch_size=512, verbose=0)
    return float(np.mean(np.argmax(predictions, axis=-1) == y))


def _check_lr_schedule(lr_schedule):
    if lr_schedule not in ("constant", "cosine"):
        raise ValueError(
            f"lr_schedule must be 'constant' or 'cosine'. Received: {lr_schedule!r}"
        )
    return lr_schedule


def _check_label_count(count, num_images):
    if not 0 < count <= num_images:
        raise ValueError(
            f"labels={count} must be between 1 and the number of training "
            f"images ({num_images:,})."
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
