"""`keras-kd qat` and `keras-kd prune`: the CLI of quantization-aware and
pruning-aware distillation. `keras_kd.cli` calls `register_commands`.

Example:

    keras-kd qat student.keras --teacher teacher.keras --data train.npz \\
        --validation test.npz -o student_qat_int8.tflite --epochs 2
    keras-kd prune student.keras --teacher teacher_logits.npy \\
        --data train.npz -o student_pruned.tflite --target-sparsity 0.8
"""

import os

from keras_kd.cli import load_npz
from tflite_export.report import percent
from tflite_export.report import two_columns


def register_commands(subparsers):
    """Adds the `qat` and `prune` sub-commands to an argparse `subparsers`."""
    qat = subparsers.add_parser(
        "qat",
        help="Quantization-aware distillation (TFMOT) of a .keras student "
        "into an int8 .tflite.",
    )
    _add_common(qat, default_output="student_qat_int8.tflite", learning_rate=1e-4)
    qat.set_defaults(handler=_run_qat)
    prune = subparsers.add_parser(
        "prune",
        help="Pruning-aware distillation (TFMOT) of a .keras student into a "
        "sparse .tflite.",
    )
    _add_common(prune, default_output="student_pruned.tflite", learning_rate=1e-3)
    prune.add_argument("--target-sparsity", type=float, default=0.8,
                       help="Share of kernel weights set to zero, in (0, 1).")
    prune.add_argument("--quantization", default=None,
                       choices=["dynamic", "float16", "int8", "int8_io", "int16x8"],
                       help="Conversion mode of the pruned model (default: float32).")
    prune.set_defaults(handler=_run_prune)


def _add_common(parser, default_output, learning_rate):
    parser.add_argument("student", help="The trained student, a .keras file (Sequential or Functional).")
    parser.add_argument("--teacher", required=True,
                        help="Teacher .keras file, or .npy of its outputs on the --data inputs.")
    parser.add_argument("--data", required=True, help=".npz with 'x' and optionally 'y' (integer labels).")
    parser.add_argument("--validation", default=None, help=".npz with 'x' and 'y' to measure accuracies on.")
    parser.add_argument("-o", "--output", default=default_output, help="The .tflite to write.")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--temperature", type=float, default=4.0)
    parser.add_argument("--alpha", type=float, default=0.1)
    parser.add_argument("--learning-rate", type=float, default=learning_rate)
    parser.add_argument("--teacher-outputs", default="auto", choices=["auto", "logits", "probabilities"])
    parser.add_argument("--seed", type=int, default=0, help="Random seed of the fine-tuning.")
    parser.add_argument("--quiet", action="store_true", help="No progress bar.")


def _load(path, what, required=()):
    import numpy as np

    if not os.path.exists(path):
        raise SystemExit(f"error: the {what} file {path!r} does not exist.")
    if path.endswith(".npy"):
        return np.load(path)
    if path.endswith(".npz"):
        return load_npz(path, required, what)
    import keras

    return keras.saving.load_model(path, compile=False)


def _inputs(args):
    data = _load(args.data, "data", required=("x",))
    validation = None
    if args.validation:
        arrays = _load(args.validation, "validation", required=("x", "y"))
        validation = (arrays["x"], arrays["y"])
    return {
        "student": _load(args.student, "student"),
        "teacher": _load(args.teacher, "teacher"),
        "x": data["x"],
        "y": data.get("y"),
        "output_path": args.output,
        "epochs": args.epochs,
        "temperature": args.temperature,
        "alpha": args.alpha,
        "learning_rate": args.learning_rate,
        "batch_size": args.batch_size,
        "validation_data": validation,
        "teacher_outputs": args.teacher_outputs,
        "seed": args.seed,
        "verbose": 0 if args.quiet else 1,
    }


def _report(result):
    rows = [
        ("file", result.path),
        ("quantization", result.quantization or "float32"),
        ("float accuracy (before)", percent(result.float_accuracy)),
        ("post-training accuracy", percent(result.ptq_accuracy)),
        ("final accuracy (LiteRT)", percent(result.accuracy)),
        ("sparsity", f"{100 * result.sparsity:.1f}%"),
        ("bytes", f"{result.bytes:,}"),
        ("gzip bytes", f"{result.gzip_bytes:,}"),
    ]
    print(two_columns(rows))
    if result.evaluated_on == "training data":
        print("(accuracies on the --data set; pass --validation for held-out ones)")


def _run(function, kwargs):
    try:
        result = function(**kwargs)
    except ValueError as error:
        raise SystemExit(f"error: {error}") from None
    _report(result)
    return 0


def _run_qat(args):
    from tflite_export.qat import quantization_aware_distill

    return _run(quantization_aware_distill, _inputs(args))


def _run_prune(args):
    from tflite_export.pruning import prune_distill

    kwargs = _inputs(args)
    kwargs.update(target_sparsity=args.target_sparsity, quantization=args.quantization)
    return _run(prune_distill, kwargs)
