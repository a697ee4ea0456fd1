"""Writing a benchmark's table into Markdown files, between marker comments
(kept free of Keras so that a benchmark's driver process can use it)."""

import os

import numpy as np


def _comments(marker):
    """The HTML comments that open and close `marker`'s part of a file."""
    return f"<!-- {marker}:begin -->", f"<!-- {marker}:end -->"


def write_between_markers(path, marker, text):
    """Replaces what lies between `<!-- marker:begin -->` and `:end -->` in
    `path`; leaves files without the markers alone."""
    begin, end = _comments(marker)
    if not os.path.exists(path):
        return
    with open(path) as f:
        content = f.read()
    if begin not in content or end not in content:
        return
    head, rest = content.split(begin, 1)
    _, tail = rest.split(end, 1)
    with open(path, "w") as f:
        f.write(f"{head}{begin}\n{text}\n{end}{tail}")


def accuracy_cell(row):
    """`row["accuracy"]` as a percentage, with ` ± std` over `row["accuracies"]`
    (in points) when the row averages several seeds."""
    cell = f"{100 * row['accuracy']:.2f}%"
    if len(row.get("accuracies", [])) > 1:
        cell += f" ± {100 * np.std(row['accuracies']):.2f}"
    return cell


def publish(text, marker, title, paths):
    """Writes `text` between the `marker` comments of every file of `paths`;
    the first is the benchmark's own results file, created with `title` if
    missing, and given the markers at its end if it has none for `marker`
    (the other files, e.g. the README, only where they have them)."""
    begin, end = _comments(marker)
    markers = f"{begin}\n{end}\n"
    if not os.path.exists(paths[0]):
        with open(paths[0], "w") as f:
            f.write(f"# {title}\n\n{markers}")
    with open(paths[0]) as f:
        content = f.read()
    if begin not in content or end not in content:
        with open(paths[0], "a") as f:
            f.write(("\n" if content.endswith("\n") else "\n\n") + markers)
    for path in paths:
        write_between_markers(path, marker, text)
