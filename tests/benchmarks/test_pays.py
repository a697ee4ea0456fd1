"""benchmarks/pays.py's table and its resumable records (the run itself
trains for hours: `python benchmarks/pays.py --quick` checks it runs)."""

import json
import threading
import time

import keras
import numpy as np
import pytest
from _once import benchmark_run_runs_on_tensorflow
from _paths import BENCHMARKS
from _paths import import_benchmark

import keras_kd


@pytest.fixture(scope="module")
def pays():
    return import_benchmark("pays")


@pytest.fixture(autouse=True)
def results(pays, tmp_path_factory, monkeypatch):
    """RESULTS_pays.md of each test its own (missing until written): never the
    repository's, whose tables a test must neither change nor depend on."""
    path = tmp_path_factory.mktemp("results") / "RESULTS_pays.md"
    monkeypatch.setattr(pays, "RESULTS", str(path))
    return path


def write(folder, name, record):
    (folder / f"{name}.json").write_text(json.dumps(record))


def test_gap_closed_per_seed_and_report_of_finished_runs(tmp_path, pays, capsys):
    teacher = {
        "parameters": 1000,
        "test": 0.90,
        "val": 0.91,
        "test_plain": 0.89,
        "cpu_seconds": 3600,
    }
    write(tmp_path, "teacher", teacher)
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
    # 3,600 s of teacher and 50 s of runs, seed 2's lone student included.
    assert "CPU time of the parts finished: 1.01 h" in output
    # Each arm over the seeds it finished: alone has three, kd two.
    assert "| alone | 0, 1, 2 | 70.67 ± 17.93 |  |" in output
    assert "| kd | 0, 1 | 85.50 ± 0.71 | 50.00 ± 0.00 % |" in output
    # Every finished run, seed 2's lone student too, each against its own seed.
    assert "| kd | 1 | 86.00 | 86.00 | 50.0 % | 10 |" in output
    assert "| alone | 2 | 50.00 | 50.00 |  | 10 |" in output
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


def test_report_names_the_parts_begun_and_not_finished(tmp_path, pays, capsys):
    write(tmp_path, "teacher", {"parameters": 10, "test": 0.9, "val": 0.9, "cpu_seconds": 0})
    (tmp_path / "kd_seed0_backup").mkdir()
    (tmp_path / "kd_seed0_backup" / "training_metadata.json").write_text('{"epoch": 7}')
    pays.main(["--work", str(tmp_path), "--report-only", "--epochs", "20"])
    output = capsys.readouterr().out
    assert "Begun, not finished" in output
    assert "kd, seed 0, 7 of 20 epochs done (0 CPU s recorded)" in output


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


def test_report_without_a_teacher_names_the_teacher_begun(tmp_path, pays, capsys):
    """Was: "nothing to report", the teacher's backup at epoch 12 unsaid."""
    (tmp_path / "teacher_backup").mkdir()
    (tmp_path / "teacher_backup" / "training_metadata.json").write_text('{"epoch": 12}')
    message = refused(capsys, lambda: pays.main(["--work", str(tmp_path), "--report-only"]))
    assert "no teacher.json), so no table to report. Begun, not finished (" in " ".join(
        message.split()
    )
    assert "the teacher, 12 of 30 epochs done (0 CPU s recorded). Give the --work" in " ".join(
        message.split()
    )


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
        (["--analyse", "--report-only"], "not allowed with argument --analyse"),
        (["--learning-rates", "0"], "argument --learning-rates: must be a number > 0. Received"),
        (
            ["--learning-rates", "-0.001"],
            "--learning-rates: must be a number > 0. Received: '-0.001'",
        ),
        (["--learning-rates", "nan"], "--learning-rates: must be a number > 0. Received: 'nan'"),
        (["--learning-rates", "inf"], "--learning-rates: must be a number > 0. Received: 'inf'"),
        (["--learning-rates", "fast"], "--learning-rates: must be a number > 0"),
        (["--learning-rates"], "argument --learning-rates: expected at least one argument"),
        (
            ["--learning-rates", "1e-3", "0.001"],
            "--learning-rates lists a value twice: [0.001, 0.001]",
        ),
        # Before: both named select_kd_lr0.001.json; the second read the first's
        # record, and one rate was never tried.
        (
            ["--learning-rates", "1e-3", "1.0000001e-3"],
            "--learning-rates 0.001 and 0.0010000001 are the same to 6 significant digits",
        ),
        (["--select-epochs", "0"], "argument --select-epochs: must be an int >= 1"),
        # Before the check, silently ignored: one rate, nothing selected.
        (["--select-epochs", "5"], "there is nothing to select. Give two or more"),
        (
            ["--learning-rates", "1e-3", "2e-3", "--epochs", "10", "--select-epochs", "20"],
            "--select-epochs 20 is more than --epochs 10",
        ),
        # Before: compared with the default 100 epochs, then --quick set 2.
        (
            ["--quick", "--learning-rates", "1e-3", "2e-3", "--select-epochs", "5"],
            "--select-epochs 5 is more than --epochs 2",
        ),
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
        (
            {
                "students.json": {
                    "epochs": 100,
                    "views": 16,
                    "train_samples": 55000,
                    "student": "cnn",
                }
            },
            [],
            "--student cnn there, tiny now",
        ),
        # A folder of the version before --student trained the tiny student.
        (
            {"students.json": {"epochs": 100, "views": 16, "train_samples": 55000}},
            ["--student", "cnn"],
            "--student tiny there, cnn now",
        ),
        (
            {"kd_seed0.json": {"arm": "kd", "seed": 0, "epochs": 100}},
            ["--student", "cnn"],
            "--student tiny there, cnn now",
        ),
        # A folder of the version before --learning-rates trained at 2e-3.
        (
            {"students.json": {"epochs": 100, "views": 16, "train_samples": 55000}},
            ["--learning-rates", "1e-3", "2e-3"],
            "--learning-rates [0.002] there, [0.001, 0.002] now, --select-epochs None there",
        ),
        (
            {"kd_seed0.json": {"arm": "kd", "seed": 0, "epochs": 100}},
            ["--learning-rates", "1e-3"],
            "--learning-rates [0.002] there, [0.001] now",
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


@pytest.mark.parametrize(
    "argv",
    [
        ["--student", "cnn"],
        ["--learning-rates", "1e-3", "2e-3", "4e-3", "--select-epochs", "6"],
        ["--student", "cnn", "--learning-rates", "1e-3"],
    ],
    ids=["another student", "selected rates", "both"],
)
def test_a_folder_of_a_teacher_and_a_cache_serves_any_student_and_rate(tmp_path, pays, argv):
    """Before: a folder holding only a teacher and a view cache (to share them
    with another folder) refused `--learning-rates` and `--student cnn` as
    "--learning-rates [0.002] there": a cache was read as arms of 2e-3."""
    (tmp_path / "cache").mkdir()
    plan = {"samples": 55000 * 4, "views": {"views": 4}, "teacher_name": "teacher_flip_averaged"}
    (tmp_path / "cache" / "plan.json").write_text(json.dumps(plan))
    args = pays.parse_args(["--work", str(tmp_path), "--views", "4", "--epochs", "12", *argv])
    pays.check_work(args)  # no error
    # The cache's views still bind.
    other = pays.parse_args(["--work", str(tmp_path), "--views", "8", *argv])
    with pytest.raises(SystemExit):
        pays.check_work(other)


def test_a_cache_of_the_plain_teacher_is_refused(tmp_path, pays, capsys):
    """Its fingerprint (the weights) is the flip average's: only the name tells."""
    (tmp_path / "cache").mkdir()
    write(tmp_path / "cache", "plan", {"teacher_name": "teacher", "views": None})
    args = pays.parse_args(["--work", str(tmp_path)])
    message = refused(capsys, lambda: pays.check_work(args))
    assert "holds the targets of the teacher 'teacher', not of its flip average" in message
    assert "Remove that folder to write it again" in message


def test_the_teacher_row_says_when_it_is_the_network_alone(pays):
    """Before: a record saved before the flip average read 'mean over a mirror image'."""
    plain = {"parameters": 10, "test": 0.9, "val": 0.9}
    assert "| teacher (10 parameters, network alone) | 90.00" in pays.table(plain, [], [], [])
    averaged = {**plain, "test_plain": 0.8}
    assert "mean over a mirror image" in pays.table(averaged, [], [], [])


# -- Two processes sharing one --work, and resuming ------------------------------------


def test_an_arm_another_process_trains_is_waited_for_not_trained_again(
    tmp_path, pays, monkeypatch, capsys
):
    """Before: the second process trained it too, into the same backup."""
    args = pays.parse_args(["--work", str(tmp_path)])
    trained = []
    monkeypatch.setattr(pays, "_run_arm", lambda *a: trained.append(a) or {"arm": "kd"})
    record = {"arm": "kd", "seed": 1, "test": 0.9, "val": 0.9, "cpu_seconds": 1}

    def other_process():
        with pays.claimed(str(tmp_path), "kd_seed1"):
            ready.set()
            time.sleep(0.5)
            write(tmp_path, "kd_seed1", record)

    ready = threading.Event()
    thread = threading.Thread(target=other_process)
    thread.start()
    assert ready.wait(10), "the other process never held the arm"
    assert pays.run_arm(args, "kd", 1, None, None) == record
    thread.join()
    assert trained == []
    assert "kd_seed1: another process sharing" in capsys.readouterr().out


def test_results_show_every_run_of_the_folder_whichever_process_ends_last(
    tmp_path, pays, monkeypatch
):
    """The lead's two processes: seed 0 of every arm, and seed 1 of five arms.
    Before: the one ending last wrote its own seeds and arms only."""
    results = tmp_path / "RESULTS_pays.md"
    monkeypatch.setattr(pays, "RESULTS", str(results))
    teacher = {"parameters": 10, "test": 0.9, "val": 0.9, "test_plain": 0.8, "cpu_seconds": 0}
    five = ["alone", "kd", "kd_std", "dkd", "mld"]
    for seed, arms in ((0, pays.ARMS), (1, five)):
        for arm in arms:
            record = {"arm": arm, "seed": seed, "test": 0.85, "val": 0.8, "cpu_seconds": 1}
            write(tmp_path, f"{arm}_seed{seed}", record)
    second = pays.parse_args(["--work", str(tmp_path), "--seeds", "1", "--arms", *five])
    pays.write_results(second, teacher)
    text = results.read_text()
    assert "| fm | 85.00 |" in text and '"seeds": [0]' in text
    for arm in set(pays.ARMS) - set(five):  # fm, fm_plain: the first process's
        record = {"arm": arm, "seed": 1, "test": 0.85, "val": 0.8, "cpu_seconds": 1}
        write(tmp_path, f"{arm}_seed1", record)
    pays.write_results(second, teacher)
    assert '"seeds": [0, 1]' in results.read_text()


def test_settings_keep_every_invocation(tmp_path, pays):
    """Before: each process sharing --work overwrote settings.json."""
    for argv in ([], ["--seeds", "1", "--arms", "alone", "kd"]):
        pays.record_invocation(pays.parse_args(["--work", str(tmp_path), *argv]))
    invocations = json.loads((tmp_path / "settings.json").read_text())["invocations"]
    assert [i["seeds"] for i in invocations] == [[0, 1, 2], [1]]


def test_a_teacher_killed_while_scored_resumes_from_its_last_epoch(tmp_path, pays, monkeypatch):
    """Before: the backup was deleted when the fit ended, so a run killed
    while scoring or saving the teacher trained it again from the start."""
    teacher = keras.Sequential(
        [keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(10)]
    )
    monkeypatch.setattr(pays, "make_teacher", lambda kind: teacher)

    def interrupted(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(pays, "accuracy", interrupted)
    args = pays.parse_args(["--work", str(tmp_path), "--teacher-epochs", "1"])
    x = np.zeros((8, 28, 28, 1), "float32")
    data = ((x, np.zeros(8, "int64")),) * 3
    with pytest.raises(KeyboardInterrupt):
        pays.trained_teacher(args, data)
    metadata = json.loads((tmp_path / "teacher_backup" / "training_metadata.json").read_text())
    assert metadata["epoch"] == 1
    assert pays.cpu_spent(str(tmp_path), "teacher") > 0


def test_a_second_process_of_other_student_settings_is_refused_while_the_teacher_trains(
    tmp_path, pays, monkeypatch, capsys
):
    """Before: students.json was written once the teacher was made (hours
    later), so a second process of other --epochs passed check_work, and
    both processes' arms landed in one table."""

    class StillTraining(Exception):
        """The first process, still making the teacher."""

    def still_training(args, data):
        raise StillTraining

    monkeypatch.setattr(pays, "trained_teacher", still_training)
    monkeypatch.setattr(pays, "load_fashion_mnist", lambda: ((np.zeros((8,)),) * 2,) * 2)
    with pytest.raises(StillTraining):
        pays.main(["--work", str(tmp_path), "--epochs", "100"])
    second = ["--work", str(tmp_path), "--epochs", "50", "--seeds", "1"]
    assert "--epochs 100 there, 50 now" in refused(capsys, lambda: pays.main(second))


def test_analyse_without_a_teacher_says_so(tmp_path, pays, capsys):
    message = refused(capsys, lambda: pays.main(["--work", str(tmp_path), "--analyse"]))
    assert "error: --analyse: no trained teacher in" in message


@pytest.mark.parametrize("scale", [1.0, 30.0])
def test_kl_to_teacher_is_the_mean_kl_in_nats(pays, scale):
    rng = np.random.default_rng(0)
    teacher, student = scale * rng.normal(size=(2, 5, 4))
    p = np.exp(teacher) / np.exp(teacher).sum(-1, keepdims=True)
    q = np.exp(student) / np.exp(student).sum(-1, keepdims=True)
    expected = np.mean(np.sum(p * np.log(p / q), axis=-1))
    assert pays.kl_to_teacher(teacher, student) == pytest.approx(expected, rel=1e-9)
    assert pays.kl_to_teacher(teacher, teacher) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.slow
@benchmark_run_runs_on_tensorflow
def test_sigterm_mid_epoch_ends_the_run_with_143_and_keeps_its_cpu(tmp_path):
    """SIGTERM mid-epoch: exit status 143, the CPU spent kept in the ledger.
    (The real run that prompted `run_as_script` unwound, then hung for good in
    the interpreter's shutdown, in the destructor of TensorFlow's prefetching
    iterator; this short run does not reproduce that hang, so it checks the
    exit itself, not the hang.)"""
    import os
    import signal
    import subprocess
    import sys

    from _paths import REPO_ROOT as ROOT

    child = subprocess.Popen(
        [sys.executable, "-u", os.path.join(ROOT, "benchmarks", "pays.py"), "--quick"]
        + ["--work", str(tmp_path), "--arms", "alone", "kd"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        seen = 0
        for line in child.stdout:
            seen += line.startswith("Epoch 2/")
            if seen == 2:  # the distilled arm (on the cache's batches) is training
                break
        child.send_signal(signal.SIGTERM)
        assert child.wait(timeout=120) == 143
    finally:
        child.kill()
    ledger = json.loads((tmp_path / "quick" / "cpu.json").read_text())
    assert ledger["kd_seed0"] > 0


def test_main_puts_the_sigterm_default_back(tmp_path, pays, monkeypatch):
    """Before: main() left its SIGTERM-to-exit handler installed in the
    caller's process, and later tests of signals in the same pytest worker
    (tests/tflite_export/test_worker.py) saw SIGTERM as handled by the user."""
    import signal

    during = []
    monkeypatch.setattr(
        pays, "_train_and_report", lambda args: during.append(signal.getsignal(signal.SIGTERM))
    )
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
    pays.main(["--work", str(tmp_path)])
    assert during and during[0] != signal.SIG_DFL
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL


def test_cpu_time_counts_every_finished_run(tmp_path, pays):
    """Before: only the runs of the seeds every arm finished were counted
    (the real folder read 0.80 h, its teacher and caches alone)."""
    for arm, seed in (("alone", 0), ("kd", 0), ("alone", 1)):
        record = {"arm": arm, "seed": seed, "test": 0.8, "val": 0.8, "cpu_seconds": 1800}
        write(tmp_path, f"{arm}_seed{seed}", record)
    teacher = {"parameters": 10, "test": 0.9, "val": 0.9, "cpu_seconds": 0}
    records = pays.folder_records(str(tmp_path), ["alone", "kd"], [0, 1])
    _, seeds, cpu = pays.folder_table(str(tmp_path), teacher, records, ["alone", "kd"], [0, 1])
    assert seeds == [0] and cpu == 3 * 1800


@pytest.mark.parametrize(
    "student, parameters, marker", [("tiny", 9098, "pays"), ("cnn", 26698, "pays_student_cnn")]
)
def test_each_student_has_its_model_and_its_own_results_table(pays, student, parameters, marker):
    args = pays.parse_args(["--student", student])
    assert pays.make_student(args.student).count_params() == parameters
    assert pays.results_marker(args) == marker
    results = (BENCHMARKS / "RESULTS_pays.md").read_text()
    assert f"<!-- {marker}:begin -->" in results and f"<!-- {marker}:end -->" in results


@pytest.mark.parametrize(
    "argv, marker",
    [
        # Before: every tiny-student folder wrote "pays", so a 12-epoch
        # ablation replaced the full configuration's table.
        (["--epochs", "12", "--views", "4"], "pays_12epochs_4views"),
        (["--learning-rates", "4e-3", "8e-3"], "pays_lr_0.004_0.008"),
        (
            ["--student", "cnn", "--epochs", "12", "--views", "4"],
            "pays_student_cnn_12epochs_4views",
        ),
    ],
)
def test_each_student_setting_writes_its_own_table_added_at_the_end(
    tmp_path, pays, monkeypatch, argv, marker
):
    results = tmp_path / "RESULTS_pays.md"
    before = "# Distillation that pays\n\n<!-- pays:begin -->\nthe full table\n<!-- pays:end -->\n"
    results.write_text(before)
    monkeypatch.setattr(pays, "RESULTS", str(results))
    write(
        tmp_path,
        "alone_seed0",
        {"arm": "alone", "seed": 0, "test": 0.8, "val": 0.8, "cpu_seconds": 1},
    )
    write(
        tmp_path, "kd_seed0", {"arm": "kd", "seed": 0, "test": 0.85, "val": 0.8, "cpu_seconds": 1}
    )
    args = pays.parse_args(["--work", str(tmp_path), *argv])
    assert pays.results_marker(args) == marker
    pays.write_results(args, {"parameters": 10, "test": 0.9, "val": 0.9, "cpu_seconds": 0})
    text = results.read_text()
    assert text.startswith(before)  # the full table kept
    added = text[len(before) :]
    assert added.startswith(f"\n<!-- {marker}:begin -->\nSettings:")
    assert "| kd | 85.00 |" in added and added.endswith(f"<!-- {marker}:end -->\n")


# -- --analyse and --report-only on what a folder really holds -------------------------


def _tiny_image_model(seed):
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(10)]
    )


def _analysed(tmp_path, pays, monkeypatch, argv=()):
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(40, 28, 28, 1)).astype("float32")
    y = rng.integers(0, 10, size=40)
    monkeypatch.setattr(pays, "load_fashion_mnist", lambda: ((x, y), (x[:20], y[:20])))
    monkeypatch.setattr(pays, "FIT_SAMPLES", 20)
    return pays.main(["--work", str(tmp_path), "--analyse", *argv])


def _run(folder, arm, seed, record=True, student="good"):
    """A run as a (possibly killed) process leaves it."""
    if student == "good":
        _tiny_image_model(seed).save(folder / f"{arm}_seed{seed}.keras")
    elif student == "partial":
        (folder / f"{arm}_seed{seed}.keras").write_bytes(b"PK\x03\x04 killed while saving")
    if record:
        write(folder, f"{arm}_seed{seed}", {"arm": arm, "seed": seed, "test": 0.8, "val": 0.8})


# Hostile table: (what --work holds for one run, the words --analyse must show).
ANALYSE_TABLE = [
    # Before: load_model of the partial file, a traceback ending the analysis.
    (dict(arm="kd", seed=0, record=False, student="partial"), None),
    (dict(arm="kd", seed=0, record=True, student="partial"), "kd seed 0: "),
    (dict(arm="kd", seed=0, record=True, student="partial"), "remove it and kd_seed0.json"),
    # Before: left out (not among the default --seeds 0 1 2).
    (dict(arm="dkd", seed=7, record=True, student="good"), "| dkd | 7 | "),
    # Before: left out silently.
    (dict(arm="fm", seed=1, record=True, student=None), "fm seed 1: finished without a saved"),
    # Before: analysed, though the run is still training (its record not written).
    (dict(arm="mld", seed=0, record=False, student="good"), None),
]


@pytest.mark.parametrize("run, words", ANALYSE_TABLE)
def test_analyse_hostile_table(tmp_path, pays, monkeypatch, run, words):
    _tiny_image_model(100).save(tmp_path / "teacher.keras")
    write(tmp_path, "teacher", {"model": "bn", "epochs": 1, "test": 0.9, "val": 0.9})
    _run(tmp_path, "alone", 0)
    _run(tmp_path, **run)
    text = _analysed(tmp_path, pays, monkeypatch)
    assert "| alone | 0 | " in text  # the other students are analysed all the same
    if words is None:
        assert f"| {run['arm']} |" not in text and "Not analysed" not in text
    else:
        assert words in text


def test_analyse_and_report_keep_to_the_arms_and_seeds_given(tmp_path, pays, monkeypatch):
    _tiny_image_model(100).save(tmp_path / "teacher.keras")
    teacher = {"model": "bn", "epochs": 1, "test": 0.9, "val": 0.9, "parameters": 10}
    write(tmp_path, "teacher", {**teacher, "cpu_seconds": 0})
    for arm, seed in (("alone", 0), ("kd", 0), ("alone", 5), ("kd", 5)):
        _run(tmp_path, arm, seed)
    tmp_path.joinpath("kd_seed5.json").write_text(
        json.dumps({"arm": "kd", "seed": 5, "test": 0.8, "val": 0.8, "cpu_seconds": 1})
    )
    text = _analysed(tmp_path, pays, monkeypatch, ["--seeds", "0"])
    assert "| alone | 0 |" in text and "| 5 |" not in text
    text = _analysed(tmp_path, pays, monkeypatch, ["--arms", "kd"])
    assert "| kd | 0 |" in text and "| kd | 5 |" in text and "alone" not in text


@pytest.mark.parametrize(
    "content, words",
    [
        ("{", "kd_seed0.json is not a JSON object as this script writes (Expecting"),
        ("", "kd_seed0.json is not a JSON object"),
        ("[1, 2]", "kd_seed0.json is not a JSON object as this script writes (a list)"),
        ("null", "(a NoneType)"),
    ],
    ids=["truncated", "empty", "a list", "null"],
)
def test_a_corrupt_record_is_named_not_a_traceback(tmp_path, pays, capsys, content, words):
    """Before: json.JSONDecodeError (or AttributeError on a list) from
    whichever part read the record, the file unnamed."""
    teacher = {"model": "bn", "epochs": 1, "test": 0.9, "val": 0.9, "parameters": 10}
    write(tmp_path, "teacher", {**teacher, "cpu_seconds": 0})
    (tmp_path / "kd_seed0.json").write_text(content)
    message = refused(capsys, lambda: pays.main(["--work", str(tmp_path), "--report-only"]))
    assert words in message and "Remove it" in message


def test_a_broken_ledger_is_refused_before_anything_trains(tmp_path, pays, capsys):
    (tmp_path / "cpu.json").write_text('{"kd_seed0": "an hour"}')
    message = refused(capsys, lambda: pays.main(["--work", str(tmp_path), "--epochs", "1"]))
    assert "cpu.json, the CPU ledger, is not a JSON object of CPU seconds per part" in message
    assert "('kd_seed0': 'an hour')" in message
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cpu.json"]


KD_SEED0 = {"arm": "kd", "seed": 0, "epochs": 1, "test": 0.8, "val": 0.8, "cpu_seconds": 1}


@pytest.mark.parametrize(
    "record, words",
    [
        # Before: KeyError 'val' from the table, a traceback.
        ({k: v for k, v in KD_SEED0.items() if k != "val"}, "(no 'val')"),
        ({"arm": "kd", "seed": 0}, "(no 'test', 'val', 'cpu_seconds')"),
        # Before: counted as alone's seed 0 (twice, with alone_seed0.json's).
        ({**KD_SEED0, "arm": "alone"}, "(the run of 'alone' seed 0)"),
        ({**KD_SEED0, "seed": 3}, "(the run of 'kd' seed 3)"),
    ],
    ids=["no val", "no scores", "another arm", "another seed"],
)
def test_a_run_record_not_of_its_run_is_named_not_used(tmp_path, pays, capsys, record, words):
    teacher = {"model": "bn", "epochs": 1, "test": 0.9, "val": 0.9, "parameters": 10}
    write(tmp_path, "teacher", {**teacher, "cpu_seconds": 0})
    write(tmp_path, "alone_seed0", {**KD_SEED0, "arm": "alone"})
    write(tmp_path, "kd_seed0", record)
    message = refused(capsys, lambda: pays.main(["--work", str(tmp_path), "--report-only"]))
    path = tmp_path / "kd_seed0.json"
    assert f"{path} does not record the run its name says {words}" in message
    assert "Remove it (that run trains again)" in message
    args = pays.parse_args(["--work", str(tmp_path)])
    with pytest.raises(pays.RecordError, match="does not record the run its name says"):
        pays.run_arm(args, "kd", 0, None, None)  # resuming: read, not trained again
    assert json.loads(path.read_text()) == record


# -- Each arm's learning rate, chosen on the validation split ---------------------------


def _selection_args(pays, tmp_path, *rates):
    rates = [str(rate) for rate in rates]
    return pays.parse_args(["--work", str(tmp_path), "--learning-rates", *rates])


@pytest.fixture
def fake_training(pays, monkeypatch):
    """`_fit_student` and `accuracy` replaced: a student is its learning rate,
    and its validation accuracy `SCORES[rate]`; the calls are recorded."""
    calls = []
    scores = {1e-3: 0.80, 2e-3: 0.85, 4e-3: 0.85}

    def fit(args, part, arm, seed, epochs, rate, train, caches):
        calls.append((part, seed, epochs, rate))
        return rate

    monkeypatch.setattr(pays, "_fit_student", fit)
    monkeypatch.setattr(pays, "accuracy", lambda student, x, y: scores[student])
    return calls


def test_the_rate_of_the_best_validation_run_is_chosen_the_first_on_a_tie(
    tmp_path, pays, fake_training, capsys
):
    args = _selection_args(pays, tmp_path, 1e-3, 2e-3, 4e-3)
    assert args.select_epochs == 10  # a tenth of the default 100 epochs
    data = ((np.zeros(4), np.zeros(4)),) * 3
    assert pays.learning_rate_for(args, "kd", data, None) == 2e-3
    assert fake_training == [
        ("select_kd_lr0.001", pays.SELECTION_SEED, 10, 1e-3),
        ("select_kd_lr0.002", pays.SELECTION_SEED, 10, 2e-3),
        ("select_kd_lr0.004", pays.SELECTION_SEED, 10, 4e-3),
    ]
    assert "kd: learning rate 0.002 (validation 0.001: 80.00%, 0.002: 85.00%" in (
        capsys.readouterr().out
    )
    # Made once: a second call (another seed, a resumed run) reads the records.
    assert pays.learning_rate_for(args, "kd", data, None) == 2e-3
    assert len(fake_training) == 3
    record = json.loads((tmp_path / "select_kd_lr0.002.json").read_text())
    assert record["val"] == 0.85 and record["epochs"] == 10 and "test" not in record


def test_quick_selection_runs_are_a_tenth_of_its_epochs(tmp_path, pays):
    """Before: a tenth of the default 100 epochs, taken before --quick set 2:
    selection runs of 10 epochs for student runs of 2."""
    args = pays.parse_args(["--work", str(tmp_path), "--quick", "--learning-rates", "1", "2"])
    assert (args.epochs, args.select_epochs) == (2, 1)


def test_one_rate_trains_no_selection_run(tmp_path, pays, fake_training):
    args = _selection_args(pays, tmp_path, 3e-3)
    assert pays.learning_rate_for(args, "kd", None, None) == 3e-3
    assert fake_training == [] and args.select_epochs is None


def test_a_selection_killed_midway_trains_only_the_rates_left(
    tmp_path, pays, fake_training, monkeypatch
):
    args = _selection_args(pays, tmp_path, 1e-3, 2e-3)
    data = ((np.zeros(4), np.zeros(4)),) * 3
    done = {"arm": "alone", "learning_rate": 1e-3, "epochs": 10, "seed": 1000, "val": 0.9}
    write(tmp_path, "select_alone_lr0.001", {**done, "cpu_seconds": 5})
    assert pays.learning_rate_for(args, "alone", data, None) == 1e-3
    assert [call[0] for call in fake_training] == ["select_alone_lr0.002"]


KD_AT_1E_3 = {"arm": "kd", "learning_rate": 1e-3, "epochs": 10, "val": 0.99}


@pytest.mark.parametrize(
    "record, words",
    [
        # Before: KeyError 'val', a traceback from learning_rate_for or the table.
        ({"arm": "kd", "learning_rate": 1e-3, "epochs": 10}, "(no 'val')"),
        ({}, "(no 'arm', 'learning_rate', 'epochs', 'val')"),
        # Before: another arm's (or rate's) record was read as this one's, and
        # learning_rate_for chose 0.004, a rate not among --learning-rates.
        ({**KD_AT_1E_3, "arm": "alone"}, "(the run of 'alone' at 0.001)"),
        ({**KD_AT_1E_3, "learning_rate": 4e-3}, "(the run of 'kd' at 0.004)"),
        ({**KD_AT_1E_3, "learning_rate": "fast"}, "(the run of 'kd' at 'fast')"),
        ({**KD_AT_1E_3, "epochs": 5}, "(a run of 5 epochs, not --select-epochs 10)"),
    ],
    ids=["no val", "empty", "another arm", "another rate", "rate not a number", "epochs"],
)
def test_a_selection_record_not_of_its_run_is_named_not_used(
    tmp_path, pays, fake_training, capsys, record, words
):
    path = tmp_path / "select_kd_lr0.001.json"
    path.write_text(json.dumps(record))
    args = _selection_args(pays, tmp_path, 1e-3, 2e-3)
    pays.bind_student_settings(args)
    with pytest.raises(pays.RecordError) as error:
        pays.learning_rate_for(args, "kd", ((np.zeros(4), np.zeros(4)),) * 3, None)
    message = str(error.value)
    assert f"{path} does not record the selection run its name says {words}" in message
    assert "Remove it (that selection run trains again)" in message
    assert fake_training == [] and path.read_text() == json.dumps(record)
    teacher = {"model": "bn", "epochs": 1, "test": 0.9, "val": 0.9, "parameters": 10}
    write(tmp_path, "teacher", {**teacher, "cpu_seconds": 0})
    # Before: the table showed a run of 5 epochs among those of 10.
    assert words in refused(capsys, lambda: pays.main(["--work", str(tmp_path), "--report-only"]))


def test_each_run_records_the_rate_it_trained_at(tmp_path, pays, fake_training, monkeypatch):
    class Student:
        def save(self, path):
            pass

    args = _selection_args(pays, tmp_path, 1e-3, 2e-3)
    monkeypatch.setattr(pays, "_fit_student", lambda *a: fake_training.append(a[1]) or Student())
    monkeypatch.setattr(pays, "accuracy", lambda student, x, y: 0.85)
    for rate, val in ((1e-3, 0.8), (2e-3, 0.9)):
        record = {"arm": "kd", "learning_rate": rate, "epochs": 10, "val": val}
        write(tmp_path, pays.selection_part("kd", rate), record)
    data = ((np.zeros(4), np.zeros(4)),) * 3
    record = pays.run_arm(args, "kd", 0, data, None)
    assert record["learning_rate"] == 2e-3 and fake_training == ["kd_seed0"]


def test_the_selection_table_bolds_each_arms_choice_and_its_cpu_counts(tmp_path, pays):
    assert pays.selection_table(str(tmp_path)) == ""
    for arm, rate, val in (("alone", 1e-3, 0.8), ("alone", 2e-3, 0.82), ("kd", 1e-3, 0.84)):
        record = {"arm": arm, "learning_rate": rate, "epochs": 10, "val": val, "cpu_seconds": 60}
        write(tmp_path, pays.selection_part(arm, rate), record)
    text = pays.selection_table(str(tmp_path))
    assert "(10 epochs, seed 1000)" in text
    assert "| arm | 0.001 | 0.002 |" in text
    assert "| alone | 80.00 | **82.00** |" in text
    assert "| kd | **84.00** |  |" in text
    teacher = {"parameters": 10, "test": 0.9, "val": 0.9, "cpu_seconds": 0}
    _, _, cpu = pays.folder_table(str(tmp_path), teacher, [], [], [])
    assert cpu == 3 * 60


def test_the_selection_table_bolds_the_rate_chosen_on_a_tie_only(tmp_path, pays, fake_training):
    """Before: both tied rates in bold, under "in bold the one its runs train at"
    (validation accuracies are multiples of 1/5,000: ties happen)."""
    args = _selection_args(pays, tmp_path, 4e-3, 2e-3, 1e-3)  # 2e-3 and 4e-3 tie
    pays.bind_student_settings(args)
    data = ((np.zeros(4), np.zeros(4)),) * 3
    assert pays.learning_rate_for(args, "kd", data, None) == 4e-3
    text = pays.selection_table(str(tmp_path))
    assert "| kd | 80.00 | 85.00 | **85.00** |" in text
    assert "the first of --learning-rates on a tie" in text


def test_a_selection_under_way_bolds_no_rate(tmp_path, pays, fake_training):
    """Before: another process's RESULTS showed kd's one rate tried so far in
    bold, "the one its runs train at", while it still tried the others."""
    args = _selection_args(pays, tmp_path, 1e-3, 2e-3)
    pays.bind_student_settings(args)
    pays.selection_run(args, "kd", 1e-3, ((np.zeros(4), np.zeros(4)),) * 3, None)
    assert "| kd | 80.00 |" in pays.selection_table(str(tmp_path))
    pays.selection_run(args, "kd", 2e-3, ((np.zeros(4), np.zeros(4)),) * 3, None)
    assert "| kd | 80.00 | **85.00** |" in pays.selection_table(str(tmp_path))


def test_report_shows_the_selection_runs_of_the_arms_given(tmp_path, pays, capsys):
    """Before: --report-only --arms kd printed every arm's selection runs."""
    teacher = {"model": "bn", "epochs": 1, "test": 0.9, "val": 0.9, "parameters": 10}
    write(tmp_path, "teacher", {**teacher, "cpu_seconds": 0})
    for arm, val in (("alone", 0.7), ("kd", 0.8)):
        record = {"arm": arm, "learning_rate": 1e-3, "epochs": 10, "val": val, "cpu_seconds": 1}
        write(tmp_path, pays.selection_part(arm, 1e-3), record)
    pays.main(["--work", str(tmp_path), "--report-only", "--arms", "kd"])
    out = capsys.readouterr().out
    assert "| kd | **80.00** |" in out and "| alone |" not in out
    pays.main(["--work", str(tmp_path), "--report-only"])  # no runs yet: every arm's
    assert "| alone | **70.00** |" in capsys.readouterr().out


@pytest.mark.slow
@benchmark_run_runs_on_tensorflow
def test_a_quick_run_chooses_the_arms_rate_and_trains_at_it(tmp_path, pays):
    """The real thing, in seconds: two rates for an arm, then its run."""
    pays.main(
        ["--work", str(tmp_path), "--quick", "--arms", "kd", "--learning-rates", "1e-3", "5e-3"]
    )
    work = tmp_path / "quick"
    scores = {
        rate: json.loads((work / f"select_kd_lr{rate:g}.json").read_text())["val"]
        for rate in (1e-3, 5e-3)
    }
    chosen = max(scores, key=scores.get)  # the first on a tie, as the script
    assert json.loads((work / "kd_seed0.json").read_text())["learning_rate"] == chosen
    assert not list(work.glob("*_backup"))


# -- The arms: what each one trains on -------------------------------------------------


@pytest.mark.parametrize(
    "arm, loss, temperature, alpha, cache",
    [
        ("kd", "SoftTargetKD", 4.0, 0.1, "plain"),
        ("kd_std", "SoftTargetKD", 2.0, 0.1, "plain"),
        ("dkd", "DKD", None, 0.5, "plain"),
        ("mld", "MLD", None, 0.1, "plain"),
        ("fm", "SoftTargetKD", 1.0, 0.0, "mixup"),
        # The ablation of fm's mixup: the same recipe on the plain views.
        ("fm_plain", "SoftTargetKD", 1.0, 0.0, "plain"),
    ],
)
def test_each_distilled_arm_trains_its_loss_on_its_cache(
    tmp_path, pays, monkeypatch, arm, loss, temperature, alpha, cache
):
    x = np.random.default_rng(0).uniform(size=(8, 28, 28, 1)).astype("float32")
    teacher = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten()])
    teacher.add(keras.layers.Dense(10))
    caches = {
        name: keras_kd.TeacherCache.write(
            teacher,
            x,
            str(tmp_path / name),
            augmentation=pays.view_augmentation(seed=0, mixup=name == "mixup"),
            views=2,
        )
        for name in ("plain", "mixup")
    }
    built = []
    real_distiller_for = pays.distiller_for

    def distiller_for(arm, cache, student):
        built.append((real_distiller_for(arm, cache, student), cache))
        return built[-1][0]

    monkeypatch.setattr(pays, "distiller_for", distiller_for)
    args = pays.parse_args(["--work", str(tmp_path), "--quick"])
    pays._fit_student(args, f"{arm}_seed0", arm, 0, 1, 1e-3, (x, np.zeros(8, "int64")), caches)
    distiller, used = built[0]
    (distillation_loss,) = distiller.distillation_losses
    assert type(distillation_loss).__name__ == loss
    if temperature is not None:
        assert distillation_loss.temperature == temperature
    assert getattr(distillation_loss, "standardize", False) == (arm in ("kd_std", "mld"))
    assert float(distiller.alpha) == alpha
    assert used is caches[cache]


# -- One results table per settings: results_marker and what RESULTS_pays.md holds ------

MARKERS = [
    ([], "pays"),
    (["--learning-rates", "2e-3"], "pays"),  # the default, spelled out
    # One rate, however spelled: one table.
    (["--learning-rates", "8e-3"], "pays_lr_0.008"),
    (["--learning-rates", "0.0080"], "pays_lr_0.008"),
    # Before: "pays_lr_0.008" too (":g"), a folder at 0.008 replacing its table.
    (["--learning-rates", "0.0080000001"], "pays_lr_0.0080000001"),
    (["--learning-rates", "1e-5"], "pays_lr_1e-05"),
    # The order breaks ties (the first listed wins): another setting.
    (["--learning-rates", "8e-3", "4e-3"], "pays_lr_0.008_0.004"),
    # Before: "pays", the full configuration's table replaced by a smaller run's.
    (["--train-samples", "10000"], "pays_10000samples"),
    # Before: "pays_lr_0.004_0.008", as with the default --select-epochs 10.
    (
        ["--learning-rates", "4e-3", "8e-3", "--select-epochs", "5"],
        "pays_lr_0.004_0.008_select5epochs",
    ),
    (["--learning-rates", "4e-3", "8e-3", "--select-epochs", "10"], "pays_lr_0.004_0.008"),
    # The full table's rerun with each arm's rate chosen: not "pays" (2e-3's).
    (
        ["--learning-rates", "4e-3", "8e-3", "1.6e-2", "--select-epochs", "10"],
        "pays_lr_0.004_0.008_0.016",
    ),
    (
        ["--student", "cnn", "--epochs", "12", "--views", "4", "--learning-rates", "8e-3"],
        "pays_student_cnn_12epochs_4views_lr_0.008",
    ),
    (["--quick"], "pays_2epochs_2views_1024samples"),
]


def test_each_setting_has_its_own_marker_and_each_marker_is_an_html_comment(pays):
    markdown = import_benchmark("_markdown")
    seen = {}
    for argv, marker in MARKERS:
        args = pays.parse_args(argv)
        assert pays.results_marker(args) == marker, argv
        markdown._comments(marker)  # no error: a name an HTML comment keeps
        settings = json.dumps({**pays.student_settings(args), "teacher": args.teacher})
        assert seen.setdefault(marker, settings) == settings, f"{argv} shares {marker}"


def _full_table(results, teacher_epochs=30):
    settings = {"epochs": 100, "views": 16, "train_samples": 55000, "teacher": "bn"}
    settings.update(teacher_epochs=teacher_epochs, arms=["alone"], seeds=[0])
    results.write_text(
        f"# Distillation that pays\n\n<!-- pays:begin -->\nSettings: `{json.dumps(settings)}`"
        " (seeds every arm finished)\n\nthe full table\n<!-- pays:end -->\n"
    )
    return results.read_text()


def test_a_table_of_another_teacher_is_refused_before_training(
    tmp_path, pays, results, monkeypatch, capsys
):
    """Before: a folder of another teacher (12 epochs against the table's 30)
    had the same marker, and its table replaced the other's at
    the end of its run, silently."""
    before = _full_table(results)
    trained = []
    monkeypatch.setattr(pays, "_train_and_report", lambda args: trained.append(args))
    message = refused(
        capsys, lambda: pays.main(["--work", str(tmp_path / "w"), "--teacher-epochs", "12"])
    )
    assert "RESULTS_pays.md's table 'pays' is of other settings (--teacher-epochs 30 there, " in (
        message
    )
    assert "12 now); this folder's would replace it. Rename that table's markers" in message
    assert trained == [] and not (tmp_path / "w").exists() and results.read_text() == before
    pays.main(["--work", str(tmp_path / "w")])  # the default 30: the table's own
    assert len(trained) == 1
    # Checked again when written: another folder's process may have written meanwhile.
    args = pays.parse_args(["--work", str(tmp_path / "w"), "--teacher-epochs", "12"])
    teacher = {"parameters": 10, "test": 0.9, "val": 0.9, "cpu_seconds": 0}
    assert "--teacher-epochs 30 there, 12 now" in refused(
        capsys, lambda: pays.write_results(args, teacher)
    )
    assert results.read_text() == before


def test_a_results_file_broken_after_the_check_is_named_not_a_traceback(
    tmp_path, pays, results, monkeypatch, capsys
):
    """Before: `publish`'s ValueError reached the user as a traceback when the
    file broke between the check and the write (by hand, by another tool)."""
    import _pays_results

    broken = "<!-- pays:begin -->\nkept\n"
    results.write_text(broken)
    monkeypatch.setattr(_pays_results, "table_conflict", lambda *args: None)  # passed, then broke
    args = pays.parse_args(["--work", str(tmp_path)])
    teacher = {"parameters": 10, "test": 0.9, "val": 0.9, "cpu_seconds": 0}
    message = refused(capsys, lambda: pays.write_results(args, teacher))
    assert "has <!-- pays:begin --> without <!-- pays:end -->" in message
    assert results.read_text() == broken


def test_a_bug_while_the_table_is_made_stays_a_traceback(tmp_path, pays, results, monkeypatch):
    """Before: any ValueError of `write_table` became `error: ...` and exit 2,
    so a bug in making the table read as a refusal of the user's input."""
    import _pays_results

    def broken(*args):
        raise ValueError("a bug, not a results file")

    monkeypatch.setattr(_pays_results, "folder_records", broken)
    args = pays.parse_args(["--work", str(tmp_path)])
    teacher = {"parameters": 10, "test": 0.9, "val": 0.9, "cpu_seconds": 0}
    with pytest.raises(ValueError, match="a bug, not a results file"):
        pays.write_results(args, teacher)


@pytest.mark.parametrize(
    "line",
    [
        "Settings: `[1, 2]`",
        "Settings: `{not json}`",
        "a table",
        'Settings: `{"x": ' + "[" * 100000 + "]" * 100000 + "}`",  # RecursionError
    ],
)
def test_a_table_without_a_readable_settings_line_is_this_folders(tmp_path, pays, results, line):
    """Written by hand, or edited: nothing to compare, so it is replaced (a
    list read as settings would raise a TypeError)."""
    results.write_text(f"<!-- pays:begin -->\n{line}\n<!-- pays:end -->\n")
    assert pays.results_conflict(pays.parse_args(["--work", str(tmp_path)])) is None


@pytest.mark.parametrize(
    "content, words",
    [
        ("<!-- pays:begin -->\nkept\n", "has <!-- pays:begin --> without <!-- pays:end -->"),
        ("<!-- pays:end -->\n<!-- pays:begin -->\n", "has <!-- pays:end --> before"),
    ],
)
def test_broken_results_markers_are_refused_before_training(
    tmp_path, pays, results, monkeypatch, capsys, content, words
):
    """Before: found hours later, when the table was written (a lone begin:
    everything after it replaced by the table)."""
    results.write_text(content)
    monkeypatch.setattr(pays, "_train_and_report", lambda args: pytest.fail("trained"))
    message = refused(capsys, lambda: pays.main(["--work", str(tmp_path)]))
    assert f"{results} {words}" in message and "Fix the markers by hand" in message
    assert results.read_text() == content
    # --quick writes no table: nothing to check.
    monkeypatch.setattr(pays, "_train_and_report", lambda args: "quick")
    assert pays.main(["--work", str(tmp_path), "--quick"]) == "quick"


# -- fm_plain: the arms read the caches written, the tables show its gap ---------------


@pytest.mark.parametrize(
    "arms, caches",
    [
        (["fm_plain"], ["plain"]),
        (["fm"], ["mixup"]),
        (["fm", "fm_plain"], ["plain", "mixup"]),
        (["alone"], []),
        (["alone", "kd", "fm"], ["plain", "mixup"]),
    ],
)
def test_the_caches_written_are_those_the_arms_read(tmp_path, pays, monkeypatch, arms, caches):
    x = np.zeros((8, 28, 28, 1), "float32")
    y = np.zeros(8, "int64")
    monkeypatch.setattr(pays, "load_fashion_mnist", lambda: ((x, y), (x, y)))
    teacher = {"parameters": 10, "test": 0.9, "val": 0.9, "cpu_seconds": 0}
    monkeypatch.setattr(pays, "trained_teacher", lambda args, data: (None, teacher))
    written = []
    monkeypatch.setattr(
        pays, "cached_views", lambda args, t, x, mixup: written.append(mixup) or f"cache {mixup}"
    )
    read = []

    def run_arm(args, arm, seed, data, given):
        if pays.cache_of(arm):
            read.append(given[pays.cache_of(arm)])  # a KeyError: a cache not written
        return {"arm": arm, "seed": seed, "test": 0.85, "val": 0.85, "cpu_seconds": 1}

    monkeypatch.setattr(pays, "run_arm", run_arm)
    if "alone" not in arms:  # another process's: before, no gap closed in this one's table
        alone = {"arm": "alone", "seed": 0, "test": 0.8, "val": 0.8, "cpu_seconds": 1}
        write(tmp_path, "alone_seed0", alone)
    args = pays.parse_args(["--work", str(tmp_path), "--seeds", "0", "--arms", *arms])
    text = pays._train_and_report(args)
    assert written == [name == "mixup" for name in caches]
    assert set(read) == {f"cache {name == 'mixup'}" for name in caches}
    if "alone" not in arms:
        assert f"| {arms[-1]} | 85.00 | 85.00 | 50.00 % |" in text and "| alone |" not in text


def _teacher_and_runs(folder, runs):
    teacher = {"model": "bn", "epochs": 1, "test": 0.9, "val": 0.9, "parameters": 10}
    write(folder, "teacher", {**teacher, "cpu_seconds": 0})
    for arm, test in runs:
        record = {"arm": arm, "seed": 0, "test": test, "val": test, "cpu_seconds": 1}
        write(folder, f"{arm}_seed0", record)


def test_an_arm_shown_without_alone_still_shows_its_gap_closed(tmp_path, pays, capsys):
    """Before: --report-only --arms fm_plain (and a process training
    --arms fm_plain while another trained alone) left "gap closed" empty:
    the student alone of the folder was not read."""
    _teacher_and_runs(tmp_path, [("alone", 0.80), ("fm_plain", 0.85)])
    text = pays.main(["--work", str(tmp_path), "--report-only", "--arms", "fm_plain"])
    assert "| fm_plain | 85.00 | 85.00 | 50.00 % |" in text and "| alone |" not in text
    out = capsys.readouterr().out
    assert "| fm_plain | 0 | 85.00 | 50.00 % |" in out  # each arm over its seeds
    assert "| fm_plain | 0 | 85.00 | 85.00 | 50.0 % | 1 |" in out  # every run
    assert "| alone |" not in out


def test_the_table_lists_arms_in_one_order_whatever_arms_says(tmp_path, pays):
    """Before: in --arms' order on the console, in ARMS' in RESULTS_pays.md."""
    _teacher_and_runs(tmp_path, [("alone", 0.80), ("fm", 0.84), ("fm_plain", 0.85)])
    text = pays.main(
        ["--work", str(tmp_path), "--report-only", "--arms", "fm_plain", "alone", "fm"]
    )
    rows = [line.split(" |")[0] for line in text.splitlines()[3:]]
    assert rows == ["| alone", "| fm", "| fm_plain"]
