"""`keras-kd compare`: Keras models on the same labelled data, side by side.

Per-class accuracy, agreement with the first model (the teacher), expected
calibration error and a reliability diagram, printed as Markdown and
written as `comparison.md`, `comparison.html` and `comparison.png` in
`--output-dir` (`keras_kd.apps.comparison`).

Example:

    keras-kd compare teacher.keras student_alone.keras student_distilled.keras \\
        --data test.npz --output-dir comparison

Every input is checked before any model runs.
"""

import os

from keras_kd.cli import _loaders
from keras_kd.cli._errors import UsageError


def register(add_command):
    """Adds the `compare` sub-command through `add_command(name, handler, help)`."""
    parser = add_command(
        "compare",
        run,
        "Compare Keras models on the same labelled data: per-class accuracy, agreement "
        "with the first model, calibration (ECE) and a reliability diagram.",
    )
    parser.add_argument(
        "models", nargs="*", help="The .keras files; the reference (the teacher) first."
    )
    parser.add_argument("--data", required=True, help=".npz with 'x' and 'y' (integer labels).")
    parser.add_argument(
        "--output-dir",
        default=None,
        help="Write comparison.md, comparison.html and comparison.png here "
        "(the figure needs matplotlib: pip install 'keras-kd[report]').",
    )
    parser.add_argument("--title", default="What distillation changed")
    parser.add_argument("--batch-size", type=int, default=256)


def _check(args):
    """Every check that can fail before a model runs; returns the arrays."""
    if len(args.models) < 2:
        raise UsageError(
            f"compare needs at least two .keras files; received {len(args.models)}. "
            "Name the teacher first: keras-kd compare teacher.keras student.keras --data test.npz"
        )
    names = [os.path.splitext(os.path.basename(path))[0] for path in args.models]
    if len(set(names)) != len(names):
        raise UsageError(f"two files share a name ({args.models}). Give each model its own name.")
    for path in args.models:
        _loaders.keras_file(path, "each model to compare")
    if args.batch_size < 1:
        raise UsageError(f"--batch-size must be at least 1. Received: {args.batch_size}.")
    arrays = _loaders.load_npz(args.data, "--data", required=("x", "y"))
    if args.output_dir is not None:
        if os.path.exists(args.output_dir) and not os.path.isdir(args.output_dir):
            raise UsageError(f"--output-dir {args.output_dir!r} is a file, not a folder.")

        from keras_kd.apps import render

        try:
            render.require_matplotlib()
        except ImportError as error:
            raise UsageError(f"--output-dir: {error}") from None
    return names, arrays


def run(args):
    """Runs every model on the data, prints the Markdown, writes the files."""
    names, arrays = _check(args)
    from keras_kd.apps import comparison

    probabilities = {}
    for name, path in zip(names, args.models):
        model = _loaders.load_keras_model(path, "each model to compare")
        _loaders.check_fits(model, arrays["x"], f"the model {path}", args.data)
        outputs = comparison.predict_probabilities(model, arrays["x"], args.batch_size)
        if outputs.ndim != 2 or len(outputs) != len(arrays["y"]):
            raise UsageError(
                f"{path} outputs shape {outputs.shape} on --data; compare needs one "
                "class distribution per sample, shape (samples, classes)."
            )
        probabilities[name] = outputs
    try:
        result = comparison.compare(probabilities, arrays["y"])
    except ValueError as error:
        raise UsageError(str(error)) from None
    caption = f"{os.path.basename(args.data)}."
    print(comparison.comparison_markdown(result, caption), end="")
    if args.output_dir is not None:
        paths = comparison.write_comparison(result, args.output_dir, args.title, caption)
        for path in paths.values():
            print(f"wrote {path}")
    return 0
