"""A cached epoch against the student's own epoch (issue 22's goal: <= 1.10).

A `Distiller` on `TeacherCache.arrays` (the targets in memory, sliced by
Keras' array path: no Python call per batch) against the student trained
alone, measured side by side in one process, for two sizes: the issue's
16-unit MLP on the 8x8 digits repeated 8 times (batch 64) and the demo's
CNN student (`student_cnn`, 26,698 parameters) on 2,048 28x28 images
(batch 128). One uncounted epoch each, then `--rounds` rounds of one epoch
each, the order alternating; the ratio is the median over rounds of each
round's ratio, so load on a shared machine hits both alike.

Usage (one backend per process):

    for b in tensorflow jax torch; do KERAS_BACKEND=$b python benchmarks/cache_speed.py; done
"""

import argparse
import os
import statistics
import tempfile
import time

import keras
import numpy as np

import keras_kd
from keras_kd.apps.data import load_digits
from keras_kd.apps.reference_models import student_cnn

ROUNDS = 7
LIMIT = 1.10


class EpochTimer(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds = time.perf_counter() - self.start


def digits_mlp():
    """The issue's case: a 16-unit MLP on the 8x8 digits repeated 8 times."""
    (x, y), _ = load_digits(flatten=True)
    x, y = np.concatenate([x] * 8), np.concatenate([y] * 8)

    def make(units, name):
        return keras.Sequential(
            [
                keras.Input((64,)),
                keras.layers.Dense(units, activation="relu"),
                keras.layers.Dense(10),
            ],
            name=name,
        )

    return x, y, make(64, "teacher"), lambda name: make(16, name), 64


def demo_cnn():
    """The demo's CNN student on 2,048 28x28 images."""
    rng = np.random.default_rng(0)
    x = rng.random((2048, 28, 28, 1)).astype("float32")
    y = rng.integers(0, 10, 2048).astype("int32")
    teacher = keras.Sequential(
        [keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(10)]
    )
    return x, y, teacher, lambda name: student_cnn(name=name), 128


def epoch_ratio(tmp_path, case, rounds=ROUNDS):
    x, y, teacher, make_student, batch_size = case()
    keras.utils.set_random_seed(0)
    cache = keras_kd.TeacherCache.write(
        teacher, x, os.path.join(tmp_path, "cache"), dtype="float32"
    )
    inputs, labels = cache.arrays(x, y)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    alone = make_student("alone")
    alone.compile("adam", loss, metrics=["accuracy"])
    distiller = keras_kd.Distiller(
        cache, make_student("cached"), keras_kd.losses.SoftTargetKD(4.0), alpha=0.1
    )
    distiller.compile("adam", loss, metrics=["accuracy"])
    timer = EpochTimer()
    arms = {
        "alone": lambda: alone.fit(
            x, y, batch_size=batch_size, epochs=1, verbose=0, callbacks=[timer]
        ),
        "cached": lambda: distiller.fit(
            inputs, labels, batch_size=batch_size, epochs=1, verbose=0, callbacks=[timer]
        ),
    }
    for run in arms.values():  # tracing and compilation, not counted
        run()
    seconds = {name: [] for name in arms}
    for round_index in range(rounds):
        order = list(arms) if round_index % 2 else list(arms)[::-1]
        for name in order:
            arms[name]()
            seconds[name].append(timer.seconds)
    return statistics.median(c / a for c, a in zip(seconds["cached"], seconds["alone"]))


def main():
    parser = argparse.ArgumentParser(description="Cached epoch / student-alone epoch.")
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    args = parser.parse_args()
    for case in (digits_mlp, demo_cnn):
        with tempfile.TemporaryDirectory() as folder:
            ratio = epoch_ratio(folder, case, args.rounds)
        verdict = "met" if ratio <= LIMIT else "NOT met"
        print(
            f"| {keras.backend.backend()} | {case.__name__} | {ratio:.2f} | {verdict} |", flush=True
        )


if __name__ == "__main__":
    main()
