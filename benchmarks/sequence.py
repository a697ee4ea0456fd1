"""Character-level language model: which divergence distils a GRU best?

Trains the causal Transformer teacher of `examples/char_lm.py` once on a
slice of the fortunes of Debian's `fortunes` package, then, for each seed,
the GRU student alone and distilled with `SoftTargetKD` using forward KL,
reverse KL and the generalized JSD (beta 0.5), all with the same `alpha` on
the true next characters. Reports bits per character (bpc) on held-out
fortunes, mean ± std over the seeds, parameter counts, and the last
forward-KL student converted to a float32 `.tflite` file and run in LiteRT.

Usage (TensorFlow converts in-process; sized for ~20 minutes on a shared
2-core machine):

    KERAS_BACKEND=tensorflow nice -n 10 python benchmarks/sequence.py
    KERAS_BACKEND=tensorflow python benchmarks/sequence.py --quick

Writes `benchmarks/RESULTS_sequence.md` (not with `--quick`).
"""

import argparse
import os
import statistics
import sys
import tempfile
import time

import keras

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "examples"))

import char_lm  # noqa: E402

from keras_kd.apps.data import load_fortunes  # noqa: E402

VARIANTS = (
    ("alone", None),
    ("forward KL", "forward"),
    ("reverse KL", "reverse"),
    ("JSD (beta 0.5)", "jsd"),
)


def mean_std(values):
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.3f} ± {spread:.3f}"


def format_results(args, sizes, teacher_bpc, rows, lite, seconds):
    alone = rows["alone"]
    lines = [
        "# Character-level language model: divergences (`benchmarks/sequence.py`)",
        "",
        f"Held-out bits per character (lower is better), mean ± std over seeds "
        f"{', '.join(map(str, args.seeds))}; the gain is student alone minus distilled, "
        "per seed.",
        "",
        "| model | parameters | bpc | gain vs alone (bpc) | per seed |",
        "|---|---:|---:|---:|---|",
        f"| teacher: causal Transformer (seed 0) | {sizes['teacher']:,} | {teacher_bpc:.3f} | | |",
    ]
    for name, _ in VARIANTS:
        values = rows[name]
        gains = [a - v for a, v in zip(alone, values)]
        gain = "" if name == "alone" else f"{mean_std(gains)}"
        label = "student: GRU alone" if name == "alone" else f"student distilled, {name}"
        lines.append(
            f"| {label} | {sizes['student']:,} | {mean_std(values)} | {gain} "
            f"| {', '.join(f'{v:.3f}' for v in values)} |"
        )
    keras_value, lite_value, size = lite
    lines += [
        "",
        f"LiteRT: the forward-KL student of seed {args.seeds[-1]} converted with "
        f"`tflite_export.convert` (float32, {size:,} bytes) and run by the LiteRT "
        f"interpreter on the same held-out text: {lite_value:.4f} bpc against "
        f"{keras_value:.4f} in Keras (difference {abs(lite_value - keras_value):.5f}; "
        "the target is within 0.02).",
        "",
        f"Settings: the fortunes of the Debian package `fortunes` (shuffled with seed 0, "
        f"10% held out), the first {args.train_chars:,} training characters and "
        f"{args.test_chars:,} held-out ones, windows of {args.window} characters (no overlap); "
        f"teacher {args.teacher_epochs} epochs, students {args.student_epochs} epochs, "
        f"Adam, batch {args.batch_size}; distillation at T={args.temperature:g}, "
        f"alpha={args.alpha:g}. "
        f"Keras backend {keras.backend.backend()}; {seconds / 60:.0f} minutes in all, "
        "measured on a shared 2-core machine (7 other engineers' jobs running), so "
        "the times are not a speed measurement. These sizes were chosen for about "
        "20 minutes there; the models are far from converged and the "
        "numbers compare the divergences at this budget only.",
    ]
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--train-chars", type=int, default=24_000)
    parser.add_argument("--test-chars", type=int, default=6_000)
    parser.add_argument("--window", type=int, default=32)
    parser.add_argument("--teacher-epochs", type=int, default=6)
    parser.add_argument("--student-epochs", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--alpha", type=float, default=0.5)
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument(
        "--results",
        default=os.path.join(HERE, "RESULTS_sequence.md"),
        help="Where the table is written (not with --quick).",
    )
    parser.add_argument("--quick", action="store_true", help="Tiny run to check the script.")
    args = parser.parse_args()
    teacher_sizes = {"width": 64, "depth": 2, "heads": 4}
    student_sizes = {"units": 48, "embedding": 16}
    if args.quick:
        args.seeds, args.train_chars, args.test_chars = [0, 1], 6_000, 2_000
        args.window, args.teacher_epochs, args.student_epochs = 32, 1, 1
    start = time.time()
    train_ids, test_ids = load_fortunes()
    train_ids, test_ids = train_ids[: args.train_chars], test_ids[: args.test_chars]
    x, y = char_lm.windows(train_ids, args.window)
    x_test, y_test = char_lm.windows(test_ids, args.window)

    keras.utils.set_random_seed(0)
    teacher = char_lm.train_teacher(
        x, y, args.teacher_epochs, args.window, batch_size=args.batch_size, **teacher_sizes
    )
    teacher_bpc = char_lm.keras_bpc(teacher, x_test, y_test)
    print(f"teacher: {teacher_bpc:.3f} bpc ({time.time() - start:.0f} s)", flush=True)
    rows = {name: [] for name, _ in VARIANTS}
    for seed in args.seeds:
        for name, divergence in VARIANTS:
            keras.utils.set_random_seed(seed)
            student = char_lm.train_student(
                x,
                y,
                args.student_epochs,
                args.window,
                teacher=None if divergence is None else teacher,
                divergence=divergence or "forward",
                alpha=args.alpha,
                temperature=args.temperature,
                batch_size=args.batch_size,
                **student_sizes,
            )
            rows[name].append(char_lm.keras_bpc(student, x_test, y_test))
            seconds = time.time() - start
            print(f"seed {seed} {name}: {rows[name][-1]:.3f} bpc ({seconds:.0f} s)", flush=True)
            if divergence == "forward":
                last_forward = student
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "student.tflite")
        lite_bpc, size = char_lm.litert_bpc(last_forward, x_test, y_test, path)
    lite = (rows["forward KL"][-1], lite_bpc, size)
    sizes = {"teacher": teacher.count_params(), "student": last_forward.count_params()}
    text = format_results(args, sizes, teacher_bpc, rows, lite, time.time() - start)
    print(text)
    if not args.quick:
        with open(args.results, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
