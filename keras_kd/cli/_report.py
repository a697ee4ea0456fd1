"""`keras-kd report`: several `.tflite` files measured in LiteRT on the same
data and compared, as a Markdown table (printed, and optionally written), an
HTML page and a PNG figure.

Example:

    keras-kd report student_float32.tflite student_int8.tflite --data test.npz \\
        --reference student.keras --markdown report.md --html report.html \\
        --figure report.png

Every input is checked before anything is evaluated, and the outputs are
written only once all of them are rendered, each through
`keras_kd.files.atomic_write`: an error leaves nothing behind.
"""

import os

from keras_kd import files
from keras_kd.apps import render
from keras_kd.cli import _export
from keras_kd.cli import _loaders
from keras_kd.cli import _requirements
from keras_kd.cli._errors import UsageError

OUTPUTS = ("markdown", "html", "figure")


def register(add_command):
    """Adds the `report` sub-command through `add_command(name, handler, help)`."""
    parser = add_command(
        "report",
        run,
        "Compare .tflite files in LiteRT on the same data: a Markdown table, "
        "an HTML page and a PNG figure.",
    )
    parser.add_argument(
        "tflite", nargs="*", help="The .tflite files, the size baseline ('vs first') first."
    )
    parser.add_argument(
        "--data", required=True, help=".npz with 'x' and optionally 'y' (integer labels)."
    )
    parser.add_argument(
        "--reference", default=None, help="The float .keras model, for agreement and max abs diff."
    )
    parser.add_argument("--markdown", default=None, help="Write the Markdown table here (.md).")
    parser.add_argument("--html", default=None, help="Write a self-contained HTML page here.")
    parser.add_argument(
        "--figure",
        default=None,
        help="Write a PNG figure here: accuracy and latency against size (needs matplotlib).",
    )
    parser.add_argument(
        "--title", default="keras-kd report", help="Title of the HTML page and figure."
    )
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument(
        "--latency-samples",
        type=int,
        default=100,
        help="Samples timed one by one at batch 1 (0: no latency).",
    )


def _check_files(paths):
    if not paths:
        raise UsageError(
            "no .tflite files given. Name one or more: "
            "keras-kd report a.tflite b.tflite --data test.npz"
        )
    seen = set()
    for path in paths:
        _loaders.tflite_file(path, "each file to compare")
        if os.path.abspath(path) in seen:
            raise UsageError(f"{path} is given twice. Name each file once.")
        seen.add(os.path.abspath(path))


def _destinations(args, tflite_export):
    """`{output kind: absolute path}` for the outputs asked for, checked."""
    read = [*args.tflite, args.data, args.reference]
    # Each input .tflite's sidecar too: `--markdown a.json` must not replace it.
    read += [tflite_export.sidecar_path(p) for p in args.tflite]
    inputs = {os.path.abspath(p) for p in read if p}
    destinations = {}
    for kind in OUTPUTS:
        path = getattr(args, kind)
        if path is None:
            continue
        try:
            path = files.check_destination(path)
        except ValueError as error:
            raise UsageError(f"--{kind}: {error}") from None
        if path in inputs:
            raise UsageError(f"--{kind} {path} would overwrite an input. Choose another path.")
        if path in destinations.values():
            raise UsageError(
                f"--{kind} {path} is also another output. Give each output its own path."
            )
        destinations[kind] = path
    return destinations


def _check(args, tflite_export):
    """Every check that can fail before the evaluation; returns (arrays, destinations)."""
    _check_files(args.tflite)
    _export.check_counts(args)
    if args.reference is not None:
        _loaders.keras_file(args.reference, "--reference")
    arrays = _loaders.load_npz(args.data, "--data")
    destinations = _destinations(args, tflite_export)
    if "figure" in destinations:
        if arrays.get("y") is None and args.reference is None:
            raise UsageError(
                f"--figure plots accuracy against size, but {args.data} holds no "
                "'y' labels and no --reference was given. Add one of them, or leave --figure out."
            )
        try:
            render.require_matplotlib()
        except ImportError as error:
            raise UsageError(f"--figure: {error}") from None
    return arrays, destinations


def _caption(args, samples):
    parts = [f"{samples:,} samples from {os.path.basename(args.data)}"]
    if args.reference:
        parts.append(f"agreement and max abs diff against {os.path.basename(args.reference)}")
    if args.latency_samples:
        threads = (
            "LiteRT's default threads" if args.threads is None else f"{args.threads} thread(s)"
        )
        parts.append(
            f"latency: LiteRT, batch 1, mean and p90 over {args.latency_samples} samples, {threads}"
        )
    return "; ".join(parts) + "."


def _evaluate_all(args, tflite_export, x, y):
    reference = None
    if args.reference is not None:  # run once, compared with every file
        reference = tflite_export.reference_outputs(args.reference, x)
    reports = []
    for path in args.tflite:
        try:
            reports.append(
                tflite_export.evaluate(
                    path,
                    x,
                    y,
                    reference=reference,
                    batch_size=args.batch_size,
                    num_threads=args.threads,
                    latency_samples=args.latency_samples,
                )
            )
        except ValueError as error:
            raise UsageError(f"{path}: {error}") from None
    return reports


def run(args):
    """Evaluates every file, prints the Markdown table, writes the outputs."""
    tflite_export = _requirements.import_tflite_export("report", needs=_export.EVALUATE_NEEDS)
    arrays, destinations = _check(args, tflite_export)
    reports = _evaluate_all(args, tflite_export, arrays["x"], arrays.get("y"))
    markdown = tflite_export.comparison_markdown(reports, _caption(args, len(arrays["x"])))
    contents = {"markdown": markdown}
    png = None
    if "figure" in destinations:
        png = contents["figure"] = tflite_export.comparison_png(reports, title=args.title)
    if "html" in destinations:
        contents["html"] = tflite_export.comparison_html(
            reports, args.title, _caption(args, len(arrays["x"])), png=png
        )
    print(markdown, end="")
    for kind, path in destinations.items():
        files.atomic_write(path, contents[kind])
        print(f"wrote {path}")
    return 0
