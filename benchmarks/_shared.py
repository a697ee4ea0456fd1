"""What the export and TFMOT benchmarks share: the trained teacher and
distilled student on Fashion-MNIST (cached in `_work/`), and the options
and data that go with them."""

import argparse
import os

import keras

import keras_kd
from keras_kd.apps.data import load_fashion_mnist
from keras_kd.apps.demo import PRESETS
from keras_kd.apps.reference_models import student_cnn
from keras_kd.apps.reference_models import teacher_cnn

# The demo's Fashion-MNIST recipe, so that the exported student is the one
# the demo's table describes.
RECIPE = PRESETS["fashion_mnist"]
HERE = os.path.dirname(os.path.abspath(__file__))
WORK = os.path.join(HERE, "_work")
ROOT = os.path.dirname(HERE)


def pair_parser(description):
    """An argument parser with the options of the shared pair: how many
    training samples and epochs it gets, the seed, and `--quick`."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--train-samples", type=int, default=60000)
    parser.add_argument("--teacher-epochs", type=int, default=RECIPE.teacher_epochs)
    parser.add_argument("--student-epochs", type=int, default=RECIPE.epochs)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="Tiny run to check the script.")
    return parser


def pair_setup(x, x_test, args, student):
    """The opening of a table's setup line: the data and the pair of
    `data_and_pair` (the options of `pair_parser`)."""
    return (
        f"Fashion-MNIST, {len(x):,} training and {len(x_test):,} test images; teacher "
        f"`teacher_cnn` {args.teacher_epochs} epochs; student `student_cnn` "
        f"({student.count_params():,} parameters) distilled {args.student_epochs} epochs "
        f"(SoftTargetKD T={RECIPE.temperature:g}, alpha={RECIPE.alpha:g})"
    )


def data_and_pair(args):
    """`((x, y), (x_test, y_test), (teacher, student))` for the options of
    `pair_parser`: the first `--train-samples` Fashion-MNIST images, the test
    set (its first 1,000 with `--quick`, which also shrinks the training)
    and the pair trained on them, cached."""
    if args.quick:
        args.train_samples, args.teacher_epochs, args.student_epochs = 2000, 1, 1
    (x_train, y_train), (x_test, y_test) = load_fashion_mnist()
    x, y = x_train[: args.train_samples], y_train[: args.train_samples]
    if args.quick:
        x_test, y_test = x_test[:1000], y_test[:1000]
    pair = cached_pair(x, y, args.teacher_epochs, args.student_epochs, args.seed)
    return (x, y), (x_test, y_test), pair


def cached_pair(x, y, teacher_epochs, student_epochs, seed):
    """The trained teacher and distilled student, from `_work/` if trained
    before with the same settings (saves minutes on reruns)."""
    key = (
        f"{keras.backend.backend()}_{len(x)}_{teacher_epochs}_{student_epochs}_{seed}"
        f"_T{RECIPE.temperature}_a{RECIPE.alpha}"
    )
    paths = [os.path.join(WORK, f"tfmot_{role}_{key}.keras") for role in ("teacher", "student")]
    if all(os.path.exists(p) for p in paths):
        print(f"Reusing the teacher and student trained before: {paths}")
        return tuple(keras.saving.load_model(p) for p in paths)
    keras.utils.set_random_seed(seed)
    pair = train_pair(x, y, teacher_epochs, student_epochs)
    os.makedirs(WORK, exist_ok=True)
    for model, path in zip(pair, paths):
        model.save(path)
    return pair


def train_pair(x, y, teacher_epochs, student_epochs):
    """Trains the teacher, then distills the student from it (the demo's
    recipe: Adam 2e-3, batch 128, `RECIPE`'s temperature and alpha)."""
    sparse_ce = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    teacher = teacher_cnn()
    teacher.compile(keras.optimizers.Adam(2e-3), sparse_ce, metrics=["accuracy"])
    teacher.fit(x, y, epochs=teacher_epochs, batch_size=128, verbose=2)
    distiller = keras_kd.Distiller(
        teacher,
        student_cnn(),
        distillation_loss=keras_kd.losses.SoftTargetKD(RECIPE.temperature),
        alpha=RECIPE.alpha,
    )
    distiller.compile(keras.optimizers.Adam(2e-3), sparse_ce, metrics=["accuracy"])
    distiller.fit(x, y, epochs=student_epochs, batch_size=128, verbose=2)
    return teacher, distiller.student
