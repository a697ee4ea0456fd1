"""`keras-kd tune` on scikit-learn's 8x8 digits: the table and the JSON of the
best settings, a second run resuming without training, and each mistake as
`error: ...` with exit status 2, checked before any training."""

import json
import re
import sys

import keras
import numpy as np
import pytest

from keras_kd.apps import tuning
from keras_kd.apps.data import load_digits
from keras_kd.cli import main


def _dense(units, name):
    return keras.Sequential(
        [keras.Input((64,)), keras.layers.Dense(units, activation="relu"), keras.layers.Dense(10)],
        name=name,
    )


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """teacher.keras (trained), student.keras, train.npz and val.npz of digits."""
    folder = tmp_path_factory.mktemp("tune")
    (x, y), _ = load_digits(flatten=True)
    keras.utils.set_random_seed(0)
    teacher = _dense(16, "teacher")
    teacher.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    teacher.fit(x[:600], y[:600], epochs=2, batch_size=64, verbose=0)
    teacher.save(folder / "teacher.keras")
    _dense(8, "student").save(folder / "student.keras")
    np.savez(folder / "train.npz", x=x[:600], y=y[:600])
    np.savez(folder / "val.npz", x=x[600:900], y=y[600:900])
    np.savez(folder / "wide.npz", x=np.zeros((20, 10), "float32"), y=np.zeros(20, "int32"))
    return folder


def _tune(folder, *options, data=("--data", "train.npz"), output="best.json"):
    """Runs `keras-kd tune` on the files of `folder`; returns the exit status."""
    args = [
        "tune",
        "--teacher",
        folder / "teacher.keras",
        "--student",
        folder / "student.keras",
        *(data[:1] + tuple(folder / d if d.endswith(".npz") else d for d in data[1:])),
        "-o",
        folder / output,
        *options,
    ]
    return main(args)


@pytest.fixture
def trainings(monkeypatch):
    """Counts the trials trained."""
    count = []
    train_trial = tuning.train_trial

    def counted(*args, **kwargs):
        count.append(1)
        return train_trial(*args, **kwargs)

    monkeypatch.setattr(tuning, "train_trial", counted)
    return count


@pytest.mark.slow
def test_prints_the_table_writes_the_best_settings_and_resumes(files, tmp_path, capsys, trainings):
    options = (
        "--validation-data",
        files / "val.npz",
        "--temperature",
        "2",
        "--alpha",
        "0.3",
        "0.7",
        "--epochs",
        "1",
        "--learning-rate",
        "0.01",
        "--batch-size",
        "64",
        "--max-trials",
        "1",
        "--directory",
        tmp_path / "search",
    )
    output = tmp_path / "best.json"
    args = [
        "tune",
        "--teacher",
        files / "teacher.keras",
        "--student",
        files / "student.keras",
        "--data",
        files / "train.npz",
        "-o",
        output,
        *options,
    ]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert len(trainings) == 1
    best = json.loads(output.read_text())
    assert {k: best[k] for k in ("temperature", "alpha", "loss")} == {
        "temperature": 2.0,
        "alpha": 0.3,
        "loss": "kd",
    }
    assert best["objective"] == "val_accuracy" and 0.0 <= best["score"] <= 1.0
    assert [t["status"] for t in best["trials"]] == ["COMPLETED"]
    assert tuple(best["trials"][0]) == tuning.COLUMNS  # each trial, key for key
    assert f"| 0 | 2 | 0.3 | kd | {best['score']:.4f} (best) | COMPLETED |" in printed
    assert f"Wrote the best settings to {output}" in printed

    # The same command again: the finished trial is read back, not retrained.
    assert main(args) == 0
    assert len(trainings) == 1
    assert json.loads(output.read_text()) == best


def _error(capsys):
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return captured.err


@pytest.mark.parametrize(
    "options, words",
    [
        (
            ("--temperature", "0"),
            "error: --temperature values must be finite numbers > 0. Received: [0.0].",
        ),
        (("--alpha", "0.5", "1.5"), "error: --alpha values must be in [0, 1]. Received: [1.5]."),
        (("--loss", "kd", "nope"), "error: --loss: unknown loss nope. Choose among "),
        (("--epochs", "0"), "error: --epochs must be at least 1. Received: 0."),
        (("--max-trials", "0"), "error: --max-trials must be at least 1. Received: 0."),
        (
            ("--learning-rate", "-1"),
            "error: --learning-rate must be a finite number > 0. Received: -1.0.",
        ),
        (
            ("--validation-fraction", "1"),
            "error: --validation-fraction must be between 0 and 1. Received: 1.0.",
        ),
        (
            ("--objective", "val_f1"),
            "error: objective must be a metric of the distilled student: one of (",
        ),
    ],
)
def test_wrong_options(files, capsys, trainings, options, words):
    assert _tune(files, *options) == 2
    assert words in _error(capsys)
    assert not trainings


def test_wrong_files(files, tmp_path, capsys, trainings):
    assert _tune(files, output="best.txt") == 2
    assert "error: --output must end in .json. Received: " in _error(capsys)
    assert _tune(files, output="missing/best.json") == 2
    assert "error: The folder of the output path does not exist" in _error(capsys)
    assert _tune(files, data=("--data", "absent.npz")) == 2
    assert "error: --data: no such file" in _error(capsys)
    assert _tune(files, data=("--data", "wide.npz")) == 2
    assert "the inputs 'x' have shape (16, 10), but the teacher expects (n, 64)" in _error(capsys)
    assert _tune(files, data=("--dataset", "digits")) == 2
    assert (
        "the digits dataset: the inputs 'x' have shape (1078, 8, 8, 1), but the teacher "
        "expects (n, 64)"
    ) in _error(capsys)
    assert _tune(files, "--validation-data", files / "val.npz", data=("--dataset", "digits")) == 2
    assert "error: --validation-data goes with --data" in _error(capsys)
    (tmp_path / "afile").write_text("")
    assert _tune(files, "--directory", tmp_path / "afile") == 2
    assert f"error: --directory '{tmp_path / 'afile'}' is a file, not a folder." in _error(capsys)
    assert not trainings


def test_class_labels_for_a_one_unit_student_are_refused_before_the_search(
    files, tmp_path, capsys, trainings
):
    """Was: refused by the first trial's fit ("fit(): ..."), after the search
    directory and its first trial were written."""
    for name in ("teacher", "student"):
        keras.Sequential([keras.Input((64,)), keras.layers.Dense(1)], name=name).save(
            tmp_path / f"{name}.keras"
        )
    for name in ("train.npz", "val.npz"):
        (tmp_path / name).write_bytes((files / name).read_bytes())
    options = ("--validation-data", tmp_path / "val.npz", "--directory", tmp_path / "search")
    assert _tune(tmp_path, *options) == 2
    assert re.match(
        r"error: --data .*train\.npz: 'y': binary cross-entropy reads labels in \[0, 1\] .*"
        r"Labels 0 to 9 name 10",
        _error(capsys),
    )
    assert not (tmp_path / "search").exists() and not trainings


@pytest.mark.parametrize(
    "held_out, named",
    [
        ("--validation-data", r"--validation-data .*val\.npz: 'y'"),
        ("--validation-fraction", r"--data .*train\.npz: 'y' \(its validation split\)"),
    ],
)
def test_labels_only_the_held_out_set_holds_are_refused_by_its_name(
    tmp_path, capsys, trainings, held_out, named
):
    """The held-out labels are checked too: 0 and 1 in the training part, a 2
    in the validation part, for a one-unit student."""
    for name in ("teacher", "student"):
        keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)], name=name).save(
            tmp_path / f"{name}.keras"
        )
    x = np.zeros((10, 4), "float32")
    binary, with_a_two = np.array([0, 1] * 5), np.array([0, 1] * 4 + [1, 2])
    if held_out == "--validation-data":
        np.savez(tmp_path / "train.npz", x=x, y=binary)
        np.savez(tmp_path / "val.npz", x=x, y=with_a_two)
        options = ("--validation-data", tmp_path / "val.npz")
    else:
        np.savez(tmp_path / "train.npz", x=x, y=with_a_two)
        options = ("--validation-fraction", "0.2")
    assert _tune(tmp_path, *options, "--directory", tmp_path / "search") == 2
    assert re.match(
        rf"error: {named}: binary cross-entropy reads labels in \[0, 1\]", _error(capsys)
    )
    assert not (tmp_path / "search").exists() and not trainings


def test_a_student_that_cannot_be_reinitialized(files, capsys, monkeypatch, trainings):
    def refuse(model, **kwargs):
        raise ValueError("no config for this layer")

    monkeypatch.setattr(keras.models, "clone_model", refuse)
    assert _tune(files) == 2
    assert (
        "error: --student: the model 'student' cannot be re-initialized with "
        "keras.models.clone_model (ValueError: no config for this layer). Save a Functional "
        "or Sequential model."
    ) in _error(capsys)
    assert not trainings


def test_without_keras_tuner_the_error_says_how_to_install_it(files, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "keras_tuner", None)
    assert _tune(files) == 2
    assert "error: keras-kd tune needs KerasTuner. " in (err := _error(capsys))
    assert 'pip install "keras-kd[tuning]"' in err
