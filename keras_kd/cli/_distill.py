"""`keras-kd distill`: a saved student distilled from a saved teacher.

Runs on any Keras backend without TensorFlow. Every input is checked before
training starts; the result is written whole or not at all.

Example:

    keras-kd distill --teacher teacher.keras --student student.keras \\
        --data train.npz -o student_distilled.keras --epochs 5
"""

import math
import os

from keras_kd.cli import _cache
from keras_kd.cli import _loaders
from keras_kd.cli import _writing
from keras_kd.cli._errors import UsageError


def register(add_command):
    """Adds the `distill` sub-command through `add_command(name, handler, help)`."""
    parser = add_command(
        "distill", run, "Distill a saved student from a saved teacher on data in an .npz file."
    )
    parser.add_argument(
        "--teacher",
        required=True,
        help="Teacher .keras file, or a folder written by keras-kd cache.",
    )
    parser.add_argument(
        "--student", required=True, help="Student .keras file (its starting weights)."
    )
    parser.add_argument(
        "--data", required=True, help=".npz with 'x' and optionally 'y' (integer labels)."
    )
    parser.add_argument(
        "-o", "--output", required=True, help="Where to save the distilled student (.keras)."
    )
    parser.add_argument(
        "--loss", default="kd", help="Registered distillation loss name (default: kd)."
    )
    parser.add_argument("--temperature", type=float, default=4.0)
    parser.add_argument("--alpha", type=float, default=0.1)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--validation-split", type=float, default=0.0)


def _check_output(path):
    if not path.endswith(".keras"):
        raise UsageError(
            f"--output must end in .keras. Received: {path!r}. "
            "Name it like 'student_distilled.keras'."
        )
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise UsageError(
            f"--output: the folder {folder!r} does not exist. "
            "Create it first, or choose another path."
        )
    if os.path.isdir(path):
        raise UsageError(f"--output: {path!r} is a folder. Give a file name ending in .keras.")
    if not os.access(folder, os.W_OK) or _read_only(folder):
        raise UsageError(
            f"--output: cannot write in the folder {folder!r} (read-only). "
            "Choose a writable folder; this is checked before training."
        )


def _read_only(folder):
    """Whether `folder` sits on a read-only file system (root ignores modes)."""
    return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)


def _check_not_input(args):
    """The output must be none of the files the command reads."""
    output = os.path.abspath(args.output)
    for option in ("teacher", "student", "data"):
        if os.path.abspath(getattr(args, option)) == output:
            raise UsageError(
                f"--output {args.output!r} is also --{option}; writing it would "
                f"destroy that input. Choose another output path."
            )


def _check_numbers(args):
    check_fit_numbers(args)
    if not 0.0 <= args.validation_split < 1.0:
        raise UsageError(
            f"--validation-split must be in [0, 1). Received: {args.validation_split}."
        )


def check_fit_numbers(args):
    """Raises a `UsageError` for an --epochs, --batch-size, --temperature,
    --alpha or --learning-rate no distillation can run with."""
    if args.epochs < 1 or args.batch_size < 1:
        raise UsageError(
            f"--epochs and --batch-size must be at least 1. Received: "
            f"--epochs {args.epochs}, --batch-size {args.batch_size}."
        )
    if not (math.isfinite(args.temperature) and args.temperature > 0):
        raise UsageError(
            f"--temperature must be a finite number > 0. Received: {args.temperature}."
        )
    if not 0.0 <= args.alpha <= 1.0:
        raise UsageError(f"--alpha must be in [0, 1]. Received: {args.alpha}.")
    if not (math.isfinite(args.learning_rate) and args.learning_rate > 0):
        raise UsageError(
            f"--learning-rate must be a finite number > 0. Received: {args.learning_rate}."
        )


def _labels(y, x, data):
    """`y` as integer class labels, or None for unlabeled data.

    Checked by `checks.check_class_labels` (one whole class per input,
    named by `data`, e.g. `"--data train.npz"`, then `'y'`). Booleans and
    floats that are whole numbers are the classes they name (as `fit()`,
    `qat` and `prune` read them); they come back as int32 (a float too
    large for it is kept, for the range check to name)."""
    import numpy as np

    from keras_kd import checks

    if y is None:
        return None
    checks.check_class_labels(y, None, len(x), f"{data}: 'y'")
    if y.ndim == 2:
        y = y[:, 0]
    if y.dtype.kind in "bf" and not (len(y) and np.abs(y).max() >= 2**31):
        return y.astype("int32")
    return y


def run(args):
    """Checks every input, distills, and saves the student."""
    _check_output(args.output)
    _check_not_input(args)
    _check_numbers(args)
    arrays = _loaders.load_npz(args.data, "--data")
    if os.path.isdir(args.teacher):  # written by `keras-kd cache`
        teacher = _cache.load_teacher(args.teacher)
    else:
        teacher = _loaders.load_keras_model(args.teacher, "--teacher")
    student = _loaders.load_keras_model(args.student, "--student")
    x = arrays["x"]
    for model, what in ((teacher, "the teacher"), (student, "the student")):
        _loaders.check_fits(model, x, what, args.data)
    y = _labels(arrays.get("y"), x, f"--data {args.data}")
    _loaders.check_student_reads(student, {f"--data {args.data}: 'y'": (x, y)})
    distiller = _fit(args, teacher, student, x, y)
    _writing.save_model(distiller.student, args.output)
    print(f"Saved the distilled student to {args.output}")
    return 0


def _fit(args, teacher, student, x, y):
    import keras

    from keras_kd import losses
    from keras_kd.classification import compile_classifier
    from keras_kd.distiller import Distiller

    alpha = args.alpha if y is not None else 0.0
    loss = losses.with_temperature(args.loss, args.temperature)
    distiller = Distiller(teacher, student, distillation_loss=loss, alpha=alpha)
    compile_classifier(distiller, keras.optimizers.Adam(args.learning_rate), labelled=y is not None)
    distiller.fit(**_cache.fit_data(teacher, x, y, args), epochs=args.epochs)
    return distiller
