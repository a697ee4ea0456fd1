"""`keras-kd export` and `keras-kd evaluate` from the command line; the
mistakes every command reports are in test_main.py."""

import json

import keras
import numpy as np
import pytest
from _tfmot_models import cnn
from _tfmot_models import images

from keras_kd.cli import main


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    keras.utils.set_random_seed(0)
    x, y = images(n=256)
    folder = tmp_path_factory.mktemp("cli")
    model = cnn(x, y)
    model.save(folder / "student.keras")
    np.savez(folder / "calib.npz", x=x[:100])
    np.savez(folder / "test.npz", x=x, y=y)
    expected = np.mean(np.argmax(model.predict(x, verbose=0), -1) == y)
    return folder, expected


@pytest.mark.slow
def test_export_then_evaluate(files, capsys):
    folder, float_accuracy = files
    out = folder / "student_int8.tflite"
    main(
        [
            "export",
            str(folder / "student.keras"),
            "--quantization",
            "int8",
            "--calibration",
            str(folder / "calib.npz"),
            "-o",
            str(out),
            "--labels",
            "a,b,c",
            "--normalization",
            "0",
            "255",
            "--no-metadata",
            "--quiet",
        ]
    )
    printed = capsys.readouterr().out
    assert f"{out}: " in printed and "int8" in printed and "CONV_2D" in printed
    sidecar = json.loads((folder / "student_int8.json").read_text())
    assert sidecar["labels"] == ["a", "b", "c"] and sidecar["normalization"]["std"] == 255.0

    main(
        [
            "evaluate",
            str(out),
            "--data",
            str(folder / "test.npz"),
            "--reference",
            str(folder / "student.keras"),
            "--latency-samples",
            "20",
        ]
    )
    table = dict(line.split("  ", 1) for line in capsys.readouterr().out.strip().splitlines())
    accuracy = float(table["accuracy"].strip().rstrip("%")) / 100
    assert abs(accuracy - float_accuracy) < 0.05
    assert float(table["agreement with reference"].strip().rstrip("%")) >= 95
    assert table["latency, batch 1 (mean)"].strip().endswith("ms")


def test_export_errors_without_a_traceback(files, capsys):
    folder, _ = files
    assert (
        main(
            [
                "export",
                str(folder / "student.keras"),
                "--quantization",
                "int8",
                "-o",
                str(folder / "x.tflite"),
            ]
        )
        == 2
    )
    assert capsys.readouterr().err.startswith(
        "error: --quantization int8 calibrates activations on sample inputs, but no --calibration"
    )
    assert not (folder / "x.tflite").exists()
