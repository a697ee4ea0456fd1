"""The `keras-kd` command: demo, distill, and (with TensorFlow installed) the
export, evaluate, report, qat and prune commands that `tflite_export` provides."""

import argparse
import importlib
import os
import sys

# Modules that add sub-commands through `register_commands(subparsers)`. They
# live in tflite_export (TensorFlow only) and are skipped when it is absent.
PLUGIN_MODULES = ("tflite_export.cli_export", "tflite_export.cli_tfmot")


def _add_demo(subparsers):
    parser = subparsers.add_parser(
        "demo",
        help="Distill a small CNN from a teacher on real data and compare it "
        "with the same student trained alone.",
    )
    parser.add_argument("--dataset", default="fashion_mnist", choices=["fashion_mnist", "digits"])
    parser.add_argument("--epochs", type=int, default=None, help="Epochs per student (default: 12 on fashion_mnist, 40 on digits).")
    parser.add_argument("--teacher-epochs", type=int, default=None, help="Epochs for the teacher (default: 5 on fashion_mnist, 40 on digits).")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--temperature", type=float, default=None, help="SoftTargetKD temperature (default: 2 on fashion_mnist, 4 on digits).")
    parser.add_argument("--alpha", type=float, default=None, help="Weight of the hard-label loss (default: 0.5 on fashion_mnist, 0.1 on digits).")
    parser.add_argument("--learning-rate", type=float, default=2e-3)
    parser.add_argument("--lr-schedule", default=None, choices=["constant", "cosine"],
                        help="The students' learning rate: constant, or cosine decay to zero (default: the dataset's preset).")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--train-samples", type=int, default=None, help="Use only the first N training images.")
    parser.add_argument("--labels", type=int, default=None,
                        help="Scarce labels: the student alone sees only N labeled images; the distilled "
                        "student sees every image, unlabeled, with the teacher's soft targets.")
    parser.add_argument("--save-dir", default=None, help="Save teacher and students here as .keras files.")
    parser.set_defaults(handler=_run_demo)


def _run_demo(args):
    import keras

    from keras_kd import demo

    print(f"keras-kd demo on {args.dataset}, Keras backend: {keras.backend.backend()}")
    rows = demo.run_demo(
        dataset=args.dataset,
        epochs=args.epochs,
        teacher_epochs=args.teacher_epochs,
        batch_size=args.batch_size,
        temperature=args.temperature,
        alpha=args.alpha,
        learning_rate=args.learning_rate,
        lr_schedule=args.lr_schedule,
        seed=args.seed,
        train_samples=args.train_samples,
        labels=args.labels,
        save_dir=args.save_dir,
    )
    print()
    print(demo.format_table(rows))
    return 0


def _add_distill(subparsers):
    parser = subparsers.add_parser(
        "distill",
        help="Distill a saved student from a saved teacher on data in an .npz file.",
    )
    parser.add_argument("--teacher", required=True, help="Teacher .keras file.")
    parser.add_argument("--student", required=True, help="Student .keras file (its starting weights).")
    parser.add_argument("--data", required=True, help=".npz with 'x' and optionally 'y' (integer labels).")
    parser.add_argument("-o", "--output", required=True, help="Where to save the distilled student (.keras).")
    parser.add_argument("--loss", default="kd", help="Registered distillation loss name (default: kd).")
    parser.add_argument("--temperature", type=float, default=4.0)
    parser.add_argument("--alpha", type=float, default=0.1)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--validation-split", type=float, default=0.0)
    parser.set_defaults(handler=_run_distill)


def load_npz(path, required=("x",), what="data"):
    """Arrays of an .npz file as a dict; exits with a clear error if keys are missing."""
    if not os.path.exists(path):
        raise SystemExit(f"error: the {what} file {path!r} does not exist.")
    import numpy as np

    with np.load(path) as stored:
        arrays = dict(stored)
    missing = [key for key in required if key not in arrays]
    if missing:
        raise SystemExit(
            f"error: {path!r} holds arrays {sorted(arrays)}, but the {what} "
            f"needs {list(required)}. Save it with np.savez(path, x=..., y=...)."
        )
    return arrays


def _run_distill(args):
    import keras

    from keras_kd import losses
    from keras_kd.distiller import Distiller

    arrays = load_npz(args.data)
    if not args.output.endswith(".keras"):
        raise SystemExit(f"error: --output must end in .keras, got {args.output!r}.")
    out_dir = os.path.dirname(os.path.abspath(args.output))
    if not os.path.isdir(out_dir):
        raise SystemExit(f"error: the folder {out_dir!r} of --output does not exist.")
    teacher = keras.saving.load_model(args.teacher, compile=False)
    student = keras.saving.load_model(args.student, compile=False)
    loss = losses.get(args.loss)
    config = loss.get_config()
    if "temperature" in config:
        loss = type(loss).from_config({**config, "temperature": args.temperature})
    y = arrays.get("y")
    alpha = args.alpha if y is not None else 0.0
    distiller = Distiller(teacher, student, distillation_loss=loss, alpha=alpha)
    hard = keras.losses.SparseCategoricalCrossentropy(
        from_logits=distiller.student_kind == "logits"
    )
    distiller.compile(
        keras.optimizers.Adam(args.learning_rate),
        loss=hard if y is not None else None,
        metrics=["accuracy"] if y is not None else None,
    )
    distiller.fit(
        arrays["x"], y, epochs=args.epochs, batch_size=args.batch_size,
        validation_split=args.validation_split,
    )
    distiller.student.save(args.output)
    print(f"Saved the distilled student to {args.output}")
    return 0


def build_parser():
    """The argument parser of the `keras-kd` command, plugins included."""
    parser = argparse.ArgumentParser(
        prog="keras-kd",
        description="Knowledge distillation for Keras 3 (TensorFlow, JAX, "
        "PyTorch) and export to quantized TFLite for Android.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    _add_demo(subparsers)
    _add_distill(subparsers)
    for name in PLUGIN_MODULES:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        module.register_commands(subparsers)
    return parser


def main(argv=None):
    """Entry point of `keras-kd`; returns the process exit code."""
    args = build_parser().parse_args(argv)
    return args.handler(args) or 0


if __name__ == "__main__":
    sys.exit(main())
