"""Folders the tests read, whatever the depth of the test file that asks.

Test files live in sub-folders that mirror the package tree
(`tests/keras_kd/losses/...`), so a path built from `__file__` would depend
on how deep each one sits; these do not.
"""

import pathlib

TESTS = pathlib.Path(__file__).resolve().parent
REPO_ROOT = TESTS.parent
SCRIPTS = TESTS / "_scripts"
EXAMPLES = REPO_ROOT / "examples"
BENCHMARKS = REPO_ROOT / "benchmarks"


def import_benchmark(name):
    """The module `benchmarks/<name>.py`, imported with `benchmarks/` on the
    path only while it loads (its own helpers, `_shared`, `_args`, import by name)."""
    import importlib
    import sys

    sys.path.insert(0, str(BENCHMARKS))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(BENCHMARKS))
