"""The demo (`keras-kd demo`) end to end on digits, which runs in seconds."""

import pytest

from keras_kd import cli
from keras_kd import demo


def test_demo_trains_three_models_and_reports_them():
    rows = demo.run_demo("digits", epochs=2, teacher_epochs=2, verbose=0)
    assert [row.model for row in rows] == ["teacher", "student alone", "student distilled"]
    teacher, alone, distilled = rows
    # The same architecture for both students, much smaller than the teacher.
    assert alone.params == distilled.params
    assert teacher.params > 10 * distilled.params
    for row in rows:
        assert 0.0 <= row.test_accuracy <= 1.0 and row.train_seconds > 0
    table = demo.format_table(rows)
    assert "| student distilled | " in table
    change = 100 * (distilled.test_accuracy - alone.test_accuracy)
    assert f"by {change:+.2f} points" in table


def test_unknown_dataset_names_the_choices():
    with pytest.raises(ValueError, match=r"Unknown dataset 'cifar'.*\['digits', 'fashion_mnist'\]"):
        demo.run_demo("cifar")


def test_cli_demo_prints_the_table(capsys, tmp_path):
    code = cli.main(
        ["demo", "--dataset", "digits", "--epochs", "1", "--teacher-epochs", "1",
         "--save-dir", str(tmp_path)]
    )  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out
    assert "| model | parameters | float32 size | test accuracy | train time |" in out
    saved = sorted(p.name for p in tmp_path.iterdir())
    assert saved == ["student_alone.keras", "student_distilled.keras", "teacher.keras"]


def test_scarce_labels_mode_trains_the_distilled_student_without_labels():
    rows = demo.run_demo("digits", epochs=2, teacher_epochs=2, labels=100, verbose=0)
    assert [row.model for row in rows] == [
        "teacher", "student alone (100 labels)", "student distilled (no labels)"
    ]


def test_scarce_labels_count_out_of_range_is_named():
    with pytest.raises(ValueError, match=r"labels=0 must be between 1 and the number of training images"):
        demo.run_demo("digits", epochs=1, teacher_epochs=1, labels=0, verbose=0)


def test_cosine_schedule_decays_the_students_learning_rate_to_zero():
    from keras_kd.data import load_digits

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
    with pytest.raises(ValueError, match=r"lr_schedule must be 'constant' or 'cosine'. Received: 'step'"):
        demo.run_demo("digits", epochs=1, teacher_epochs=1, lr_schedule="step", verbose=0)
