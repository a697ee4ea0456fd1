"""examples/regression.py runs end to end in its quick mode, on every backend."""

import os
import re
import subprocess
import sys

import pytest
from _once import example_runs_on_tensorflow  # noqa: E402
from _paths import REPO_ROOT

ROOT = str(REPO_ROOT)


@pytest.mark.slow
@example_runs_on_tensorflow
def test_regression_example_prints_a_table_of_finite_errors():
    script = os.path.join(ROOT, "examples", "regression.py")
    completed = subprocess.run(
        [sys.executable, script, "--quick"], capture_output=True, text=True, timeout=600
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    rows = re.findall(
        r"^\| (teacher|student[^|]*) \| ([\d,]+) \| ([\d.]+) \| ([\d.]+) \|$",
        completed.stdout,
        flags=re.MULTILINE,
    )
    names = [row[0] for row in rows]
    assert names == [
        "teacher",
        "student alone",
        "student, mse (alpha=0.5)",
        "student, huber (alpha=0.5)",
    ]
    parameters = {name: int(count.replace(",", "")) for name, count, _, _ in rows}
    assert parameters["teacher"] == 4929 and parameters["student alone"] == 49
    # Errors in the data set's units (its targets span 25 to 346): finite and plausible.
    assert all(0 < float(rmse) < 400 and 0 < float(mae) <= float(rmse) for _, _, rmse, mae in rows)
