"""benchmarks/pays.py's table and its resumable records (the run itself
trains for hours: `python benchmarks/pays.py --quick` checks it runs)."""

import json

import pytest
from _paths import import_benchmark


@pytest.fixture(scope="module")
def pays():
    return import_benchmark("pays")


def write(folder, name, record):
    (folder / f"{name}.json").write_text(json.dumps(record))


def test_gap_closed_per_seed_and_report_of_finished_runs(tmp_path, pays, capsys):
    write(tmp_path, "teacher", {"parameters": 1000, "test": 0.90, "val": 0.91, "cpu_seconds": 3600})
    for seed, alone, kd in ((0, 0.80, 0.85), (1, 0.82, 0.86)):
        write(
            tmp_path,
            f"alone_seed{seed}",
            {"arm": "alone", "seed": seed, "test": alone, "val": alone, "cpu_seconds": 10},
        )
        write(
            tmp_path,
            f"kd_seed{seed}",
            {"arm": "kd", "seed": seed, "test": kd, "val": kd, "cpu_seconds": 10},
        )
    write(
        tmp_path,
        "alone_seed2",
        {"arm": "alone", "seed": 2, "test": 0.5, "val": 0.5, "cpu_seconds": 10},
    )
    text = pays.main(["--work", str(tmp_path), "--report-only", "--arms", "alone", "kd"])
    # Per seed: (0.85 - 0.80) / 0.10 = 50%, (0.86 - 0.82) / 0.08 = 50%; seed 2 unfinished.
    assert "| kd | 85.50 ± 0.71 | 85.50 ± 0.71 | 50.00 ± 0.00 % |" in text
    assert "| alone | 81.00 ± 1.41 | 81.00 ± 1.41 |  |" in text
    assert "| teacher (1,000 parameters, mean over a mirror image) | 90.00 | 91.00 | |" in text
    output = capsys.readouterr().out
    assert "Seeds finished by every arm: [0, 1]" in output
    assert "CPU time of the parts finished: 1.01 h" in output
    one_seed = pays.main(
        ["--work", str(tmp_path), "--report-only", "--arms", "alone", "kd", "--seeds", "0"]
    )
    assert "| kd | 85.00 | 85.00 | 50.00 % |" in one_seed


def refused(capsys, call):
    """The `error: ...` message of a call that must exit with status 2."""
    with pytest.raises(SystemExit) as error:
        call()
    assert error.value.code == 2
    return capsys.readouterr().err


def test_no_gap_closed_where_the_teacher_does_not_beat_alone(pays):
    """Before: teacher 36.8%, alone 48.8%, kd 21.0% read '231.67 %' closed."""
    teacher = {"parameters": 10, "test": 0.368, "val": 0.38}
    records = [
        {"arm": "alone", "seed": 0, "test": 0.488, "val": 0.484},
        {"arm": "kd", "seed": 0, "test": 0.21, "val": 0.228},
    ]
    text = pays.table(teacher, records, ["alone", "kd"], [0])
    assert "| kd | 21.00 | 22.80 | none: the teacher does not beat alone (seeds [0]) |" in text
    assert "%" not in text.split("| kd |")[1]


def test_report_without_a_teacher_says_so(tmp_path, pays, capsys):
    message = refused(capsys, lambda: pays.main(["--work", str(tmp_path), "--report-only"]))
    assert "error: --report-only: no trained teacher in" in message


@pytest.mark.parametrize(
    "argv, words",
    [
        (["--teacher", "wide"], "trained as {'model': 'bn', 'epochs': 12}, not {'model': 'wide'"),
        (["--teacher-epochs", "30"], "not {'model': 'bn', 'epochs': 30}"),
    ],
)
def test_a_saved_teacher_of_other_settings_is_refused(tmp_path, pays, capsys, argv, words):
    """Reuse is by --work: another teacher's settings name the folder's."""
    (tmp_path / "teacher.keras").write_text("not loaded")
    write(tmp_path, "teacher", {"model": "bn", "epochs": 12, "test": 0.9, "val": 0.9})
    args = pays.parse_args(["--work", str(tmp_path), "--teacher-epochs", "12", *argv])
    assert words in refused(capsys, lambda: pays.trained_teacher(args, data=((None, None),) * 3))
    # main refuses before it writes anything (settings.json) or loads the data.
    argv = ["--work", str(tmp_path), "--teacher-epochs", "12", *argv]
    assert words in refused(capsys, lambda: pays.main(argv))
    assert not (tmp_path / "settings.json").exists()


@pytest.mark.parametrize(
    "argv, words",
    [
        (["--views", "0"], "argument --views: must be an int >= 1. Received: '0'"),
        (["--views", "-3"], "--views: must be an int >= 1"),
        (["--epochs", "0"], "argument --epochs: must be an int >= 1"),
        (["--teacher-epochs", "-1"], "argument --teacher-epochs: must be an int >= 1"),
        (["--train-samples", "0"], "argument --train-samples: must be an int >= 1"),
        # Before: accepted, the last 5,000 training images both trained and validated.
        (["--train-samples", "60000"], "--train-samples must be at most 55,000"),
        (["--seeds", "-1"], "argument --seeds: must be an int >= 0"),
        (["--seeds"], "argument --seeds: expected at least one argument"),
        (["--seeds", "0", "0"], "--seeds lists a value twice: [0, 0]"),
        (["--arms", "kd", "kd"], "--arms lists a value twice: ['kd', 'kd']"),
        # Before: --quick replaced the teacher silently.
        (["--quick", "--teacher", "wide"], "--quick sets --teacher, --teacher-epochs"),
        (["--quick", "--views", "4"], "but --views was given too"),
        (["--teacher-only", "--report-only"], "not allowed with argument --teacher-only"),
    ],
)
def test_hostile_arguments(tmp_path, pays, capsys, argv, words):
    assert words in refused(capsys, lambda: pays.parse_args(["--work", str(tmp_path), *argv]))


@pytest.mark.parametrize("extra", [[], ["--report-only"]])
def test_work_that_is_a_file_is_refused(tmp_path, pays, capsys, extra):
    """Before: FileExistsError from os.makedirs (or 'No trained teacher')."""
    path = tmp_path / "file"
    path.write_text("")
    message = refused(capsys, lambda: pays.main(["--work", str(path), *extra]))
    assert f"--work must be a folder, but {path} is a file" in message


@pytest.mark.parametrize(
    "files, argv, words",
    [
        # Before: the finished arm of 100 epochs was reported as one of 50.
        (
            {"kd_seed0.json": {"arm": "kd", "seed": 0, "epochs": 100}},
            ["--epochs", "50"],
            "--epochs 100 there, 50 now",
        ),
        # Before: TeacherCache.write's ValueError, after the teacher loaded.
        (
            {"cache/plan.json": {"samples": 64, "views": {"views": 16}}},
            ["--views", "4", "--train-samples", "4"],
            "--views 16 there, 4 now",
        ),
        (
            {"students.json": {"epochs": 100, "views": 16, "train_samples": 1000}},
            ["--train-samples", "2000"],
            "--train-samples 1000 there, 2000 now",
        ),
    ],
)
def test_arms_of_other_settings_are_refused_before_anything_is_written(
    tmp_path, pays, capsys, files, argv, words
):
    for name, content in files.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text(json.dumps(content))
    message = refused(capsys, lambda: pays.main(["--work", str(tmp_path), *argv]))
    assert words in message and "Pass the same settings to continue them" in message
    assert not (tmp_path / "settings.json").exists()
    args = pays.parse_args(["--work", str(tmp_path), *argv, "--teacher-only"])
    pays.check_work(args)  # Training the teacher alone binds no arm settings.
