"""Tables and figures of conversion and evaluation results.

Plain text and Markdown for one file; for several `.tflite` files measured on
the same data, a comparison as a Markdown table, a self-contained HTML page
and a matplotlib figure (accuracy against size, and latency). This module
only renders: it returns strings and PNG bytes, and writes nothing.
"""

import io
import os
from collections.abc import Iterable
from typing import TYPE_CHECKING

from keras_kd.apps.render import html_page
from keras_kd.apps.render import markdown_table
from keras_kd.apps.render import milliseconds
from keras_kd.apps.render import percent
from keras_kd.apps.render import require_matplotlib
from tflite_export.tflite._evaluate import EvaluationReport

if TYPE_CHECKING:
    import matplotlib.figure


def evaluation_rows(report: EvaluationReport) -> list[tuple[str, str]]:
    """The rows of an `EvaluationReport` for `two_columns`."""
    return [
        ("file", report.path),
        ("bytes", f"{report.bytes:,}"),
        ("samples", f"{report.samples:,}"),
        ("accuracy", percent(report.accuracy)),
        ("agreement with reference", percent(report.agreement)),
        ("max |output difference|", _general(report.max_abs_diff)),
        ("latency, batch 1 (mean)", milliseconds(report.latency_ms)),
        ("latency, batch 1 (p90)", milliseconds(report.latency_p90_ms)),
    ] + (report.metadata.rows() if report.metadata is not None else [("metadata", "none")])


def _general(value):
    return "-" if value is None else f"{value:.4g}"


def _latency(value):
    """Three significant digits in ms (a small model runs in microseconds)."""
    if value is None:
        return "-"
    return f"{value:#.3g} ms" if value < 99.95 else f"{value:,.1f} ms"


# Optional columns of a comparison: (header, EvaluationReport field, format).
# A column is left out when no report has a value for it.
_MEASURED = [
    ("accuracy", "accuracy", percent),
    ("agreement", "agreement", percent),
    ("max abs diff", "max_abs_diff", _general),
    ("batch-1 latency (mean)", "latency_ms", _latency),
    ("batch-1 latency (p90)", "latency_p90_ms", _latency),
    ("metadata", "metadata", lambda metadata: "-" if metadata is None else metadata.summary()),
]


def file_labels(reports: Iterable[EvaluationReport]) -> list[str]:
    """Short names of the reports' files: base names, or paths below their
    common folder when two base names are equal."""
    paths = [os.path.abspath(report.path) for report in reports]
    names = [os.path.basename(path) for path in paths]
    if len(set(names)) == len(names):
        return names
    common = os.path.commonpath([os.path.dirname(path) for path in paths])
    return [os.path.relpath(path, common) for path in paths]


def comparison_table(reports: Iterable[EvaluationReport]) -> tuple[list[str], list[list[str]]]:
    """The comparison of several evaluated files as a header and rows.

    One row per report, in the order given. Sizes are also given relative to
    the first file (`vs first`), so list the float32 baseline first. Columns
    that no report measured (e.g. agreement without a reference model) are
    left out.

    Args:
        reports: `EvaluationReport`s, one per `.tflite` file, from
            `tflite_export.evaluate`.

    Returns:
        `(header, rows)`: a list of column names and a list of rows, each a
        list of strings, ready for `markdown_table`.

    Example:

    >>> from tflite_export import EvaluationReport
    >>> a = EvaluationReport("float32.tflite", 110808, 1000, accuracy=0.8985)
    >>> b = EvaluationReport("int8.tflite", 33272, 1000, accuracy=0.8975)
    >>> header, rows = comparison_table([a, b])
    >>> header
    ['file', 'bytes', 'vs first', 'accuracy']
    >>> rows[1]
    ['int8.tflite', '33,272', '0.300x', '89.75%']
    """
    reports = list(reports)
    if not reports:
        raise ValueError("comparison_table needs at least one EvaluationReport. Received none.")
    columns = [
        column
        for column in _MEASURED
        if any(getattr(report, column[1]) is not None for report in reports)
    ]
    header = ["file", "bytes", "vs first"] + [name for name, _, _ in columns]
    first = reports[0].bytes
    rows = [
        [label, f"{report.bytes:,}", f"{report.bytes / first:.3f}x" if first else "-"]
        + [fmt(getattr(report, field)) for _, field, fmt in columns]
        for label, report in zip(file_labels(reports), reports)
    ]
    return header, rows


def comparison_markdown(reports: Iterable[EvaluationReport], caption: str | None = None) -> str:
    """A Markdown table comparing several evaluated `.tflite` files.

    Args:
        reports: `EvaluationReport`s, one per file; the first is the size
            baseline.
        caption: Optional text put above the table (e.g. the data used).

    Returns:
        The Markdown text, ending with a newline.

    Example:

    >>> from tflite_export import EvaluationReport
    >>> a = EvaluationReport("float32.tflite", 110808, 1000, accuracy=0.8985)
    >>> b = EvaluationReport("int8.tflite", 33272, 1000, accuracy=0.8975)
    >>> print(comparison_markdown([a, b]), end="")
    | file | bytes | vs first | accuracy |
    |---|---:|---:|---:|
    | float32.tflite | 110,808 | 1.000x | 89.85% |
    | int8.tflite | 33,272 | 0.300x | 89.75% |
    """
    table = markdown_table(*comparison_table(reports))
    return f"{caption}\n\n{table}\n" if caption else f"{table}\n"


def comparison_html(
    reports: Iterable[EvaluationReport],
    title: str = "keras-kd report",
    caption: str | None = None,
    png: bytes | None = None,
) -> str:
    """A self-contained HTML page comparing several evaluated `.tflite` files.

    The page holds a `<table>` with the columns of `comparison_table`, every
    cell escaped, and an inline style sheet; it loads nothing from outside.

    Args:
        reports: `EvaluationReport`s, one per file; the first is the size
            baseline.
        title: The page's title and heading.
        caption: Optional paragraph under the heading (e.g. the data used).
        png: Optional PNG bytes (from `comparison_png`), embedded in the page
            as a `data:` URI under the table.

    Returns:
        The HTML page as a string.

    Example:

    >>> from tflite_export import EvaluationReport
    >>> a = EvaluationReport("float32.tflite", 110808, 1000, accuracy=0.8985)
    >>> b = EvaluationReport("int8.tflite", 33272, 1000, accuracy=0.8975)
    >>> page = comparison_html([a, b], title="Student files")
    >>> page.startswith("<!DOCTYPE html>"), "<td>33,272</td>" in page
    (True, True)
    """
    sections = [("p", caption)] if caption else []
    return html_page(title, sections + [("table", comparison_table(reports))], png=png)


def _quality(reports):
    """The y values of the first panel: accuracy, else agreement, in %."""
    panels = (("accuracy", "accuracy (%)"), ("agreement", "agreement with reference (%)"))
    for field, name in panels:
        values = [getattr(report, field) for report in reports]
        if any(value is not None for value in values):
            return [None if v is None else 100 * v for v in values], name
    raise ValueError(
        "The figure plots accuracy against file size, but the reports have "
        "neither accuracy nor agreement. Evaluate with labels (y) or with a "
        "reference model."
    )


_MARKERS = "osD^vP*X"


def _labelled_points(axes, x, y, labels, ylabel, from_zero=False):
    """One point per file, each in its own colour and marker, labelled."""
    for i, (a, b, label) in enumerate(zip(x, y, labels)):
        if b is None:
            continue
        axes.scatter(
            [a],
            [b],
            color=f"C{i % 10}",
            marker=_MARKERS[i % len(_MARKERS)],
            s=45,
            zorder=3,
            label=label,
        )
        axes.annotate(
            label,
            (a, b),
            xytext=(6, 6),
            textcoords="offset points",
            fontsize=8,
            rotation=30,
            color=f"C{i % 10}",
        )
    axes.set_xlabel("file size (KB)")
    axes.set_ylabel(ylabel)
    axes.set_xlim(left=0, right=1.3 * max(x))
    low, high = axes.get_ylim()
    low = 0 if from_zero else low
    axes.set_ylim(low, high + 0.3 * (high - low))  # room for the labels
    axes.grid(True, alpha=0.3)


def comparison_figure(
    reports: Iterable[EvaluationReport], title: str | None = None
) -> "matplotlib.figure.Figure":
    """A matplotlib figure comparing several evaluated `.tflite` files.

    The first panel plots accuracy (or, without labels, agreement with the
    reference model) against file size in KB, one labelled point per file.
    When latency was measured, a second panel plots batch-1 latency against
    size.

    Args:
        reports: `EvaluationReport`s, one per file.
        title: Optional title above the panels.

    Returns:
        A `matplotlib.figure.Figure` with an Agg canvas (not registered with
        `pyplot`); save it with `figure.savefig("report.png")`.

    Example:

    >>> from tflite_export import EvaluationReport
    >>> a = EvaluationReport("float32.tflite", 110808, 1000, accuracy=0.8985)
    >>> b = EvaluationReport("int8.tflite", 33272, 1000, accuracy=0.8975)
    >>> figure = comparison_figure([a, b])  # needs matplotlib
    >>> len(figure.axes)  # no latency measured: one panel
    1
    """
    reports = list(reports)
    if not reports:
        raise ValueError("comparison_figure needs at least one EvaluationReport. Received none.")
    quality, ylabel = _quality(reports)
    Figure, FigureCanvasAgg = require_matplotlib()
    latency = [report.latency_ms for report in reports]
    panels = 2 if any(value is not None for value in latency) else 1
    figure = Figure(figsize=(5.5 * panels, 4.6), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(1, panels, squeeze=False)[0]
    labels = file_labels(reports)
    kilobytes = [report.bytes / 1024 for report in reports]
    _labelled_points(axes[0], kilobytes, quality, labels, ylabel)
    axes[0].set_title(f"{ylabel.split(' ')[0].capitalize()} against size", fontsize=10)
    if panels == 2:
        _labelled_points(
            axes[1], kilobytes, latency, labels, "latency per sample, batch 1 (ms)", from_zero=True
        )
        axes[1].set_title("LiteRT latency against size", fontsize=10)
    if len(reports) > 1:  # labels of points of equal size and value overlap: a legend too
        figure.legend(
            *axes[0].get_legend_handles_labels(),
            loc="outside lower center",
            ncols=min(len(reports), 3),
            fontsize=8,
            frameon=False,
        )
    if title:
        figure.suptitle(title)
    return figure


def comparison_png(
    reports: Iterable[EvaluationReport], title: str | None = None, dpi: int = 120
) -> bytes:
    """`comparison_figure` rendered to PNG bytes.

    Args:
        reports: `EvaluationReport`s, one per file.
        title: Optional title above the panels.
        dpi: Resolution of the image.

    Returns:
        The PNG file's content as `bytes`.

    Example:

    >>> from tflite_export import EvaluationReport
    >>> a = EvaluationReport("float32.tflite", 110808, 1000, accuracy=0.8985)
    >>> b = EvaluationReport("int8.tflite", 33272, 1000, accuracy=0.8975)
    >>> comparison_png([a, b])[:4]  # needs matplotlib
    b'\\x89PNG'
    """
    buffer = io.BytesIO()
    comparison_figure(reports, title).savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()
