"""A teacher on 28x28 images teaches a student that sees 14x14 ones.

Fashion-MNIST at full resolution for the teacher; the same images averaged
2x2 (4x fewer pixels) for the student. The student is trained three ways from
the same starting weights:

1. alone, on the 14x14 images and the labels;
2. distilled, each model reading its own images:
   `distiller.fit({"teacher": x_28, "student": x_14}, y)`;
3. distilled from the 14x14 images alone, the teacher's inputs made in the
   step: `Distiller(..., teacher_preprocessor=keras.layers.Resizing(28, 28))`.

Then the distilled student predicts from 14x14 images alone, and the
Distiller (preprocessor included) and the student are saved and reloaded.
See docs/inputs.md; `benchmarks/inputs.py` measures this over three seeds.

Usage:

    KERAS_BACKEND=jax python examples/teacher_inputs.py
    python examples/teacher_inputs.py --quick     # seconds, for tests
"""

import argparse
import os
import tempfile

import keras
import numpy as np

import keras_kd
from keras_kd.apps.data import load_fashion_mnist


def half_resolution(x):
    """2x2 average pooling of `(n, 28, 28, 1)` images: `(n, 14, 14, 1)`."""
    n, h, w, c = x.shape
    return x.reshape(n, h // 2, 2, w // 2, 2, c).mean(axis=(2, 4)).astype("float32")


def mlp(side, units, name):
    return keras.Sequential(
        [
            keras.Input((side, side, 1)),
            keras.layers.Flatten(),
            keras.layers.Dense(units, activation="relu"),
            keras.layers.Dense(10),
        ],
        name=name,
    )


def sparse_ce():
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def outputs(model, x):
    return keras.ops.convert_to_numpy(model(x, training=False))


def accuracy(model, x, y):
    return float(np.mean(np.argmax(outputs(model, x), -1) == y))


def distil(teacher, student, x, y, epochs, preprocessor=None):
    distiller = keras_kd.Distiller(
        teacher,
        student,
        keras_kd.losses.SoftTargetKD(2.0),
        alpha=0.5,
        teacher_preprocessor=preprocessor,
    )
    distiller.compile(keras.optimizers.Adam(2e-3), sparse_ce())
    distiller.fit(x, y, epochs=epochs, batch_size=128, verbose=0)
    return distiller


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-samples", type=int, default=20000)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="A smoke run of a few seconds.")
    parser.add_argument("--out", default=None, help="Folder of the saved files.")
    args = parser.parse_args(argv)
    if args.quick:
        args.train_samples, args.epochs = 1000, 1
    (x_train, y_train), (x_test, y_test) = load_fashion_mnist()
    x_28, y = x_train[: args.train_samples], y_train[: args.train_samples]
    if args.quick:
        x_test, y_test = x_test[:500], y_test[:500]
    x_14, x_test_14 = half_resolution(x_28), half_resolution(x_test)

    keras.utils.set_random_seed(0)
    teacher = mlp(28, 256, "teacher")
    teacher.compile(keras.optimizers.Adam(2e-3), sparse_ce())
    teacher.fit(x_28, y, epochs=args.epochs, batch_size=128, verbose=0)
    initial = mlp(14, 32, "student").get_weights()

    def student(name):
        model = mlp(14, 32, name)
        model.set_weights(initial)
        return model

    alone = student("alone")
    alone.compile(keras.optimizers.Adam(2e-3), sparse_ce())
    alone.fit(x_14, y, epochs=args.epochs, batch_size=128, verbose=0)
    by_dict = distil(teacher, student("dict"), {"teacher": x_28, "student": x_14}, y, args.epochs)
    by_resizing = distil(
        teacher, student("resizing"), x_14, y, args.epochs, keras.layers.Resizing(28, 28)
    )
    print(f"teacher on 28x28 test images: {accuracy(teacher, x_test, y_test):.4f}")
    print("| student (14x14 inputs) | test accuracy |\n|---|---:|")
    for name, model in (
        ("alone", alone),
        ("distilled, dict form", by_dict.student),
        ("distilled, Resizing(28, 28)", by_resizing.student),
    ):
        print(f"| {name} | {accuracy(model, x_test_14, y_test):.4f} |")

    # The Distiller (predict, or a call) takes the student's inputs alone;
    # so does the saved student.
    out = args.out or tempfile.mkdtemp()
    by_resizing.save(os.path.join(out, "distiller.keras"))
    by_resizing.student.save(os.path.join(out, "student.keras"))
    reloaded = keras.saving.load_model(os.path.join(out, "distiller.keras"))
    saved_student = keras.saving.load_model(os.path.join(out, "student.keras"))
    expected = outputs(by_resizing, x_test_14)
    gap = max(
        float(np.max(np.abs(outputs(reloaded, x_test_14) - expected))),
        float(np.max(np.abs(outputs(saved_student, x_test_14) - expected))),
    )
    print(
        f"reloaded distiller ({type(reloaded.teacher.preprocessor).__name__} "
        f"preprocessor) and saved student vs the trained one: {gap:.2e}"
    )


if __name__ == "__main__":
    main()
