"""Regression distillation on the diabetes data set (scikit-learn, no download).

For each seed (a new random 60/20/20 train/validation/test split and new
initial weights): a teacher MLP (4,929 parameters), the student alone (49
parameters, one hidden layer of 4 units) and the student distilled with
`"mse"` and with `"huber"` (delta 1 in standardized target units), alpha
chosen from `--alphas` by validation RMSE (the test split is read only to
report). Every model trains with Adam 3e-3, batch 32, up to `--epochs`
epochs with early stopping on validation RMSE. The functions are those of
`examples/regression.py`.

Usage:

    KERAS_BACKEND=jax nice -n 10 python benchmarks/regression.py        # ~10 min
    KERAS_BACKEND=jax python benchmarks/regression.py --quick --no-write

Writes `benchmarks/RESULTS_regression.md` (between the `regression` markers).
"""

import argparse
import os
import statistics
import sys
import time

import keras
from _markdown import write_between_markers

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "examples"))

import regression as example  # noqa: E402  examples/regression.py

LOSSES = ("mse", "huber")


def run_seed(seed, alphas, epochs):
    """`{method: (rmse, mae, alpha)}` on the test split for one seed."""
    keras.utils.set_random_seed(seed)
    split = example.load_split(seed)
    teacher = example.train_alone(example.teacher_model(), split, epochs)
    alone = example.train_alone(example.student_model(), split, epochs)
    rows = {
        "teacher": (*example.errors(teacher, split, "test"), None),
        "student alone": (*example.errors(alone, split, "test"), None),
    }
    for loss in LOSSES:
        candidates = []
        for alpha in alphas:
            student = example.distill(teacher, split, loss, alpha, epochs)
            val_rmse = example.errors(student, split, "val")[0]
            candidates.append((val_rmse, alpha, student))
            print(f"  seed {seed} {loss} alpha={alpha:g}: val RMSE {val_rmse:.2f}", flush=True)
        _, alpha, best = min(candidates, key=lambda c: c[0])
        rows[f"distilled, {loss}"] = (*example.errors(best, split, "test"), alpha)
    return rows


def _mean_std(values):
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.2f} ± {spread:.2f}"


def format_table(results, args, seconds):
    methods = list(results[0][1])
    lines = [
        "| model | test RMSE (mean ± std) | test MAE (mean ± std) "
        "| RMSE vs alone, per seed | alpha chosen |",
        "|---|---:|---:|---|---|",
    ]
    alone = [rows["student alone"][0] for _, rows in results]
    for method in methods:
        rmse = [rows[method][0] for _, rows in results]
        mae = [rows[method][1] for _, rows in results]
        if method.startswith("distilled"):
            diffs = ", ".join(f"{r - a:+.2f}" for r, a in zip(rmse, alone))
            alphas = ", ".join(f"{rows[method][2]:g}" for _, rows in results)
        else:
            diffs, alphas = "", ""
        lines.append(f"| {method} | {_mean_std(rmse)} | {_mean_std(mae)} | {diffs} | {alphas} |")
    lines += [
        "",
        f"Seeds {', '.join(str(s) for s, _ in results)}; alphas tried {list(args.alphas)}; "
        f"up to {args.epochs} epochs with early stopping on validation RMSE; "
        f"Keras backend {keras.backend.backend()}; {seconds / 60:.1f} minutes in all, "
        "on a machine shared with other jobs (times are not comparable; errors are).",
    ]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--alphas", type=float, nargs="+", default=[0.0, 0.25, 0.5, 0.75])
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--quick", action="store_true", help="Two seeds, 5 epochs.")
    parser.add_argument("--no-write", action="store_true", help="Do not update the results file.")
    args = parser.parse_args()
    if args.quick:
        args.seeds, args.alphas, args.epochs = args.seeds[:2], args.alphas[:2], 5
    start = time.time()
    results = [(seed, run_seed(seed, args.alphas, args.epochs)) for seed in args.seeds]
    table = format_table(results, args, time.time() - start)
    print(table)
    if not args.no_write:
        write_between_markers(os.path.join(HERE, "RESULTS_regression.md"), "regression", table)


if __name__ == "__main__":
    main()
