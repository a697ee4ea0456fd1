"""The demo over several seeds: is the distilled student's gain more than noise?

Runs `keras_kd.demo.run_demo` (teacher, student alone, distilled student, with
the dataset's preset settings) once per seed and reports each seed's test
accuracies and the mean and standard deviation of the gain.

Usage:

    KERAS_BACKEND=tensorflow python benchmarks/demo_seeds.py              # ~15 min
    KERAS_BACKEND=jax python benchmarks/demo_seeds.py --dataset digits    # seconds

Writes the table to `README.md` (between the `demo_seeds` markers).
"""

import argparse
import os
import statistics
import time

import keras
from _markdown import write_between_markers

from keras_kd import demo

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def format_table(dataset, results, seconds):
    preset = demo.PRESETS[dataset]
    lines = [
        "| seed | teacher | student alone | student distilled | gain (points) |",
        "|---:|---:|---:|---:|---:|",
    ]
    gains = []
    for seed, rows in results:
        teacher, alone, distilled = (100 * row.test_accuracy for row in rows)
        gains.append(distilled - alone)
        lines.append(
            f"| {seed} | {teacher:.2f}% | {alone:.2f}% | {distilled:.2f}% | {gains[-1]:+.2f} |"
        )
    spread = statistics.stdev(gains) if len(gains) > 1 else 0.0
    lines += [
        "",
        f"Gain over {len(gains)} seeds: {statistics.mean(gains):+.2f} ± {spread:.2f} points "
        f"(mean ± std); {sum(g > 0 for g in gains)} of {len(gains)} seeds positive. "
        f"`keras-kd demo --dataset {dataset}` settings: teacher {preset['teacher_epochs']} "
        f"epochs, students {preset['epochs']} epochs, T={preset['temperature']:g}, "
        f"alpha={preset['alpha']:g}; Keras backend {keras.backend.backend()}; "
        f"{seconds / 60:.0f} minutes in all.",
    ]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", default="fashion_mnist", choices=sorted(demo.DATASETS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--no-write", action="store_true", help="Do not update README.md.")
    args = parser.parse_args()
    start = time.time()
    results = []
    for seed in args.seeds:
        rows = demo.run_demo(args.dataset, seed=seed, verbose=0)
        results.append((seed, rows))
        accuracies = ", ".join(f"{r.model} {100 * r.test_accuracy:.2f}%" for r in rows)
        print(f"seed {seed}: {accuracies}", flush=True)
    table = format_table(args.dataset, results, time.time() - start)
    print(table)
    if not args.no_write and args.dataset == "fashion_mnist":
        write_between_markers(os.path.join(ROOT, "README.md"), "demo_seeds", table)


if __name__ == "__main__":
    main()
