"""Rendering a `keras_kd.apps.comparison.Comparison`: Markdown, a self-contained
HTML page, a matplotlib figure (per-class accuracy side by side and a
reliability diagram) and the three files together.

Use them from `keras_kd.apps.comparison`, which re-exports every public name.
"""

import io
import os

import numpy as np

from keras_kd.apps import render


def _tables(comparison):
    """The summary table and the per-class table, as (header, rows) pairs."""
    reference = comparison.names[0]
    summary = (
        ["model", "accuracy", f"agreement with {reference}", "ECE (15 bins)"],
        [
            [name, render.percent(acc), render.percent(agree), f"{ece:.4f}"]
            for name, acc, agree, ece in zip(
                comparison.names, comparison.accuracy, comparison.agreement, comparison.ece
            )
        ],
    )
    per_class = (
        ["class", "samples"] + comparison.names,
        [
            [name, f"{count:,}"] + [render.percent(v) if np.isfinite(v) else "-" for v in column]
            for name, count, column in zip(
                comparison.class_names, comparison.class_counts, comparison.per_class.T
            )
        ],
    )
    return summary, per_class


def _caption(comparison, caption):
    bins = len(comparison.reliability[0].counts)
    measured = (
        f"{comparison.samples:,} test samples; agreement: the share of samples on which a "
        f"model predicts the same class as {comparison.names[0]}; ECE: expected calibration "
        f"error over {bins} equal-width confidence bins (0 is perfectly calibrated)."
    )
    return f"{caption} {measured}" if caption else measured


def comparison_markdown(comparison, caption=None):
    """The comparison as Markdown: a summary table and a per-class table.

    Args:
        comparison: A `Comparison` from `compare`.
        caption: Optional sentence put before the description of the data.

    Returns:
        The Markdown text, ending with a newline.

    Example:

    >>> from keras_kd.apps.comparison import compare
    >>> c = compare({"teacher": np.eye(2), "student": np.eye(2)[::-1]}, np.array([0, 1]))
    >>> print(comparison_markdown(c).splitlines()[2])
    | model | accuracy | agreement with teacher | ECE (15 bins) |
    """
    summary, per_class = _tables(comparison)
    return (
        f"{_caption(comparison, caption)}\n\n{render.markdown_table(*summary)}\n\n"
        f"Per-class accuracy:\n\n{render.markdown_table(*per_class)}\n"
    )


def comparison_html(comparison, title="What distillation changed", caption=None, png=None):
    """The comparison as a self-contained HTML page (no outside resource).

    Args:
        comparison: A `Comparison` from `compare`.
        title: The page's title and heading.
        caption: Optional sentence put before the description of the data.
        png: Optional PNG bytes (from `comparison_png`), embedded as base64.

    Returns:
        The HTML page as a string.

    Example:

    >>> from keras_kd.apps.comparison import compare
    >>> c = compare({"teacher": np.eye(2), "student": np.eye(2)[::-1]}, np.array([0, 1]))
    >>> comparison_html(c).startswith("<!DOCTYPE html>")
    True
    """
    summary, per_class = _tables(comparison)
    sections = [
        ("p", _caption(comparison, caption)),
        ("table", summary),
        ("h2", "Per-class accuracy"),
        ("table", per_class),
    ]
    return render.html_page(title, sections, png=png)


def comparison_figure(comparison, title=None):
    """Per-class accuracy side by side, and a reliability diagram.

    Args:
        comparison: A `Comparison` from `compare`.
        title: Optional title above the two panels.

    Returns:
        A `matplotlib.figure.Figure` with an Agg canvas (not registered with
        `pyplot`); needs matplotlib (`pip install 'keras-kd[report]'`).

    Example:

    >>> from keras_kd.apps.comparison import compare
    >>> c = compare({"teacher": np.eye(2), "student": np.eye(2)[::-1]}, np.array([0, 1]))
    >>> len(comparison_figure(c).axes)
    2
    """
    Figure, FigureCanvasAgg = render.require_matplotlib()
    figure = Figure(figsize=(12, 4.6), layout="constrained")
    FigureCanvasAgg(figure)
    bars, diagram = figure.subplots(1, 2, width_ratios=[1.6, 1])
    models, classes = comparison.per_class.shape
    width = 0.8 / models
    positions = np.arange(classes)
    for i, name in enumerate(comparison.names):
        bars.bar(
            positions + (i - (models - 1) / 2) * width,
            100 * comparison.per_class[i],
            width,
            label=f"{name} ({render.percent(comparison.accuracy[i])})",
            color=f"C{i}",
        )
    long_names = max(map(len, comparison.class_names)) > 3
    bars.set_xticks(positions, comparison.class_names, rotation=30 if long_names else 0)
    low = np.nanmin(comparison.per_class) if np.isfinite(comparison.per_class).any() else 0
    bars.set_ylim(max(0.0, 100 * low - 5), 100.5)
    bars.set_ylabel("accuracy on the class (%)")
    bars.set_title("Per-class test accuracy", fontsize=10)
    bars.legend(fontsize=8, loc="lower left")
    bars.grid(True, axis="y", alpha=0.3)
    diagram.plot([0, 1], [0, 1], color="0.6", linestyle="--", label="perfect calibration")
    for i, (name, bins) in enumerate(zip(comparison.names, comparison.reliability)):
        used = bins.counts > 0
        diagram.plot(
            bins.confidence[used],
            bins.accuracy[used],
            marker="o",
            markersize=4,
            color=f"C{i}",
            label=f"{name} (ECE {comparison.ece[i]:.3f})",
        )
    diagram.set_xlim(0, 1)
    diagram.set_ylim(0, 1.02)
    diagram.set_xlabel("confidence (mean of the bin)")
    diagram.set_ylabel("accuracy of the bin")
    bins_used = len(comparison.reliability[0].counts)
    diagram.set_title(f"Reliability diagram ({bins_used} equal-width bins)", fontsize=10)
    diagram.legend(fontsize=8, loc="upper left")
    diagram.grid(True, alpha=0.3)
    if title:
        figure.suptitle(title)
    return figure


def comparison_png(comparison, title=None, dpi=110):
    """`comparison_figure` rendered to PNG bytes.

    Example:

    >>> from keras_kd.apps.comparison import compare
    >>> c = compare({"teacher": np.eye(2), "student": np.eye(2)[::-1]}, np.array([0, 1]))
    >>> comparison_png(c)[:4]
    b'\\x89PNG'
    """
    buffer = io.BytesIO()
    comparison_figure(comparison, title).savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


# The files `write_comparison` writes in its folder.
FILE_NAMES = {"markdown": "comparison.md", "html": "comparison.html", "figure": "comparison.png"}


def write_comparison(comparison, directory, title="What distillation changed", caption=None):
    """Writes `comparison.md`, `comparison.html` and `comparison.png` in `directory`.

    All three are rendered first, then written together (`atomic_write_all`):
    a failure leaves the folder as it was.

    Args:
        comparison: A `Comparison` from `compare`.
        directory: The folder; created if missing.
        title: Title of the page and figure.
        caption: Optional sentence before the description of the data.

    Returns:
        `{"markdown": path, "html": path, "figure": path}`.

    Example:

    >>> from keras_kd.apps.comparison import compare
    >>> c = compare({"teacher": np.eye(2), "student": np.eye(2)[::-1]}, np.array([0, 1]))
    >>> import tempfile
    >>> sorted(write_comparison(c, tempfile.mkdtemp()))
    ['figure', 'html', 'markdown']
    """
    from keras_kd.files import atomic_write_all

    if os.path.exists(directory) and not os.path.isdir(directory):
        raise ValueError(
            f"write_comparison writes three files into a folder, but "
            f"{directory!r} is a file. Give a folder's path (it is created "
            "if missing)."
        )
    png = comparison_png(comparison, title)
    contents = {
        "markdown": comparison_markdown(comparison, caption),
        "html": comparison_html(comparison, title, caption, png=png),
        "figure": png,
    }
    os.makedirs(directory, exist_ok=True)
    paths = {kind: os.path.join(os.path.abspath(directory), FILE_NAMES[kind]) for kind in contents}
    atomic_write_all({paths[kind]: content for kind, content in contents.items()})
    return paths
