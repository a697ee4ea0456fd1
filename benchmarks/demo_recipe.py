"""How the demo's Fashion-MNIST recipe is chosen: on a validation split, never the test set.

The teacher is trained once on the first 50,000 training images; each
candidate recipe trains the student alone and the distilled student on the
same 50,000 images with the same seed, and both are scored on the last
10,000 training images (held out). The gain of each recipe, over seeds, is
what the demo's preset rests on.

Usage:

    KERAS_BACKEND=tensorflow python benchmarks/demo_recipe.py             # ~25 min
    KERAS_BACKEND=tensorflow python benchmarks/demo_recipe.py --quick     # smoke test

Prints a Markdown table and writes it to `benchmarks/RESULTS_demo_recipe.md`.
"""

import argparse
import os
import time

import keras
import numpy as np
from _shared import HERE

from keras_kd.apps.data import load_fashion_mnist
from keras_kd.apps.demo import accuracy
from keras_kd.apps.demo import train_students
from keras_kd.apps.demo import train_teacher

RESULTS = os.path.join(HERE, "RESULTS_demo_recipe.md")

# (temperature, alpha, epochs, learning-rate schedule)
RECIPES = [(2.0, 0.5, 12, "constant"), (2.0, 0.5, 12, "cosine"), (4.0, 0.1, 12, "cosine")]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--teacher-epochs", type=int, default=5)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    (x, y), _ = load_fashion_mnist()
    x_train, y_train, x_val, y_val = x[:50000], y[:50000], x[50000:], y[50000:]
    recipes = RECIPES
    if args.quick:
        x_train, y_train, x_val, y_val = x[:2000], y[:2000], x[2000:3000], y[2000:3000]
        args.seeds, args.teacher_epochs = [0], 1
        recipes = [(t, a, 1, lr) for t, a, _, lr in RECIPES[:2]]
    start = time.time()
    teacher, _ = train_teacher(x_train, y_train, epochs=args.teacher_epochs, seed=0, verbose=2)
    teacher_accuracy = accuracy(teacher, x_val, y_val)
    lines = [
        "| recipe | seed | student alone | distilled | gain (points) |",
        "|---|---:|---:|---:|---:|",
    ]
    summary = []
    for temperature, alpha, epochs, schedule in recipes:
        name = f"T={temperature:g}, alpha={alpha:g}, {epochs} epochs, {schedule} LR"
        gains = []
        for seed in args.seeds:
            students = train_students(
                teacher,
                x_train,
                y_train,
                epochs,
                seed,
                temperature,
                alpha,
                lr_schedule=schedule,
                verbose=0,
            )
            alone, distilled = (accuracy(m, x_val, y_val) for m in students[::2])
            gains.append(100 * (distilled - alone))
            lines.append(f"| {name} | {seed} | {alone:.2%} | {distilled:.2%} | {gains[-1]:+.2f} |")
            print(lines[-1], flush=True)
        summary.append(f"- {name}: gain {np.mean(gains):+.2f} ± {np.std(gains):.2f} points")
    text = "\n".join(
        [
            f"Validation split: teacher and students trained on the first {len(x_train):,} "
            f"Fashion-MNIST training images, scored on the next {len(x_val):,}; teacher "
            f"{args.teacher_epochs} epochs, {teacher_accuracy:.2%} on the split; Keras backend "
            f"{keras.backend.backend()}; {time.time() - start:.0f} s.",
            "",
            *lines,
            "",
            *summary,
        ]
    )
    print("\n" + text)
    if not args.quick:
        with open(RESULTS, "w") as f:
            f.write(f"# Choosing the demo's recipe (benchmarks/demo_recipe.py)\n\n{text}\n")


if __name__ == "__main__":
    main()
