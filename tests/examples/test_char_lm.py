"""The character-level language model example (quick mode) on the current
backend, and the fortunes loader it reads its text with."""

import math
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from _paths import REPO_ROOT

from keras_kd.apps.data import CHARACTERS
from keras_kd.apps.data import load_fortunes

ROOT = str(REPO_ROOT)
sys.path.insert(0, os.path.join(ROOT, "examples"))

import char_lm  # noqa: E402
from _once import example_runs_on_tensorflow  # noqa: E402


def test_fortunes_are_split_by_fortune_and_encoded_in_the_vocabulary(tmp_path):
    (tmp_path / "wisdom").write_text("Abc\tdef\n%\nSecond é one\n%\nThird\n", encoding="latin-1")
    (tmp_path / "wisdom.dat").write_bytes(b"\x00\x01binary index")
    train, test = load_fortunes(tmp_path, test_fraction=1 / 3, seed=0)
    decode = lambda ids: "".join(CHARACTERS[i] for i in ids)  # noqa: E731
    texts = sorted([decode(train), decode(test)], key=len)
    assert texts[0] in ("Abc def", "Second  one", "Third")
    assert sorted(texts[1].split("\n\n") + [texts[0]]) == ["Abc def", "Second  one", "Third"]
    assert train.dtype == np.int32 and len(CHARACTERS) == 96


def test_a_folder_without_fortunes_says_which_package_to_install(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"No fortune files in .*apt-get install fortunes"):
        load_fortunes(tmp_path / "missing")


def test_windows_predict_the_next_character():
    ids = np.arange(20, dtype="int32")
    x, y = char_lm.windows(ids, 4)
    assert x.shape == y.shape == (4, 4) and x.dtype == np.float32
    np.testing.assert_array_equal(y, x + 1)
    assert char_lm.bits_per_character(
        np.zeros((1, 2, 96)), np.zeros((1, 2), "int32")
    ) == pytest.approx(math.log2(96))


@pytest.mark.slow
@example_runs_on_tensorflow
def test_char_lm_quick_distils_and_litert_reproduces_the_bits_per_character(tmp_path):
    completed = subprocess.run(
        [
            sys.executable,
            os.path.join(ROOT, "examples", "char_lm.py"),
            "--quick",
            "--divergence",
            "jsd",
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    values = dict(
        re.findall(r"^\| ([^|]+?) \|\s*[\d,]*\s*\| (\d+\.\d+) \|$", completed.stdout, re.M)
    )
    assert set(values) == {
        "teacher (Transformer)",
        "student alone (GRU)",
        "student distilled (jsd)",
    } | {next(k for k in values if k.startswith("same, float32 .tflite in LiteRT"))}
    litert = next(v for k, v in values.items() if k.startswith("same, float32"))
    assert abs(float(litert) - float(values["student distilled (jsd)"])) < 0.02
    assert float(values["teacher (Transformer)"]) < math.log2(96)  # better than uniform
    assert (tmp_path / "student.tflite").stat().st_size > 0
