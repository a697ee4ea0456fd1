"""Rendering helpers shared by every report: Markdown tables, percentages, a
self-contained HTML page and matplotlib, imported lazily.

Pure Python, no Keras: `keras_kd.apps.comparison` and `tflite_export`'s reports
both render through these.
"""

import base64
import html


def percent(value, digits=2):
    """`0.8891` -> `"88.91%"`; `None` -> `"-"`."""
    return "-" if value is None else f"{100 * value:.{digits}f}%"


def milliseconds(value):
    """`0.0213` -> `"0.021 ms"`; `None` -> `"-"`."""
    return "-" if value is None else f"{value:.3f} ms"


def two_columns(rows):
    """`[(name, value), ...]` as aligned `name  value` lines."""
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


def markdown_table(header, rows):
    """A Markdown table; columns after the first are right-aligned.

    Example:

    >>> print(markdown_table(["model", "accuracy"], [["teacher", "98.00%"]]))
    | model | accuracy |
    |---|---:|
    | teacher | 98.00% |
    """
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "---|" + "---:|" * (len(header) - 1),
    ]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2em;color:#222}"
    "table{border-collapse:collapse;margin-bottom:1em}"
    "th,td{border:1px solid #ccc;padding:.3em .7em}"
    "th{background:#f3f3f3}"
    "td:not(:first-child),th:not(:first-child){text-align:right}"
    "td:first-child{font-family:monospace}"
    "img{max-width:100%;margin-top:1.5em}"
)


def html_table(header, rows):
    """A `<table>` with every cell escaped."""
    esc = html.escape
    lines = ["<table>", "<tr>" + "".join(f"<th>{esc(str(c))}</th>" for c in header) + "</tr>"]
    lines += ["<tr>" + "".join(f"<td>{esc(str(c))}</td>" for c in row) + "</tr>" for row in rows]
    lines.append("</table>")
    return "\n".join(lines)


def html_page(title, sections, png=None):
    """A self-contained HTML page: inline style, nothing loaded from outside.

    Args:
        title: The page's title and heading.
        sections: `(kind, content)` pairs, in order: `("p", text)` for an
            escaped paragraph, `("h2", text)` for a heading, `("table",
            (header, rows))` for a table.
        png: Optional PNG bytes, embedded at the end as a `data:` URI.

    Returns:
        The page as a string.

    Example:

    >>> page = html_page("Models", [("table", (["model"], [["a<b"]]))])
    >>> page.startswith("<!DOCTYPE html>"), "<td>a&lt;b</td>" in page
    (True, True)
    """
    esc = html.escape
    lines = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        '<head><meta charset="utf-8">',
        f"<title>{esc(title)}</title>",
        f"<style>{STYLE}</style></head>",
        "<body>",
        f"<h1>{esc(title)}</h1>",
    ]
    for kind, content in sections:
        if kind == "table":
            lines.append(html_table(*content))
        elif kind in ("p", "h2"):
            lines.append(f"<{kind}>{esc(content)}</{kind}>")
        else:
            raise ValueError(f"Unknown section kind {kind!r}: use 'p', 'h2' or 'table'.")
    if png is not None:
        encoded = base64.b64encode(png).decode("ascii")
        lines.append(f'<img alt="{esc(title)}: figure" src="data:image/png;base64,{encoded}">')
    lines += ["</body>", "</html>", ""]
    return "\n".join(lines)


def require_matplotlib():
    """Imports matplotlib's `Figure` and Agg canvas, or raises a clear error.

    The Agg canvas is attached to each figure directly, so rendering never
    touches `pyplot` or changes the backend of the user's session.

    Returns:
        `(Figure, FigureCanvasAgg)`.
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError(
            "The report figure needs matplotlib, which is not installed. "
            "Install it with `pip install matplotlib` (or `pip install "
            "'keras-kd[report]'`, also part of 'keras-kd[dev]'), or leave the figure out."
        ) from None
    return Figure, FigureCanvasAgg
