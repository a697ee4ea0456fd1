"""Searched distillation settings against the demo's fixed ones (T=2, alpha=0.5).

On Fashion-MNIST: the demo's teacher CNN is trained on a training subset;
`keras_kd.apps.tuning.search` then picks the temperature and alpha of the demo's
student CNN on a validation split (the last 10,000 training images, never
used for training). Only after the search is done are the searched settings,
the demo's settings and the student alone trained with three fresh seeds and
scored on the test set.

Usage:

    KERAS_BACKEND=tensorflow nice -n 10 python benchmarks/tuning.py   # ~20 min, shared 2-core CPU
    KERAS_BACKEND=tensorflow python benchmarks/tuning.py --quick      # a minute, checks the script

Writes `benchmarks/RESULTS_tuning.md` (not with `--quick`).
"""

import argparse
import os
import shutil
import statistics
import time

import keras

from keras_kd.apps import demo
from keras_kd.apps import tuning
from keras_kd.apps.data import load_fashion_mnist
from keras_kd.apps.reference_models import student_cnn

HERE = os.path.dirname(os.path.abspath(__file__))
WORK = os.path.join(HERE, "_work")
DEMO_SETTINGS = {
    "temperature": demo.PRESETS["fashion_mnist"].temperature,
    "alpha": demo.PRESETS["fashion_mnist"].alpha,
    "loss": "kd",
}
LEARNING_RATE = 2e-3  # the demo's
BATCH_SIZE = 128


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--teacher-samples", type=int, default=5000)
    parser.add_argument("--train-samples", type=int, default=2000)
    parser.add_argument("--teacher-epochs", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--temperature", type=float, nargs="+", default=[1.0, 2.0, 4.0])
    parser.add_argument("--alpha", type=float, nargs="+", default=[0.1, 0.5])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--quick", action="store_true", help="Tiny run to check the script.")
    args = parser.parse_args()
    if args.quick:
        args.teacher_samples, args.train_samples = 1000, 1000
        args.teacher_epochs, args.epochs, args.seeds = 1, 1, [1, 2]
        args.temperature, args.alpha = [1.0, 4.0], [0.5]
    return args


def splits(args):
    """Training subset, validation split (last 10,000 training images), test set."""
    (x_train, y_train), (x_test, y_test) = load_fashion_mnist()
    x_val, y_val = x_train[50000:], y_train[50000:]
    if args.quick:
        x_val, y_val, x_test, y_test = x_val[:1000], y_val[:1000], x_test[:1000], y_test[:1000]
    teacher_data = (x_train[: args.teacher_samples], y_train[: args.teacher_samples])
    train = (x_train[: args.train_samples], y_train[: args.train_samples])
    return teacher_data, train, (x_val, y_val), (x_test, y_test)


def alone_accuracy(train, test, epochs, seed):
    """The same student trained on the labels alone, scored on the test set."""
    keras.utils.set_random_seed(seed)
    student = student_cnn()
    student.compile(
        keras.optimizers.Adam(LEARNING_RATE),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    keras.utils.set_random_seed(seed)
    student.fit(*train, epochs=epochs, batch_size=BATCH_SIZE, verbose=0)
    return demo.accuracy(student, *test)


def distilled_accuracy(teacher, settings, train, test, epochs, seed):
    """A student distilled with `settings`, exactly as a search trial trains it."""
    distiller, _ = tuning.train_trial(
        teacher,
        student_cnn,
        settings,
        train,
        None,
        epochs,
        seed=seed,
        batch_size=BATCH_SIZE,
        learning_rate=LEARNING_RATE,
    )
    return demo.accuracy(distiller.student, *test)


def mean_std(values):
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{100 * statistics.mean(values):.2f} ± {100 * spread:.2f}%"


def report(args, teacher_scores, result, finals, seconds):
    searched = result.best
    lines = [
        "# Searched T and alpha against the demo's fixed ones (benchmarks/tuning.py)",
        "",
        "Measured on a shared machine: 2 CPU cores used by several engineers at once, so the "
        "times are only indicative.",
        "",
        f"Sizes (small: sized for about 20 minutes there): Fashion-MNIST; teacher "
        f"`teacher_cnn` trained on the first {args.teacher_samples:,} training images for "
        f"{args.teacher_epochs} epochs (seed 0): {100 * teacher_scores[0]:.2f}% on the "
        f"validation split, {100 * teacher_scores[1]:.2f}% on the test set. Student "
        f"`student_cnn` (26,698 parameters) trained on the first {args.train_samples:,} "
        f"images for {args.epochs} epochs, Adam {LEARNING_RATE:g}, batch {BATCH_SIZE}, "
        f"SoftTargetKD. Search: grid over temperature {args.temperature} x alpha "
        f"{args.alpha} ({len(result.trials)} trials, seed 0), scored on the validation split "
        "(training images 50,000 to 59,999, never trained on); the test set was used only "
        f"after the search. Keras backend {keras.backend.backend()}; "
        f"{seconds / 60:.1f} minutes in all.",
        "",
        "## The search (validation split)",
        "",
        result.to_markdown(),
        "",
        f"## On the test set, seeds {args.seeds} (mean ± std)",
        "",
        "| student | " + " | ".join(f"seed {s}" for s in args.seeds) + " | mean ± std |",
        "|---|" + "---:|" * (len(args.seeds) + 1),
    ]
    for name, scores in finals.items():
        cells = " | ".join(f"{100 * s:.2f}%" for s in scores)
        lines.append(f"| {name} | {cells} | {mean_std(scores)} |")
    gains = {
        name: [d - a for d, a in zip(scores, finals["alone"])]
        for name, scores in finals.items()
        if name != "alone"
    }
    lines += ["", "Gain over the student alone, per seed, mean ± std (points):", ""]
    for name, values in gains.items():
        spread = statistics.stdev(values) if len(values) > 1 else 0.0
        lines.append(
            f"- {name}: {statistics.mean(values) * 100:+.2f} ± {spread * 100:.2f} "
            f"({', '.join(f'{100 * v:+.2f}' for v in values)})"
        )
    same = all(searched[k] == DEMO_SETTINGS[k] for k in ("temperature", "alpha"))
    if same:
        lines += ["", "The search chose the demo's own settings: both rows train the same way."]
    return "\n".join(lines) + "\n"


def main():
    args = parse_args()
    start = time.time()
    teacher_data, train, val, test = splits(args)
    teacher, _ = demo.train_teacher(
        *teacher_data, args.teacher_epochs, seed=0, learning_rate=LEARNING_RATE, verbose=0
    )
    teacher_scores = (demo.accuracy(teacher, *val), demo.accuracy(teacher, *test))
    print(
        f"teacher: val {teacher_scores[0]:.4f}, test {teacher_scores[1]:.4f} "
        f"({time.time() - start:.0f} s)",
        flush=True,
    )

    directory = os.path.join(WORK, "tuning_search_quick" if args.quick else "tuning_search")
    shutil.rmtree(directory, ignore_errors=True)
    result = tuning.search(
        teacher,
        student_cnn,
        train,
        val,
        temperature=args.temperature,
        alpha=args.alpha,
        losses=["kd"],
        epochs=args.epochs,
        directory=directory,
        seed=0,
        batch_size=BATCH_SIZE,
        learning_rate=LEARNING_RATE,
    )
    print(result.to_markdown(), f"\n({time.time() - start:.0f} s)", flush=True)

    searched = {key: result.best[key] for key in ("temperature", "alpha", "loss")}
    finals = {
        "alone": [],
        f"demo T={DEMO_SETTINGS['temperature']:g}, alpha={DEMO_SETTINGS['alpha']:g}": [],
        f"searched T={searched['temperature']:g}, alpha={searched['alpha']:g}": [],
    }
    names = list(finals)
    for seed in args.seeds:
        finals[names[0]].append(alone_accuracy(train, test, args.epochs, seed))
        finals[names[1]].append(
            distilled_accuracy(teacher, DEMO_SETTINGS, train, test, args.epochs, seed)
        )
        finals[names[2]].append(
            distilled_accuracy(teacher, searched, train, test, args.epochs, seed)
        )
        print(
            f"seed {seed}: "
            + ", ".join(f"{n} {finals[n][-1]:.4f}" for n in names)
            + f" ({time.time() - start:.0f} s)",
            flush=True,
        )
    text = report(args, teacher_scores, result, finals, time.time() - start)
    print(text)
    if not args.quick:
        with open(os.path.join(HERE, "RESULTS_tuning.md"), "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
