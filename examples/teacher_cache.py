"""Offline distillation on the 8x8 digits: cache the teacher once, distil from disk.

1. train a teacher MLP on the labels;
2. write its outputs with `keras_kd.TeacherCache.write`, dense and top-k;
3. distil the same student three times from the same starting weights: from
   the live teacher, from the dense cache and from the top-k cache,

and print the test accuracy, the epoch time and the cache's bytes per sample
of each. With a dense float32 cache, distillation equals the live run
(the same batches in the same order); float16 and top-k are close.

Usage:

    KERAS_BACKEND=jax python examples/teacher_cache.py --epochs 20
    python examples/teacher_cache.py --quick      # a few seconds, for tests
"""

import argparse
import os
import tempfile
import time

import keras
import numpy as np

import keras_kd
from keras_kd.apps.data import load_digits


def mlp(units, name, softmax=False):
    return keras.Sequential(
        [
            keras.Input((64,)),
            keras.layers.Dense(units, activation="relu"),
            keras.layers.Dense(10, activation="softmax" if softmax else None),
        ],
        name=name,
    )


def distil(teacher, student, data, epochs, alpha=0.1):
    """Distils `student` from `teacher` on `data` (fit's arguments); returns seconds per epoch."""
    distiller = keras_kd.Distiller(teacher, student, keras_kd.losses.SoftTargetKD(4.0), alpha=alpha)
    distiller.compile(
        keras.optimizers.Adam(3e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    start = time.perf_counter()
    distiller.fit(**data, epochs=epochs, shuffle=False, verbose=0)
    return (time.perf_counter() - start) / epochs


def accuracy(model, x, y):
    outputs = keras.ops.convert_to_numpy(model(x, training=False))
    return float(np.mean(np.argmax(outputs, -1) == y))


def bytes_per_sample(cache):
    stored = sum(
        os.path.getsize(os.path.join(cache.directory, f)) for f in os.listdir(cache.directory)
    )
    return stored / len(cache)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--top-k", type=int, default=3)
    parser.add_argument(
        "--out", default=None, help="Folder of the caches (default: a temporary one)."
    )
    parser.add_argument(
        "--quick", action="store_true", help="2 epochs of batches of 128: a smoke run."
    )
    args = parser.parse_args(argv)
    epochs = 2 if args.quick else args.epochs
    batch_size = 128 if args.quick else 64
    keras.utils.set_random_seed(0)
    (x_train, y_train), (x_test, y_test) = load_digits(flatten=True)

    teacher = mlp(256, "teacher", softmax=True)
    teacher.compile("adam", "sparse_categorical_crossentropy")
    teacher.fit(x_train, y_train, epochs=epochs * 2, batch_size=batch_size, verbose=0)
    out = args.out or tempfile.mkdtemp(prefix="teacher-cache-")

    start = time.perf_counter()
    dense = keras_kd.TeacherCache.write(
        teacher, x_train, os.path.join(out, "dense"), dtype="float32"
    )
    write_seconds = time.perf_counter() - start
    top_k = keras_kd.TeacherCache.write(
        teacher, x_train, os.path.join(out, "top_k"), top_k=args.top_k
    )

    initial = mlp(16, "student").get_weights()
    rows = []
    runs = [
        ("live teacher", teacher, {"x": x_train, "y": y_train, "batch_size": batch_size}, None),
        (
            "dense float32 cache",
            dense,
            {"x": dense.dataset(x_train, y_train, batch_size, shuffle=False)},
            dense,
        ),
        (
            f"top-{args.top_k} float16 cache",
            top_k,
            {"x": top_k.dataset(x_train, y_train, batch_size, shuffle=False)},
            top_k,
        ),
    ]
    students = []
    for name, source, data, cache in runs:
        student = mlp(16, "student")
        student.set_weights(initial)
        seconds = distil(source, student, data, epochs)
        students.append(student)
        size = f"{bytes_per_sample(cache):.0f}" if cache else "-"
        rows.append(
            f"| {name} | {accuracy(student, x_test, y_test):.4f} | {seconds:.3f} | {size} |"
        )
    gap = max(
        np.max(np.abs(a - b)) for a, b in zip(students[0].get_weights(), students[1].get_weights())
    )

    print(
        f"Teacher test accuracy {accuracy(teacher, x_test, y_test):.4f}; "
        f"dense cache written in {write_seconds:.2f} s"
    )
    print("| distilled from | test accuracy | s / epoch | cache bytes / sample |")
    print("|---|---|---|---|")
    print("\n".join(rows))
    print(f"Largest weight difference, live vs dense float32 cache: {gap:.2e}")


if __name__ == "__main__":
    main()
