"""The demo (`keras-kd demo`) end to end on digits, which runs in seconds."""

import dataclasses
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from keras_kd import cli
from keras_kd.apps import comparison
from keras_kd.apps import demo
from keras_kd.apps.data import load_digits


@pytest.mark.slow
def test_demo_trains_three_models_and_reports_them():
    rows = demo.run_demo(
        "digits", epochs=2, teacher_epochs=2, train_samples=300, verbose=0, holdout="validation"
    )
    assert [row.model for row in rows] == ["teacher", "student alone", "student distilled"]
    teacher, alone, distilled = rows
    # The same architecture for both students, much smaller than the teacher.
    assert alone.params == distilled.params
    assert teacher.params > 10 * distilled.params
    # Scored on the validation split: 20% of the 1,347 training images.
    (x_train, y_train), _ = load_digits()
    _, (_, y_val) = demo.validation_split(x_train, y_train)
    for row in rows:
        assert row.probabilities.shape == (len(y_val), 10) == (269, 10)
        assert row.test_accuracy == comparison.accuracy(row.probabilities, y_val)
        assert row.train_seconds > 0
    table = demo.format_table(rows)
    assert "| student distilled | " in table
    change = 100 * (distilled.test_accuracy - alone.test_accuracy)
    assert f"by {change:+.2f} points" in table


def test_validation_split_is_disjoint_fixed_and_a_fifth():
    x, y = np.arange(100)[:, None], np.arange(100)
    (x_fit, y_fit), (x_val, y_val) = demo.validation_split(x, y)
    assert len(y_val) == 20 and not set(y_fit) & set(y_val)
    assert sorted(y_fit.tolist() + y_val.tolist()) == list(range(100))
    assert demo.validation_split(x, y)[1][1].tolist() == y_val.tolist()


def test_unknown_holdout_is_named():
    with pytest.raises(
        ValueError, match=r"holdout must be 'test' or 'validation'. Received: 'train'"
    ):
        demo.run_demo("digits", holdout="train")


def test_unknown_dataset_names_the_choices():
    with pytest.raises(ValueError, match=r"Unknown dataset 'cifar'.*\['digits', 'fashion_mnist'\]"):
        demo.run_demo("cifar")


def test_presets_are_frozen_and_values_given_replace_theirs():
    preset = demo.PRESETS["digits"]
    assert isinstance(preset, demo.Preset)
    with pytest.raises(dataclasses.FrozenInstanceError, match="epochs"):
        preset.epochs = 1
    settings = demo._settings("digits", epochs=3, alpha=None, lr_schedule="cosine")
    assert settings == dataclasses.replace(preset, epochs=3, lr_schedule="cosine")
    assert demo.PRESETS["digits"].epochs == 40  # the preset itself is unchanged
    assert set(demo.PRESETS) == set(demo.DATASETS)


@pytest.mark.slow
def test_the_command_is_quiet_with_one_bar_per_model_and_writes_its_files(tmp_path):
    # The command as a user runs it, in its own process: no TensorFlow
    # start-up chatter on stderr, one progress bar per model (redrawn in
    # place with carriage returns: one finished line each), not one line per
    # epoch; the scarce-labels rows; the saved models and the report.
    models, report = tmp_path / "models", tmp_path / "report"
    command = [
        sys.executable,
        "-m",
        "keras_kd.cli",
        "demo",
        "--dataset",
        "digits",
        "--epochs",
        "2",
        "--teacher-epochs",
        "2",
        "--train-samples",
        "200",
        "--labels",
        "50",
        "--save-dir",
        str(models),
        "--report-dir",
        str(report),
    ]
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    done = subprocess.run(command, capture_output=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr
    assert done.stderr == b""
    out = done.stdout.decode()  # bytes: "\r" kept, as a terminal receives them
    plain = re.sub(r"\x1b\[[0-9;]*m", "", out)  # without the colours
    bars = [line for line in plain.split("\n") if "/2" in line and "epoch" in line]
    assert len(bars) == 3, out
    for bar in bars:  # epoch 1, then epoch 2 redrawn over it on the same line
        drawn = [part.strip("\b ") for part in bar.split("\r") if part.strip("\b ")]
        assert [part[:3] for part in drawn] == ["1/2", "2/2"], bar
    assert "Epoch 1/2" not in out
    assert out.count("\n== ") == 3
    assert "Scarce labels: the student alone learns from 50 labeled images" in out
    assert "| student alone (50 labels) | " in out and "| student distilled (no labels) | " in out
    assert sorted(p.name for p in models.iterdir()) == [
        "student_alone.keras",
        "student_distilled.keras",
        "teacher.keras",
    ]
    written = sorted(p.name for p in report.iterdir())
    assert written == ["comparison.html", "comparison.md", "comparison.png"]
    for name in written:
        assert f"wrote {report / name}" in out
    markdown = (report / "comparison.md").read_text()
    assert "| student distilled (no labels) | " in markdown and "ECE (15 bins)" in markdown
    assert (report / "comparison.png").read_bytes()[:4] == b"\x89PNG"


def test_report_dir_that_is_a_file_is_refused_before_training(tmp_path, capsys):
    existing = tmp_path / "taken"
    existing.write_text("")
    assert cli.main(["demo", "--dataset", "digits", "--report-dir", str(existing)]) == 2
    assert re.fullmatch(
        r"error: --report-dir '.*taken' is a file, not a folder\. Name a folder\.\n",
        capsys.readouterr().err,
    )


def test_scarce_labels_count_out_of_range_is_named():
    with pytest.raises(
        ValueError, match=r"labels=0 must be between 1 and the number of training images"
    ):
        demo.run_demo("digits", epochs=1, teacher_epochs=1, labels=0, verbose=0)


@pytest.mark.slow
def test_cosine_schedule_decays_the_students_learning_rate_to_zero():
    from keras_kd.apps.data import load_digits

    (x, y), _ = load_digits()
    x, y = x[:256], y[:256]
    teacher, _ = demo.train_teacher(x, y, epochs=1, verbose=0)
    alone, _, distilled, _ = demo.train_students(
        teacher, x, y, epochs=2, batch_size=64, lr_schedule="cosine", verbose=0
    )
    # The learning rate is read at the optimizer's current step: the last.
    assert float(alone.optimizer.learning_rate) == pytest.approx(0.0, abs=1e-9)
    assert int(alone.optimizer.iterations) == 2 * 4
    assert alone.name == "student_alone" and distilled.name == "student_distilled"


def test_unknown_learning_rate_schedule_is_named():
    with pytest.raises(
        ValueError, match=r"lr_schedule must be 'constant' or 'cosine'. Received: 'step'"
    ):
        demo.run_demo("digits", epochs=1, teacher_epochs=1, lr_schedule="step", verbose=0)
