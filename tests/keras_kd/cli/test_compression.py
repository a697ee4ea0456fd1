"""`keras-kd qat` and `keras-kd prune` with the native engine (the default):
keras_kd.compression on this backend, then the .tflite and its table; and the
file options both engines share with `export` (--labels, --normalization,
--image-input, --probabilities, --no-metadata), checked before training.
MediaPipe loading these files: tests/tflite_export/tflite/test_mediapipe.py."""

import keras
import numpy as np
import pytest
from _compression_models import cnn
from _compression_models import compile_for_labels
from _compression_models import images
from _once import worker_behaviour_runs_on_tensorflow

import tflite_export
from keras_kd.cli import _compression
from keras_kd.cli import main
from tflite_export.tflite import tflite_file
from tflite_export.tfmot import _distill as tfmot_distill


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
    _assert_refused(files, tmp_path, capsys, command, extra, words)


# The students of `files` take 8x8 1-channel images and output 3 logits.
MEDIAPIPE_READY = ["--labels", "a,b,c", "--normalization", "0", "1", "--image-input", "uint8_rgb"]


@pytest.mark.parametrize(
    "command, extra, words",
    [
        # Each was accepted, trained, and wrote a file without metadata.
        (
            "qat",
            ["--labels", "a,b,c", "--normalization", "0", "1"],
            "Pass image_input='uint8_rgb' (CLI: --image-input uint8_rgb)",
        ),
        (
            "qat",
            ["--engine", "tfmot", "--labels", "a,b,c", "--normalization", "0", "1"],
            "Pass image_input='uint8_rgb' (CLI: --image-input uint8_rgb)",
        ),
        (
            "qat",
            ["--labels", "a,b", "--image-input", "uint8_rgb", "--normalization", "0", "1"],
            "labels has 2 names but the model outputs 3 classes",
        ),
        (
            "prune",
            [
                "--engine",
                "tfmot",
                "--labels",
                "a,b",
                "--image-input",
                "uint8_rgb",
                "--normalization",
                "0",
                "1",
            ],
            "labels has 2 names but the model outputs 3",
        ),
        ("qat", ["--image-input", "uint8_rgb"], "needs normalization={'mean': m, 'std': s}"),
        ("prune", ["--quantization", "int8_io", *MEDIAPIPE_READY], "makes the input int8"),
        (
            "prune",
            ["--engine", "tfmot", "--quantization", "int16x8", *MEDIAPIPE_READY],
            "no such kernel for the uint8 input's CAST op",
        ),
        ("qat", ["--labels", "no_such_labels.txt"], "looks like a file's path but is no file"),
        ("qat", ["--normalization", "0", "1,2"], "normalization['std'] has 2 values but"),
        ("prune", ["--image-input", "bgr"], "invalid choice: 'bgr'"),
        # The inputs (normal, std 0.3) as pixels x * 255: half clipped to 0.
        # Was: trained, then calibrated and measured on the clipped images
        # (the accuracy printed was the clipped images', not --data's).
        (
            "qat",
            ["--labels", "a,b,c", "--normalization", "0", "255", "--image-input", "uint8_rgb"],
            "--data does not fit normalization=",
        ),
        (
            "prune",
            ["--engine", "tfmot", "--normalization", "0", "255", "--image-input", "uint8_rgb"],
            "--data does not fit normalization=",  # (was: "x", the API's name)
        ),
        (
            "prune",
            ["--normalization", "1", "1", "--image-input", "uint8_rgb", "--validation", "BIG"],
            "of the values of --validation lie outside",
        ),
    ],
)
def test_bad_file_options_are_refused_before_training(
    files, tmp_path, capsys, monkeypatch, command, extra, words
):
    def no_training(*args, **kwargs):
        raise AssertionError("trained before the file options were checked")

    monkeypatch.setattr(_compression, "_distill", no_training)
    monkeypatch.setattr(tfmot_distill, "run_job", no_training)
    if "BIG" in extra:  # a validation set of raw 0-255 values
        x, y = images(16)
        np.savez(tmp_path / "big.npz", x=x * 255, y=y)
        extra = [str(tmp_path / "big.npz") if e == "BIG" else e for e in extra]
    _assert_refused(files, tmp_path, capsys, command, extra, words)


@pytest.mark.slow
@pytest.mark.parametrize(
    "engine",
    [
        "native",
        # The TFMOT child is TensorFlow whatever the backend; the options' hand-off
        # and checks on each backend: the hostile table above.
        pytest.param("tfmot", marks=worker_behaviour_runs_on_tensorflow),
    ],
)
def test_qat_writes_a_mediapipe_ready_file(files, tmp_path, capsys, engine):
    output = tmp_path / "qat.tflite"
    argv = _args(files, "qat", output, "--engine", engine, *MEDIAPIPE_READY, "--probabilities")
    assert main(argv) == 0
    printed = capsys.readouterr().out
    info = tflite_export.read_metadata(output)
    assert info.labels == ["a", "b", "c"] and info.output_name == "probabilities"
    assert info.input.dtype == "uint8" and info.input.shape == (-1, 8, 8, 3)
    # The accuracy printed is the file's, on the --data inputs as pixels.
    data = np.load(files / "train.npz")
    pixels = tflite_export.image_pixels(data["x"], {"mean": 0.0, "std": 1.0})
    report = tflite_export.evaluate(str(output), pixels, data["y"], latency_samples=0)
    assert f"final accuracy (LiteRT)  {100 * report.accuracy:.2f}%" in printed
    np.testing.assert_allclose(report.outputs.sum(-1), 1.0, atol=0.02)


def test_image_pixels_turns_model_inputs_back_into_rgb_frames():
    gray = np.array([[[[0.0], [0.5], [1.0], [-0.2]]]], "float32")
    pixels = tflite_export.image_pixels(gray, {"mean": 0.0, "std": 255.0})
    assert pixels.dtype == np.uint8 and pixels.shape == (1, 1, 4, 3)
    assert pixels[0, 0].tolist() == [[0] * 3, [128] * 3, [255] * 3, [0] * 3]
    rgb = np.array([[[[-1.0, 0.0, 1.0]]]], "float32")
    per_channel = {"mean": [127.5, 127.5, 127.5], "std": [127.5, 127.5, 127.5]}
    assert tflite_export.image_pixels(rgb, per_channel)[0, 0, 0].tolist() == [0, 128, 255]


def test_qat_of_a_binary_student_learns_its_labels(tmp_path, capsys):
    """A one-unit sigmoid student (was: TensorFlow failed in the first step,
    'label 1 outside the valid range [0, 1)'; JAX and PyTorch trained on a
    hard loss of 0 and printed the accuracy of an arg-max over one column)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(192, 8, 8, 1)).astype("float32")
    y = (x[:, :4].mean(axis=(1, 2, 3)) > 0).astype("int32")
    np.savez(tmp_path / "train.npz", x=x, y=y)
    for name in ("teacher", "student"):
        keras.Sequential(
            [keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(1, "sigmoid")],
            name=name,
        ).save(tmp_path / f"{name}.keras")
    output = tmp_path / "binary.tflite"
    argv = ["qat", str(tmp_path / "student.keras"), "--teacher", str(tmp_path / "teacher.keras")]
    argv += ["--data", str(tmp_path / "train.npz"), "-o", str(output), "--epochs", "8"]
    assert main([*argv, "--alpha", "1", "--learning-rate", "0.02", "--quiet"]) == 0
    printed = capsys.readouterr().out
    report = tflite_export.evaluate(str(output), x, y, latency_samples=0)
    assert f"final accuracy (LiteRT)  {100 * report.accuracy:.2f}%" in printed
    assert report.accuracy > 0.8, printed  # learned from the labels (chance: 0.5)


# qat and prune, each with its native and its TFMOT engine.
BOTH_COMMANDS_BOTH_ENGINES = pytest.mark.parametrize(
    "command, extra",
    [
        ("qat", []),
        ("prune", ["--target-sparsity", "0.5"]),
        ("qat", ["--engine", "tfmot"]),
        ("prune", ["--engine", "tfmot", "--target-sparsity", "0.5"]),
    ],
    ids=["qat-native", "prune-native", "qat-tfmot", "prune-tfmot"],
)


@pytest.fixture
def no_tfmot_child(monkeypatch):
    """The TFMOT child may not start: what is checked is checked before it."""

    def started(*args, **kwargs):
        raise AssertionError("the TFMOT child started before the labels were checked")

    monkeypatch.setattr(tfmot_distill, "run_job", started)


def _one_unit_folder(folder, squeezed):
    """A one-unit (binary) teacher and student in `folder`, their outputs
    squeezed to shape `(samples,)` if `squeezed`, and class labels 0-9."""
    x, _ = images(40)
    for name in ("teacher", "student"):
        head = [keras.layers.Dense(1, "sigmoid")] + ([keras.layers.Reshape(())] if squeezed else [])
        keras.Sequential([keras.Input(x.shape[1:]), keras.layers.Flatten(), *head], name=name).save(
            folder / f"{name}.keras"
        )
    np.savez(folder / "train.npz", x=x, y=np.arange(len(x)) % 10)
    return folder


@pytest.fixture(scope="module")
def one_unit_files(tmp_path_factory):
    """A one-unit (binary) teacher and student, and class labels 0-9."""
    return _one_unit_folder(tmp_path_factory.mktemp("cli_one_unit"), squeezed=False)


@pytest.fixture(scope="module")
def squeezed_files(tmp_path_factory):
    """The same, their outputs squeezed to shape `(samples,)`."""
    return _one_unit_folder(tmp_path_factory.mktemp("cli_squeezed"), squeezed=True)


@BOTH_COMMANDS_BOTH_ENGINES
@pytest.mark.parametrize("files", ["one_unit_files", "squeezed_files"])
def test_class_labels_for_a_one_unit_student_are_refused_before_training(
    files, request, tmp_path, capsys, no_tfmot_child, command, extra
):
    """Were: the native engine trained on a negative binary cross-entropy
    and wrote the file; the TFMOT engine started its child first. Squeezed
    (output_shape (None,)), its width was unread and the labels let
    through, or stopped by fit() without "one output per class"."""
    words = "--data: binary cross-entropy reads labels in [0, 1]"
    folder = request.getfixturevalue(files)
    _assert_refused(folder, tmp_path, capsys, command, extra, words)
    _assert_refused(folder, tmp_path, capsys, command, extra, "Labels 0 to 9 name 10")


@pytest.fixture(scope="module")
def soft_label_files(one_unit_files, tmp_path_factory):
    """The one-unit models, and labels that are probabilities (0.25, 0.5, ...)."""
    folder = tmp_path_factory.mktemp("cli_soft_labels")
    for name in ("teacher", "student"):
        (folder / f"{name}.keras").write_bytes((one_unit_files / f"{name}.keras").read_bytes())
    x, _ = images(40)
    np.savez(folder / "train.npz", x=x, y=(np.arange(len(x)) % 5) / 4)
    return folder


@BOTH_COMMANDS_BOTH_ENGINES
def test_labels_that_are_not_classes_are_refused_before_training(
    soft_label_files, tmp_path, capsys, no_tfmot_child, command, extra
):
    """Were: the TFMOT engine started its child, which read 0.5 as class 0;
    the native engine refused them in its accuracy, without naming --data."""
    words = "--data: the labels are read as integer classes, but 24 of 40 are not whole numbers"
    _assert_refused(soft_label_files, tmp_path, capsys, command, extra, words)


def _assert_refused(files, tmp_path, capsys, command, extra, words):
    """The command exits 2 saying `words`, and an existing output stays as it was."""
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


def test_the_float_accuracy_reads_a_one_unit_logit_by_its_head():
    """Was 0.0: the logits 0.3 (class 1), all in [0, 1], were read as
    probabilities below 0.5."""
    student = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    student.set_weights([np.zeros((4, 1), "float32"), np.full((1,), 0.3, "float32")])
    x = np.random.default_rng(0).normal(size=(8, 4)).astype("float32")
    kwargs = {"validation_data": None, "x": x, "y": np.ones(8, "int64")}
    assert _compression._float_accuracy(tflite_export, student, kwargs) == 1.0
