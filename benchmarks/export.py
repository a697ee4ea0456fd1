"""Benchmark: a distilled Fashion-MNIST student through every export mode.

The teacher and the distilled student are those of `benchmarks/tfmot.py`
(trained once, cached in `_work/`). The student goes through
`tflite_export.convert` in each quantization mode, and each file is measured
by `tflite_export.evaluate` in the LiteRT interpreter on the 10,000 test
images: bytes, accuracy, top-1 agreement with the float Keras student, and
latency per image at batch 1 on one thread. Latency is measured in rounds
that visit every file in turn, so machine noise falls on all modes alike; the
table gives the median over rounds of each round's mean.

Usage:

    KERAS_BACKEND=tensorflow python benchmarks/export.py        # ~6 min, ~1 min once trained
    KERAS_BACKEND=jax python benchmarks/export.py --quick       # smoke test

Writes the table to `benchmarks/RESULTS_export.md`, `docs/export.md` and
`README.md` (between the `export` markers).
"""

import os
import tempfile
import time

import keras
import numpy as np
from _markdown import publish
from _shared import HERE
from _shared import RECIPE
from _shared import ROOT
from _shared import data_and_pair
from _shared import pair_parser

import tflite_export
from keras_kd.apps.render import markdown_table
from tflite_export import size_breakdown

MODES = [None, "dynamic", "float16", "int8", "int8_io", "int16x8"]
RESULTS = os.path.join(HERE, "RESULTS_export.md")


def parse_args():
    parser = pair_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--calibration-samples", type=int, default=300)
    parser.add_argument("--latency-rounds", type=int, default=7)
    parser.add_argument("--latency-samples", type=int, default=300)
    return parser.parse_args()


def measure(student, x_cal, x_test, y_test, args, folder):
    """Converts in every mode; returns one dict of measurements per mode."""
    reference = keras.ops.convert_to_numpy(student.predict(x_test, batch_size=512, verbose=0))
    rows = []
    for mode in MODES:
        path = os.path.join(folder, f"student_{mode or 'float32'}.tflite")
        start = time.time()
        result = tflite_export.convert(
            student,
            path,
            quantization=mode,
            representative_data=x_cal,
            num_calibration_samples=args.calibration_samples,
            verbose=0,
        )
        seconds = time.time() - start
        report = tflite_export.evaluate(
            path, x_test, y_test, reference=reference, latency_samples=0
        )
        rows.append(
            {
                "mode": mode or "float32",
                "path": path,
                "bytes": result.bytes,
                "io": f"{result.input_dtype} / {result.output_dtype}",
                "accuracy": report.accuracy,
                "agreement": report.agreement,
                "max_abs_diff": report.max_abs_diff,
                "convert_s": seconds,
                "latency": [],
            }
        )
    for _ in range(args.latency_rounds):
        for row in rows:
            report = tflite_export.evaluate(
                row["path"],
                x_test[: args.latency_samples],
                num_threads=1,
                latency_samples=args.latency_samples,
                warmup=20,
            )
            row["latency"].append(report.latency_ms)
    return rows, float(np.mean(np.argmax(reference, -1) == y_test))


def table(rows, keras_accuracy):
    float_bytes = rows[0]["bytes"]
    float_latency = float(np.median(rows[0]["latency"]))
    body = []
    for row in rows:
        latency = float(np.median(row["latency"]))
        body.append(
            [
                row["mode"],
                row["io"],
                f"{row['bytes']:,}",
                f"{row['bytes'] / float_bytes:.3f}x",
                f"{100 * row['accuracy']:.2f}%",
                f"{100 * (row['accuracy'] - keras_accuracy):+.2f}",
                f"{100 * row['agreement']:.2f}%",
                f"{row['max_abs_diff']:.3g}",
                f"{1000 * latency:.1f} µs",
                f"{latency / float_latency:.2f}x",
            ]
        )
    header = [
        "mode",
        "input / output",
        "bytes",
        "vs float32",
        "accuracy (LiteRT)",
        "Δ vs Keras (pts)",
        "agreement",
        "max abs diff",
        "latency, batch 1",
        "latency vs float32",
    ]
    return markdown_table(header, body)


def targets(rows, keras_accuracy):
    """The issue's targets for the int8 file, each with its measured value."""
    float_row = next(r for r in rows if r["mode"] == "float32")
    int8 = next(r for r in rows if r["mode"] == "int8")
    checks = [
        (
            "int8 bytes ≤ 0.27 × float32",
            int8["bytes"] / float_row["bytes"] <= 0.27,
            f"{int8['bytes'] / float_row['bytes']:.3f}x",
        ),
        (
            "int8 accuracy within 0.5 pt of the float Keras student",
            abs(int8["accuracy"] - keras_accuracy) <= 0.005,
            f"{100 * (int8['accuracy'] - keras_accuracy):+.2f} pts",
        ),
        ("int8 agreement ≥ 99%", int8["agreement"] >= 0.99, f"{100 * int8['agreement']:.2f}%"),
        (
            "int8 latency below float32's",
            np.median(int8["latency"]) < np.median(float_row["latency"]),
            f"{np.median(int8['latency']) / np.median(float_row['latency']):.2f}x",
        ),
    ]
    return "\n".join(
        f"- {name}: {'met' if ok else 'NOT met'} ({value})" for name, ok, value in checks
    )


def size_table(rows, student, teacher, x_cal, args, folder):
    """Where the bytes of the float32 and int8 files go, for the student and,
    converted the same way, for the 15x larger teacher."""
    models = {"student": student, "teacher": teacher}
    files = {
        ("student", row["mode"]): row["path"] for row in rows if row["mode"] in ("float32", "int8")
    }
    for mode in (None, "int8"):
        path = os.path.join(folder, f"teacher_{mode or 'float32'}.tflite")
        tflite_export.convert(
            teacher,
            path,
            quantization=mode,
            representative_data=x_cal,
            num_calibration_samples=args.calibration_samples,
            verbose=0,
        )
        files[("teacher", mode or "float32")] = path
    sizes = {key: size_breakdown(path) for key, path in files.items()}
    body = []
    for (name, mode), size in sizes.items():
        float_size = sizes[(name, "float32")]
        body.append(
            [
                f"{name} ({models[name].count_params():,} parameters)",
                mode,
                f"{size.total:,}",
                f"{size.total / float_size.total:.3f}x",
                f"{size.tensor_data:,}",
                f"{size.tensor_data / float_size.tensor_data:.3f}x",
                f"{size.quantization:,}",
                f"{size.other:,}",
            ]
        )
    header = [
        "model",
        "mode",
        "file bytes",
        "file vs float32",
        "weights and biases",
        "weights vs float32",
        "quantization parameters",
        "graph, names, metadata",
    ]
    return markdown_table(header, body), sizes


def size_reading(sizes):
    """One plain sentence on the size target, from the measured breakdown."""
    student, teacher = sizes[("student", "int8")], sizes[("teacher", "int8")]
    fixed = student.quantization + student.other
    student_float, teacher_float = sizes[("student", "float32")], sizes[("teacher", "float32")]
    return (
        f"The int8 student's weights and biases are "
        f"{student.tensor_data / student_float.tensor_data:.3f}x of the float32 ones, "
        f"as int8 kernels with int32 biases should be; beside them the int8 file carries "
        f"{fixed:,} bytes of quantization parameters (a float32 scale and an int64 zero "
        f"point per output channel) and graph, tensor names, signature and metadata, "
        f"{fixed / student_float.total:.3f}x of the float32 file at this size. Those "
        f"bytes weigh less as the model grows: the 15x larger teacher, converted the same "
        f"way, comes to {teacher.total / teacher_float.total:.3f}x."
    )


def main():
    args = parse_args()
    if args.quick:
        args.latency_rounds, args.latency_samples = 2, 20
    start = time.time()
    (x, y), (x_test, y_test), (teacher, student) = data_and_pair(args)
    with tempfile.TemporaryDirectory() as folder:
        rows, keras_accuracy = measure(student, x, x_test, y_test, args, folder)
        sizes_text, sizes = size_table(rows, student, teacher, x, args, folder)
    setup = (
        f"Fashion-MNIST test set ({len(x_test):,} images); student `student_cnn` "
        f"({student.count_params():,} parameters) distilled from `teacher_cnn` "
        f"({args.student_epochs} epochs, SoftTargetKD T={RECIPE.temperature:g}, "
        f"alpha={RECIPE.alpha:g}) on Keras backend "
        f"{keras.backend.backend()}; float Keras student {100 * keras_accuracy:.2f}%. "
        f"{args.calibration_samples} calibration images. Latency: LiteRT "
        f"(ai-edge-litert), 1 thread, batch 1, median of {args.latency_rounds} "
        f"interleaved rounds of {args.latency_samples} images, on this 2-core CPU. "
        f"Total {time.time() - start:.0f} s."
    )
    text = (
        f"{setup}\n\n{table(rows, keras_accuracy)}\n\n{targets(rows, keras_accuracy)}\n\n"
        f"Where the bytes go:\n\n{sizes_text}\n\n{size_reading(sizes)}"
    )
    print("\n" + text)
    if not args.quick:
        documents = [os.path.join(ROOT, doc) for doc in ("docs/export.md", "README.md")]
        publish(text, "export", "Export benchmark (benchmarks/export.py)", [RESULTS, *documents])


if __name__ == "__main__":
    main()
