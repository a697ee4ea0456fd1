"""benchmarks/_markdown.py: a benchmark's table written between the marker
comments of a Markdown file, whatever the file held kept."""

import os

import pytest
from _paths import import_benchmark


@pytest.fixture(scope="module")
def markdown():
    return import_benchmark("_markdown")


KEPT = "# Results\n\nnotes above\n"


def _file(tmp_path, content):
    path = tmp_path / "RESULTS.md"
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


# Hostile table: (what the results file holds, what publish must write).
WRITTEN = [
    ("", "<!-- m:begin -->\nNEW\n<!-- m:end -->\n"),
    ("notes", "notes\n\n<!-- m:begin -->\nNEW\n<!-- m:end -->\n"),
    (KEPT, KEPT + "\n<!-- m:begin -->\nNEW\n<!-- m:end -->\n"),
    (f"{KEPT}<!-- m:begin -->\nold\n<!-- m:end -->\nbelow\n", f"{KEPT}<!-- m:begin -->\nNEW\n"),
    # A marker name the prefix of another's: each its own part.
    (
        "<!-- m_12epochs:begin -->\nX\n<!-- m_12epochs:end -->\n",
        "<!-- m_12epochs:begin -->\nX\n<!-- m_12epochs:end -->\n\n<!-- m:begin -->\nNEW\n",
    ),
    # Before: the whole file rewritten with LF line endings.
    (
        "a\r\n<!-- m:begin -->\r\nold\r\n<!-- m:end -->\r\nb\r\n",
        "a\r\n<!-- m:begin -->\r\nNEW\r\nline 2\r\n<!-- m:end -->\r\nb\r\n",
    ),
    ("a\r\nb\r\n", "a\r\nb\r\n\r\n<!-- m:begin -->\r\nNEW\r\nline 2\r\n<!-- m:end -->\r\n"),
]


@pytest.mark.parametrize("content, expected", WRITTEN)
def test_publish_keeps_what_the_file_held(tmp_path, markdown, content, expected):
    path = _file(tmp_path, content)
    text = "NEW\nline 2" if "\r\n" in content else "NEW"
    markdown.publish(text, "m", "Title", [str(path)])
    assert expected in path.read_bytes().decode("utf-8")
    if "below" in content:
        assert path.read_text().endswith("<!-- m:end -->\nbelow\n")
    assert os.listdir(tmp_path) == ["RESULTS.md"]  # no temporary file left


def test_publish_creates_a_missing_file_with_its_title(tmp_path, markdown):
    path = tmp_path / "RESULTS.md"
    markdown.publish("NEW", "m", "Title", [str(path), str(tmp_path / "README.md")])
    assert path.read_text() == "# Title\n\n<!-- m:begin -->\nNEW\n<!-- m:end -->\n"
    assert not (tmp_path / "README.md").exists()  # the other files: only where marked


LONE_BEGIN = "keep 1\n<!-- m:begin -->\nprecious\nkeep 2\n"

# Hostile table: (what a file holds, the words of the error). Nothing is written.
REFUSED = [
    # Before: everything after the lone begin replaced ("precious", "keep 2" lost).
    (LONE_BEGIN, "has <!-- m:begin --> without <!-- m:end -->"),
    # Before: a second pair appended below the stray end.
    ("keep\n<!-- m:end -->\nkeep\n", "has <!-- m:end --> without <!-- m:begin -->"),
    # Before: ValueError "not enough values to unpack (expected 2, got 1)".
    ("<!-- m:end -->\nx\n<!-- m:begin -->\n", "has <!-- m:end --> before <!-- m:begin -->"),
    # Before: the first replaced, the second left stale, silently.
    (
        "<!-- m:begin -->\n1\n<!-- m:end -->\n<!-- m:begin -->\n2\n<!-- m:end -->\n",
        "has 2 <!-- m:begin --> and 2 <!-- m:end -->",
    ),
    # Before: UnicodeDecodeError, the file unnamed.
    ("caf\xe9\n<!-- m:begin -->\n<!-- m:end -->\n".encode("latin-1"), "is not UTF-8 text"),
]


@pytest.mark.parametrize("content, words", REFUSED)
@pytest.mark.parametrize("call", ["publish", "write_between_markers", "second_of_publish"])
def test_a_file_with_broken_markers_is_named_and_kept(tmp_path, markdown, content, words, call):
    path = _file(tmp_path, content)
    before = path.read_bytes()
    good = tmp_path / "good.md"
    good.write_text("<!-- m:begin -->\nold\n<!-- m:end -->\n")
    with pytest.raises(markdown.MarkdownFileError) as error:
        if call == "publish":
            markdown.publish("NEW", "m", "Title", [str(path)])
        elif call == "write_between_markers":
            markdown.write_between_markers(str(path), "m", "NEW")
        else:  # checked before the first file is written
            markdown.publish("NEW", "m", "Title", [str(good), str(path)])
    message = str(error.value)
    assert f"{path} {words}" in message and "nothing was written" in message
    assert "Fix the markers by hand" in message or "Convert it to UTF-8" in message
    assert path.read_bytes() == before
    assert good.read_text() == "<!-- m:begin -->\nold\n<!-- m:end -->\n"


@pytest.mark.parametrize("call", ["publish", "check_markers", "read_between_markers"])
def test_a_folder_in_place_of_the_file_is_named(tmp_path, markdown, call):
    """Before: IsADirectoryError's traceback (pays.py catches ValueError)."""
    folder = tmp_path / "RESULTS.md"
    (folder / "inside").mkdir(parents=True)
    with pytest.raises(
        markdown.MarkdownFileError, match="is a folder, not a Markdown file.*Rename or remove"
    ):
        if call == "publish":
            markdown.publish("NEW", "m", "T", [str(folder)])
        elif call == "check_markers":
            markdown.check_markers([str(folder)], "m")
        else:
            markdown.read_between_markers(str(folder), "m")
    assert os.listdir(folder) == ["inside"]


@pytest.mark.parametrize("call", ["publish", "write_between_markers"])
def test_a_read_only_file_is_refused_even_as_root(tmp_path, markdown, call):
    """Before: written over as root; PermissionError otherwise."""
    path = _file(tmp_path, "keep\n<!-- m:begin -->\nold\n<!-- m:end -->\n")
    path.chmod(0o444)
    try:
        with pytest.raises(
            markdown.MarkdownFileError, match="is read-only, so its table cannot be written"
        ):
            if call == "publish":
                markdown.publish("NEW", "m", "T", [str(path)])
            else:
                markdown.write_between_markers(str(path), "m", "NEW")
    finally:
        path.chmod(0o644)
    assert path.read_text() == "keep\n<!-- m:begin -->\nold\n<!-- m:end -->\n"


def test_a_failed_write_leaves_the_file_as_it_was(tmp_path, markdown):
    """Before: the file was opened for writing (emptied), then the write failed."""
    path = _file(tmp_path, "keep\n<!-- m:begin -->\nold\n<!-- m:end -->\n")
    with pytest.raises(UnicodeEncodeError):
        markdown.publish("\udcff", "m", "T", [str(path)])
    assert path.read_text() == "keep\n<!-- m:begin -->\nold\n<!-- m:end -->\n"
    assert os.listdir(tmp_path) == ["RESULTS.md"]


def test_permissions_and_links_are_kept(tmp_path, markdown):
    path = _file(tmp_path, "<!-- m:begin -->\n<!-- m:end -->\n")
    path.chmod(0o640)
    link = tmp_path / "link.md"
    link.symlink_to(path)
    markdown.write_between_markers(str(link), "m", "NEW")
    assert link.is_symlink() and "NEW" in path.read_text()
    assert oct(path.stat().st_mode & 0o777) == oct(0o640)


@pytest.mark.parametrize("marker", ["a--b", "-a", "a-", "a b", "a>b", "", None])
def test_a_marker_name_that_breaks_an_html_comment_is_refused(tmp_path, markdown, marker):
    """Before: `<!-- a--b:begin -->` written (no `--` inside an HTML comment)."""
    with pytest.raises(markdown.MarkdownFileError, match=f"but {marker!r} would break it"):
        markdown.publish("NEW", marker, "T", [str(tmp_path / "R.md")])
    assert not (tmp_path / "R.md").exists()


def test_a_text_holding_its_own_marker_is_refused(tmp_path, markdown):
    path = _file(tmp_path, "<!-- m:begin -->\n<!-- m:end -->\n")
    with pytest.raises(markdown.MarkdownFileError, match="holds its own marker comment"):
        markdown.publish("x <!-- m:end --> y", "m", "T", [str(path)])


def test_read_between_markers(tmp_path, markdown):
    path = _file(tmp_path, "a\r\n<!-- m:begin -->\r\nx\r\ny\r\n<!-- m:end -->\r\n")
    assert markdown.read_between_markers(str(path), "m") == "x\ny"
    assert markdown.read_between_markers(str(path), "other") is None
    assert markdown.read_between_markers(str(tmp_path / "missing.md"), "m") is None
