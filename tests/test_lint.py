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


def test_ruff_check_passes():
    command = _ruff()
    if command is None:
        pytest.skip("ruff is not installed (pip install 'keras-kd[dev]')")
    result = subprocess.run(
        command + ["check", "--no-cache", "--output-format", "concise", *CHECKED],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, (
        f"ruff check found problems (rules in pyproject.toml, [tool.ruff]):\n"
        f"{result.stdout}{result.stderr}"
    )
