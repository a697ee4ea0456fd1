"""`keras-kd report`: several `.tflite` files measured in LiteRT on the same
data and compared, as a Markdown table (printed, and optionally written), an
HTML page and a PNG figure. `cli_export.register_commands` adds it.

Example:

    keras-kd report student_float32.tflite student_int8.tflite --data test.npz \\
        --reference student.keras --markdown report.md --html report.html \\
        --figure report.png

Every input is checked before anything is evaluated, and the outputs are
written only once all of them are rendered, each through a temporary file:
an error leaves nothing behind.
"""

import os

from keras_kd.cli import load_npz
from tflite_export import report
from tflite_export.atomic import atomic_write
from tflite_export.atomic import check_destination

OUTPUTS = ("markdown", "html", "figure")


def add_report_command(subparsers):
    """Adds the `report` sub-command to an argparse `subparsers`."""
    parser = subparsers.add_parser(
        "report",
        help="Compare .tflite files in LiteRT on the same data: a Markdown table, "
        "an HTML page and a PNG figure.",
    )
    parser.add_argument("tflite", nargs="*",
                        help="The .tflite files, the size baseline ('vs first') first.")
    parser.add_argument("--data", required=True,
                        help=".npz with 'x' and optionally 'y' (integer labels).")
    parser.add_argument("--reference", default=None,
                        help="The float .keras model, for agreement and max abs diff.")
    parser.add_argument("--markdown", default=None, help="Write the Markdown table here (.md).")
    parser.add_argument("--html", default=None, help="Write a self-contained HTML page here.")
    parser.add_argument("--figure", default=None,
                        help="Write a PNG figure here: accuracy and latency against size (needs matplotlib).")
    parser.add_argument("--title", default="keras-kd report", help="Title of the HTML page and figure.")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--latency-samples", type=int, default=100,
                        help="Samples timed one by one at batch 1 (0: no latency).")
    parser.set_defaults(handler=_run_report)


def _fail(message):
    raise SystemExit(f"error: {message}")


def _check_files(paths):
    if not paths:
        _fail("no .tflite files given. Name one or more: "
              "keras-kd report a.tflite b.tflite --data test.npz")
    missing = [path for path in paths if not os.path.isfile(path)]
    if missing:
        _fail(f"no such .tflite file: {', '.join(missing)}. Check the path, "
              "or write the file first with keras-kd export.")
    seen = set()
    for path in paths:
        with open(path, "rb") as f:
            identifier = f.read(8)[4:]
        if identifier != b"TFL3":
            _fail(f"{path} is not a .tflite file (no TFL3 flatbuffer identifier). "
                  "Pass files written by keras-kd export or tflite_export.convert.")
        if os.path.abspath(path) in seen:
            _fail(f"{path} is given twice. Name each file once.")
        seen.add(os.path.abspath(path))


def _destinations(args):
    """`{output kind: absolute path}` for the outputs asked for, checked."""
    inputs = {os.path.abspath(p) for p in [*args.tflite, args.data, args.reference] if p}
    destinations = {}
    for kind in OUTPUTS:
        path = getattr(args, kind)
        if path is None:
            continue
        try:
            path = check_destination(path)
        except ValueError as error:
            _fail(f"--{kind}: {error}")
        if path in inputs:
            _fail(f"--{kind} {path} would overwrite an input. Choose another path.")
        if path in destinations.values():
            _fail(f"--{kind} {path} is also another output. Give each output its own path.")
        destinations[kind] = path
    return destinations


def _check(args):
    """Every check that can fail before the evaluation; returns (arrays, destinations)."""
    _check_files(args.tflite)
    if args.latency_samples < 0:
        _fail(f"--latency-samples must be 0 or more. Received: {args.latency_samples}")
    if args.batch_size < 1:
        _fail(f"--batch-size must be at least 1. Received: {args.batch_size}")
    if args.reference is not None and not os.path.isfile(args.reference):
        _fail(f"the reference model {args.reference} does not exist. "
              "Pass the float .keras file the .tflite files came from, or leave --reference out.")
    arrays = load_npz(args.data)
    destinations = _destinations(args)
    if "figure" in destinations:
        if arrays.get("y") is None and args.reference is None:
            _fail(f"--figure plots accuracy against size, but {args.data} holds no "
                  "'y' labels and no --reference was given. Add one of them, or leave --figure out.")
        try:
            report.require_matplotlib()
        except ImportError as error:
            _fail(f"--figure: {error}")
    return arrays, destinations


def _caption(args, samples):
    parts = [f"{samples:,} samples from {os.path.basename(args.data)}"]
    if args.reference:
        parts.append(f"agreement and max abs diff against {os.path.basename(args.reference)}")
    if args.latency_samples:
        threads = "LiteRT's default threads" if args.threads is None else f"{args.threads} thread(s)"
        parts.append(f"latency: LiteRT, batch 1, mean and p90 over {args.latency_samples} "
                     f"samples, {threads}")
    return "; ".join(parts) + "."


def _run_report(args):
    from tflite_export.evaluate import evaluate
    from tflite_export.evaluate import reference_outputs

    arrays, destinations = _check(args)
    x = arrays["x"]
    reference = None
    if args.reference is not None:  # run once, compared with every file
        try:
            reference = reference_outputs(args.reference, x)
        except ValueError as error:
            _fail(str(error))
    reports = []
    for path in args.tflite:
        try:
            reports.append(evaluate(
                path, x, arrays.get("y"), reference=reference, batch_size=args.batch_size,
                num_threads=args.threads, latency_samples=args.latency_samples,
            ))  # fmt: skip
        except ValueError as error:
            _fail(f"{path}: {error}")
    caption = _caption(args, len(x))
    markdown = report.comparison_markdown(reports, caption)
    contents = {"markdown": markdown}
    png = None
    if "figure" in destinations:
        png = contents["figure"] = report.comparison_png(reports, title=args.title)
    if "html" in destinations:
        contents["html"] = report.comparison_html(reports, args.title, caption, png=png)
    print(markdown, end="")
    for kind, path in destinations.items():
        atomic_write(path, contents[kind])
        print(f"wrote {path}")
    return 0
