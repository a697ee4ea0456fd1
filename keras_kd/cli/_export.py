"""`keras-kd export` and `keras-kd evaluate`: `.keras` to `.tflite`, and the
file measured in LiteRT; `keras-kd report` (in `cli_report`) compares several.
`keras_kd.cli` calls `register_commands`.

Example:

    keras-kd export student.keras --quantization int8 --calibration calib.npz \\
        -o student_int8.tflite
    keras-kd evaluate student_int8.tflite --data test.npz --reference student.keras
    keras-kd report student_float32.tflite student_int8.tflite --data test.npz --html report.html
"""

import os

from keras_kd.cli import load_npz
from tflite_export.cli_report import add_report_command
from tflite_export.report import evaluation_rows
from tflite_export.report import two_columns

QUANTIZATION_CHOICES = ["float32", "dynamic", "float16", "int8", "int8_io", "int16x8"]


def register_commands(subparsers):
    """Adds the `export`, `evaluate` and `report` sub-commands to an argparse `subparsers`."""
    export = subparsers.add_parser(
        "export", help="Convert a .keras model to a (quantized) .tflite file with a JSON sidecar."
    )
    export.add_argument("model", help="The .keras file to convert.")
    export.add_argument("--quantization", default="float32", choices=QUANTIZATION_CHOICES)
    export.add_argument("--calibration", default=None,
                        help=".npz or .npy of representative inputs (key 'x'), needed by int8, int8_io, int16x8.")
    export.add_argument("--num-calibration-samples", type=int, default=300)
    export.add_argument("-o", "--output", default=None,
                        help="The .tflite to write (default: <model>_<quantization>.tflite).")
    export.add_argument("--allow-select-tf-ops", action="store_true",
                        help="Keep TensorFlow ops without a built-in TFLite kernel (needs the Flex delegate).")
    export.add_argument("--labels", default=None,
                        help="Class names for the sidecar: comma-separated, or a text file with one per line.")
    export.add_argument("--normalization", nargs=2, type=float, metavar=("MEAN", "STD"), default=None,
                        help="The model is fed (raw - MEAN) / STD; recorded in the sidecar.")
    export.add_argument("--quiet", action="store_true", help="No progress bar.")
    export.set_defaults(handler=_run_export)

    evaluate = subparsers.add_parser(
        "evaluate", help="Run a .tflite file in LiteRT: accuracy, agreement, latency, size."
    )
    evaluate.add_argument("tflite", help="The .tflite file.")
    evaluate.add_argument("--data", required=True, help=".npz with 'x' and optionally 'y' (integer labels).")
    evaluate.add_argument("--reference", default=None, help="The float .keras model, for agreement.")
    evaluate.add_argument("--batch-size", type=int, default=256)
    evaluate.add_argument("--threads", type=int, default=None)
    evaluate.add_argument("--latency-samples", type=int, default=100)
    evaluate.set_defaults(handler=_run_evaluate)
    add_report_command(subparsers)


def _labels(value):
    if value is None:
        return None
    if os.path.isfile(value):
        with open(value, encoding="utf-8") as f:
            return [line.strip() for line in f if line.strip()]
    return [name.strip() for name in value.split(",")]


def _calibration(path):
    if path is None:
        return None
    if path.endswith(".npy"):
        import numpy as np

        return np.load(path)
    return load_npz(path)["x"]


def _run_export(args):
    from tflite_export.convert import convert

    output = args.output or f"{os.path.splitext(args.model)[0]}_{args.quantization}.tflite"
    try:
        result = convert(
            args.model,
            output,
            quantization=args.quantization,
            representative_data=_calibration(args.calibration),
            num_calibration_samples=args.num_calibration_samples,
            allow_select_tf_ops=args.allow_select_tf_ops,
            labels=_labels(args.labels),
            normalization=(
                None if args.normalization is None
                else {"mean": args.normalization[0], "std": args.normalization[1]}
            ),
            verbose=0 if args.quiet else 1,
        )
    except ValueError as error:
        raise SystemExit(f"error: {error}") from None
    print(result)
    print(f"  sidecar: {result.sidecar_path}")
    return 0


def _run_evaluate(args):
    from tflite_export.evaluate import evaluate

    arrays = load_npz(args.data)
    try:
        report = evaluate(
            args.tflite,
            arrays["x"],
            arrays.get("y"),
            reference=args.reference,
            batch_size=args.batch_size,
            num_threads=args.threads,
            latency_samples=args.latency_samples,
        )
    except ValueError as error:
        raise SystemExit(f"error: {error}") from None
    print(two_columns(evaluation_rows(report)))
    return 0
