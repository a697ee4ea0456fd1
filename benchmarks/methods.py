"""Benchmark of the distillation methods on Fashion-MNIST.

One fixed teacher/student pair, the same data, epochs and optimizer for every
method, three seeds each. The teachers are trained once on the full training
set and cached in `benchmarks/_work/`; every student sees the same labeled
subset (`--train-size` images), so the teacher knows more than the labels the
student is given, the setting where distillation is used in practice.

Usage:

    KERAS_BACKEND=jax nice python benchmarks/methods.py            # full run
    KERAS_BACKEND=jax python benchmarks/methods.py --quick          # smoke test

Writes `benchmarks/_work/methods.json` and the Markdown table to
`benchmarks/RESULTS.md` and `README.md` (between the `methods` markers).
"""

import argparse
import json
import os
import time

import keras
import numpy as np
from _markdown import write_between_markers

import keras_kd
from keras_kd import losses
from keras_kd.apps.data import load_fashion_mnist
from keras_kd.apps.reference_models import small_teacher_cnn
from keras_kd.apps.reference_models import tiny_student_cnn
from keras_kd.teachers import EMATeacher

HERE = os.path.dirname(os.path.abspath(__file__))
WORK = os.path.join(HERE, "_work")
RESULTS = os.path.join(HERE, "RESULTS.md")


# -- Models --------------------------------------------------------------------
# The pair is keras_kd.apps.reference_models.small_teacher_cnn / tiny_student_cnn
# (206,922 / 9,098 parameters), not the demo's teacher_cnn / student_cnn.


def second_teacher_cnn(name="teacher_b"):
    """A different architecture for the ensemble: 5x5 first kernels, 64 units."""
    inputs = keras.Input((28, 28, 1))
    h = keras.layers.Conv2D(16, 5, padding="same", activation="relu")(inputs)
    h = keras.layers.MaxPooling2D()(h)
    h = keras.layers.Conv2D(32, 3, padding="same", activation="relu")(h)
    h = keras.layers.MaxPooling2D()(h)
    h = keras.layers.Flatten()(h)
    h = keras.layers.Dense(64, activation="relu")(h)
    h = keras.layers.Dropout(0.3)(h)
    return keras.Model(inputs, keras.layers.Dense(10)(h), name=name)


def hard_loss():
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True)


# -- Methods (hyper-parameters from the papers, fixed before any run) ----------


def methods(teacher, teacher_b):
    """name -> function(student) returning the Distiller, or None (no teacher)."""
    kd = lambda: losses.SoftTargetKD(temperature=4.0)  # noqa: E731

    def distiller(loss, teacher_=teacher, **kwargs):
        return lambda student: keras_kd.Distiller(
            teacher_, student, distillation_loss=loss, alpha=0.5, **kwargs
        )

    return {
        "student alone": None,
        "KD (T=4)": distiller(kd()),
        "DKD (alpha=1, beta=8, T=4)": distiller(losses.DKD(1.0, 8.0, 4.0)),
        "DIST (beta=gamma=2, T=4)": distiller(losses.DIST(2.0, 2.0, 4.0)),
        "KD + FitNet (conv2, MSE)": distiller(
            [kd(), losses.FitNetHint("conv2", "conv2", loss="mse", weight=1.0)]
        ),
        "KD + AT (conv1, conv2; p=2)": distiller(
            [kd(), losses.AttentionTransfer([("conv1", "conv1"), ("conv2", "conv2")])]
        ),
        # As mdistiller: on the penultimate features (teacher 128-d, student 784-d).
        "RKD (penultimate; 25 / 50)": distiller(losses.RKD("embedding", "features")),
        "KD, two-teacher ensemble": distiller(kd(), teacher_=[teacher, teacher_b]),
        "KD, EMA self-teacher (0.99)": lambda student: keras_kd.Distiller(
            EMATeacher(student, decay=0.99), student, distillation_loss=kd(), alpha=0.5
        ),
    }


# -- Training ------------------------------------------------------------------


class EpochTimer(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.times = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.times.append(time.perf_counter() - self._start)


def train_teacher(make, name, data, epochs, seed=1, tag=""):
    """Trains `make(name=name)` once per backend, cached in `_work/`."""
    path = os.path.join(WORK, f"{name}{tag}_{keras.backend.backend()}.weights.h5")
    (x, y), (x_test, y_test) = data
    keras.utils.set_random_seed(seed)
    model = make(name=name)
    model.compile(keras.optimizers.Adam(1e-3), hard_loss(), metrics=["accuracy"])
    if os.path.exists(path):
        model.load_weights(path)
    else:
        model.fit(x, y, batch_size=128, epochs=epochs, verbose=2)
        model.save_weights(path)
    accuracy = model.evaluate(x_test, y_test, batch_size=1000, verbose=0)[1]
    print(f"{name}: {model.count_params()} parameters, test accuracy {accuracy:.4f}", flush=True)
    return model, accuracy


def run(make_distiller, data, seed, epochs, batch_size, learning_rate):
    (x, y), (x_test, y_test) = data
    keras.utils.set_random_seed(seed)
    student = tiny_student_cnn()
    model = student if make_distiller is None else make_distiller(student)
    model.compile(keras.optimizers.Adam(learning_rate), hard_loss(), metrics=["accuracy"])
    timer = EpochTimer()
    model.fit(x, y, batch_size=batch_size, epochs=epochs, verbose=0, callbacks=[timer])
    logits = student.predict(x_test, batch_size=1000, verbose=0)
    accuracy = float((logits.argmax(-1) == y_test).mean())
    # The first epoch includes tracing and compilation.
    epoch_time = float(np.median(timer.times[1:] if len(timer.times) > 1 else timer.times))
    return accuracy, epoch_time, student.count_params()


# -- Report --------------------------------------------------------------------


def table(results, teacher_accuracy, teacher_b_accuracy, settings):
    base = results["student alone"]
    base_acc, base_time = np.mean(base["accuracy"]), np.mean(base["epoch_time"])
    gap = teacher_accuracy - base_acc
    lines = [
        f"Fashion-MNIST, backend `{settings['backend']}`, student trained on "
        f"{settings['train_size']:,} labeled images for {settings['epochs']} epochs "
        f"(Adam {settings['learning_rate']}, batch {settings['batch_size']}), "
        f"seeds {settings['seeds']}; test accuracy on the 10,000 test images. "
        f"Teacher `small_teacher_cnn`: {settings['teacher_params']:,} parameters, "
        f"trained once on all 60,000 images, test accuracy {teacher_accuracy:.2%} (second ensemble "
        f"teacher {teacher_b_accuracy:.2%}). Student `tiny_student_cnn`: "
        f"{settings['student_params']:,} "
        f"parameters ({settings['teacher_params'] / settings['student_params']:.0f}x "
        f"fewer). Gap closed = (method - student alone) / (teacher - student alone).",
        "",
        "| Method | Test accuracy (mean ± std) | vs. student alone | Gap closed "
        "| Epoch time (relative) | Helps at this scale? |",
        "|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        acc, std = np.mean(r["accuracy"]), np.std(r["accuracy"])
        delta = acc - base_acc
        helps = (
            "—"
            if name == "student alone"
            else ("yes" if delta > std + base["std"] else ("no" if delta <= 0 else "within noise"))
        )
        lines.append(
            f"| {name} | {acc:.2%} ± {std:.2%} | {delta:+.2%} | "
            f"{'—' if name == 'student alone' else f'{delta / gap:.0%}'} | "
            f"{np.mean(r['epoch_time']) / base_time:.2f}x | {helps} |"
        )
    return "\n".join(lines)


def write_results(text):
    for path in (RESULTS, os.path.join(os.path.dirname(HERE), "README.md")):
        write_between_markers(path, "methods", text)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--train-size", type=int, default=15000)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--teacher-epochs", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--learning-rate", type=float, default=3e-3)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--only", nargs="*", help="Substrings of method names to run.")
    parser.add_argument("--quick", action="store_true", help="Tiny run to check the script.")
    args = parser.parse_args()
    if args.quick:
        args.train_size, args.epochs, args.teacher_epochs, args.seeds = 1000, 2, 1, [0]
    os.makedirs(WORK, exist_ok=True)

    (x_full, y_full), test = load_fashion_mnist()
    subset = np.random.default_rng(0).permutation(len(x_full))[: args.train_size]
    teacher_data = ((x_full, y_full), test)
    student_data = ((x_full[subset], y_full[subset]), test)
    if args.quick:
        teacher_data = student_data
    tag = "_quick" if args.quick else ""
    teacher, teacher_acc = train_teacher(
        small_teacher_cnn, "teacher", teacher_data, args.teacher_epochs, tag=tag
    )
    teacher_b, teacher_b_acc = train_teacher(
        second_teacher_cnn, "teacher_b", teacher_data, args.teacher_epochs, seed=2, tag=tag
    )

    results = {}
    out = os.path.join(WORK, "methods.json" if not args.quick else "methods_quick.json")
    for name, make in methods(teacher, teacher_b).items():
        if args.only and name != "student alone" and not any(s in name for s in args.only):
            continue
        r = results.setdefault(name, {"accuracy": [], "epoch_time": []})
        for seed in args.seeds:
            accuracy, epoch_time, student_params = run(
                make, student_data, seed, args.epochs, args.batch_size, args.learning_rate
            )
            r["accuracy"].append(accuracy)
            r["epoch_time"].append(epoch_time)
            print(
                f"{name:32s} seed {seed}: accuracy {accuracy:.4f}, epoch {epoch_time:.2f}s",
                flush=True,
            )
        r["std"] = float(np.std(r["accuracy"]))
        with open(out, "w") as f:
            json.dump(results, f, indent=1)

    settings = {
        "backend": keras.backend.backend(),
        "train_size": args.train_size,
        "epochs": args.epochs,
        "learning_rate": args.learning_rate,
        "batch_size": args.batch_size,
        "seeds": args.seeds,
        "teacher_params": teacher.count_params(),
        "student_params": student_params,
    }
    text = table(results, teacher_acc, teacher_b_acc, settings)
    print(text)
    if not args.quick and not args.only:
        write_results(text)


if __name__ == "__main__":
    main()
