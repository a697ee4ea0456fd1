"""The `keras-kd` command: demo and distill end to end, a user's mistakes as
`error: ...` with exit status 2 and no traceback, and TensorFlow's start-up
logging silenced unless `--verbose`. The export commands' happy paths are in
tests/keras_kd/cli/test_export.py, tests/tflite_export/tflite/test_report.py
and tests/tflite_export/tfmot/test_pruning.py."""

import functools
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import zipfile

import keras
import numpy as np
import pytest

from keras_kd.cli import _quiet
from keras_kd.cli import _writing
from keras_kd.cli import build_parser
from keras_kd.cli import main

# Lines TensorFlow, absl and XLA print when they start, in lower case.
CHATTER = (
    "onednn",
    "cuda",
    "cpu instructions",
    "tf-trt",
    "absl::initializelog",
    "cpu_feature_guard",
    "i0000 ",
    "w0000 ",
    "e0000 ",
)


def _model(hidden, activation=None, name=None):
    layers = [keras.Input((16,))]
    if hidden:
        layers.append(keras.layers.Dense(hidden, activation="relu"))
    layers.append(keras.layers.Dense(3, activation=activation))
    return keras.Sequential(layers, name=name)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A small teacher and student (.keras), and .npz files right and wrong."""
    folder = tmp_path_factory.mktemp("cli")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 16)).astype("float32")
    y = rng.integers(0, 3, size=64).astype("int32")
    _model(8, "softmax", "teacher").save(folder / "teacher.keras")
    _model(0, name="student").save(folder / "student.keras")
    np.savez(folder / "train.npz", x=x, y=y)
    np.savez(folder / "unlabeled.npz", x=x)
    np.savez(folder / "no_x.npz", images=x)
    np.savez(folder / "wide.npz", x=rng.normal(size=(64, 10)).astype("float32"), y=y)
    np.savez(folder / "one_hot.npz", x=x, y=np.eye(3, dtype="float32")[y])
    np.savez(folder / "short_y.npz", x=x, y=y[:10])
    np.savez(folder / "half.npz", x=x, y=np.where(y == 2, 0.5, y).astype("float32"))
    np.savez(folder / "nan.npz", x=x, y=np.where(y == 2, np.nan, y))
    np.savez(folder / "big.npz", x=x, y=np.where(y == 2, 2.0**31, y))
    np.savez(folder / "whole_float.npz", x=x, y=y.astype("float32"))
    np.savez(folder / "bool.npz", x=x, y=y == 1)
    np.savez(folder / "one_y.npz", x=x, y=np.array(1))
    (folder / "text.keras").write_text("not a zip")
    with zipfile.ZipFile(folder / "junk.keras", "w") as archive:
        archive.writestr("notes.txt", "no model here")
    (folder / "fake.tflite").write_bytes(b"\0" * 64)
    return folder


def _distill(
    folder,
    *options,
    data="train.npz",
    teacher="teacher.keras",
    student="student.keras",
    output=None,
):
    output = output or str(folder / "never_written.keras")
    return [
        "distill",
        "--teacher",
        str(folder / teacher),
        "--student",
        str(folder / student),
        "--data",
        str(folder / data),
        "-o",
        output,
        "--epochs",
        "1",
        "--batch-size",
        "32",
        *options,
    ]


def test_distill_saves_a_student_that_loads(files, tmp_path, capsys):
    output = tmp_path / "distilled.keras"
    assert main(_distill(files, output=str(output))) == 0
    assert f"Saved the distilled student to {output}" in capsys.readouterr().out
    student = keras.saving.load_model(output)
    assert student.name == "student" and student.output_shape == (None, 3)
    assert os.listdir(tmp_path) == ["distilled.keras"]  # no temporary file left


@pytest.mark.parametrize("data", ["whole_float.npz", "bool.npz"])
def test_distill_reads_whole_float_and_boolean_class_labels(files, tmp_path, data):
    """Were refused ("must hold integer class labels"), though every other
    reader of them (fit(), qat, prune) takes them as the classes they are."""
    output = tmp_path / "distilled.keras"
    assert main(_distill(files, data=data, output=str(output))) == 0
    assert output.exists()


def test_distill_without_labels_distills_only(files, tmp_path):
    output = tmp_path / "distilled.keras"
    assert main(_distill(files, "--loss", "kd", data="unlabeled.npz", output=str(output))) == 0
    assert output.exists()


def _mistakes(folder):
    """`(argv, the message that must follow 'error: ')` for a user's mistakes."""
    d = functools.partial(_distill, folder)

    def f(name):
        return str(folder / name)

    data = ["--data", f("train.npz")]
    return [
        (d(teacher="absent.keras"), r"--teacher: no such file .*absent.keras'. Check the path"),
        (d(teacher="teacher.h5"), r"--teacher must be a .keras file. Received: .*teacher.h5'"),
        (d(student="text.keras"), r"--student: .*text.keras' is not a .keras archive"),
        (d(teacher="junk.keras"), r"--teacher: .*junk.keras' could not be loaded as a Keras model"),
        (d(data="absent.npz"), r"--data: no such file .*absent.npz'"),
        (d(data="train.csv"), r"--data must be a .npz file. Received: .*train.csv'"),
        (d(data="no_x.npz"), r"--data: .*no_x.npz' holds arrays \['images'\], but needs \['x'\]"),
        (
            d(data="wide.npz"),
            r".*wide.npz: the inputs 'x' have shape \(64, 10\), but the teacher expects \(n, 16\)",
        ),
        (
            d(data="one_hot.npz"),
            r".*one_hot.npz: 'y': one integer class label per sample is read, shape \(64,\)",
        ),
        (d(data="short_y.npz"), r"--data: .*short_y.npz' holds 64 inputs 'x' but 10 labels 'y'"),
        # Was: TypeError "len() of unsized object", a traceback (distill, qat, ...).
        (d(data="one_y.npz"), r"--data: .*one_y.npz' holds one label 'y' \(shape \(\)\), but 64"),
        (
            ["qat", f("student.keras"), "--teacher", f("teacher.keras"), "--data", f("one_y.npz")],
            r"--data: .*one_y.npz' holds one label 'y' \(shape \(\)\)",
        ),
        # Were: "must hold integer class labels ... One-hot labels: save y.argmax(-1)".
        (
            d(data="half.npz"),
            r".*half.npz: 'y': the labels are read as integer classes, but \d+ of 64 are not",
        ),
        (
            d(data="nan.npz"),
            r".*nan.npz: 'y': .*not whole numbers or not finite \(e\.g\. nan",
        ),
        # Were "--data: every class label ...", naming neither the file nor 'y'.
        (
            d(data="big.npz"),
            r"--data .*big.npz: 'y': every class label must be in \[0, 2\] .*largest 2\.14748e\+09",
        ),
        (d(output=f("out.h5")), r"--output must end in .keras. Received: .*out.h5'"),
        (d(output=f("absent/s.keras")), r"--output: the folder .*absent' does not exist"),
        (d("--epochs", "0"), r"--epochs and --batch-size must be at least 1. Received: --epochs 0"),
        (d("--loss", "no_such_loss"), r".*no_such_loss"),
        (["export", f("absent.keras")], r"the model to export: no such file .*absent.keras'"),
        (["export", f("train.npz")], r"the model to export must be a .keras file. Received: .*z'"),
        (["export", f("student.keras"), "-o", f("s.tfl")], r"--output must end in .tflite"),
        (
            ["export", f("student.keras"), "--calibration", f("absent.npy")],
            r"--calibration: no such file .*absent.npy'",
        ),
        (["evaluate", f("absent.tflite"), *data], r"the file to evaluate: no such file .*tflite'"),
        (
            ["evaluate", f("fake.tflite"), *data],
            r".*fake.tflite is not a .tflite file \(no TFL3 flatbuffer identifier\)",
        ),
        (
            ["qat", f("student.keras"), "--teacher", f("teacher.csv"), *data],
            r"--teacher must be a .keras model or an .npy of its outputs",
        ),
        (
            ["prune", f("student.keras"), "--teacher", f("teacher.keras"), "--data", f("no_x.npz")],
            r"--data: .*no_x.npz' holds arrays \['images'\]",
        ),
    ]


def test_mistakes_are_one_error_line_with_exit_status_2(files, capsys):
    before = sorted(os.listdir(files))
    for argv, message in _mistakes(files):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith("error: ") and err.count("\n") == 1, err
        assert re.match(f"error: {message}", err), (message, err)
    assert sorted(os.listdir(files)) == before  # nothing written


@pytest.mark.parametrize("teacher", ["teacher.keras", "cache"])
def test_class_labels_for_a_one_unit_student_are_refused_before_distill_trains(
    tmp_path, capsys, teacher
):
    """Was, with a cached teacher: trained on a negative binary cross-entropy
    (its batches reach fit as a dataset, unchecked) and saved the student."""
    x = np.random.default_rng(0).normal(size=(12, 16)).astype("float32")
    for name in ("teacher", "student"):
        keras.Sequential([keras.Input((16,)), keras.layers.Dense(1, "sigmoid")], name=name).save(
            tmp_path / f"{name}.keras"
        )
    np.savez(tmp_path / "train.npz", x=x, y=np.arange(12) % 3)
    cache = ["cache", str(tmp_path / "teacher.keras"), "--data", str(tmp_path / "train.npz")]
    assert main([*cache, "-o", str(tmp_path / "cache")]) == 0
    capsys.readouterr()
    assert main(_distill(tmp_path, teacher=teacher, output=str(tmp_path / "out.keras"))) == 2
    assert re.match(
        r"error: --data .*train\.npz: 'y': binary cross-entropy reads labels in \[0, 1\] .*"
        r"Labels 0 to 2 name 3 classes: give the student one output per class",
        capsys.readouterr().err,
    )
    assert not (tmp_path / "out.keras").exists()


def test_quantization_choices_are_the_table_of_modes(files, capsys):
    import tflite_export

    actions = {
        name: {a.dest: a for a in parser._actions}
        for name, parser in build_parser()._subparsers._group_actions[0].choices.items()
    }
    assert tuple(actions["export"]["quantization"].choices) == tuple(tflite_export.MODES)
    assert tuple(actions["prune"]["quantization"].choices) == tuple(tflite_export.MODES)
    with pytest.raises(SystemExit) as exit_info:
        main(["export", str(files / "student.keras"), "--quantization", "int4"])
    assert exit_info.value.code == 2
    assert "argument --quantization: invalid choice: 'int4'" in capsys.readouterr().err


def test_missing_tensorflow_says_how_to_install_it(files, monkeypatch, capsys):
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "tensorflow" else find_spec(name, *a),
    )
    assert main(["export", str(files / "student.keras")]) == 2
    assert capsys.readouterr().err == (
        "error: keras-kd export needs tensorflow, which is not installed. "
        "Install it with: pip install 'keras-kd[tensorflow]'\n"
    )
    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    monkeypatch.setitem(sys.modules, "tflite_export", None)
    assert main(["evaluate", str(files / "fake.tflite"), "--data", str(files / "train.npz")]) == 2
    assert (
        "error: keras-kd evaluate needs tflite_export, which could not be imported"
        in capsys.readouterr().err
    )


def test_a_failed_write_keeps_the_student_elsewhere(tmp_path, monkeypatch):
    def refuse(source, destination):
        raise PermissionError(13, "Permission denied", destination)

    monkeypatch.setattr(_writing.os, "replace", refuse)
    with pytest.raises(
        _writing.UsageError, match=r"could not write .*s.keras \(PermissionError"
    ) as info:
        _writing.save_model(_model(0, name="trained"), str(tmp_path / "s.keras"))
    fallback = str(info.value).split("saved to ")[1].split(" instead")[0]
    try:
        assert keras.saving.load_model(fallback).name == "trained"
    finally:
        shutil.rmtree(os.path.dirname(fallback))
    assert os.listdir(tmp_path) == []  # no partial file, no staging folder


def _command():
    script = shutil.which("keras-kd")
    return [script] if script else [sys.executable, "-m", "keras_kd.cli"]


def _run(argv, prefix=None):
    """Runs the real command in a fresh process; returns (status, stdout, stderr)."""
    command = [*(prefix or _command()), *argv]
    process = subprocess.run(command, capture_output=True, text=True, timeout=600)
    return process.returncode, process.stdout, process.stderr


def _chatter(text):
    return [line for line in text.splitlines() if any(word in line.lower() for word in CHATTER)]


@pytest.mark.slow
def test_real_command_distills_quietly(files, tmp_path):
    status, out, err = _run(_distill(files, output=str(tmp_path / "s.keras")))
    assert status == 0, err
    assert (tmp_path / "s.keras").exists()
    assert _chatter(out + err) == []


@pytest.mark.slow
def test_real_command_reports_a_mistake_quietly_without_a_traceback(files):
    status, out, err = _run(_distill(files, data="no_x.npz"))
    assert status == 2 and "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("error: --data: ")
    assert _chatter(out + err) == []


def test_importing_keras_kd_has_no_side_effect():
    """`import keras_kd` imports no Keras, reads no `sys.argv` and installs no
    import hook, even in a process named like the command."""
    code = (
        "import sys; sys.argv = ['keras-kd', 'demo']; before = list(sys.meta_path); "
        "import keras_kd, keras_kd.cli; "
        "assert 'keras' not in sys.modules, 'keras imported'; "
        "assert sys.meta_path == before, 'import hook installed'; "
        "import os; assert 'TF_CPP_MIN_LOG_LEVEL' not in os.environ, 'environment changed'; "
        "keras_kd.Distiller; assert 'keras' in sys.modules; print('ok')"
    )
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    process = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300
    )
    assert process.returncode == 0, process.stderr
    assert process.stdout.strip() == "ok"


@pytest.mark.slow
def test_verbose_keeps_tensorflow_logs(files, tmp_path):
    if importlib.util.find_spec("tensorflow") is None:
        pytest.skip("TensorFlow is not installed: it has no logs to keep")
    # Keras imports TensorFlow (when installed) to save a model, on any backend.
    status, _, err = _run([*_distill(files, output=str(tmp_path / "s.keras")), "--verbose"])
    assert status == 0 and _chatter(err), err
    assert _quiet.wants_verbose(["--verbose", "distill"])
    assert not _quiet.wants_verbose(["distill", "--", "--verbose"])


BLOCK_TENSORFLOW = (
    "import sys; sys.modules['tensorflow'] = None; "  # any import of it fails
    "from keras_kd.cli import main; "
    "print('exit', main(sys.argv[1:]))"
)


@pytest.mark.slow
def test_distill_runs_without_tensorflow(files, tmp_path, backend):
    if backend == "tensorflow":
        pytest.skip("Keras' TensorFlow backend needs TensorFlow")
    prefix = [sys.executable, "-c", BLOCK_TENSORFLOW]
    status, out, err = _run(_distill(files, output=str(tmp_path / "s.keras")), prefix)
    assert status == 0 and "exit 0" in out and (tmp_path / "s.keras").exists(), err
