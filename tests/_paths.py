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
