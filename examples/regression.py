"""Distilling a regression head: the diabetes data set that scikit-learn ships.

442 patients, 10 standardized measurements, and a quantitative measure of
disease progression one year later (`sklearn.datasets.load_diabetes`: no
download). A teacher MLP (two hidden layers of 64 units) teaches a student
with one hidden layer of 4 units by output matching (`distillation_loss="mse"`
or `"huber"`); the student alone trains on the labels. Targets are
standardized on the training split for training; RMSE and MAE are reported in
the data set's own units.

Usage:

    KERAS_BACKEND=jax python examples/regression.py             # ~1 minute
    KERAS_BACKEND=jax python examples/regression.py --quick     # seconds

`benchmarks/regression.py` runs the same functions over seeds, with alpha
chosen on the validation split.
"""

import argparse

import keras
import numpy as np

import keras_kd

FEATURES = 10


def load_split(seed, validation=0.2, test=0.2):
    """The diabetes data split at random by `seed` into train, validation, test.

    Features and targets are standardized with the training split's mean and
    standard deviation.

    Returns:
        A dict with `train`, `val` and `test` pairs `(x, y)` (float32, `y` of
        shape `(n, 1)`) and `y_std`, to report errors in the data's units.
    """
    from sklearn.datasets import load_diabetes

    x, y = load_diabetes(return_X_y=True)
    order = np.random.default_rng(seed).permutation(len(x))
    n_test, n_val = round(test * len(x)), round(validation * len(x))
    parts = {
        "test": order[:n_test],
        "val": order[n_test : n_test + n_val],
        "train": order[n_test + n_val :],
    }
    x_mean, x_std = x[parts["train"]].mean(0), x[parts["train"]].std(0)
    y_mean, y_std = y[parts["train"]].mean(), y[parts["train"]].std()
    split = {
        name: (
            ((x[rows] - x_mean) / x_std).astype("float32"),
            ((y[rows] - y_mean) / y_std).astype("float32").reshape(-1, 1),
        )
        for name, rows in parts.items()
    }
    split["y_std"] = float(y_std)
    return split


def mlp(hidden, name):
    """A regression MLP: ReLU hidden layers of the given widths, a linear `Dense(1)`."""
    layers = [keras.Input((FEATURES,))]
    layers += [keras.layers.Dense(units, activation="relu") for units in hidden]
    layers.append(keras.layers.Dense(1, name="regression_head"))
    return keras.Sequential(layers, name=name)


def teacher_model():
    return mlp((64, 64), "teacher")


def student_model():
    return mlp((4,), "student")


# --quick trains without validation: compiling the validation step costs
# more than a few epochs of this tiny data set.
EARLY_STOPPING = True


def _compile_and_fit(model, split, epochs, learning_rate):
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss="mse",
        metrics=[keras.metrics.RootMeanSquaredError(name="rmse")],
    )
    # The weights of the epoch with the best validation RMSE (never the test set).
    stop = keras.callbacks.EarlyStopping(
        monitor="val_rmse",
        mode="min",
        patience=max(epochs // 5, 5),
        restore_best_weights=True,
    )
    model.fit(
        *split["train"],
        epochs=epochs,
        batch_size=32,
        verbose=0,
        **({"validation_data": split["val"], "callbacks": [stop]} if EARLY_STOPPING else {}),
    )
    return model


def train_alone(model, split, epochs, learning_rate=3e-3):
    """Trains `model` on the standardized labels; returns it."""
    return _compile_and_fit(model, split, epochs, learning_rate)


def distill(teacher, split, loss, alpha, epochs, learning_rate=3e-3):
    """A fresh student distilled from `teacher` with `loss` ("mse" or "huber").

    `alpha` weighs the hard loss (MSE to the labels); `1 - alpha` the output
    matching. Returns the student.
    """
    distiller = keras_kd.Distiller(teacher, student_model(), distillation_loss=loss, alpha=alpha)
    _compile_and_fit(distiller, split, epochs, learning_rate)
    return distiller.student


def errors(model, split, part):
    """`(rmse, mae)` of `model` on `split[part]`, in the data's units."""
    x, y = split[part]
    error = (model.predict(x, batch_size=len(x), verbose=0) - y) * split["y_std"]
    return float(np.sqrt(np.mean(error**2))), float(np.mean(np.abs(error)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--alpha", type=float, default=0.5)
    parser.add_argument("--quick", action="store_true", help="A few epochs, to check the script.")
    args = parser.parse_args()
    epochs = 5 if args.quick else args.epochs
    keras.utils.set_random_seed(args.seed)
    split = load_split(args.seed)
    teacher = train_alone(teacher_model(), split, epochs)
    rows = [("teacher", teacher), ("student alone", train_alone(student_model(), split, epochs))]
    for loss in ("mse", "huber"):
        rows.append(
            (
                f"student, {loss} (alpha={args.alpha:g})",
                distill(teacher, split, loss, args.alpha, epochs),
            )
        )
    print(f"Keras backend {keras.backend.backend()}, seed {args.seed}, {epochs} epochs at most")
    print("| model | parameters | test RMSE | test MAE |")
    print("|---|---:|---:|---:|")
    for name, model in rows:
        rmse, mae = errors(model, split, "test")
        print(f"| {name} | {model.count_params():,} | {rmse:.2f} | {mae:.2f} |")


if __name__ == "__main__":
    main()
