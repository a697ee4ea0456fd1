"""A teacher on 28x28 images teaching a student that sees 14x14 ones.

The teacher (`small_teacher_cnn`, 206,922 parameters) is trained on
full-resolution Fashion-MNIST. The student (`tiny_student_cnn` on 14x14x1
inputs, 4x fewer input pixels) is trained three ways per seed, from the same
initial weights, optimizer and number of steps:

- alone, on the 14x14 images and the labels;
- distilled, dict form: `fit({"teacher": x_28, "student": x_14}, y)`, the
  teacher reading the real 28x28 image of each sample;
- distilled, preprocessor form: `teacher_preprocessor=Resizing(28, 28)`, the
  teacher reading the 14x14 image upsampled back to 28x28 (what it gets when
  only the low-resolution images exist).

The 14x14 images are 2x2 averages of the 28x28 ones. Test accuracy is on the
full 10,000-image test set. Writes `benchmarks/RESULTS_inputs.md` and the
table in `docs/inputs.md` (between the `inputs` markers).

Usage:

    KERAS_BACKEND=tensorflow nice -n 10 python benchmarks/inputs.py  # 44 min, loaded
    KERAS_BACKEND=jax python benchmarks/inputs.py --quick --no-write  # seconds, checks the script
"""

import argparse
import os
import statistics
import time

import keras
from _markdown import write_between_markers

import keras_kd
from keras_kd.apps.data import load_fashion_mnist
from keras_kd.apps.demo import accuracy
from keras_kd.apps.reference_models import small_teacher_cnn
from keras_kd.apps.reference_models import tiny_student_cnn

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
ARMS = ("alone", "dict", "preprocessor")


def half_resolution(x):
    """2x2 average pooling of `(n, 28, 28, 1)` images: `(n, 14, 14, 1)`."""
    n, h, w, c = x.shape
    return x.reshape(n, h // 2, 2, w // 2, 2, c).mean(axis=(2, 4)).astype("float32")


def sparse_ce():
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def train_teacher(x, y, epochs, seed):
    keras.utils.set_random_seed(seed)
    teacher = small_teacher_cnn()
    teacher.compile(keras.optimizers.Adam(2e-3), sparse_ce())
    teacher.fit(x, y, epochs=epochs, batch_size=128, verbose=0)
    return teacher


def train_student(arm, teacher, x_28, x_14, y, args, seed):
    """One student trained as `arm`; returns it."""
    keras.utils.set_random_seed(seed)
    student = tiny_student_cnn((14, 14, 1), name=f"student_{arm}")
    fit_args = dict(epochs=args.student_epochs, batch_size=128, verbose=0)
    keras.utils.set_random_seed(seed)
    if arm == "alone":
        student.compile(keras.optimizers.Adam(2e-3), sparse_ce())
        student.fit(x_14, y, **fit_args)
        return student
    preprocessor = keras.layers.Resizing(28, 28) if arm == "preprocessor" else None
    distiller = keras_kd.Distiller(
        teacher,
        student,
        keras_kd.losses.SoftTargetKD(args.temperature),
        alpha=args.alpha,
        teacher_preprocessor=preprocessor,
    )
    distiller.compile(keras.optimizers.Adam(2e-3), sparse_ce())
    x = x_14 if arm == "preprocessor" else {"teacher": x_28, "student": x_14}
    distiller.fit(x, y, **fit_args)
    return distiller.student


def format_results(args, teacher_scores, results, seconds):
    """The Markdown table and its summary lines."""
    lines = [
        "| seed | student alone | distilled, dict (teacher sees 28x28) | "
        "distilled, Resizing(28, 28) (teacher sees 14x14 upsampled) |",
        "|---:|---:|---:|---:|",
    ]
    for seed, scores in results:
        cells = " | ".join(f"{100 * scores[arm]:.2f}%" for arm in ARMS)
        lines.append(f"| {seed} | {cells} |")
    lines.append("")
    for arm in ARMS:
        values = [100 * scores[arm] for _, scores in results]
        spread = statistics.stdev(values) if len(values) > 1 else 0.0
        line = f"- {arm}: {statistics.mean(values):.2f} ± {spread:.2f}% (mean ± std)"
        if arm != "alone":
            gains = [100 * (s[arm] - s["alone"]) for _, s in results]
            gain_spread = statistics.stdev(gains) if len(gains) > 1 else 0.0
            line += (
                f"; gain over alone {statistics.mean(gains):+.2f} ± {gain_spread:.2f} "
                f"points, {sum(g > 0 for g in gains)} of {len(gains)} seeds positive"
            )
        lines.append(line)
    lines += [
        f"- teacher (`small_teacher_cnn`, 206,922 parameters, seed 0): "
        f"{100 * teacher_scores['28']:.2f}% on the 28x28 test images, "
        f"{100 * teacher_scores['upsampled']:.2f}% on the 14x14 test images "
        "upsampled to 28x28 by `Resizing(28, 28)`",
        "",
        f"Sizes: the first {args.train_samples:,} Fashion-MNIST training images; "
        f"teacher {args.teacher_epochs} epochs; each student (`tiny_student_cnn` on "
        f"14x14x1, {tiny_student_cnn((14, 14, 1)).count_params():,} parameters) "
        f"{args.student_epochs} epochs, Adam 2e-3, batch 128; SoftTargetKD "
        f"T={args.temperature:g}, alpha={args.alpha:g}; test accuracy on the "
        f"{args.test_samples:,}-image test set; seeds {args.seeds} (one teacher, "
        f"seed 0, for all); Keras backend {keras.backend.backend()}; "
        f"{seconds / 60:.1f} minutes in all, measured on a 2-core machine shared "
        "with other jobs (times are not comparable with other runs).",
    ]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--train-samples", type=int, default=6000)
    parser.add_argument("--teacher-epochs", type=int, default=4)
    parser.add_argument("--student-epochs", type=int, default=8)
    parser.add_argument("--temperature", type=float, default=2.0)
    parser.add_argument("--alpha", type=float, default=0.5)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--quick", action="store_true", help="Tiny run to check the script.")
    parser.add_argument("--no-write", action="store_true", help="Write no results files.")
    args = parser.parse_args()
    if args.quick:
        args.train_samples, args.teacher_epochs, args.student_epochs = 1000, 1, 1
        args.seeds = args.seeds[:2]
    start = time.time()
    (x_train, y_train), (x_test, y_test) = load_fashion_mnist()
    if args.quick:
        x_test, y_test = x_test[:1000], y_test[:1000]
    args.test_samples = len(x_test)
    x_28, y = x_train[: args.train_samples], y_train[: args.train_samples]
    x_14, x_test_14 = half_resolution(x_28), half_resolution(x_test)
    teacher = train_teacher(x_28, y, args.teacher_epochs, seed=0)
    upsample = keras.layers.Resizing(28, 28)
    teacher_scores = {
        "28": accuracy(teacher, x_test, y_test),
        "upsampled": accuracy(teacher, keras.ops.convert_to_numpy(upsample(x_test_14)), y_test),
    }
    print(f"teacher: {teacher_scores}", flush=True)
    results = []
    for seed in args.seeds:
        scores = {
            arm: accuracy(train_student(arm, teacher, x_28, x_14, y, args, seed), x_test_14, y_test)
            for arm in ARMS
        }
        results.append((seed, scores))
        print(f"seed {seed}: {scores} ({time.time() - start:.0f} s)", flush=True)
    text = format_results(args, teacher_scores, results, time.time() - start)
    print(text)
    if not args.no_write:
        command = f"KERAS_BACKEND={keras.backend.backend()} nice -n 10 python benchmarks/inputs.py"
        with open(os.path.join(HERE, "RESULTS_inputs.md"), "w") as f:
            f.write(
                "# A teacher on other inputs: 28x28 teacher, 14x14 student "
                f"(benchmarks/inputs.py)\n\n{text}\n\n`{command}`\n"
            )
        write_between_markers(os.path.join(ROOT, "docs", "inputs.md"), "inputs", text)


if __name__ == "__main__":
    main()
