"""Writing a benchmark's table into Markdown files, between marker comments
(kept free of Keras so that a benchmark's driver process can use it).

Whatever a file held outside its markers is kept byte for byte (its line
endings too); a file whose markers are broken (one missing, in the wrong
order, twice), not UTF-8, or read-only is refused with an error naming it
and the fix, before anything is written; a write that fails leaves the file
as it was (the new text is written beside it, then moved over it).
"""

import os
import re
import stat
import tempfile

import numpy as np


class MarkdownFileError(ValueError):
    """A results file that cannot take a table: broken markers, not UTF-8,
    read-only, a folder, or a marker name or text that would break it. The
    message names the file and the fix; nothing was written.

    A `ValueError`, so existing callers keep working; a benchmark catches
    this class alone, so that its own `ValueError`s stay tracebacks.
    """


# Inside an HTML comment: no "--", no "-" at either end, no ">" (CommonMark).
_MARKER_NAME = re.compile(r"[A-Za-z0-9_.+]+(?:-[A-Za-z0-9_.+]+)*")


def _comments(marker):
    """The HTML comments that open and close `marker`'s part of a file.

    Raises:
        MarkdownFileError: for a name that would break the comment (or match
            another's): letters, digits and `_ . + -` only, no `--`, no `-`
            at either end.
    """
    if not isinstance(marker, str) or not _MARKER_NAME.fullmatch(marker):
        raise MarkdownFileError(
            f"A marker name sits inside an HTML comment, but {marker!r} would break it: "
            "give letters, digits and '_ . + -' only, with no '--' and no '-' at either end."
        )
    return f"<!-- {marker}:begin -->", f"<!-- {marker}:end -->"


def _read(path):
    """The text of `path` as it is (no newline translation, so CRLF stays)."""
    try:
        with open(path, encoding="utf-8", newline="") as f:
            return f.read()
    except UnicodeDecodeError as error:
        raise MarkdownFileError(
            f"{path} is not UTF-8 text (byte {error.object[error.start]:#04x} at offset "
            f"{error.start}), so its markers cannot be replaced without garbling it. Convert "
            "it to UTF-8 (e.g. `iconv -f latin1 -t utf-8`) and run again; nothing was written."
        ) from None
    except IsADirectoryError:
        raise MarkdownFileError(
            f"{path} is a folder, not a Markdown file, so no table can be written in it. "
            "Rename or remove that folder and run again; nothing was written."
        ) from None


def _span(path, content, marker):
    """`(start, stop)` of what lies between `marker`'s comments in `content`
    (the text of `path`), or `None` when it has neither.

    Raises:
        MarkdownFileError: naming `path` and the fix when only one comment is
            there, one is there twice, or the end comes before the begin
            (replacing then would drop or misplace what the file holds).
    """
    begin, end = _comments(marker)
    begins, ends = content.count(begin), content.count(end)
    if begins == ends == 0:
        return None
    if (begins, ends) == (1, 1) and content.index(begin) < content.index(end):
        return content.index(begin) + len(begin), content.index(end)
    if begins == 0 or ends == 0:
        problem = f"{begin if begins else end} without {end if begins else begin}"
    elif begins > 1 or ends > 1:
        problem = f"{begins} {begin} and {ends} {end}"
    else:
        problem = f"{end} before {begin}"
    raise MarkdownFileError(
        f"{path} has {problem}, so the part to replace is unclear and writing could lose "
        f"what it holds. Fix the markers by hand (one {begin} above one {end}) and run "
        "again; nothing was written."
    )


def _newline(content):
    """The line ending most of `content`'s lines use."""
    crlf = content.count("\r\n")
    return "\r\n" if crlf and 2 * crlf >= content.count("\n") else "\n"


def _check_writable(path):
    # Also as root (who may write anyway): a file made read-only is kept so.
    if os.path.exists(path) and (not os.access(path, os.W_OK) or not os.stat(path).st_mode & 0o222):
        raise MarkdownFileError(
            f"{path} is read-only, so its table cannot be written. Make it writable "
            f"(`chmod u+w {path}`) and run again, or leave it: nothing was written."
        )


def _write(path, content):
    """`content` into `path` at once: written beside it, then moved over it,
    keeping its permissions (a failed write leaves the file as it was)."""
    real = os.path.realpath(path)  # a symbolic link keeps pointing at the file
    mode = stat.S_IMODE(os.stat(real).st_mode) if os.path.exists(real) else None
    handle, temporary = tempfile.mkstemp(dir=os.path.dirname(real), prefix=".", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as f:
            f.write(content)
        if mode is not None:
            os.chmod(temporary, mode)
        os.replace(temporary, real)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise


def _replaced(path, content, marker, text, span):
    begin, end = _comments(marker)
    if begin in text or end in text:
        raise MarkdownFileError(
            f"The text for {path}'s {marker!r} part holds its own marker comment, which "
            "would make the file's markers appear twice. Give a text without it."
        )
    newline = _newline(content)
    text = text.replace("\r\n", "\n").replace("\n", newline)
    start, stop = span
    return f"{content[:start]}{newline}{text}{newline}{content[stop:]}"


def write_between_markers(path, marker, text):
    """Replaces what lies between `<!-- marker:begin -->` and `:end -->` in
    `path`; leaves files without the markers (or missing) alone.

    Raises:
        MarkdownFileError: naming the file and the fix when its markers are broken
            (`_span`), it is not UTF-8 or is read-only; nothing is written.
    """
    if not os.path.exists(path):
        return
    content = _read(path)
    span = _span(path, content, marker)
    if span is None:
        return
    _check_writable(path)
    _write(path, _replaced(path, content, marker, text, span))


def read_between_markers(path, marker):
    """What lies between `marker`'s comments in `path` (without the newline
    after the begin and before the end), or `None` when the file or the
    markers are missing.

    Raises:
        MarkdownFileError: as `write_between_markers`, for broken markers or a
            file that is not UTF-8.
    """
    if not os.path.exists(path):
        return None
    content = _read(path)
    span = _span(path, content, marker)
    if span is None:
        return None
    return content[span[0] : span[1]].replace("\r\n", "\n").strip("\n")


def accuracy_cell(row):
    """`row["accuracy"]` as a percentage, with ` ± std` over `row["accuracies"]`
    (in points) when the row averages several seeds."""
    cell = f"{100 * row['accuracy']:.2f}%"
    if len(row.get("accuracies", [])) > 1:
        cell += f" ± {100 * np.std(row['accuracies']):.2f}"
    return cell


def check_markers(paths, marker):
    """Raises, naming the file and the fix, where a file of `paths` could
    not take `marker`'s table (`write_between_markers`); for a benchmark to
    call before hours of work rather than after."""
    for path in paths:
        if os.path.exists(path):
            _span(path, _read(path), marker)
            _check_writable(path)


def publish(text, marker, title, paths):
    """Writes `text` between the `marker` comments of every file of `paths`;
    the first is the benchmark's own results file, created with `title` if
    missing, and given the markers at its end if it has none for `marker`
    (the other files, e.g. the README, only where they have them). Every
    file is checked (`check_markers`) before any is written."""
    check_markers(paths, marker)
    begin, end = _comments(marker)
    first = paths[0]
    exists = os.path.exists(first)
    content = _read(first) if exists else f"# {title}\n\n"
    if _span(first, content, marker) is None:
        newline = _newline(content)
        ended = not exists or not content or content.endswith(2 * newline)
        separator = "" if ended else newline if content.endswith("\n") else 2 * newline
        content += f"{separator}{begin}{newline}{end}{newline}"
        _write(first, _replaced(first, content, marker, text, _span(first, content, marker)))
    else:
        write_between_markers(first, marker, text)
    for path in paths[1:]:
        write_between_markers(path, marker, text)
