"""`keras-kd tune`: search the distillation temperature, alpha and loss.

The student is given as a `.keras` file: its architecture is re-initialized
for every trial (`keras.models.clone_model`, seeded), so each trial starts
from the same fresh weights; the weights stored in the file are not used.
Data are an `.npz` (`x`, `y`) or a built-in dataset; without
`--validation-data` the last `--validation-fraction` of the training data
is held out to score the trials. Needs the `keras-kd[tuning]` extra.

Example:

    keras-kd tune --teacher teacher.keras --student student.keras --dataset digits \\
        --temperature 1 2 4 --alpha 0.1 0.5 --epochs 5 --directory search -o best.json
"""

import dataclasses
import json
import math
import os

from keras_kd.cli import _distill
from keras_kd.cli import _loaders
from keras_kd.cli._errors import UsageError

DATASETS = ("digits", "fashion_mnist")


def register(add_command):
    """Adds the `tune` sub-command through `add_command(name, handler, help)`."""
    parser = add_command(
        "tune",
        run,
        "Search the distillation temperature, alpha and loss on a validation split "
        "(KerasTuner; resumable from --directory).",
    )
    parser.add_argument("--teacher", required=True, help="Trained teacher .keras file.")
    parser.add_argument(
        "--student",
        required=True,
        help="Student .keras file; its architecture is re-initialized for every trial.",
    )
    data = parser.add_mutually_exclusive_group(required=True)
    data.add_argument("--data", help="Training .npz with 'x' and 'y' (integer labels).")
    data.add_argument("--dataset", choices=DATASETS, help="A built-in dataset's training set.")
    parser.add_argument("--validation-data", default=None, help="Validation .npz with 'x' and 'y'.")
    parser.add_argument(
        "--validation-fraction",
        type=float,
        default=0.2,
        help="Without --validation-data: the last share of the training data held out "
        "to score the trials (default: 0.2).",
    )
    parser.add_argument("--temperature", type=float, nargs="+", default=[1.0, 2.0, 4.0])
    parser.add_argument("--alpha", type=float, nargs="+", default=[0.1, 0.5])
    parser.add_argument("--loss", nargs="+", default=["kd"], help="Registered loss names.")
    parser.add_argument("--epochs", type=int, default=5, help="Epochs per trial.")
    parser.add_argument(
        "--max-trials", type=int, default=None, help="Trials at most (default: the whole grid)."
    )
    parser.add_argument("--algorithm", choices=("grid", "random"), default="grid")
    parser.add_argument("--objective", default="val_accuracy")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--directory",
        default="keras_kd_search",
        help="KerasTuner's folder; run again with the same folder to resume.",
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="Discard a search stored in --directory."
    )
    parser.add_argument(
        "-o", "--output", required=True, help="Where to write the best settings (.json)."
    )


def _check_options(args):
    """Every option checked before any file is loaded or model trained."""
    if not args.output.endswith(".json"):
        raise UsageError(
            f"--output must end in .json. Received: {args.output!r}. Name it like 'best.json'."
        )

    from keras_kd import files

    inputs = [args.teacher, args.student, args.data, args.validation_data]
    search_folder = os.path.abspath(args.directory) + os.sep
    if os.path.abspath(args.output).startswith(search_folder):
        raise UsageError(
            f"--output {args.output!r} lies inside --directory {args.directory!r}, "
            "which holds the search's own files (its settings and trials) and "
            "must not be overwritten. Write the best settings elsewhere, e.g. "
            "-o best.json."
        )
    files.check_destination(args.output, inputs, what="--output")
    for option, value in (
        ("epochs", args.epochs),
        ("batch-size", args.batch_size),
        ("max-trials", args.max_trials),
    ):
        if value is not None and value < 1:
            raise UsageError(f"--{option} must be at least 1. Received: {value}.")
    if args.seed < 0:
        raise UsageError(f"--seed must be 0 or more. Received: {args.seed}.")
    bad = [t for t in args.temperature if not (math.isfinite(t) and t > 0)]
    if bad:
        raise UsageError(f"--temperature values must be finite numbers > 0. Received: {bad}.")
    bad = [a for a in args.alpha if not 0.0 <= a <= 1.0]
    if bad:
        raise UsageError(f"--alpha values must be in [0, 1]. Received: {bad}.")
    if not (math.isfinite(args.learning_rate) and args.learning_rate > 0):
        raise UsageError(
            f"--learning-rate must be a finite number > 0. Received: {args.learning_rate}."
        )
    if not 0.0 < args.validation_fraction < 1.0:
        raise UsageError(
            f"--validation-fraction must be between 0 and 1. Received: {args.validation_fraction}."
        )
    if args.validation_data is not None and args.data is None:
        raise UsageError(
            "--validation-data goes with --data; a built-in --dataset is split by "
            "--validation-fraction."
        )
    _check_losses(args.loss)


def _check_losses(names):
    from keras_kd import losses

    unknown = [name for name in names if name not in losses.registered_names()]
    if unknown:
        raise UsageError(
            f"--loss: unknown loss {', '.join(unknown)}. "
            f"Choose among {', '.join(losses.registered_names())}."
        )


def _import_tuning():
    """`keras_kd.apps.tuning` after checking that KerasTuner is installed."""
    from keras_kd.apps import tuning

    try:
        tuning.import_keras_tuner()
    except ImportError as error:
        raise UsageError(f"keras-kd tune needs KerasTuner. {error}") from None
    return tuning


def _labeled(arrays, named):
    y = _distill._labels(arrays["y"], arrays["x"], named)
    return arrays["x"], y


def _load_data(args):
    """`(train, validation)`, each `(x, y)`."""
    if args.dataset is not None:
        from keras_kd.apps import demo

        (x, y), _ = demo.DATASETS[args.dataset]()
    else:
        arrays = _loaders.load_npz(args.data, "--data", ("x", "y"))
        x, y = _labeled(arrays, f"--data {args.data}")
    if args.validation_data is not None:
        arrays = _loaders.load_npz(args.validation_data, "--validation-data", ("x", "y"))
        return (x, y), _labeled(arrays, f"--validation-data {args.validation_data}")
    held_out = int(round(len(x) * args.validation_fraction))
    if not 0 < held_out < len(x):
        raise UsageError(
            f"--validation-fraction {args.validation_fraction} of {len(x)} samples leaves "
            "no training or no validation sample. Give more data or --validation-data."
        )
    split = len(x) - held_out
    return (x[:split], y[:split]), (x[split:], y[split:])


def _student_builder(student, seed):
    """A function returning `student`'s architecture with fresh weights."""
    import keras

    def build():
        return keras.models.clone_model(student)

    try:
        keras.utils.set_random_seed(seed)
        build()
    except Exception as error:  # a subclassed model without get_config
        raise UsageError(
            f"--student: the model {student.name!r} cannot be re-initialized with "
            f"keras.models.clone_model ({type(error).__name__}: {error}). Save a "
            "Functional or Sequential model."
        ) from None
    return build


def run(args):
    """Checks every input, runs the search, prints the table, writes the JSON."""
    _check_options(args)
    tuning = _import_tuning()
    teacher = _loaders.load_keras_model(args.teacher, "--teacher")
    student = _loaders.load_keras_model(args.student, "--student")
    train, validation = _load_data(args)
    where = args.data or f"the {args.dataset} dataset"
    for model, what in ((teacher, "the teacher"), (student, "the student")):
        _loaders.check_fits(model, train[0], what, where)
        _loaders.check_fits(model, validation[0], what, args.validation_data or where)
    # Labels named as the files name them: option, file and 'y'.
    flag = f"--data {args.data}: 'y'" if args.data else f"the {args.dataset} dataset"
    held_out = (
        f"--validation-data {args.validation_data}: 'y'"
        if args.validation_data
        else f"{flag} (its validation split)"
    )
    _loaders.check_student_reads(student, {flag: train, held_out: validation})
    if os.path.exists(args.directory) and not os.path.isdir(args.directory):
        raise UsageError(f"--directory {args.directory!r} is a file, not a folder.")
    result = tuning.search(
        teacher,
        _student_builder(student, args.seed),
        train,
        validation,
        temperature=args.temperature,
        alpha=args.alpha,
        losses=args.loss,
        epochs=args.epochs,
        max_trials=args.max_trials,
        directory=args.directory,
        seed=args.seed,
        objective=args.objective,
        algorithm=args.algorithm,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        overwrite=args.overwrite,
    )
    print(result.to_markdown())

    from keras_kd import files

    trials = [dataclasses.asdict(trial) for trial in result.trials]
    best = {**result.best, "objective": result.objective, "trials": trials}
    files.atomic_write(args.output, json.dumps(best, indent=2) + "\n")
    print(f"Wrote the best settings to {args.output}")
    return 0
