"""Command-line options and settings several benchmarks share, declared once.

`student_parser` serves the benchmarks that train a teacher and then
students seed by seed (pays.py, recipes.py), which train every student with
the settings below; `add_fine_tuning` adds the options of the QAT and pruning
runs (compression_benchmark.py, tfmot.py).
"""

import argparse

# How every student of pays.py and recipes.py trains: Adam at LEARNING_RATE
# with a cosine decay, batches of BATCH; function matching's mixup and
# translations.
BATCH = 128
LEARNING_RATE = 2e-3
MIXUP_ALPHA = 0.2
TRANSLATION = 0.1


def int_at_least(low):
    """An argparse `type`: an int >= `low`, or `error: ...` and exit 2 naming it.

    Example:

    >>> int_at_least(1)("3")
    3
    """

    def parse(text):
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < low:
            raise argparse.ArgumentTypeError(f"must be an int >= {low}. Received: {text!r}")
        return value

    parse.__name__ = f"int >= {low}"
    return parse


def positive_float(text):
    """An argparse `type`: a finite float > 0 (a learning rate), or `error: ...`
    and exit 2 naming it.

    Example:

    >>> positive_float("2e-3")
    0.002
    """
    try:
        value = float(text)
    except ValueError:
        value = None
    if value is None or not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number > 0. Received: {text!r}")
    return value


positive_float.__name__ = "number > 0"


def student_parser(description, *, train_samples, teacher_epochs, epochs, epochs_help=None):
    """An `ArgumentParser` with `--train-samples`, `--teacher-epochs`,
    `--epochs` (of every student), `--seeds` (default 0 1 2) and `--quick`."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--train-samples", type=int_at_least(1), default=train_samples)
    parser.add_argument("--teacher-epochs", type=int_at_least(1), default=teacher_epochs)
    parser.add_argument("--epochs", type=int_at_least(1), default=epochs, help=epochs_help)
    parser.add_argument("--seeds", type=int_at_least(0), nargs="+", default=[0, 1, 2])
    parser.add_argument("--quick", action="store_true", help="Tiny run to check the script.")
    return parser


def add_fine_tuning(parser, *, qat_epochs, prune_epochs):
    """Adds `--qat-epochs`, `--prune-epochs` and `--fine-tune-seeds` to `parser`."""
    parser.add_argument("--qat-epochs", type=int, default=qat_epochs)
    parser.add_argument("--prune-epochs", type=int, default=prune_epochs)
    parser.add_argument(
        "--fine-tune-seeds",
        type=int,
        nargs="+",
        default=[0, 1, 2],
        help="Each QAT and pruning run is repeated with these seeds.",
    )
    return parser
