"""Files `tflite_export.convert` writes with metadata, loaded by MediaPipe Tasks.

MediaPipe's Python `ImageClassifier` (mediapipe 1.2.3, the C++ graph the
Android Tasks library runs) loads each file in its own virtual environment
(`_mediapipe_venv`) and classifies the digits test images given as SRGB
`mp.Image`s; its scores are compared with the LiteRT interpreter's
(`tflite_export.evaluate`) on the same images, and with the Keras student
on inputs made with NumPy (BT.601 luminance, normalization, softmax).
Every mode MediaPipe can load, with and without `image_input="uint8_rgb"`,
for an RGB and a 1-channel student; the modes it cannot load are refused by
`convert` (test_metadata's hostile table).

Export is TensorFlow-side, so this runs once, on the TensorFlow backend
(test_metadata checks the metadata of files converted from JAX and PyTorch).
"""

import json
import pathlib
import subprocess

import keras
import numpy as np
import pytest
from _mediapipe_venv import ensure_venv

import tflite_export
from keras_kd.cli import main

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        keras.backend.backend() != "tensorflow",
        reason="export is TensorFlow-side; metadata from JAX/PyTorch: test_metadata",
    ),
]
SCRIPT = pathlib.Path(__file__).parents[2] / "_scripts" / "mediapipe_classify.py"
# One name beyond ASCII: MediaPipe reads the packed label file as UTF-8.
LABELS = ["zéro"] + [f"digit {i}" for i in range(1, 10)]
NORMALIZATION = {"mean": 0.0, "std": 255.0}
MODES = ["float32", "dynamic", "float16", "int8"]
# (student channels, mode, image_input, probabilities)
CASES = (
    [(3, mode, None, True) for mode in MODES + ["int16x8"]]
    + [(3, mode, "uint8_rgb", True) for mode in MODES]
    + [(1, mode, "uint8_rgb", True) for mode in MODES]
    + [(3, "float32", None, False)]
)
LUMINANCE = np.array([0.299, 0.587, 0.114])
README_COMMAND = "keras-kd export ... --image-input uint8_rgb --probabilities"
# Quantization- and pruning-aware distillation of the 1-channel student, each
# engine, with export's MediaPipe-ready file options: (command, engine, extra).
COMPRESSED = [
    ("qat", "native", []),
    ("qat", "tfmot", []),
    ("prune", "native", ["--quantization", "int8"]),
    ("prune", "tfmot", ["--quantization", "int8"]),
]


def case_id(case):
    channels, mode, image_input, probabilities = case
    return f"{channels}ch-{mode}-{image_input or 'float'}-{'probs' if probabilities else 'logits'}"


@pytest.fixture(scope="module")
def digits():
    """scikit-learn's digits as 16x16 uint8 RGB images, each tinted at random."""
    from sklearn.datasets import load_digits

    data = load_digits()
    gray = np.kron(data.images, np.ones((2, 2))) * (255 / 16)
    tint = np.random.default_rng(0).uniform(0.5, 1.0, size=(len(gray), 1, 1, 3))
    pixels = np.round(gray[..., None] * tint).astype("uint8")
    return pixels, data.target.astype("int32")


def model_inputs(pixels, channels):
    """What the Keras student takes, computed with NumPy: luminance for one
    channel, then (pixel - 0) / 255."""
    x = pixels.astype("float64")
    if channels == 1:
        x = (x @ LUMINANCE)[..., None]
    return ((x - NORMALIZATION["mean"]) / NORMALIZATION["std"]).astype("float32")


def train_student(pixels, y, channels):
    layers = keras.layers
    model = keras.Sequential(
        [
            keras.Input((16, 16, channels), name="image"),
            layers.Conv2D(8, 3, strides=2, activation="relu"),
            layers.Flatten(),
            layers.Dense(10),
        ],
        name=f"digits_{channels}ch",
    )
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(model_inputs(pixels, channels), y, epochs=8, batch_size=64, verbose=0)
    return model


@pytest.fixture(scope="module")
def exported(digits, tmp_path_factory):
    """`{case: path}` for every case, and the trained students."""
    pixels, y = digits
    train = slice(0, 1200)
    folder = tmp_path_factory.mktemp("mediapipe")
    students = {c: train_student(pixels[train], y[train], c) for c in (3, 1)}
    files = {}
    for case in CASES:
        channels, mode, image_input, probabilities = case
        files[case] = str(folder / f"{case_id(case)}.tflite")
        tflite_export.convert(
            students[channels],
            files[case],
            quantization=mode,
            representative_data=model_inputs(pixels[:200], channels),
            labels=LABELS,
            normalization=NORMALIZATION,
            image_input=image_input,
            probabilities=probabilities,
            verbose=0,
        )
    # The README's command, on the 1-channel student saved to a .keras file.
    students[1].save(folder / "student.keras")
    np.savez(folder / "calib.npz", x=model_inputs(pixels[:200], 1))
    (folder / "labels.txt").write_text("".join(f"{name}\n" for name in LABELS), encoding="utf-8")
    files[README_COMMAND] = str(folder / "student_int8.tflite")
    assert (
        main(
            [
                "export",
                str(folder / "student.keras"),
                "--quantization",
                "int8",
                "--calibration",
                str(folder / "calib.npz"),
                "-o",
                files[README_COMMAND],
                "--labels",
                str(folder / "labels.txt"),
                "--normalization",
                "0",
                "255",
                "--image-input",
                "uint8_rgb",
                "--probabilities",
                "--quiet",
            ]
        )
        == 0
    )
    np.savez(folder / "train.npz", x=model_inputs(pixels[train], 1), y=y[train])
    for command, engine, extra in COMPRESSED:
        files[(command, engine)] = str(folder / f"{command}_{engine}.tflite")
        argv = [command, str(folder / "student.keras"), "--teacher", str(folder / "student.keras")]
        argv += ["--data", str(folder / "train.npz"), "-o", files[(command, engine)]]
        argv += ["--epochs", "1", "--engine", engine, "--labels", str(folder / "labels.txt")]
        argv += ["--normalization", "0", "255", "--image-input", "uint8_rgb", "--probabilities"]
        assert main([*argv, *extra, "--quiet"]) == 0
    return files, students


@pytest.fixture(scope="session")
def mediapipe_python():
    """The Python of MediaPipe's environment, made on first use."""
    return ensure_venv()


@pytest.fixture(scope="module")
def classified(digits, exported, mediapipe_python, tmp_path_factory):
    """MediaPipe's results for every file, from one client process."""
    pixels, _ = digits
    files, _ = exported
    folder = tmp_path_factory.mktemp("client")
    np.save(folder / "images.npy", pixels[1200:])
    job = {"images": str(folder / "images.npy"), "files": list(files.values())}
    (folder / "job.json").write_text(json.dumps(job))
    done = subprocess.run(
        [str(mediapipe_python), str(SCRIPT), str(folder / "job.json"), str(folder / "result.json")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads((folder / "result.json").read_text())


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_mediapipe_classifies_like_litert(case, digits, exported, classified):
    channels, mode, image_input, probabilities = case
    pixels, y = digits
    files, students = exported
    result = classified[files[case]]
    assert "error" not in result, result.get("error")
    scores = np.array(result["scores"], dtype="float64")
    test_pixels = pixels[1200:]
    assert len(scores) == len(test_pixels) >= 200
    assert result["names"] == LABELS  # category names from the packed label file
    assert result["head"] == ("probabilities" if probabilities else "logits")

    x = test_pixels if image_input else model_inputs(test_pixels, channels)
    litert = tflite_export.evaluate(files[case], x, latency_samples=0).outputs
    agreement = np.mean(np.argmax(scores, -1) == np.argmax(litert, -1))
    assert agreement >= 0.995, agreement
    logits = students[channels].predict(model_inputs(test_pixels, channels), verbose=0)
    with_keras = np.mean(np.argmax(scores, -1) == np.argmax(logits, -1))
    assert with_keras >= 0.99, with_keras
    if probabilities:
        assert scores.min() >= 0.0 and scores.max() <= 1.0
        # Integer files quantize the softmax's output: 1/256 steps per class.
        tolerance = 1e-5 if mode in ("float32", "dynamic", "float16") else 0.02
        np.testing.assert_allclose(scores.sum(-1), 1.0, atol=tolerance)
    if mode == "float32":  # the folded softmax against NumPy's
        expected = (
            logits if not probabilities else np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
        )
        np.testing.assert_allclose(scores, expected, atol=1e-4)
    print(
        f"{case_id(case)}: MediaPipe vs LiteRT top-1 {agreement:.2%}, vs Keras {with_keras:.2%}, "
        f"max |score diff| vs LiteRT {np.abs(scores - litert).max():.3g}"
    )


def test_the_readme_command_makes_a_file_mediapipe_loads(digits, exported, classified):
    pixels, y = digits
    files, _ = exported
    result = classified[files[README_COMMAND]]
    assert "error" not in result, result.get("error")
    scores = np.array(result["scores"])
    assert result["names"] == LABELS and result["head"] == "probabilities"
    litert = tflite_export.evaluate(files[README_COMMAND], pixels[1200:], latency_samples=0)
    assert np.mean(np.argmax(scores, -1) == np.argmax(litert.outputs, -1)) >= 0.995
    np.testing.assert_allclose(scores.sum(-1), 1.0, atol=0.02)


@pytest.mark.parametrize("command, engine", [c[:2] for c in COMPRESSED])
def test_quantization_and_pruning_aware_files_load_in_mediapipe(
    command, engine, digits, exported, classified
):
    """`keras-kd qat` / `prune` with --labels --normalization --image-input
    --probabilities (was: no such options; the files had no metadata and
    MediaPipe refused them)."""
    pixels, y = digits
    files, students = exported
    result = classified[files[(command, engine)]]
    assert "error" not in result, result.get("error")
    assert result["names"] == LABELS and result["head"] == "probabilities"
    scores = np.array(result["scores"], dtype="float64")
    litert = tflite_export.evaluate(files[(command, engine)], pixels[1200:], latency_samples=0)
    agreement = np.mean(np.argmax(scores, -1) == np.argmax(litert.outputs, -1))
    assert agreement >= 0.995, agreement
    np.testing.assert_allclose(scores.sum(-1), 1.0, atol=0.02)
    accuracy = np.mean(np.argmax(scores, -1) == y[1200:])
    assert accuracy >= 0.5, accuracy  # chance is 0.1
    print(
        f"{command} ({engine}): MediaPipe vs LiteRT top-1 {agreement:.2%}, accuracy {accuracy:.2%}"
    )


@pytest.mark.parametrize("case", CASES[:1] + CASES[5:6], ids=case_id)
def test_metadata_as_mediapipe_reads_it(case, exported, classified):
    files, _ = exported
    seen = classified[files[case]]["metadata"]
    ours = tflite_export.read_metadata(files[case])
    assert seen["name"] == ours.name == "digits_3ch"
    assert seen["version"] == ours.version and seen["min_parser_version"] == "1.0.0"
    assert seen["color_space"] == 1 and seen["size"] == [16, 16]  # RGB
    assert seen["output"] == ours.output_name == "probabilities"
    assert seen["label_files"] == [["labels.txt", 2]]  # TENSOR_AXIS_LABELS
    if case[2] is None:
        assert seen["mean"] == [0.0] and seen["std"] == [255.0]
        assert ours.input.normalization == {"mean": [0.0], "std": [255.0]}
    else:  # raw pixels: the normalization is in the graph
        assert seen["mean"] is None and ours.input.normalization is None
        assert ours.input.dtype == "uint8" and ours.input.shape == (-1, 16, 16, 3)
