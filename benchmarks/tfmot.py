"""Benchmark: quantization-aware and pruning-aware distillation on Fashion-MNIST.

A teacher CNN is trained, a small student is distilled from it with
`keras_kd.Distiller`, and then the student goes to TFLite six ways: float32,
post-training int8, quantization-aware int8 with and without the teacher,
and pruned to 80% sparsity with and without the teacher. Every accuracy is
measured on the 10,000 test images in the LiteRT interpreter (the float
Keras student too, for reference); bytes are the `.tflite` file and its gzip.

Usage:

    KERAS_BACKEND=tensorflow nice python benchmarks/tfmot.py           # ~10 min
    KERAS_BACKEND=jax python benchmarks/tfmot.py --quick               # smoke test

Writes the table to `benchmarks/RESULTS_tfmot.md` and into `docs/tfmot.md`
(between the `tfmot` markers), and the raw numbers to
`benchmarks/_work/tfmot.json`.
"""

import gzip
import json
import os
import tempfile
import time

import keras
import numpy as np
from _args import add_fine_tuning
from _markdown import accuracy_cell
from _markdown import publish
from _shared import HERE
from _shared import RECIPE
from _shared import ROOT
from _shared import WORK
from _shared import data_and_pair
from _shared import pair_parser
from _shared import pair_setup

import tflite_export
from keras_kd.apps.render import markdown_table

RESULTS = os.path.join(HERE, "RESULTS_tfmot.md")
DOC = os.path.join(ROOT, "docs", "tfmot.md")
README = os.path.join(ROOT, "README.md")


def parse_args():
    parser = pair_parser(__doc__.split("\n\n")[0])
    add_fine_tuning(parser, qat_epochs=2, prune_epochs=3)
    parser.add_argument("--sparsity", type=float, default=0.8)
    return parser.parse_args()


def exported_row(name, model, path, x_test, y_test, quantization=None, calibration=None):
    """Converts a Keras student with tflite_export.convert and measures it."""
    tflite_export.convert(model, path, quantization=quantization, representative_data=calibration)
    report = tflite_export.evaluate(path, x_test, y_test)
    return _row(name, report.accuracy, path)


def _row(name, accuracy, path, sparsity=0.0):
    with open(path, "rb") as f:
        content = f.read()
    return {
        "name": name,
        "accuracy": float(accuracy),
        "bytes": len(content),
        "gzip_bytes": len(gzip.compress(content)),
        "sparsity": float(sparsity),
    }


def tfmot_rows(student, teacher_logits, x, y, test, args, folder):
    # The distilled runs fine-tune under the same loss that distilled the
    # student; with teacher=None, the labels alone.
    common = dict(
        validation_data=test, verbose=2, temperature=RECIPE.temperature, alpha=RECIPE.alpha
    )
    runs = [
        (
            "QAT int8, distilled",
            tflite_export.quantization_aware_distill,
            teacher_logits,
            dict(epochs=args.qat_epochs),
        ),
        (
            "QAT int8, labels only",
            tflite_export.quantization_aware_distill,
            None,
            dict(epochs=args.qat_epochs),
        ),
        (
            f"pruned {args.sparsity:.0%}, distilled",
            tflite_export.prune_distill,
            teacher_logits,
            dict(epochs=args.prune_epochs, target_sparsity=args.sparsity),
        ),
        (
            f"pruned {args.sparsity:.0%}, labels only",
            tflite_export.prune_distill,
            None,
            dict(epochs=args.prune_epochs, target_sparsity=args.sparsity),
        ),
    ]
    rows = []
    for i, (name, function, teacher, kwargs) in enumerate(runs):
        accuracies = []
        start = time.time()
        for seed in args.fine_tune_seeds:
            print(f"\n== {name}, seed {seed}")
            path = os.path.join(folder, f"run{i}_seed{seed}.tflite")
            result = function(student, teacher, x, y, path, seed=seed, **kwargs, **common)
            accuracies.append(result.accuracy)
            if len(accuracies) == 1:  # bytes and sparsity: the first seed's file
                rows.append(_row(name, result.accuracy, path, result.sparsity))
        rows[-1].update(
            accuracy=float(np.mean(accuracies)),
            accuracies=accuracies,
            seconds=round(time.time() - start, 1),
        )
    return rows


def format_table(rows, dense_gzip):
    header = ["student", "test accuracy (LiteRT)", "bytes", "gzip bytes", "gzip vs float32"]
    cells = [
        [
            row["name"],
            accuracy_cell(row),
            f"{row['bytes']:,}",
            f"{row['gzip_bytes']:,}",
            f"{row['gzip_bytes'] / dense_gzip:.2f}x",
            f"{100 * row['sparsity']:.1f}%",
        ]
        for row in rows
    ]
    return markdown_table([*header, "sparsity"], cells)


def main():
    args = parse_args()
    if args.quick:
        args.qat_epochs, args.prune_epochs, args.fine_tune_seeds = 1, 1, [0, 1]
    keras.utils.set_random_seed(args.seed)
    start = time.time()
    os.makedirs(WORK, exist_ok=True)
    (x, y), (x_test, y_test), (teacher, student) = data_and_pair(args)
    teacher_logits = keras.ops.convert_to_numpy(teacher.predict(x, batch_size=512, verbose=0))
    with tempfile.TemporaryDirectory() as folder:
        rows = [
            exported_row(
                "float32, distilled", student, os.path.join(folder, "f32.tflite"), x_test, y_test
            ),
            exported_row(
                "PTQ int8, distilled",
                student,
                os.path.join(folder, "int8.tflite"),
                x_test,
                y_test,
                "int8",
                x[:500],
            ),
        ]
        rows += tfmot_rows(student, teacher_logits, x, y, (x_test, y_test), args, folder)
    keras_accuracy = float(
        np.mean(
            np.argmax(keras.ops.convert_to_numpy(student.predict(x_test, verbose=0)), -1) == y_test
        )
    )
    table = format_table(rows, rows[0]["gzip_bytes"])
    setup = (
        f"{pair_setup(x, x_test, args, student)}; QAT {args.qat_epochs} epochs, pruning "
        f"{args.prune_epochs} epochs, each fine-tuning repeated with seeds {args.fine_tune_seeds} "
        f"(mean ± std; bytes of the first seed's file); Keras backend {keras.backend.backend()}; "
        f"float Keras student {100 * keras_accuracy:.2f}%; total {time.time() - start:.0f} s."
    )
    text = f"{setup}\n\n{table}"
    print("\n" + text)
    with open(os.path.join(WORK, "tfmot.json"), "w") as f:
        json.dump({"args": vars(args), "keras_accuracy": keras_accuracy, "rows": rows}, f, indent=1)
    if not args.quick:  # the plain readings below the tables stay
        publish(text, "tfmot", "TFMOT benchmark (benchmarks/tfmot.py)", (RESULTS, DOC, README))


if __name__ == "__main__":
    main()
