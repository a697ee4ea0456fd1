"""The demo over several seeds: is the distilled student's gain more than noise?

Runs `keras_kd.apps.demo.run_demo` (teacher, student alone, distilled student, with
the dataset's preset settings unless overridden) once per seed and reports
each seed's accuracies and the mean and standard deviation of the gain.
`--holdout validation` trains on 80% of the training set and scores on the
other 20%, never on the test set: settings are chosen that way first.

Usage:

    KERAS_BACKEND=tensorflow python benchmarks/demo_seeds.py              # ~20 min
    KERAS_BACKEND=jax python benchmarks/demo_seeds.py --dataset digits --labels 100 \\
        --holdout validation --jobs 3                                      # minutes

Writes the Fashion-MNIST table to `docs/full_labels.md` (between the `demo_seeds`
markers) and every table to `benchmarks/RESULTS_demo_seeds.md`, between the
markers named `<dataset>_<holdout>[_labels<N>]`.
"""

import argparse
import dataclasses
import os
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

from _markdown import write_between_markers

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(ROOT, "benchmarks", "RESULTS_demo_seeds.md")
SETTINGS = ("epochs", "teacher_epochs", "temperature", "alpha", "student_width")


def _run(dataset, seed, overrides):
    """One seed of the demo, in its own process with `--jobs`."""
    from keras_kd.apps import demo

    start = time.time()
    rows = demo.run_demo(dataset, seed=seed, verbose=0, **overrides)
    accuracies = [row.test_accuracy for row in rows]
    return seed, [row.model for row in rows], accuracies, time.time() - start


def format_table(args, settings, results, seconds, backend):
    """The per-seed table and its summary line."""
    scored = (
        "validation split (20% of the training set)"
        if args.holdout == "validation"
        else ("test set")
    )
    lines = [
        f"| seed | teacher | {results[0][1][1]} | {results[0][1][2]} | gain (points) |",
        "|---:|---:|---:|---:|---:|",
    ]
    gains = []
    for seed, _, (teacher, alone, distilled), _ in results:
        gains.append(100 * (distilled - alone))
        lines.append(
            f"| {seed} | {100 * teacher:.2f}% | {100 * alone:.2f}% | {100 * distilled:.2f}% "
            f"| {gains[-1]:+.2f} |"
        )
    spread = statistics.stdev(gains) if len(gains) > 1 else 0.0
    labels = f" --labels {args.labels}" if args.labels else ""
    lines += [
        "",
        f"Gain over {len(gains)} seeds: {statistics.mean(gains):+.2f} ± {spread:.2f} points "
        f"(mean ± std); {sum(g > 0 for g in gains)} of {len(gains)} seeds positive. Scored on "
        f"the {scored}. `keras-kd demo --dataset {args.dataset}{labels}` settings: teacher "
        f"{settings['teacher_epochs']} epochs, students {settings['epochs']} epochs, "
        f"T={settings['temperature']:g}, alpha={settings['alpha']:g}"
        f"{' (0 with --labels: no labels)' if args.labels else ''}, student width "
        f"{settings['student_width']}; Keras backend {backend}; {seconds / 60:.0f} minutes of "
        f"wall time in all ({args.jobs} seed(s) at a time) on a 2-core machine shared with "
        "other jobs while measured.",
    ]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", default="fashion_mnist", choices=["fashion_mnist", "digits"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument(
        "--labels", type=int, default=None, help="Scarce labels, as `keras-kd demo --labels`."
    )
    parser.add_argument("--holdout", default="test", choices=["test", "validation"])
    for name in SETTINGS:
        kind = float if name in ("temperature", "alpha") else int
        parser.add_argument("--" + name.replace("_", "-"), type=kind, default=None)
    parser.add_argument("--jobs", type=int, default=1, help="Seeds run at the same time.")
    parser.add_argument("--no-write", action="store_true", help="Write no Markdown file.")
    args = parser.parse_args()

    import keras

    from keras_kd.apps import demo

    overrides = {name: getattr(args, name) for name in SETTINGS if getattr(args, name) is not None}
    overrides.update(labels=args.labels, holdout=args.holdout)
    settings = {**dataclasses.asdict(demo.PRESETS[args.dataset]), **overrides}
    start = time.time()
    with ProcessPoolExecutor(args.jobs, mp_context=get_context("spawn")) as pool:
        futures = [pool.submit(_run, args.dataset, seed, overrides) for seed in args.seeds]
        results = []
        for future in futures:
            results.append(future.result())
            seed, names, accuracies, seconds = results[-1]
            line = ", ".join(f"{n} {100 * a:.2f}%" for n, a in zip(names, accuracies))
            print(f"seed {seed} ({seconds:.0f} s): {line}", flush=True)
        # Written before the workers are shut down: on a busy machine their
        # exit can take minutes.
        backend = keras.backend.backend()
        _report(args, settings, results, time.time() - start, backend)


def _report(args, settings, results, seconds, backend):
    table = format_table(args, settings, results, seconds, backend)
    print(table, flush=True)
    if args.no_write:
        return
    marker = f"{args.dataset}_{args.holdout}" + (f"_labels{args.labels}" if args.labels else "")
    write_between_markers(RESULTS, marker, table)
    if args.dataset == "fashion_mnist" and args.holdout == "test" and not args.labels:
        write_between_markers(os.path.join(ROOT, "docs", "full_labels.md"), "demo_seeds", table)


if __name__ == "__main__":
    main()
