"""keras_kd.files: the destination check that runs before any work, and
writes that either complete or leave every destination as it was."""

import os

import pytest

from keras_kd import files


def test_check_destination_returns_the_absolute_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert files.check_destination("student.keras") == str(tmp_path / "student.keras")
    assert os.listdir(tmp_path) == []  # the writability probe leaves nothing behind


@pytest.mark.parametrize(
    "destination, inputs, words",
    [
        (
            "missing/student.keras",
            (),
            r"The folder of the output path does not exist: .*missing .*Create it first",
        ),
        (".", (), r"The output path is a folder: .*Give a file name"),
        ("notes.txt/student.keras", (), r"The folder of the output path is a file: .*notes\.txt"),
        (
            "model.keras",
            ("model.keras",),
            r"The output path .*model\.keras is also an input of this work; .*Choose another output path",
        ),
        ("model.keras", (None, "other.keras", "model.keras"), r"is also an input"),
    ],
)
def test_check_destination_refuses_before_any_work(
    tmp_path, monkeypatch, destination, inputs, words
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("kept")
    with pytest.raises(ValueError, match=words):
        files.check_destination(destination, inputs=inputs)


def test_check_destination_names_what_the_path_is(tmp_path):
    path = tmp_path / "data.npz"
    with pytest.raises(ValueError, match=r"--output .*data\.npz is also an input"):
        files.check_destination(path, inputs=[path], what="--output")


def test_atomic_write_replaces_the_file_whole_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "report.md"
    files.atomic_write(path, "first")
    files.atomic_write(path, b"second \xe2\x9c\x93")
    assert path.read_text("utf-8") == "second \u2713"
    assert os.listdir(tmp_path) == ["report.md"]


def test_a_failed_write_changes_no_destination(tmp_path):
    kept = tmp_path / "model.tflite"
    kept.write_bytes(b"old model")
    unreachable = tmp_path / "missing" / "model.json"
    with pytest.raises(OSError, match=r"Could not write .*model\.json .*Nothing was changed there"):
        files.atomic_write_all({kept: b"new model", unreachable: "{}"})
    assert kept.read_bytes() == b"old model"
    assert os.listdir(tmp_path) == ["model.tflite"]


def test_atomic_write_all_publishes_every_file(tmp_path):
    contents = {tmp_path / "a.tflite": b"\x00\x01", tmp_path / "a.json": '{"labels": []}'}
    files.atomic_write_all(contents)
    assert (tmp_path / "a.tflite").read_bytes() == b"\x00\x01"
    assert (tmp_path / "a.json").read_text() == '{"labels": []}'
    assert sorted(os.listdir(tmp_path)) == ["a.json", "a.tflite"]
