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
    """The module `benchmarks/<name>.py`, loaded as `benchmark_<name>` (so a
    script's plain name, `export` or `tuning`, never stands for a package in
    `sys.modules`), with `benchmarks/` on the path only while it loads (its
    own helpers, `_shared`, `_args`, import by name)."""
    import importlib.util
    import sys

    module_name = f"benchmark_{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(BENCHMARKS))
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[module_name]
        raise
    finally:
        sys.path.remove(str(BENCHMARKS))
    return module
