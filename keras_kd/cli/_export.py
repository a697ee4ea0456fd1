"""`keras-kd export` and `keras-kd evaluate`: `.keras` to `.tflite`, and the
file measured in LiteRT; `keras-kd report` (in `_report`) compares several.

The quantization modes are those of `tflite_export`'s one table.

Example:

    keras-kd export student.keras --quantization int8 --calibration calib.npz \\
        -o student_int8.tflite --labels labels.txt --normalization 0 255 \\
        --image-input uint8_rgb --probabilities
    keras-kd evaluate student_int8.tflite --data test.npz --reference student.keras
"""

import argparse
import os

from keras_kd import files
from keras_kd.apps import render
from keras_kd.cli import _loaders
from keras_kd.cli import _requirements
from keras_kd.cli._errors import UsageError

EVALUATE_NEEDS = ("ai_edge_litert",)
# `convert`'s file options, as `add_file_options` adds them and `file_options` reads them.
FILE_OPTIONS = ("labels", "normalization", "image_input", "probabilities", "metadata")


def register(add_command):
    """Adds `export` and `evaluate` through `add_command(name, handler, help)`."""
    export = add_command(
        "export",
        run_export,
        "Convert a .keras model to a (quantized) .tflite file with a JSON sidecar.",
    )
    export.add_argument("model", help="The .keras file to convert.")
    export.add_argument(
        "--quantization",
        default="float32",
        choices=_requirements.mode_names(),
        help="The quantization mode, from tflite_export's table of modes.",
    )
    export.add_argument(
        "--calibration",
        default=None,
        help=".npz or .npy of representative inputs (key 'x'), needed by the "
        "modes that calibrate activations.",
    )
    export.add_argument("--num-calibration-samples", type=int, default=300)
    export.add_argument(
        "-o",
        "--output",
        default=None,
        help="The .tflite to write (default: <model>_<quantization>.tflite).",
    )
    export.add_argument(
        "--allow-select-tf-ops",
        action="store_true",
        help="Keep TensorFlow ops without a built-in TFLite kernel (needs the Flex delegate).",
    )
    add_file_options(export)
    export.add_argument("--quiet", action="store_true", help="No progress bar.")

    evaluate = add_command(
        "evaluate",
        run_evaluate,
        "Run a .tflite file in LiteRT: accuracy, agreement, latency, size.",
    )
    evaluate.add_argument("tflite", help="The .tflite file.")
    evaluate.add_argument(
        "--data", required=True, help=".npz with 'x' and optionally 'y' (integer labels)."
    )
    evaluate.add_argument(
        "--reference", default=None, help="The float .keras model, for agreement."
    )
    evaluate.add_argument("--batch-size", type=int, default=256)
    evaluate.add_argument("--threads", type=int, default=None)
    evaluate.add_argument("--latency-samples", type=int, default=100)


def add_file_options(parser):
    """Adds the `.tflite` file's options `export`, `qat` and `prune` share:
    --labels, --normalization, --image-input, --probabilities, --no-metadata
    (`file_options` reads them back)."""
    parser.add_argument(
        "--labels",
        default=None,
        help="Class names, packed into the file's metadata and the sidecar: "
        "comma-separated, or a text file with one per line.",
    )
    parser.add_argument(
        "--normalization",
        nargs=2,
        type=_numbers,
        metavar=("MEAN", "STD"),
        default=None,
        help="The model is fed (raw - MEAN) / STD; recorded in the metadata and "
        "the sidecar, or folded into the file with --image-input. Each is a number "
        "or one per channel, comma-separated (--normalization 123.7,116.3,103.5 "
        "58.4,57.1,57.4; per channel needs --image-input uint8_rgb for MediaPipe).",
    )
    parser.add_argument(
        "--image-input",
        default=None,
        choices=("uint8_rgb",),
        help="The file takes a uint8 RGB image as a camera frame gives it; the "
        "conversion to the model's channels and the normalization are in the file.",
    )
    parser.add_argument(
        "--probabilities",
        action="store_true",
        help="Fold a softmax after a logits head: the file outputs probabilities.",
    )
    parser.add_argument(
        "--no-metadata",
        action="store_true",
        help="Write no TFLite Model Metadata (written by default with --labels, "
        "--normalization or --image-input; MediaPipe needs it).",
    )


def file_options(args):
    """`convert`'s file options from the arguments `add_file_options` added."""
    normalization = None
    if args.normalization is not None:
        normalization = {"mean": args.normalization[0], "std": args.normalization[1]}
    values = (
        _labels(args.labels),
        normalization,
        args.image_input,
        args.probabilities,
        False if args.no_metadata else None,
    )
    return dict(zip(FILE_OPTIONS, values))


def label_file(args):
    """The label file the arguments name (a file the command reads), or None."""
    return args.labels if args.labels is not None and os.path.isfile(args.labels) else None


def _numbers(text):
    """`"0.5"` -> 0.5; `"1,2,3"` -> [1.0, 2.0, 3.0] (one per channel)."""
    try:
        values = [float(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a number or comma-separated numbers (one per channel)"
        ) from None
    return values[0] if len(values) == 1 else values


def _labels(value):
    """A label file's path as it is (convert reads it), or comma-separated names."""
    if value is None or os.path.isfile(value):
        return value
    if os.path.isdir(value) or value.endswith((".txt", ".csv")):
        raise UsageError(
            f"--labels {value!r} looks like a file's path but is no file. Give a "
            "text file with one class name per line, or the names comma-separated "
            "(--labels cat,dog,fox)."
        )
    return [name.strip() for name in value.split(",")]


def check_output(output, inputs, tflite_export):
    """Checks a `.tflite` output and its sidecar before any work starts.

    Neither may be a folder, sit in a missing or read-only folder, or be one
    of `inputs` (the files the command reads). Returns the absolute path.
    """
    if not output.endswith(".tflite"):
        raise UsageError(f"--output must end in .tflite. Received: {output!r}.")
    try:
        path = files.check_destination(output, inputs=inputs)
        files.check_destination(
            tflite_export.sidecar_path(path), inputs=inputs, what="Its JSON sidecar"
        )
    except ValueError as error:
        raise UsageError(f"--output: {error}") from None
    return path


def _output(args, tflite_export):
    output = args.output or f"{os.path.splitext(args.model)[0]}_{args.quantization}.tflite"
    return check_output(output, [args.model, args.calibration, label_file(args)], tflite_export)


def run_export(args):
    """Converts the `.keras` file and prints what was written."""
    tflite_export = _requirements.import_tflite_export("export")
    _loaders.keras_file(args.model, "the model to export")
    output = _output(args, tflite_export)
    calibration = None
    if args.calibration is not None:
        calibration = _loaders.load_inputs(args.calibration, "--calibration")
    elif tflite_export.MODES[args.quantization].needs_calibration:
        raise UsageError(
            f"--quantization {args.quantization} calibrates activations on sample inputs, "
            "but no --calibration was given. Pass --calibration calib.npz (inputs under 'x') "
            "or calib.npy, a few hundred training inputs."
        )
    if args.num_calibration_samples < 1:
        raise UsageError(
            "--num-calibration-samples must be at least 1. "
            f"Received: {args.num_calibration_samples}"
        )
    result = tflite_export.convert(
        args.model,
        output,
        quantization=args.quantization,
        representative_data=calibration,
        num_calibration_samples=args.num_calibration_samples,
        allow_select_tf_ops=args.allow_select_tf_ops,
        verbose=0 if args.quiet else 1,
        **file_options(args),
    )
    print(result)
    print(f"  sidecar: {result.sidecar_path}")
    return 0


def check_counts(args):
    """Checks --batch-size, --latency-samples and --threads before any work."""
    if args.latency_samples < 0:
        raise UsageError(f"--latency-samples must be 0 or more. Received: {args.latency_samples}")
    if args.batch_size < 1:
        raise UsageError(f"--batch-size must be at least 1. Received: {args.batch_size}")
    if args.threads is not None and args.threads < 1:
        raise UsageError(f"--threads must be at least 1. Received: {args.threads}")


def run_evaluate(args):
    """Measures the `.tflite` file in LiteRT and prints a two-column table."""
    tflite_export = _requirements.import_tflite_export("evaluate", needs=EVALUATE_NEEDS)
    _loaders.tflite_file(args.tflite, "the file to evaluate")
    check_counts(args)
    arrays = _loaders.load_npz(args.data, "--data")
    if args.reference is not None:
        _loaders.keras_file(args.reference, "--reference")
    report = tflite_export.evaluate(
        args.tflite,
        arrays["x"],
        arrays.get("y"),
        reference=args.reference,
        batch_size=args.batch_size,
        num_threads=args.threads,
        latency_samples=args.latency_samples,
    )
    print(render.two_columns(tflite_export.evaluation_rows(report)))
    return 0
