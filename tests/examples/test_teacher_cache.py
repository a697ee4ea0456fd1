"""examples/teacher_cache.py runs end to end (its quick mode), once (TensorFlow):
the cache's exactness against the live teacher is tested on every backend in
tests/keras_kd/teachers/.

Run in this process (its `main(argv)`), as the import of a backend in a
fresh interpreter would cost more than the example.
"""

import importlib.util
import os
import re

import pytest
from _once import example_runs_on_tensorflow
from _paths import REPO_ROOT

ROOT = str(REPO_ROOT)


@pytest.mark.slow
@example_runs_on_tensorflow
def test_the_teacher_cache_example_matches_the_live_teacher(tmp_path, capsys):
    path = os.path.join(ROOT, "examples", "teacher_cache.py")
    spec = importlib.util.spec_from_file_location("teacher_cache_example", path)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    example.main(["--quick", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert "| distilled from | test accuracy | s / epoch | cache bytes / sample |" in out
    for name in ("live teacher", "dense float32 cache", "top-3 float16 cache"):
        assert f"| {name} | " in out, out
    gap = float(re.search(r"live vs dense float32 cache: (\S+)", out).group(1))
    assert gap < 1e-4, out
    assert sorted(os.listdir(tmp_path)) == ["dense", "top_k"]
