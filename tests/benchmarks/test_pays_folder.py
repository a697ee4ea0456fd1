"""benchmarks/_pays_folder.py: the parts of a pays.py work folder begun and
not finished, read from their backups (the records and tables are tested
through pays.py in test_pays.py)."""

import json
import os

import pytest
from _paths import import_benchmark

EPOCHS = {"teacher": 30, "run": 100, "selection": 10}


@pytest.fixture(scope="module")
def folder():
    return import_benchmark("_pays_folder")


def _backup(work, part, metadata):
    """`<part>_backup` as Keras' BackupAndRestore leaves it; `metadata` is
    training_metadata.json's text (`None`: no epoch finished yet)."""
    path = work / f"{part}_backup"
    path.mkdir()
    if metadata is not None:
        (path / "training_metadata.json").write_text(metadata)


@pytest.mark.parametrize(
    "part, metadata, finished, expected",
    [
        ("kd_std_seed0", '{"epoch": 83, "batch": 0}', False, [("kd_std, seed 0", 83, 100)]),
        ("select_kd_lr0.004", '{"epoch": 8}', False, [("kd's selection run at 0.004", 8, 10)]),
        ("teacher", '{"epoch": 12}', False, [("the teacher", 12, 30)]),
        ("fm_plain_seed2", None, False, [("fm_plain, seed 2", 0, 100)]),  # no epoch done
        ("alone_seed1", '{"epoch": 100}', True, []),  # finished: its backup is left over
        ("alone_seed1", "{not json", False, [("alone, seed 1", None, 100)]),
        ("alone_seed1", "[83]", False, [("alone, seed 1", None, 100)]),
        ("alone_seed1", '{"epoch": "83"}', False, [("alone, seed 1", None, 100)]),
        ("alone_seed1", '{"epoch": -1}', False, [("alone, seed 1", None, 100)]),
        ("alone_seed1", '{"epoch": true}', False, [("alone, seed 1", None, 100)]),
        # Was: 0 epochs done (Keras' resume fails on it: no "epoch").
        ("alone_seed1", '{"batch": 3}', False, [("alone, seed 1", None, 100)]),
        ("alone_seed1", '{"epoch": 7.0}', False, [("alone, seed 1", None, 100)]),
        ("alone_seed1", '{"epoch": 1e400}', False, [("alone, seed 1", None, 100)]),
        ("alone_seed1", '{"epoch": 150}', False, [("alone, seed 1", 150, 100)]),  # text below
        # Was: a ValueError traceback from json (over 4,300 digits).
        ("alone_seed1", '{"epoch": ' + "9" * 5000 + "}", False, [("alone, seed 1", None, 100)]),
        ("nonsense_seed0", '{"epoch": 3}', False, []),  # no such arm
        ("alone_seedx", '{"epoch": 3}', False, []),
        ("select_kd", '{"epoch": 3}', False, []),  # no rate
        ("cache", '{"epoch": 3}', False, []),  # a folder of no part that trains
        # Names pays.py never makes (was: named as parts begun; kd_seed00 as seed 0,
        # finished or not, and with seed 0's unreadable backup a TypeError sorting them).
        ("kd_seed00", '{"epoch": 3}', False, []),
        ("kd_seed\u0663", '{"epoch": 3}', False, []),  # an Arabic-Indic 3
        ("select_kd_lr1e-05", '{"epoch": 3}', False, [("kd's selection run at 1e-05", 3, 10)]),
        ("select_kd_lrabc", '{"epoch": 3}', False, []),
        ("select_kd_lr0.0040", '{"epoch": 3}', False, []),  # selection_part says 0.004
        ("select_kd_lr-1", '{"epoch": 3}', False, []),
        ("select_kd_lrnan", '{"epoch": 3}', False, []),
    ],
)
def test_parts_begun_hostile_table(tmp_path, folder, part, metadata, finished, expected):
    _backup(tmp_path, part, metadata)
    if finished:
        (tmp_path / f"{part}.json").write_text("{}")
    (tmp_path / "cpu.json").write_text(json.dumps({part: 1234.5}))
    begun = folder.parts_begun(str(tmp_path), EPOCHS)
    assert [(label, done, total) for label, done, total, _ in begun] == expected
    assert all(cpu == 1234.5 for *_, cpu in begun)


@pytest.mark.parametrize(
    "part, settings, expected",
    [
        # Was: the command line's epochs (EPOCHS), not the folder's: "7 of 100".
        ("kd_seed0", {"epochs": 20, "select_epochs": 4}, [("kd, seed 0", 7, 20)]),
        (
            "select_kd_lr0.004",
            {"epochs": 20, "select_epochs": 4},
            [("kd's selection run at 0.004", 7, 4)],
        ),
        (
            "select_kd_lr0.004",
            {"epochs": 20, "select_epochs": None},
            [("kd's selection run at 0.004", 7, None)],
        ),
        ("teacher", {"epochs": 20, "select_epochs": 4}, [("the teacher", 7, 30)]),
    ],
)
def test_the_epochs_in_all_are_the_folders(tmp_path, folder, part, settings, expected):
    _backup(tmp_path, part, '{"epoch": 7}')
    (tmp_path / "students.json").write_text(json.dumps(settings))
    begun = folder.parts_begun(str(tmp_path), EPOCHS)
    assert [(label, done, total) for label, done, total, _ in begun] == expected


@pytest.mark.parametrize(
    "settings, total",
    [
        ({"invocations": [{"teacher_epochs": 30}, {"teacher_epochs": 12}]}, 12),
        ({"teacher_epochs": 12}, 12),  # one invocation, as older folders saved it
        ({"invocations": []}, 30),
        ({"invocations": ["not a dict"]}, 30),
        ({"invocations": 5}, 30),
        ("{not json", 30),
    ],
)
def test_the_teachers_epochs_in_all_are_its_last_invocations(tmp_path, folder, settings, total):
    """Was: the command line's (30 by default) for a teacher begun with 12."""
    _backup(tmp_path, "teacher", '{"epoch": 7}')
    text = settings if isinstance(settings, str) else json.dumps(settings)
    (tmp_path / "settings.json").write_text(text)
    assert folder.parts_begun(str(tmp_path), EPOCHS) == [("the teacher", 7, total, 0.0)]


@pytest.mark.parametrize(
    "ledger, cpu",
    [
        ('{"kd_seed0": 12.5}', 12.5),
        ("{}", 0.0),
        # Was: pays.py exit 2 after the tables (a RecordError: "Remove it (... that
        # run trains again)"), or a traceback formatting a string or None.
        ("{not json", None),
        ("[1]", None),
        ('{"kd_seed0": "12"}', None),
        ('{"kd_seed0": null}', None),
        ('{"kd_seed0": true}', None),
        ('{"kd_seed0": NaN}', None),
        ('{"kd_seed0": -5}', None),
    ],
)
def test_a_ledger_without_seconds_says_so(tmp_path, folder, ledger, cpu):
    _backup(tmp_path, "kd_seed0", '{"epoch": 3}')
    (tmp_path / "cpu.json").write_text(ledger)
    begun = folder.parts_begun(str(tmp_path), EPOCHS)
    assert begun == [("kd, seed 0", 3, 100, cpu)]
    text = folder.parts_begun_text(begun)
    if cpu is None:
        assert "(CPU unknown: the ledger cpu.json holds no number of seconds for it;" in text
    else:
        assert f"3 of 100 epochs done ({cpu:,.0f} CPU s recorded)." in text
    assert (tmp_path / "cpu.json").read_text() == ledger  # left as it was


def test_a_backup_not_a_folder_has_its_epochs_unknown(tmp_path, folder):
    """Was: "0 of 100 epochs done" for a file kd_seed0_backup, or a folder
    training_metadata.json."""
    (tmp_path / "kd_seed0_backup").write_text("not Keras'")
    (tmp_path / "kd_seed1_backup" / "training_metadata.json").mkdir(parents=True)
    begun = folder.parts_begun(str(tmp_path), EPOCHS)
    assert begun == [("kd, seed 0", None, 100, 0.0), ("kd, seed 1", None, 100, 0.0)]
    assert (tmp_path / "kd_seed0_backup").read_text() == "not Keras'"


def test_a_fifo_for_training_metadata_is_not_waited_on(tmp_path, folder):
    """Was: --report-only waited forever in open() for a writer."""
    (tmp_path / "kd_seed0_backup").mkdir()
    os.mkfifo(tmp_path / "kd_seed0_backup" / "training_metadata.json")
    assert folder.parts_begun(str(tmp_path), EPOCHS) == [("kd, seed 0", None, 100, 0.0)]


def test_more_epochs_done_than_in_all_says_the_backup_is_of_other_settings(folder):
    """Was: "kd, seed 0, 150 of 100 epochs done"."""
    text = folder.parts_begun_text([("kd, seed 0", 150, 100, 0.0)])
    assert (
        "kd, seed 0, 150 epochs done, more than the 100 it trains for (its backup is of other "
        "settings: remove it, and the part trains again from its first epoch)" in text
    )
    assert "8 epochs done" in folder.parts_begun_text([("kd, seed 0", 8, "8", 0.0)])


def test_a_part_finishing_while_its_backup_is_read_is_not_begun(tmp_path, folder, monkeypatch):
    """As pays.py finishes a part: its record saved, then its backup removed
    (was: read as begun, epochs unknown, when that fell between the two)."""
    _backup(tmp_path, "kd_seed0", '{"epoch": 99}')
    read = folder._epochs_of

    def finished_meanwhile(backup):
        (tmp_path / "kd_seed0.json").write_text("{}")
        (tmp_path / "kd_seed0_backup" / "training_metadata.json").unlink()
        (tmp_path / "kd_seed0_backup").rmdir()
        return read(backup)

    monkeypatch.setattr(folder, "_epochs_of", finished_meanwhile)
    assert folder.parts_begun(str(tmp_path), EPOCHS) == []


def test_two_parts_of_one_seed_sort_without_a_traceback(tmp_path, folder):
    """Was: TypeError '<' between None and int (kd_seed0 unreadable, kd_seed00)."""
    _backup(tmp_path, "kd_seed0", "{not json")
    _backup(tmp_path, "kd_seed00", '{"epoch": 3}')
    assert folder.parts_begun(str(tmp_path), EPOCHS) == [("kd, seed 0", None, 100, 0.0)]


def test_a_folder_not_there_or_empty_has_nothing_begun(tmp_path, folder):
    assert folder.parts_begun(str(tmp_path / "missing"), EPOCHS) == []
    assert folder.parts_begun(str(tmp_path), EPOCHS) == []
    assert folder.parts_begun_text([]) == ""


def test_the_sentence_names_each_part_its_epochs_and_cpu(folder):
    text = folder.parts_begun_text(
        [
            ("alone, seed 1", None, 100, 0.0),
            ("kd's selection run at 0.004", 8, None, 47.5),
            ("kd_std, seed 0", 83, 100, 3071.96),
        ]
    )
    assert text.startswith("Begun, not finished (each resumes from its last epoch;")
    assert (
        "alone, seed 1, epochs done unknown of 100 (its backup is not a folder whose "
        "training_metadata.json holds a count of epochs as Keras writes it)" in text
    )
    assert "kd's selection run at 0.004, 8 epochs done (48 CPU s recorded)" in text
    assert "kd_std, seed 0, 83 of 100 epochs done (3,072 CPU s recorded)." in text


def test_parts_begun_of_the_arms_asked_for(tmp_path, folder):
    """`--report-only --arms kd`: kd's parts and the teacher's (was: every arm's)."""
    for part in ("kd_seed0", "fm_seed1", "select_dkd_lr0.004", "teacher"):
        _backup(tmp_path, part, '{"epoch": 3}')
    labels = [part[0] for part in folder.parts_begun(str(tmp_path), EPOCHS, ["kd"])]
    assert labels == ["kd, seed 0", "the teacher"]
    everything = folder.parts_begun(str(tmp_path), EPOCHS)
    assert len(everything) == 4
