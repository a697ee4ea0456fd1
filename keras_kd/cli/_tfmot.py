"""`keras-kd qat` and `keras-kd prune`: quantization-aware and pruning-aware
distillation of a `.keras` student into a `.tflite` file; natively
(`keras_kd.compression`, on the process's backend) by default, or through
TFMOT with `--engine tfmot`.

Both take `export`'s file options (--labels, --normalization, --image-input,
--probabilities, --no-metadata), checked before the fine-tuning starts, so
the file can be one MediaPipe Tasks' `ImageClassifier` loads.

Example:

    keras-kd qat student.keras --teacher teacher.keras --data train.npz \\
        --validation test.npz -o student_qat_int8.tflite --epochs 2 \\
        --labels labels.txt --normalization 0 255 --image-input uint8_rgb --probabilities
    keras-kd prune student.keras --teacher teacher_logits.npy --engine tfmot \\
        --data train.npz -o student_pruned.tflite --target-sparsity 0.8
"""

from keras_kd.apps import render
from keras_kd.cli import _compression
from keras_kd.cli import _distill
from keras_kd.cli import _export
from keras_kd.cli import _loaders
from keras_kd.cli import _requirements
from keras_kd.cli._errors import UsageError

TFMOT_NEEDS = ("tensorflow", "tensorflow_model_optimization", "tf_keras")


def register(add_command):
    """Adds `qat` and `prune` through `add_command(name, handler, help)`."""
    qat = add_command(
        "qat",
        run_qat,
        "Quantization-aware distillation of a .keras student into an int8 .tflite.",
    )
    _add_common(qat, default_output="student_qat_int8.tflite", learning_rate=1e-4)
    prune = add_command(
        "prune",
        run_prune,
        "Pruning-aware distillation of a .keras student into a sparse .tflite.",
    )
    _add_common(prune, default_output="student_pruned.tflite", learning_rate=1e-3)
    prune.add_argument(
        "--target-sparsity",
        type=float,
        default=0.8,
        help="Share of kernel weights set to zero, in (0, 1).",
    )
    prune.add_argument(
        "--quantization",
        default=None,
        choices=_requirements.mode_names(),
        help="Conversion mode of the pruned model, from tflite_export's "
        "table of modes (default: no quantization).",
    )


def _add_common(parser, default_output, learning_rate):
    parser.add_argument(
        "student",
        help="The trained student, a .keras file (any model with the native "
        "engine; Sequential or Functional with --engine tfmot).",
    )
    parser.add_argument(
        "--teacher",
        required=True,
        help="Teacher .keras file, or .npy of its outputs on the --data inputs.",
    )
    parser.add_argument(
        "--data", required=True, help=".npz with 'x' and optionally 'y' (integer labels)."
    )
    parser.add_argument(
        "--validation", default=None, help=".npz with 'x' and 'y' to measure accuracies on."
    )
    parser.add_argument("-o", "--output", default=default_output, help="The .tflite to write.")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--temperature", type=float, default=4.0)
    parser.add_argument("--alpha", type=float, default=0.1)
    parser.add_argument("--learning-rate", type=float, default=learning_rate)
    parser.add_argument(
        "--teacher-outputs", default="auto", choices=["auto", "logits", "probabilities"]
    )
    parser.add_argument("--seed", type=int, default=0, help="Random seed of the fine-tuning.")
    _export.add_file_options(parser)
    parser.add_argument("--quiet", action="store_true", help="No progress bar.")
    parser.add_argument(
        "--engine",
        default="native",
        choices=["native", "tfmot"],
        help="native: keras_kd.compression on this Keras backend (default); "
        "tfmot: tensorflow-model-optimization in a TensorFlow child process.",
    )


def _inputs(args, tflite_export):
    """Every input checked and loaded, and the output checked, before work."""
    read = [args.student, args.teacher, args.data, args.validation, _export.label_file(args)]
    output = _export.check_output(args.output, read, tflite_export)
    _distill.check_fit_numbers(args)
    data = _loaders.load_npz(args.data, "--data")
    validation = None
    if args.validation:
        arrays = _loaders.load_npz(args.validation, "--validation", required=("x", "y"))
        validation = (arrays["x"], arrays["y"])
    return {
        "student": _loaders.load_keras_model(args.student, "the student"),
        "teacher": _loaders.load_model_or_outputs(args.teacher, "--teacher"),
        "x": data["x"],
        "y": data.get("y"),
        "output_path": output,
        "epochs": args.epochs,
        "temperature": args.temperature,
        "alpha": args.alpha,
        "learning_rate": args.learning_rate,
        "batch_size": args.batch_size,
        "validation_data": validation,
        "teacher_outputs": args.teacher_outputs,
        "seed": args.seed,
        "verbose": 0 if args.quiet else 1,
        **_export.file_options(args),
    }


def _print_result(result, tflite_export):
    percent = render.percent
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
    print(render.two_columns(rows))
    if result.evaluated_on == "training data":
        print("(accuracies on the --data set; pass --validation for held-out ones)")


def _needs(args):
    return TFMOT_NEEDS if args.engine == "tfmot" else ("tensorflow",)


def run_qat(args):
    """Quantization-aware distillation, then the result's table."""
    tflite_export = _requirements.import_tflite_export("qat", needs=_needs(args))
    if args.engine == "native":
        return _compression.run_qat(tflite_export, _inputs(args, tflite_export))
    kwargs = _inputs(args, tflite_export)
    _compression.check_before_training(tflite_export, kwargs["student"], "int8", kwargs)
    result = tflite_export.quantization_aware_distill(**kwargs)
    _print_result(result, tflite_export)
    return 0


def run_prune(args):
    """Pruning-aware distillation, then the result's table."""
    tflite_export = _requirements.import_tflite_export("prune", needs=_needs(args))
    kwargs = _inputs(args, tflite_export)
    if args.engine == "native":
        if not 0.0 < args.target_sparsity < 1.0:
            raise UsageError(
                "--target-sparsity is the share of weights set to zero and must lie "
                f"strictly between 0 and 1. Received: {args.target_sparsity}"
            )
        return _compression.run_prune(
            tflite_export, kwargs, args.target_sparsity, args.quantization
        )
    _compression.check_before_training(tflite_export, kwargs["student"], args.quantization, kwargs)
    kwargs.update(target_sparsity=args.target_sparsity, quantization=args.quantization)
    result = tflite_export.prune_distill(**kwargs)
    _print_result(result, tflite_export)
    return 0
