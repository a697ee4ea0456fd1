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
    assert "| teacher (1,000 parameters) | 90.00 | 91.00 | |" in text
    output = capsys.readouterr().out
    assert "Seeds finished by every arm: [0, 1]" in output
    assert "CPU time of the parts finished: 1.01 h" in output
    one_seed = pays.main(
        ["--work", str(tmp_path), "--report-only", "--arms", "alone", "kd", "--seeds", "0"]
    )
    assert "| kd | 85.00 | 85.00 | 50.00 % |" in one_seed


def test_report_without_a_teacher_says_so(tmp_path, pays):
    with pytest.raises(SystemExit, match="No trained teacher"):
        pays.main(["--work", str(tmp_path), "--report-only"])


@pytest.mark.parametrize(
    "argv, words",
    [
        (["--teacher", "wide"], "trained as {'model': 'bn', 'epochs': 12}, not {'model': 'wide'"),
        (["--teacher-epochs", "30"], "not {'model': 'bn', 'epochs': 30}"),
    ],
)
def test_a_saved_teacher_of_other_settings_is_refused(tmp_path, pays, argv, words):
    """Reuse is by --work: another teacher's settings name the folder's."""
    (tmp_path / "teacher.keras").write_text("not loaded")
    write(tmp_path, "teacher", {"model": "bn", "epochs": 12, "test": 0.9, "val": 0.9})
    args = pays.parse_args(["--work", str(tmp_path), "--teacher-epochs", "12", *argv])
    with pytest.raises(SystemExit, match=words.replace("{", r"\{").replace("}", r"\}")):
        pays.trained_teacher(args, data=((None, None),) * 3)
