"""Plain-text and Markdown tables of conversion and evaluation results."""


def percent(value, digits=2):
    """`0.8891` -> `"88.91%"`; `None` -> `"-"`."""
    return "-" if value is None else f"{100 * value:.{digits}f}%"


def two_columns(rows):
    """`[(name, value), ...]` as aligned `name  value` lines."""
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


def markdown_table(header, rows):
    """A Markdown table; columns after the first are right-aligned."""
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "---|" + "---:|" * (len(header) - 1),
    ]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def evaluation_rows(report):
    """The rows of an `EvaluationReport` for `two_columns`."""
    def milliseconds(value):
        return "-" if value is None else f"{value:.3f} ms"

    return [
        ("file", report.path),
        ("bytes", f"{report.bytes:,}"),
        ("samples", f"{report.samples:,}"),
        ("accuracy", percent(report.accuracy)),
        ("agreement with reference", percent(report.agreement)),
        ("max |output difference|",
         "-" if report.max_abs_diff is None else f"{report.max_abs_diff:.4g}"),
        ("latency, batch 1 (mean)", milliseconds(report.latency_ms)),
        ("latency, batch 1 (p90)", milliseconds(report.latency_p90_ms)),
    ]
