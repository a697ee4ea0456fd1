"""examples/teacher_inputs.py runs end to end (its quick mode), on every backend.

Run in this process (its `main(argv)`), as the import of a backend in a
fresh interpreter would cost more than the example.
"""

import importlib.util
import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_the_teacher_inputs_example_trains_saves_and_reloads(tmp_path, capsys):
    path = os.path.join(ROOT, "examples", "teacher_inputs.py")
    spec = importlib.util.spec_from_file_location("teacher_inputs_example", path)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    example.main(["--quick", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert "| student (14x14 inputs) | test accuracy |" in out, out
    for name in ("alone", "distilled, dict form", "distilled, Resizing(28, 28)"):
        accuracy = float(re.search(rf"\| {re.escape(name)} \| (\S+) \|", out).group(1))
        assert 0.1 < accuracy <= 1.0, out  # Better than chance after one epoch.
    gap = float(re.search(r"Resizing preprocessor\) and saved student vs the trained one: (\S+)", out).group(1))
    assert gap < 1e-5, out
    assert sorted(os.listdir(tmp_path)) == ["distiller.keras", "student.keras"]
