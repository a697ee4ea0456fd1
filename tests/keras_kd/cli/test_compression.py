"""`keras-kd qat` and `keras-kd prune` with the native engine (the default):
keras_kd.compression on this backend, then the .tflite and its table."""

import keras
import numpy as np
import pytest
from _compression_models import cnn
from _compression_models import compile_for_labels
from _compression_models import images

from keras_kd.cli import _compression
from keras_kd.cli import main
from tflite_export.tflite import tflite_file


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli_compression")
    x, y = images(64)
    teacher = compile_for_labels(cnn(name="teacher"))
    teacher.fit(x, y, epochs=2, batch_size=16, verbose=0)
    teacher.save(folder / "teacher.keras")
    cnn(name="student").save(folder / "student.keras")
    np.savez(folder / "train.npz", x=x, y=y)
    np.save(folder / "teacher.npy", keras.ops.convert_to_numpy(teacher.predict(x, verbose=0)))
    return folder


def _args(files, command, output, *extra):
    return [
        command,
        str(files / "student.keras"),
        "--teacher",
        str(files / "teacher.keras"),
        "--data",
        str(files / "train.npz"),
        "-o",
        str(output),
        "--epochs",
        "1",
        "--batch-size",
        "16",
        "--quiet",
        *extra,
    ]


@pytest.mark.slow
def test_qat_writes_an_int8_file_natively(files, tmp_path, capsys):
    output = tmp_path / "qat.tflite"
    assert main(_args(files, "qat", output)) == 0
    printed = capsys.readouterr().out
    assert "native (keras_kd.compression)" in printed and "int8" in printed
    kernels = tflite_file.weight_dtypes(tflite_file.interpreter(str(output)))
    assert "int8" in kernels["FULLY_CONNECTED"] and "float32" not in kernels["FULLY_CONNECTED"]


@pytest.mark.slow
def test_prune_writes_the_zeros_natively(files, tmp_path, capsys):
    output = tmp_path / "pruned.tflite"
    code = main(_args(files, "prune", output, "--target-sparsity", "0.5", "--quantization", "int8"))
    assert code == 0
    assert "50.0%" in capsys.readouterr().out
    shares = tflite_file.kernel_zero_shares(str(output))
    assert len(shares) == 3 and all(s >= 0.48 for s in shares.values()), shares


@pytest.mark.parametrize(
    "command, extra, words",
    [
        ("qat", ["--teacher", "TEACHER_NPY"], "native engine distills from a teacher model"),
        ("prune", ["--target-sparsity", "1.5"], "strictly between 0 and 1"),
        ("qat", ["--engine", "onnx"], "invalid choice"),
        # Were accepted: a negative rate trained and overwrote the output.
        ("qat", ["--learning-rate", "-1"], "--learning-rate must be a finite number > 0"),
        ("prune", ["--temperature", "0"], "--temperature must be a finite number > 0"),
        ("qat", ["--alpha", "1.5", "--engine", "tfmot"], "--alpha must be in [0, 1]"),
    ],
)
def test_bad_native_input_is_refused_without_a_traceback(
    files, tmp_path, capsys, command, extra, words
):
    extra = [str(files / "teacher.npy") if e == "TEACHER_NPY" else e for e in extra]
    (tmp_path / "out.tflite").write_bytes(b"kept")
    try:
        code = main(_args(files, command, tmp_path / "out.tflite", *extra))
    except SystemExit as exit_:  # argparse's own refusal
        code = exit_.code
    captured = capsys.readouterr()
    assert code == 2
    assert words in captured.err + captured.out
    assert (tmp_path / "out.tflite").read_bytes() == b"kept"


def test_schedule_reaches_the_target_after_seventy_percent_of_the_steps():
    end_step, frequency = _compression.pruning_steps(1000, 10, 2)
    assert (end_step, frequency) == (140, 14)
