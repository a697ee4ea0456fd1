"""The quick mode of examples/teacher_inputs.py, in this process, on every backend
(a fresh interpreter's import of the backend would cost more than the example)."""

import os
import re
import runpy

import pytest
from _once import example_runs_on_tensorflow  # noqa: E402
from _paths import REPO_ROOT

ROOT = str(REPO_ROOT)


@pytest.mark.slow
@example_runs_on_tensorflow
def test_the_teacher_inputs_example_trains_saves_and_reloads(tmp_path, capsys):
    main = runpy.run_path(os.path.join(ROOT, "examples", "teacher_inputs.py"))["main"]
    main(["--quick", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert "| student (14x14 inputs) | test accuracy |" in out, out
    for name in ("alone", "distilled, dict form", "distilled, Resizing(28, 28)"):
        accuracy = float(re.search(rf"\| {re.escape(name)} \| (\S+) \|", out).group(1))
        assert 0.1 < accuracy <= 1.0, out  # Better than chance after one epoch.
    gap = float(
        re.search(
            r"Resizing preprocessor\) and saved student vs the trained one: (\S+)", out
        ).group(1)
    )
    assert gap < 1e-5, out
    assert sorted(os.listdir(tmp_path)) == ["distiller.keras", "student.keras"]
