"""`keras-kd export` writing a MediaPipe-ready file (--labels, --normalization,
--image-input uint8_rgb, --probabilities), `keras-kd evaluate` showing its
metadata, and the new options' mistakes, each with its message."""

import json

import keras
import numpy as np
import pytest
from _tfmot_models import cnn
from _tfmot_models import images

import tflite_export
from keras_kd.cli import main

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="the CLI converts on the TensorFlow side; convert's metadata on every "
    "backend: tests/tflite_export/tflite/test_metadata.py",
)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    keras.utils.set_random_seed(0)
    x, y = images(n=128)
    x = np.clip((x + 4.0) / 8.0, 0.0, 1.0).astype("float32")  # pixels / 255, 1 channel
    folder = tmp_path_factory.mktemp("export")
    cnn(x, y).save(folder / "student.keras")
    np.savez(folder / "calib.npz", x=x[:64])
    pixels = np.repeat(np.round(x * 255).astype("uint8"), 3, axis=-1)
    np.savez(folder / "frames.npz", x=pixels, y=y)
    # As a Windows editor saves it: byte-order mark, CRLF line ends, a blank line.
    (folder / "labels.txt").write_bytes("\ufeffcircle\r\nsquare\r\n\r\ntriangle\r\n".encode())
    (folder / "empty.txt").write_text("\n")
    (folder / "twice.txt").write_text("a\nb\na\n")
    return folder


def test_the_mediapipe_ready_command(folder, capsys):
    out = folder / "student_int8.tflite"
    argv = (
        f"export {folder}/student.keras --quantization int8 --calibration "
        f"{folder}/calib.npz -o {out} --labels {folder}/labels.txt --normalization 0 255 "
        "--image-input uint8_rgb --probabilities --quiet"
    ).split()
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "metadata labels: 3 (circle, square, triangle)" in printed
    assert "metadata scores: probabilities" in printed
    info = tflite_export.read_metadata(out)
    assert info.input.dtype == "uint8" and info.input.shape == (-1, 8, 8, 3)
    sidecar = json.loads((folder / "student_int8.json").read_text())
    assert sidecar["image_input"] == "uint8_rgb" and sidecar["output_kind"] == "probabilities"

    assert (
        main(["evaluate", str(out), "--data", f"{folder}/frames.npz", "--latency-samples", "0"])
        == 0
    )
    printed = capsys.readouterr().out
    assert "metadata input" in printed and "raw pixels 0-255" in printed


CASES = [
    # (id, extra export arguments, words of the error)
    (
        "one-channel-without-image-input",
        "--labels {f}/labels.txt --normalization 0 255",
        "Pass image_input='uint8_rgb'",
    ),
    ("image-input-without-normalization", "--image-input uint8_rgb", "needs normalization="),
    (
        "empty-labels-file",
        "--labels {f}/empty.txt --image-input uint8_rgb --normalization 0 255",
        "labels is empty",
    ),
    (
        "duplicate-labels",
        "--labels {f}/twice.txt --image-input uint8_rgb --normalization 0 255",
        "labels must be distinct",
    ),
    (
        "labels-file-missing",
        "--labels {f}/lables.txt --image-input uint8_rgb --normalization 0 255",
        "looks like a file's path but is no file",
    ),
    (
        "normalization-negative-std",
        "--image-input uint8_rgb --normalization 0 -255",
        "must be positive",
    ),
    (
        "normalization-per-channel-too-many",
        "--image-input uint8_rgb --normalization 0,0,0 255,255,255",
        "has 3 values but the model's input has 1 channels",
    ),
    ("normalization-zero-std", "--image-input uint8_rgb --normalization 0 0", "must not be 0"),
    (
        "int8-io-image-input",
        "--quantization int8_io --calibration {f}/calib.npz --image-input uint8_rgb "
        "--normalization 0 255",
        "Use quantization='int8'",
    ),
]


@pytest.mark.parametrize("extra,words", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_export_mistakes(folder, capsys, extra, words):
    out = folder / "refused.tflite"
    argv = f"export {folder}/student.keras -o {out} --quiet {extra}".format(f=folder).split()
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and words in err and "Traceback" not in err
    assert not out.exists()


def test_normalization_that_is_not_numbers_is_refused_by_the_parser(folder, capsys):
    with pytest.raises(SystemExit):
        main(f"export {folder}/student.keras --normalization 0 2x5".split())
    assert "'2x5' is not a number or comma-separated numbers" in capsys.readouterr().err


def test_unknown_image_input_is_refused_by_the_parser(folder, capsys):
    with pytest.raises(SystemExit):
        main(f"export {folder}/student.keras --image-input rgb".split())
    assert "invalid choice: 'rgb'" in capsys.readouterr().err
