"""Benchmark: native quantization- and pruning-aware distillation against
post-training int8 and TFMOT, on Fashion-MNIST, side by side in one run.

The teacher CNN and the distilled `student_cnn` come from the shared pair
(`_shared.data_and_pair`, cached). Then, each fine-tuning repeated with
every seed:

- float student, and post-training int8 of it (500 calibration images);
- native QAT with distillation (`keras_kd.compression.quantization_aware`
  as the student of `keras_kd.Distiller`), once per Keras backend
  (TensorFlow, JAX, PyTorch: each in its own process), converted to int8
  from the learned ranges with no representative data;
- TFMOT QAT with distillation (`tflite_export.quantization_aware_distill`);
- native pruning with distillation to 50% and 80% (`pruning_aware`), then
  one epoch of QAT with distillation (the zeros stay), then int8.

Every accuracy is measured on the test images in the LiteRT interpreter;
agreement is top-1 agreement with the Keras model the file came from (the
QAT model itself for native rows, the float student for float and PTQ; the
TFMOT model lives in tf-keras in a child process, so n/a); latency is
LiteRT's mean at batch 1.

Usage (the shared pair is trained on all 60,000 images, cached; the
fine-tunings are small by default: the first 6,000 images, 1 epoch of QAT, 2
of pruning; every fine-tuning's result is kept in `_work/compression/`, so a
killed run resumes where it stopped, seed by seed):

    KERAS_BACKEND=tensorflow nice python benchmarks/compression_benchmark.py
    KERAS_BACKEND=tensorflow nice python benchmarks/compression_benchmark.py \\
        --fine-tune-samples 60000 --qat-epochs 2 --prune-epochs 3    # full size
    KERAS_BACKEND=tensorflow python benchmarks/compression_benchmark.py --quick   # smoke test

Writes the table to `benchmarks/RESULTS_compression.md`, into README.md and
docs/compression.md (between the `compression` markers).
"""

import gzip
import json
import os
import subprocess
import sys
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

import keras_kd
import tflite_export
from keras_kd import compression
from keras_kd.apps.render import markdown_table
from keras_kd.cli._compression import pruning_steps

RESULTS = os.path.join(HERE, "RESULTS_compression.md")
DOC = os.path.join(ROOT, "docs", "compression.md")
README = os.path.join(ROOT, "README.md")
BACKENDS = ("tensorflow", "jax", "torch")
QAT_LEARNING_RATE, PRUNE_LEARNING_RATE, BATCH_SIZE = 1e-4, 1e-3, 64


def parse_args():
    parser = pair_parser(__doc__.split("\n\n")[0])
    parser.add_argument(
        "--fine-tune-samples",
        type=int,
        default=6000,
        help="The first N training images every QAT and pruning run sees.",
    )
    add_fine_tuning(parser, qat_epochs=1, prune_epochs=2)
    parser.add_argument("--sparsities", type=float, nargs="+", default=[0.5, 0.8])
    parser.add_argument("--backends", nargs="+", default=list(BACKENDS))
    parser.add_argument("--skip-tfmot", action="store_true")
    parser.add_argument("--stage", default=None, help=argparse_hidden())
    parser.add_argument("--stage-seed", type=int, default=0, help=argparse_hidden())
    parser.add_argument("--stage-sparsity", type=float, default=0.0, help=argparse_hidden())
    args = parser.parse_args()
    if args.quick:  # what data_and_pair sets for --quick, set here so every
        # process (the stages too) names the same work folder
        args.train_samples, args.teacher_epochs, args.student_epochs = 2000, 1, 1
        args.fine_tune_samples = 2000
        args.qat_epochs, args.prune_epochs, args.fine_tune_seeds = 1, 1, [0]
    return args


def argparse_hidden():
    import argparse

    return argparse.SUPPRESS


def folder_of(args):
    key = (
        f"{'quick' if args.quick else args.train_samples}_{args.teacher_epochs}_"
        f"{args.student_epochs}_f{args.fine_tune_samples}_q{args.qat_epochs}_"
        f"p{args.prune_epochs}_{args.seed}"
    )
    folder = os.path.join(WORK, "compression", key)
    os.makedirs(folder, exist_ok=True)
    return folder


def measure(name, path, x_test, y_test, reference=None, **extra):
    """Accuracy, agreement and latency in LiteRT; bytes and gzip bytes."""
    report = tflite_export.evaluate(path, x_test, y_test, reference=reference)
    with open(path, "rb") as f:
        content = f.read()
    shares = list(tflite_export.tflite.tflite_file.kernel_zero_shares(path).values())
    return {
        "name": name,
        "accuracy": float(report.accuracy),
        "agreement": None if report.agreement is None else float(report.agreement),
        "bytes": len(content),
        "gzip_bytes": len(gzip.compress(content)),
        "latency_ms": float(report.latency_ms),
        "kernel_zeros": float(np.mean(shares)),
        **extra,
    }


def _outputs(model, x):
    return keras.ops.convert_to_numpy(model.predict(x, batch_size=512, verbose=0))


def _distill(teacher, student, x, y, epochs, learning_rate):
    sparse_ce = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    distiller = keras_kd.Distiller(
        teacher,
        student,
        distillation_loss=keras_kd.losses.SoftTargetKD(RECIPE.temperature),
        alpha=RECIPE.alpha,
    )
    distiller.compile(keras.optimizers.Adam(learning_rate), sparse_ce)
    distiller.fit(x, y, epochs=epochs, batch_size=BATCH_SIZE, verbose=2)
    return student


def run_stage(args):
    """One fine-tuning, in this process's backend; writes its JSON row."""
    folder = folder_of(args)
    (x, y), (x_test, y_test) = data_only(args)
    x, y = x[: args.fine_tune_samples], y[: args.fine_tune_samples]
    teacher = keras.saving.load_model(os.path.join(folder, "teacher.keras"))
    student = keras.saving.load_model(os.path.join(folder, "student.keras"))
    keras.utils.set_random_seed(args.stage_seed)
    backend = keras.backend.backend()
    start = time.time()
    if args.stage == "qat":
        qat = _distill(
            teacher,
            compression.quantization_aware(student),
            x,
            y,
            args.qat_epochs,
            QAT_LEARNING_RATE,
        )
        name, extra = f"native QAT-KD int8 ({backend})", {}
    else:
        sparsity = args.stage_sparsity
        end_step, frequency = pruning_steps(len(x), BATCH_SIZE, args.prune_epochs)
        pruned = compression.pruning_aware(student, sparsity, 0, end_step, frequency)
        pruned = _distill(teacher, pruned, x, y, args.prune_epochs, PRUNE_LEARNING_RATE)
        qat = _distill(teacher, compression.quantization_aware(pruned), x, y, 1, QAT_LEARNING_RATE)
        name = f"native pruned {sparsity:.0%} + QAT-KD int8 ({backend})"
        extra = {"sparsity": float(np.mean(list(compression.sparsity(qat).values())))}
    seconds = time.time() - start
    stem = _stage_path(folder, args.stage, args.stage_sparsity, backend, args.stage_seed)
    path = stem[: -len(".json")] + ".tflite"
    tflite_export.convert(qat, path, quantization="int8", sidecar=False, verbose=0)
    row = measure(
        name,
        path,
        x_test,
        y_test,
        reference=_outputs(qat, x_test),
        keras_accuracy=float(np.mean(_outputs(qat, x_test).argmax(-1) == y_test)),
        seconds=round(seconds, 1),
        **extra,
    )
    with open(stem, "w") as f:
        json.dump(row, f, indent=1)


def data_only(args):
    """The data of `data_and_pair` without its pair (which is cached per
    backend: a stage on JAX or PyTorch loads the TensorFlow-trained pair)."""
    from keras_kd.apps.data import load_fashion_mnist

    (x_train, y_train), (x_test, y_test) = load_fashion_mnist()
    x, y = x_train[: args.train_samples], y_train[: args.train_samples]
    if args.quick:
        x_test, y_test = x_test[:1000], y_test[:1000]
    return (x, y), (x_test, y_test)


def _stage_path(folder, stage, sparsity, backend, seed):
    return os.path.join(folder, f"{stage}_{sparsity}_{backend}_{seed}.json")


def _run_stage_process(args, stage, backend, seed, sparsity=0.0):
    """Runs one stage in a child process with its backend; skipped if done."""
    folder = folder_of(args)
    path = _stage_path(folder, stage, sparsity, backend, seed)
    if not os.path.exists(path):
        print(f"\n== {stage} sparsity={sparsity} backend={backend} seed={seed}", flush=True)
        argv = [a for a in sys.argv[1:]]
        command = [
            sys.executable,
            os.path.abspath(__file__),
            *argv,
            "--stage",
            stage,
            "--stage-seed",
            str(seed),
            "--stage-sparsity",
            str(sparsity),
        ]
        subprocess.run(command, env=dict(os.environ, KERAS_BACKEND=backend), check=True)
    with open(path) as f:
        return dict(json.load(f), path=path[: -len(".json")] + ".tflite")


def _tfmot_row(args, folder, student, teacher, x, y, x_test, y_test, seed):
    path = os.path.join(folder, f"tfmot_{seed}.json")
    if not os.path.exists(path):
        tflite = os.path.join(folder, f"tfmot_{seed}.tflite")
        x, y = x[: args.fine_tune_samples], y[: args.fine_tune_samples]
        teacher_logits = _outputs(teacher, x)
        start = time.time()
        tflite_export.quantization_aware_distill(
            student,
            teacher_logits,
            x,
            y,
            tflite,
            epochs=args.qat_epochs,
            temperature=RECIPE.temperature,
            alpha=RECIPE.alpha,
            learning_rate=QAT_LEARNING_RATE,
            batch_size=BATCH_SIZE,
            validation_data=(x_test, y_test),
            seed=seed,
            verbose=2,
        )
        row = measure("TFMOT QAT-KD int8", tflite, x_test, y_test, seconds=time.time() - start)
        with open(path, "w") as f:
            json.dump(row, f, indent=1)
    with open(path) as f:
        return dict(json.load(f), path=path[: -len(".json")] + ".tflite")


def latency_ms(path, x):
    """LiteRT's mean milliseconds per sample at batch 1, one thread, measured
    here one file after another (the stages' own timings ran beside other
    work on shared cores)."""
    report = tflite_export.evaluate(path, x[:16], num_threads=1, latency_samples=500, warmup=50)
    return float(report.latency_ms)


def merge(rows):
    """Rows of several seeds: accuracy mean and std, the rest averaged."""
    first = dict(rows[0])
    first["accuracies"] = [r["accuracy"] for r in rows]
    for field in ("accuracy", "latency_ms", "keras_accuracy", "sparsity", "kernel_zeros"):
        if first.get(field) is not None:
            first[field] = float(np.mean([r[field] for r in rows]))
    if first.get("agreement") is not None:
        first["agreement"] = float(np.min([r["agreement"] for r in rows]))
    return first


def format_table(rows, float_row):
    header = [
        "student",
        "test accuracy (LiteRT)",
        "agreement with Keras (lowest seed)",
        "bytes",
        "vs float",
        "gzip bytes",
        "gzip vs float",
        "kernel zeros",
        "LiteRT latency (1 thread)",
    ]
    return markdown_table(header, [_cells(row, float_row["bytes"]) for row in rows])


def _cells(row, float_bytes):
    agreement = "n/a" if row.get("agreement") is None else f"{100 * row['agreement']:.2f}%"
    return [
        row["name"],
        accuracy_cell(row),
        agreement,
        f"{row['bytes']:,}",
        f"{row['bytes'] / float_bytes:.2f}x",
        f"{row['gzip_bytes']:,}",
        f"{row['gzip_bytes'] / float_bytes:.3f}x",
        f"{100 * row['kernel_zeros']:.1f}%",
        f"{row['latency_ms']:.3f} ms",
    ]


def main():
    args = parse_args()
    if args.stage:
        return run_stage(args)
    start = time.time()
    folder = folder_of(args)
    (x, y), (x_test, y_test), (teacher, student) = data_and_pair(args)
    for model, role in ((teacher, "teacher"), (student, "student")):
        if not os.path.exists(os.path.join(folder, f"{role}.keras")):
            model.save(os.path.join(folder, f"{role}.keras"))
    float_path, ptq_path = (os.path.join(folder, f) for f in ("float.tflite", "ptq.tflite"))
    tflite_export.convert(student, float_path, sidecar=False, verbose=0)
    tflite_export.convert(
        student,
        ptq_path,
        quantization="int8",
        representative_data=x[:500],
        sidecar=False,
        verbose=0,
    )
    reference = _outputs(student, x_test)
    rows = [
        measure("float student (distilled)", float_path, x_test, y_test, reference),
        measure("post-training int8", ptq_path, x_test, y_test, reference),
    ]
    seeds = args.fine_tune_seeds
    runs = [("qat", backend, 0.0) for backend in args.backends]
    runs += [] if args.skip_tfmot else [("tfmot", "tensorflow", 0.0)]
    runs += [("prune", "tensorflow", sparsity) for sparsity in args.sparsities]
    results = {run: [] for run in runs}
    for seed in seeds:  # seed by seed: a run cut short has whole seeds for every row
        for stage, backend, sparsity in runs:
            if stage == "tfmot":
                row = _tfmot_row(args, folder, student, teacher, x, y, x_test, y_test, seed)
            else:
                row = _run_stage_process(args, stage, backend, seed, sparsity)
            results[(stage, backend, sparsity)].append(row)
    rows += [merge(results[run]) for run in runs]
    for row, path in zip(rows, [float_path, ptq_path] + [r["path"] for r in rows[2:]]):
        row["latency_ms"] = latency_ms(path, x_test)
    keras_accuracy = float(np.mean(reference.argmax(-1) == y_test))
    setup = (
        f"{pair_setup(x, x_test, args, student)}; every fine-tuning on the first "
        f"{min(args.fine_tune_samples, len(x)):,} training images; QAT "
        f"{args.qat_epochs} epoch(s) (Adam {QAT_LEARNING_RATE:g}, batch {BATCH_SIZE}); pruning "
        f"{args.prune_epochs} epoch(s) (Adam {PRUNE_LEARNING_RATE:g}) then 1 epoch of QAT; each "
        f"fine-tuning with seeds {seeds} (mean ± std; bytes of the first seed's file); float "
        f"Keras student {100 * keras_accuracy:.2f}%; 2 shared CPU cores; "
        f"total {time.time() - start:.0f} s (this run; finished stages are reused)."
    )
    text = f"{setup}\n\n{format_table(rows, rows[0])}"
    print("\n" + text)
    with open(os.path.join(folder, "table.json"), "w") as f:
        json.dump({"args": vars(args), "rows": rows}, f, indent=1)
    if not args.quick:
        title = "Compression benchmark (benchmarks/compression_benchmark.py)"
        publish(text, "compression", title, (RESULTS, DOC, README))


if __name__ == "__main__":
    main()
