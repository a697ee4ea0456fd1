"""The README's quickstart runs as written, and is docs/architecture.md's public API."""

import os

import keras
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DESIGN = os.path.join(ROOT, "docs", "architecture.md")


def python_block(path, heading):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    start = text.index("```python\n", text.index(heading)) + len("```python\n")
    return text[start : text.index("```", start)]


def test_quickstart_runs_as_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the snippet writes student_int8.tflite here
    rng = np.random.default_rng(0)
    x = rng.random((96, 8, 8, 1), dtype=np.float32)
    y = (x.mean(axis=(1, 2, 3)) > 0.5).astype("int32")

    def small_model(units, name):
        return keras.Sequential(
            [
                keras.Input((8, 8, 1)),
                keras.layers.Flatten(),
                keras.layers.Dense(units, activation="relu"),
                keras.layers.Dense(2),
            ],
            name=name,
        )

    names = {
        "teacher": small_model(32, "teacher"),
        "student": small_model(4, "student"),
        "x_train": x[:64],
        "y_train": y[:64],
        "x_val": x[64:80],
        "y_val": y[64:80],
        "x_test": x[80:],
        "y_test": y[80:],
    }
    exec(python_block(os.path.join(ROOT, "README.md"), "## Quickstart"), names)
    assert os.path.exists(tmp_path / "student_int8.tflite")
    assert names["result"].mode == "int8"
    assert names["report"].agreement > 0.8 and names["report"].accuracy is not None
    assert names["student"] is names["distiller"].student


def test_quickstart_is_the_design_public_api():
    # docs/architecture.md's block goes on with the API of open issues (the cached
    # teacher, sequences, other inputs); the README shows what is built.
    readme = python_block(os.path.join(ROOT, "README.md"), "## Quickstart")
    design = python_block(DESIGN, "## Public API")
    assert design.startswith(readme)
    assert design[len(readme) :].startswith("\n#")
