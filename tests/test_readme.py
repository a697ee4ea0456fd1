"""The README's quickstart runs as written, and is docs/architecture.md's public API."""

import os

import keras
import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DESIGN = os.path.join(ROOT, "docs", "architecture.md")


def python_block(path, heading):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    start = text.index("```python\n", text.index(heading)) + len("```python\n")
    return text[start : text.index("```", start)]


@pytest.mark.slow
def test_quickstart_runs_as_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the snippet writes student_int8.tflite here
    rng = np.random.default_rng(0)
    x = rng.random((96, 8, 8, 1), dtype=np.float32)
    y = (x.mean(axis=(1, 2, 3)) > 0.5).astype("int32")

    def small_model(units, name):
        return keras.Sequential(
            [
                keras.Input((8, 8, 1)),
                keras.layers.Flatten(),
                keras.layers.Dense(units, activation="relu"),
                keras.layers.Dense(2),
            ],
            name=name,
        )

    names = {
        "teacher": small_model(32, "teacher"),
        "student": small_model(4, "student"),
        "x_train": x[:64],
        "y_train": y[:64],
        "x_val": x[64:80],
        "y_val": y[64:80],
        "x_test": x[80:],
        "y_test": y[80:],
    }
    exec(python_block(os.path.join(ROOT, "README.md"), "## Quickstart"), names)
    assert os.path.exists(tmp_path / "student_int8.tflite")
    assert names["result"].mode == "int8"
    assert names["report"].agreement > 0.8 and names["report"].accuracy is not None
    assert names["student"] is names["distiller"].student


def test_quickstart_is_the_design_public_api():
    # docs/architecture.md's block goes on with the API of open issues (the cached
    # teacher, sequences, other inputs); the README shows what is built.
    readme = python_block(os.path.join(ROOT, "README.md"), "## Quickstart")
    design = python_block(DESIGN, "## Public API")
    assert design.startswith(readme)
    assert design[len(readme) :].startswith("\n#")


# -- Test files the documentation names ---------------------------------------

DOCUMENTS = ["README.md", "CONTRIBUTING.md", os.path.join("tests", "README.md")] + sorted(
    os.path.join("docs", name)
    for name in os.listdir(os.path.join(ROOT, "docs"))
    if name.endswith(".md")
)
# Paths a page tells the reader to create: {path: (page, the module it tests)}.
TO_BE_WRITTEN = {
    "tests/keras_kd/losses/test_brier.py": ("docs/adding_a_loss.md", "keras_kd/losses/brier.py"),
}


def named_test_paths(text):
    """The `tests/...py` paths and the bare `test_*.py` names in `text`."""
    import re

    paths = set(re.findall(r"\btests/[\w./-]+?\.py\b", text))
    names = set(re.findall(r"(?<![\w/])test_\w+\.py\b", text))
    return paths, names


def test_named_test_paths_reads_paths_and_bare_names():
    paths, names = named_test_paths(
        "see `tests/keras_kd/test_checks.py`, test_lint.py and keras_kd/losses/dkd.py; "
        "not tests/README.md"
    )
    assert paths == {"tests/keras_kd/test_checks.py"} and names == {"test_lint.py"}


def test_every_test_file_the_documentation_names_exists():
    every_test_file = {
        name for _, _, files in os.walk(os.path.join(ROOT, "tests")) for name in files
    }
    stale = []
    for document in DOCUMENTS:
        with open(os.path.join(ROOT, document), encoding="utf-8") as f:
            paths, names = named_test_paths(f.read())
        for path in sorted(paths):
            if path in TO_BE_WRITTEN and TO_BE_WRITTEN[path][0] == document.replace(os.sep, "/"):
                continue
            if not os.path.isfile(os.path.join(ROOT, path)):
                stale.append(f"{document}: {path}")
        stale += [f"{document}: {name}" for name in sorted(names - every_test_file)]
    assert not stale, f"Test files named in the documentation that do not exist: {stale}"


def test_a_test_file_a_page_has_the_reader_write_mirrors_its_module():
    for path, (document, module) in TO_BE_WRITTEN.items():
        assert not os.path.exists(os.path.join(ROOT, path)), f"{path} exists: drop the entry"
        with open(os.path.join(ROOT, document), encoding="utf-8") as f:
            text = f.read()
        assert path in text and module in text
        folder, name = os.path.split(module)
        assert path == f"tests/{folder}/test_{name}"


# -- tests/README.md's map of the modules tested under another name ------------

PACKAGES = ("keras_kd", "tflite_export")


def module_map():
    """`[(modules, test files)]` of the table, as paths from the repository's
    root: a bare name sits in the folder of the path before it (a test file,
    else at the top of tests/); a path ending in `/` is a folder."""
    import re

    with open(os.path.join(ROOT, "tests", "README.md"), encoding="utf-8") as f:
        text = f.read()
    table = text[text.index("## Modules tested under another name") :]
    rows = []
    for line in table.splitlines():
        if not line.startswith("| `"):
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        rows.append(
            tuple(
                _paths(re.findall(r"`([^`]+)`", cell), base)
                for cell, base in zip(cells, ("", "tests"))
            )
        )
    return rows


def _paths(names, base):
    paths, folder = [], None
    for name in names:
        if not (name.endswith(".py") or name.endswith("/")) or "<" in name:
            continue  # a name of code, or a pattern such as test_distiller_<aspect>.py
        if "/" in name.rstrip("/"):
            path = os.path.join(base, name)
            folder = os.path.dirname(path.rstrip("/"))
        else:
            path = os.path.join(folder or base, name)
            if base and not os.path.exists(os.path.join(ROOT, path)):
                path = os.path.join(base, name)
        paths.append(path)
    return paths


def _own_test(module):
    """Whether `module` has a `test_<module>[_<aspect>].py` in its mirrored folder."""
    folder, name = os.path.split(module)
    tests = os.path.join(ROOT, "tests", folder)
    stem = name[: -len(".py")].lstrip("_")
    return os.path.isdir(tests) and any(
        f == f"test_{stem}.py" or f.startswith(f"test_{stem}_") for f in os.listdir(tests)
    )


def test_every_row_of_the_module_map_names_files_that_exist():
    missing = [
        path
        for modules, tests in module_map()
        for path in modules + tests
        if not os.path.exists(os.path.join(ROOT, path))
    ]
    assert not missing, f"tests/README.md's module map names what is not there: {missing}"


def test_every_module_has_its_own_test_file_or_a_row_in_the_map():
    mapped = [path for modules, _ in module_map() for path in modules]
    unmapped = []
    for package in PACKAGES:
        for folder, _, files in os.walk(os.path.join(ROOT, package)):
            for name in files:
                module = os.path.relpath(os.path.join(folder, name), ROOT)
                if not name.endswith(".py") or _own_test(module):
                    continue
                with open(os.path.join(ROOT, module), encoding="utf-8") as f:
                    if name in ("__init__.py", "__main__.py") and "\ndef " not in f.read():
                        continue  # a package's imports and nothing else
                if not any(module == m or module.startswith(m) for m in mapped):
                    unmapped.append(module)
    assert not unmapped, (
        f"Modules with no test_<module>.py and no row in tests/README.md: {unmapped}"
    )
