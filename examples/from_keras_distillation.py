"""Code written for `keras.distillation`, run on `keras_kd.Distiller`.

The function `distill` below is written for Keras 3.15's own distillation API
(`keras.distillation.Distiller` with `LogitsDistillation` and
`FeatureDistillation`). It runs twice, unchanged, with each `Distiller`
class: only the class differs, as it would by changing one import

    from keras.distillation import Distiller   # Keras' own
    from keras_kd import Distiller             # keras-kd

and the script prints both students' test accuracy beside the student
trained alone. On scikit-learn's 8x8 digits: a 64-feature MLP teacher, a
smaller MLP student, the same seed and epochs for every student. What differs
between the two Distillers, and why, is in docs/migrating.md: keras-kd maps
`LogitsDistillation`'s default `"kl_divergence"` onto Hinton's
`T^2 * KL(softmax(t/T) || softmax(s/T))`; Keras 3.15 applies `kl_divergence`
to the temperature-scaled logits themselves, without a softmax.

The script also shows the one change keras-kd asks of such code: a hard
loss given by name (`loss="sparse_categorical_crossentropy"`, which means
`from_logits=False`) on a student that outputs logits is refused at
`compile()`, with the loss to use instead.

Usage:

    python examples/from_keras_distillation.py            # about 20 s of CPU time
    python examples/from_keras_distillation.py --quick    # seconds (a test)
"""

import argparse

import keras
import numpy as np
from sklearn.datasets import load_digits

import keras_kd

LogitsDistillation = keras.distillation.LogitsDistillation
FeatureDistillation = keras.distillation.FeatureDistillation


def mlp(widths, name):
    """Dense layers on the 64 pixels; the last hidden one is named "features"."""
    inputs = keras.Input((64,))
    x = inputs
    for i, width in enumerate(widths):
        layer_name = "features" if i == len(widths) - 1 else None
        x = keras.layers.Dense(width, activation="relu", name=layer_name)(x)
    return keras.Model(inputs, keras.layers.Dense(10, name="logits")(x), name=name)


def distill(Distiller, teacher, student, x, y, epochs, loss=None):
    """Distillation as written for `keras.distillation` (Keras 3.15)."""
    distiller = Distiller(
        teacher=teacher,
        student=student,
        distillation_losses=[
            LogitsDistillation(temperature=4.0),
            FeatureDistillation(
                loss="mse",
                teacher_layer_name="features",
                student_layer_name="features",
            ),
        ],
        distillation_loss_weights=[1.0, 0.1],
        student_loss_weight=0.5,
    )
    distiller.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=loss or keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    history = distiller.fit(x, y, epochs=epochs, batch_size=64, verbose=0)
    return distiller.student, history.history


def accuracy(model, x, y):
    return float((model.predict(x, verbose=0).argmax(-1) == y).mean())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="A tiny run, to check the script.")
    args = parser.parse_args()
    epochs = 2 if args.quick else args.epochs

    digits = load_digits()
    x = (digits.data / 16.0).astype("float32")
    y = digits.target.astype("int32")
    order = np.random.default_rng(args.seed).permutation(len(x))
    train, test = order[:1347], order[1347:]
    print(
        f"Keras {keras.__version__}, backend {keras.backend.backend()}, "
        f"{len(train)} training and {len(test)} test digits"
    )

    keras.utils.set_random_seed(args.seed)
    teacher = mlp([256, 64], "teacher")
    teacher.compile(
        keras.optimizers.Adam(1e-3),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    teacher.fit(x[train], y[train], epochs=epochs, batch_size=64, verbose=0)

    def fresh_student():
        keras.utils.set_random_seed(args.seed + 1)  # The same start for every student.
        return mlp([32, 64], "student")

    alone = fresh_student()
    alone.compile(
        keras.optimizers.Adam(1e-3),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    alone.fit(x[train], y[train], epochs=epochs, batch_size=64, verbose=0)

    rows = [("teacher", teacher.count_params(), accuracy(teacher, x[test], y[test]), "")]
    rows.append(("student alone", alone.count_params(), accuracy(alone, x[test], y[test]), ""))
    for label, Distiller in (
        ("keras.distillation.Distiller", keras.distillation.Distiller),
        ("keras_kd.Distiller", keras_kd.Distiller),
    ):
        student, history = distill(Distiller, teacher, fresh_student(), x[train], y[train], epochs)
        last = f"{history['distillation_loss'][-1]:.4f}"
        rows.append(
            (f"student, {label}", student.count_params(), accuracy(student, x[test], y[test]), last)
        )

    print("\n| model | parameters | test accuracy | last distillation_loss |")
    print("|---|---:|---:|---:|")
    for label, parameters, acc, last in rows:
        print(f"| {label} | {parameters:,} | {acc:.2%} | {last} |")

    # The one change keras-kd asks: a loss that matches the student's head.
    try:
        distill(
            keras_kd.Distiller,
            teacher,
            fresh_student(),
            x[train],
            y[train],
            epochs,
            loss="sparse_categorical_crossentropy",
        )
    except ValueError as error:
        print(f"\nkeras_kd.Distiller with loss='sparse_categorical_crossentropy':\n  {error}")


if __name__ == "__main__":
    main()
