"""`ruff check` passes on the code, with the rules set in pyproject.toml."""

import pathlib
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
CHECKED = ("keras_kd", "tflite_export", "tests", "benchmarks", "examples")


def _ruff():
    """The ruff command: the module in this Python, else one on the PATH."""
    try:
        import ruff  # noqa: F401
    except ImportError:
        executable = shutil.which("ruff")
        return [executable] if executable else None
    return [sys.executable, "-m", "ruff"]


def _run_ruff(arguments):
    """`ruff <arguments> --no-cache <checked folders>` in the repository; skips
    the test when ruff is not installed."""
    command = _ruff()
    if command is None:
        pytest.skip("ruff is not installed (pip install 'keras-kd[dev]')")
    return subprocess.run(
        command + [*arguments, "--no-cache", *CHECKED],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_ruff_check_passes():
    result = _run_ruff(["check", "--output-format", "concise"])
    assert result.returncode == 0, (
        f"ruff check found problems (rules in pyproject.toml, [tool.ruff]):\n"
        f"{result.stdout}{result.stderr}"
    )


def test_ruff_format_leaves_the_code_as_it_is():
    """The code is laid out by `ruff format` (the version .ci/run pins), with
    no hand-set exceptions: `ruff format --check` would change nothing."""
    result = _run_ruff(["format", "--check"])
    assert result.returncode == 0, (
        f"ruff format would change these files; run `ruff format .`:\n{result.stdout}{result.stderr}"
    )


def test_no_formatter_exceptions():
    """No formatter-skip markers (`fmt` followed by a colon in a comment): a
    layout that reads better by hand is a sign the line wants to be split
    differently, not skipped."""
    marker = "# fmt" + ":"
    found = [
        f"{path.relative_to(ROOT)}:{number}"
        for folder in CHECKED
        for path in sorted((ROOT / folder).rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if marker in line
    ]
    assert not found, f"formatter exceptions left: {found}"
