"""examples/function_matching.py runs end to end (its quick mode), on every backend.

In this process (not a subprocess, which would import Keras and the backend
again): the example's `main()` with `--quick`, its printed table read back.
"""

import os
import re
import runpy
import sys

import pytest
from _once import example_runs_on_tensorflow  # noqa: E402
from _paths import REPO_ROOT

ROOT = str(REPO_ROOT)


@pytest.mark.slow
@example_runs_on_tensorflow
def test_function_matching_example_prints_its_table(monkeypatch, capsys):
    script = os.path.join(ROOT, "examples", "function_matching.py")
    monkeypatch.setattr(sys, "argv", [script, "--quick"])
    runpy.run_path(script, run_name="__main__")
    out = capsys.readouterr().out
    rows = re.findall(r"^\| (.+?) \| ([\d,]+) \| (\d+\.\d\d)% \|$", out, re.M)
    assert [(name, params) for name, params, _ in rows] == [
        ("teacher", "206,922"),
        ("student alone", "9,098"),
        ("student, function matching", "9,098"),
    ]
    assert all(0 <= float(acc) <= 100 for _, _, acc in rows)
