"""`keras-kd demo`: does distillation beat training the same student alone?

Example:

    keras-kd demo --dataset digits --labels 100 --report-dir demo_report
    keras-kd demo --dataset digits --epochs 10
"""

import math
import os

from keras_kd.cli._errors import UsageError

# `run_demo`'s keyword arguments, taken from the options of the same name.
DEMO_OPTIONS = (
    "epochs",
    "teacher_epochs",
    "batch_size",
    "temperature",
    "alpha",
    "learning_rate",
    "lr_schedule",
    "seed",
    "train_samples",
    "labels",
    "save_dir",
    "report_dir",
)


def register(add_command):
    """Adds the `demo` sub-command through `add_command(name, handler, help)`."""
    parser = add_command(
        "demo",
        run,
        "Distill a small CNN from a teacher on real data and compare it "
        "with the same student trained alone.",
    )
    parser.add_argument("--dataset", default="fashion_mnist", choices=["fashion_mnist", "digits"])
    parser.add_argument(
        "--epochs",
        type=int,
        default=None,
        help="Epochs per student (default: 12 on fashion_mnist, 40 on digits).",
    )
    parser.add_argument(
        "--teacher-epochs",
        type=int,
        default=None,
        help="Epochs for the teacher (default: 5 on fashion_mnist, 40 on digits).",
    )
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument(
        "--temperature",
        type=float,
        default=None,
        help="SoftTargetKD temperature (default: 2 on fashion_mnist, 4 on digits).",
    )
    parser.add_argument(
        "--alpha",
        type=float,
        default=None,
        help="Weight of the hard-label loss (default: 0.5 on fashion_mnist, 0.1 on digits).",
    )
    parser.add_argument("--learning-rate", type=float, default=2e-3)
    parser.add_argument(
        "--lr-schedule",
        default=None,
        choices=["constant", "cosine"],
        help="The students' learning rate: constant, or cosine decay to zero "
        "(default: the dataset's preset).",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--train-samples", type=int, default=None, help="Use only the first N training images."
    )
    parser.add_argument(
        "--labels",
        type=int,
        default=None,
        help="Scarce labels: the student alone sees only N labeled images; the distilled "
        "student sees every image, unlabeled, with the teacher's soft targets.",
    )
    parser.add_argument(
        "--save-dir", default=None, help="Save teacher and students here as .keras files."
    )
    parser.add_argument(
        "--report-dir",
        default=None,
        help="Write comparison.md, comparison.html and comparison.png here: per-class "
        "accuracy, agreement with the teacher, calibration (ECE) and a reliability diagram "
        "(the figure needs matplotlib: pip install 'keras-kd[report]').",
    )


# Options that must be whole numbers of at least 1 when given, and >= 0.
_COUNTS = ("epochs", "teacher_epochs", "batch_size", "train_samples", "labels")


def _check(args):
    """Every option checked before any data is loaded or model trained."""
    for name in _COUNTS:
        value = getattr(args, name)
        if value is not None and value < 1:
            option = "--" + name.replace("_", "-")
            raise UsageError(f"{option} must be at least 1. Received: {value}.")
    if args.seed < 0:
        raise UsageError(f"--seed must be 0 or more. Received: {args.seed}.")
    positive = {"temperature": args.temperature, "learning-rate": args.learning_rate}
    for option, value in positive.items():
        if value is not None and not (math.isfinite(value) and value > 0):
            raise UsageError(f"--{option} must be a finite number > 0. Received: {value}.")
    if args.alpha is not None and not 0.0 <= args.alpha <= 1.0:
        raise UsageError(f"--alpha must be in [0, 1]. Received: {args.alpha}.")
    for option in ("save_dir", "report_dir"):
        folder = getattr(args, option)
        if folder is not None and os.path.exists(folder) and not os.path.isdir(folder):
            flag = "--" + option.replace("_", "-")
            raise UsageError(f"{flag} {folder!r} is a file, not a folder. Name a folder.")
    if args.report_dir is not None:
        from keras_kd.apps import render

        try:
            render.require_matplotlib()
        except ImportError as error:
            raise UsageError(f"--report-dir: {error}") from None


def run(args):
    """Trains the teacher and both students, then prints the table."""
    _check(args)
    import keras

    from keras_kd.apps import demo

    print(f"keras-kd demo on {args.dataset}, Keras backend: {keras.backend.backend()}")
    if args.labels is not None:
        print(
            f"Scarce labels: the student alone learns from {args.labels:,} labeled images; the "
            "distilled student from the teacher's soft targets on every training image, "
            "unlabeled (the teacher was trained on all labels)."
        )
    rows = demo.run_demo(args.dataset, **{name: getattr(args, name) for name in DEMO_OPTIONS})
    print()
    print(demo.format_table(rows))
    if args.report_dir is not None:
        for path in demo.REPORT_FILES:
            print(f"wrote {os.path.join(args.report_dir, path)}")
    return 0
