"""Writing a benchmark's table into Markdown files, between marker comments
(kept free of Keras so that a benchmark's driver process can use it)."""

import os


def write_between_markers(path, marker, text):
    """Replaces what lies between `<!-- marker:begin -->` and `:end -->` in
    `path`; leaves files without the markers alone."""
    begin, end = f"<!-- {marker}:begin -->", f"<!-- {marker}:end -->"
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
