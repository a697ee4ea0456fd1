"""TFLite Model Metadata written by `tflite_export.convert`, read back by
`read_metadata`; the folded uint8 RGB input and softmax against NumPy; every
combination MediaPipe would reject, refused with its message.

MediaPipe itself loads the files in test_mediapipe (TensorFlow backend); here
the metadata of files converted from every backend is read back.
"""

import io
import json
import pathlib
import zipfile

import keras
import numpy as np
import pytest

import tflite_export
from tflite_export import _litert_compat
from tflite_export import tflite_file

L = keras.layers
ON_TENSORFLOW = keras.backend.backend() == "tensorflow"
tensorflow_only = pytest.mark.skipif(
    not ON_TENSORFLOW, reason="conversions in this process; other backends convert in a child"
)
NORM = {"mean": 0.0, "std": 255.0}


def rgb_model(head=None, channels=3, name="rgb"):
    """An untrained 8x8 image model: the metadata does not need training."""
    return keras.Sequential(
        [
            keras.Input((8, 8, channels), name="image"),
            L.Conv2D(4, 3, activation="relu"),
            L.Flatten(),
            L.Dense(3, activation=head),
        ],
        name=name,
    )


def pixels(n=64, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(n, 8, 8, 3)).astype("uint8")


@pytest.mark.slow  # a TensorFlow child process per conversion on JAX and PyTorch
def test_metadata_and_folding_on_every_backend(tmp_path):
    """A 1-channel student, converted once per backend (JAX and PyTorch in the
    TensorFlow child): the file takes RGB pixels, and its output equals the
    Keras student's softmax on (BT.601 luminance - mean) / std made with NumPy;
    the metadata reads back."""
    model = rgb_model(channels=1, name="gray")
    norm = {"mean": 10.0, "std": 200.0}
    path = tmp_path / "gray.tflite"
    result = tflite_export.convert(
        model,
        path,
        labels=["cat", "dog", "fox"],
        normalization=norm,
        image_input="uint8_rgb",
        probabilities=True,
        metadata={"version": "7", "author": "tests"},
        verbose=0,
    )
    assert result.input_dtype == "uint8" and result.inputs[0].shape == (-1, 8, 8, 3)
    x = pixels()
    luminance = x.astype("float64") @ np.array([0.299, 0.587, 0.114])
    logits = keras.ops.convert_to_numpy(
        model.predict(((luminance[..., None] - 10.0) / 200.0).astype("float32"), verbose=0)
    )
    expected = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    outputs = tflite_export.evaluate(path, x, latency_samples=0).outputs
    np.testing.assert_allclose(outputs, expected, atol=1e-5)

    info = tflite_export.read_metadata(path)
    assert info == result.metadata
    assert (info.name, info.version, info.author) == ("gray", "7", "tests")
    assert info.labels == ["cat", "dog", "fox"] and info.label_file == "labels.txt"
    assert info.score_kind == "probabilities" and info.min_parser_version == "1.0.0"
    assert info.input.color_space == "RGB" and (info.input.width, info.input.height) == (8, 8)
    assert info.input.normalization is None  # raw pixels: the normalization is in the graph
    assert "metadata labels: 3 (cat, dog, fox)" in str(result)
    assert "raw pixels 0-255" in str(info)
    with open(result.sidecar_path) as f:
        sidecar = json.load(f)
    assert sidecar["normalization"] is None and sidecar["normalization_in_model"] == norm
    assert sidecar["image_input"] == "uint8_rgb" and sidecar["input_dtype"] == "uint8"
    assert sidecar["metadata"] is True and sidecar["output_kind"] == "probabilities"


@tensorflow_only
def test_float_rgb_input_records_its_normalization(tmp_path):
    result = tflite_export.convert(
        rgb_model(), tmp_path / "rgb.tflite", normalization=NORM, verbose=0
    )
    info = tflite_export.read_metadata(result.path)
    assert info.input.normalization == {"mean": [0.0], "std": [255.0]}
    assert info.input.dtype == "float32" and info.input.shape == (-1, 8, 8, 3)
    assert info.input.color_space == "RGB" and info.labels is None and info.name == "rgb"
    assert info.version.startswith("sha256:") and info.score_kind == "logits"


@tensorflow_only
def test_per_channel_normalization_and_int8(tmp_path):
    """Per-channel normalization is folded into a uint8 RGB file (MediaPipe
    cannot apply it to a float image input); the int8 file's scores follow the
    Keras model's on (pixel - mean) / std computed with NumPy. The same value
    on every channel is one value in the metadata."""
    model = rgb_model()
    norm = {"mean": [120.0, 110.0, 100.0], "std": [60.0, 61.0, 62.0]}
    frames = pixels(100)
    x = ((frames.astype("float64") - norm["mean"]) / norm["std"]).astype("float32")
    path = tmp_path / "int8.tflite"
    result = tflite_export.convert(
        model,
        path,
        quantization="int8",
        representative_data=x,
        labels=["a", "b", "c"],
        normalization=norm,
        image_input="uint8_rgb",
        verbose=0,
    )
    info = tflite_export.read_metadata(path)
    assert info.input.normalization is None and info.input.dtype == "uint8"
    sidecar = json.loads(pathlib.Path(result.sidecar_path).read_text())
    assert sidecar["normalization_in_model"] == norm
    outputs = tflite_export.evaluate(path, frames, latency_samples=0).outputs
    logits = keras.ops.convert_to_numpy(model.predict(x, verbose=0))
    assert np.mean(outputs.argmax(-1) == logits.argmax(-1)) >= 0.95

    same = {"mean": [127.5] * 3, "std": [127.5] * 3}
    result = tflite_export.convert(model, tmp_path / "f.tflite", normalization=same, verbose=0)
    assert result.metadata.input.normalization == {"mean": [127.5], "std": [127.5]}


@tensorflow_only
def test_packed_labels_and_aligned_buffers(tmp_path):
    """The label file is a stored zip entry after the flatbuffer, and every
    weight buffer stays on a 16-byte boundary after the rewrite."""
    path = tmp_path / "m.tflite"
    tflite_export.convert(
        rgb_model(), path, labels=["a", "b", "c"], normalization=NORM, sidecar=False, verbose=0
    )
    content = path.read_bytes()
    with zipfile.ZipFile(io.BytesIO(content)) as packed:
        assert packed.namelist() == ["labels.txt"]
        assert packed.getinfo("labels.txt").compress_type == zipfile.ZIP_STORED
        assert packed.read("labels.txt") == b"a\nb\nc\n"
    model = _litert_compat.flatbuffer_model(content)
    for b in range(model.BuffersLength()):
        buffer = model.Buffers(b)
        if buffer.DataLength():
            assert buffer._tab.Vector(4) % 16 == 0
    # The rewritten file runs and gives the file's own outputs.
    x = np.zeros((2, 8, 8, 3), "float32")
    assert tflite_export.evaluate(path, x, latency_samples=0).outputs.shape == (2, 3)


@tensorflow_only
def test_metadata_only_when_asked(tmp_path):
    model = rgb_model()
    plain = tflite_export.convert(model, tmp_path / "a.tflite", verbose=0)
    assert plain.metadata is None and tflite_export.read_metadata(plain.path) is None
    opted_out = tflite_export.convert(
        model, tmp_path / "b.tflite", labels=["a", "b", "c"], metadata=False, verbose=0
    )
    assert opted_out.metadata is None
    # A non-image model gets feature metadata: labels, normalization, int8_io allowed.
    dense = keras.Sequential([keras.Input((4,)), L.Dense(3)], name="dense")
    result = tflite_export.convert(
        dense,
        tmp_path / "d.tflite",
        quantization="int8_io",
        representative_data=np.random.default_rng(0).normal(size=(50, 4)).astype("float32"),
        labels=["a", "b", "c"],
        normalization={"mean": 1.0, "std": 2.0},
        verbose=0,
    )
    info = result.metadata
    assert info.input.color_space is None and info.input.dtype == "int8"
    assert info.input.normalization == {"mean": [1.0], "std": [2.0]} and info.labels == [
        "a",
        "b",
        "c",
    ]


@tensorflow_only
def test_evaluate_and_report_show_the_metadata(tmp_path, capsys):
    from keras_kd.cli import main

    path = tmp_path / "m.tflite"
    tflite_export.convert(rgb_model(), path, labels=["a", "b", "c"], normalization=NORM, verbose=0)
    x = np.zeros((4, 8, 8, 3), "float32")
    np.savez(tmp_path / "d.npz", x=x)
    main(["evaluate", str(path), "--data", str(tmp_path / "d.npz"), "--latency-samples", "0"])
    printed = capsys.readouterr().out
    assert "metadata labels" in printed and "3 (a, b, c)" in printed
    assert "float32 [-1, 8, 8, 3] RGB image 8x8, (value - 0) / 255" in printed
    main(["report", str(path), "--data", str(tmp_path / "d.npz"), "--latency-samples", "0"])
    assert "float32 RGB 8x8, logits, 3 labels" in capsys.readouterr().out


def _ragged_model():
    inputs = keras.Input((4,))
    return keras.Model(inputs, [L.Dense(3)(inputs), L.Dense(2)(inputs)])


def _open_size_model():
    return keras.Sequential(
        [keras.Input((None, None, 3)), L.GlobalAveragePooling2D(), L.Dense(3)], name="open"
    )


def _two_headed_image_model():
    inputs = keras.Input((8, 8, 3))
    features = L.Flatten()(inputs)
    return keras.Model(inputs, [L.Dense(3)(features), L.Dense(2)(features)])


def _one_unit_model():
    return keras.Sequential([keras.Input((4,)), L.Dense(1, activation="sigmoid")])


# (id, model maker, convert keyword arguments, error words)
HOSTILE = [
    # Files MediaPipe refused or misread before these were checked (issue 19's breaker round).
    (
        "labels-two-for-one-unit",
        _one_unit_model,
        dict(labels=["neg", "pos"]),
        r"labels has 2 names but the model outputs 1 score.*Give one name",
    ),
    (
        "labels-string-no-file",
        rgb_model,
        dict(labels="nope.txt"),
        r"'nope.txt' is a string but no such file.*labels='labels.txt'",
    ),
    (
        "labels-path-no-file",
        rgb_model,
        dict(labels=pathlib.Path("/no/such/labels.txt")),
        "labels names no file",
    ),
    (
        "normalization-negative-std",
        rgb_model,
        dict(normalization={"mean": 0, "std": -255}, labels=["a", "b", "c"]),
        r"normalization\['std'\] must be positive.*MediaPipe refuses",
    ),
    (
        "mediapipe-per-channel-float",
        rgb_model,
        dict(normalization={"mean": [120.0, 110.0, 100.0], "std": 60.0}),
        r"normalization\['mean'\] differs per channel.*Per-channel image normalization.*"
        r"image_input='uint8_rgb'",
    ),
    (
        "mediapipe-open-size",
        _open_size_model,
        dict(labels=["a", "b", "c"], normalization=NORM),
        r"open height or width.*1x1.*fixed size.*metadata=False",
    ),
    (
        "mediapipe-four-channels",
        lambda: rgb_model(channels=4),
        dict(labels=["a", "b", "c"], normalization=NORM),
        r"4-channel images.*3 \(RGB\) or 1 \(luminance\) channels only.*metadata=False",
    ),
    (
        "mediapipe-labels-two-outputs",
        _two_headed_image_model,
        dict(labels=["a", "b", "c"], normalization=NORM),
        r"labels name the classes of one output, but the model has 2 outputs.*metadata=False",
    ),
    ("labels-empty", rgb_model, dict(labels=[], normalization=NORM), "labels is empty"),
    (
        "labels-count",
        rgb_model,
        dict(labels=["a", "b"], normalization=NORM),
        "labels has 2 names but the model outputs 3",
    ),
    (
        "labels-duplicate",
        rgb_model,
        dict(labels=["a", "b", "a"], normalization=NORM),
        r"labels must be distinct; repeated: \['a'\]",
    ),
    (
        "labels-blank-name",
        rgb_model,
        dict(labels=["a", " ", "c"], normalization=NORM),
        "non-empty names on one line each",
    ),
    (
        "labels-newline",
        rgb_model,
        dict(labels=["a", "b\nx", "c"], normalization=NORM),
        "non-empty names on one line each",
    ),
    (
        "labels-unicode-line-separator",
        rgb_model,
        dict(labels=["a", "b\u2028x", "c"], normalization=NORM),
        "non-empty names on one line each",
    ),
    (
        "labels-dict-by-name",
        rgb_model,
        dict(labels={"cat": 0, "dog": 1, "fox": 2}, normalization=NORM),
        r"labels as a dict must map each class index 0, 1, ... to its name",
    ),
    ("labels-string", rgb_model, dict(labels="a,b,c"), "labels must be a list of class names"),
    (
        "normalization-length",
        rgb_model,
        dict(normalization={"mean": [0, 0], "std": 1}),
        r"normalization\['mean'\] has 2 values but the model's input has 3 channels",
    ),
    (
        "normalization-zero-std",
        rgb_model,
        dict(normalization={"mean": 0, "std": 0}),
        r"normalization\['std'\] must not be 0",
    ),
    (
        "normalization-nan",
        rgb_model,
        dict(normalization={"mean": float("nan"), "std": 1}),
        "must hold finite numbers",
    ),
    (
        "image-input-unknown",
        rgb_model,
        dict(image_input="rgb", normalization=NORM),
        r"image_input must be None or one of \('uint8_rgb',\)",
    ),
    (
        "image-input-not-image",
        lambda: keras.Sequential([keras.Input((4,)), L.Dense(3)]),
        dict(image_input="uint8_rgb", normalization=NORM),
        "needs an image model",
    ),
    (
        "image-input-4-channels",
        lambda: rgb_model(channels=4),
        dict(image_input="uint8_rgb", normalization=NORM),
        r"1 \(luminance\) or 3 \(RGB\) channels",
    ),
    (
        "image-input-no-normalization",
        rgb_model,
        dict(image_input="uint8_rgb"),
        "needs normalization=",
    ),
    (
        "image-input-int8-io",
        rgb_model,
        dict(image_input="uint8_rgb", normalization=NORM, quantization="int8_io"),
        "quantization='int8_io' makes the input int8.*Use quantization='int8'",
    ),
    (
        "image-input-int16x8",
        rgb_model,
        dict(image_input="uint8_rgb", normalization=NORM, quantization="int16x8"),
        "quantization='int16x8' cannot take image_input='uint8_rgb'",
    ),
    (
        # Inputs in [-1, 1] under (0, 255): was calibrated on the clipped
        # pixels (half of them 0), a silently broken int8 file.
        "image-input-calibration-not-pixels",
        rgb_model,
        dict(
            image_input="uint8_rgb",
            normalization=NORM,
            quantization="int8",
            representative_data=np.linspace(-1, 1, 8 * 192).reshape(8, 8, 8, 3),
        ),
        r"representative_data does not fit normalization=.*50% of the values",
    ),
    (
        "mediapipe-int8-io",
        rgb_model,
        dict(labels=["a", "b", "c"], normalization=NORM, quantization="int8_io"),
        "int8 input, which MediaPipe's ImageClassifier refuses.*image_input='uint8_rgb'",
    ),
    (
        "mediapipe-one-channel",
        lambda: rgb_model(channels=1),
        dict(labels=["a", "b", "c"], normalization=NORM),
        "1-channel images.*Pass image_input='uint8_rgb'.*metadata=False",
    ),
    (
        "mediapipe-float-no-normalization",
        rgb_model,
        dict(labels=["a", "b", "c"]),
        "A float image input needs normalization=",
    ),
    (
        "probabilities-multi-output",
        _ragged_model,
        dict(probabilities=True),
        "probabilities=True folds a softmax after the model's one head, but the model has 2",
    ),
    (
        "probabilities-one-unit",
        lambda: keras.Sequential([keras.Input((4,)), L.Dense(1)]),
        dict(probabilities=True),
        "2 classes or more",
    ),
    (
        "probabilities-not-bool",
        rgb_model,
        dict(probabilities="yes"),
        "probabilities must be True or False",
    ),
    ("metadata-bad-type", rgb_model, dict(metadata="yes"), "metadata must be None"),
    (
        "metadata-bad-field",
        rgb_model,
        dict(metadata={"colour": "red"}),
        "metadata as a dict takes non-empty strings",
    ),
]


@pytest.mark.parametrize(
    "make, kwargs, words", [r[1:] for r in HOSTILE], ids=[r[0] for r in HOSTILE]
)
def test_hostile_options(make, kwargs, words, tmp_path):
    kwargs = dict(kwargs)
    if kwargs.get("quantization") in ("int8_io", "int16x8"):
        kwargs["representative_data"] = np.zeros((8, 8, 8, 3), "float32")
    with pytest.raises(ValueError, match=words):
        tflite_export.convert(make(), tmp_path / "m.tflite", verbose=0, **kwargs)
    assert not (tmp_path / "m.tflite").exists() and not (tmp_path / "m.json").exists()


@pytest.mark.parametrize(
    "output, sidecar, words",
    [
        ("labels.json", True, r"Its sidecar .*labels\.json is also an input"),
        ("labels.json", False, r"The output path .*labels\.json is also an input"),
    ],
    ids=["sidecar-over-the-label-file", "output-over-the-label-file"],
)
def test_the_label_file_is_never_overwritten(tmp_path, output, sidecar, words):
    labels = tmp_path / "labels.json"
    labels.write_text("a\nb\nc\n")
    path = tmp_path / (output if not sidecar else "labels.tflite")
    with pytest.raises(ValueError, match=words):
        tflite_export.convert(rgb_model(), path, labels=labels, sidecar=sidecar, verbose=0)
    assert labels.read_text() == "a\nb\nc\n"


def test_read_metadata_errors(tmp_path):
    with pytest.raises(ValueError, match="No such .tflite file"):
        tflite_export.read_metadata(tmp_path / "missing.tflite")
    with pytest.raises(ValueError, match="is a folder; give the path of a .tflite file"):
        tflite_export.read_metadata(tmp_path)
    (tmp_path / "junk.tflite").write_bytes(b"not a flatbuffer at all")
    with pytest.raises(ValueError, match="is not a .tflite file"):
        tflite_export.read_metadata(tmp_path / "junk.tflite")
    with pytest.raises(
        ValueError, match=r"^The content given \(4000 bytes\) is not a .tflite"
    ) as error:
        tflite_export.read_metadata(b"junk" * 1000)
    assert len(str(error.value)) < 200  # the bytes themselves are not printed


@tensorflow_only
def test_read_metadata_of_a_truncated_file(tmp_path):
    path = tmp_path / "m.tflite"
    tflite_export.convert(rgb_model(), path, labels=["a", "b", "c"], normalization=NORM, verbose=0)
    content = path.read_bytes()
    (tmp_path / "half.tflite").write_bytes(content[: len(content) // 2])
    with pytest.raises(ValueError, match="half.tflite is truncated or corrupt.*convert it again"):
        tflite_export.read_metadata(tmp_path / "half.tflite")


def _label_file(tmp_path):
    """Class names as a Windows editor saves them: byte-order mark, CRLF, a blank line."""
    path = tmp_path / "labels.txt"
    path.write_bytes("\ufeffcat\r\nd\u00f6g\r\n\r\nfox\r\n".encode("utf-8"))
    return path


# (id, model maker, convert keyword arguments given tmp_path, check of the result)
ACCEPTED = [
    (
        "labels-file-path",
        rgb_model,
        lambda tmp: dict(labels=str(_label_file(tmp)), normalization=NORM),
        lambda result: result.metadata.labels == ["cat", "d\u00f6g", "fox"],
    ),
    (
        "labels-pathlib",
        rgb_model,
        lambda tmp: dict(labels=_label_file(tmp), normalization=NORM),
        lambda result: result.metadata.labels == ["cat", "d\u00f6g", "fox"],
    ),
    (
        "labels-dict-by-index",
        rgb_model,
        lambda tmp: dict(labels={2: "fox", 0: "cat", 1: "dog"}, normalization=NORM),
        lambda result: result.metadata.labels == ["cat", "dog", "fox"],
    ),
    (
        "labels-bytes-decoded",
        rgb_model,
        lambda tmp: dict(labels=[b"a", b"b", "c"], normalization=NORM),
        lambda result: result.metadata.labels == ["a", "b", "c"],
    ),
    (
        "normalization-pair",
        rgb_model,
        lambda tmp: dict(normalization=(0, 255)),
        lambda result: result.metadata.input.normalization == {"mean": [0.0], "std": [255.0]},
    ),
    (
        "normalization-numpy-per-feature",
        lambda: keras.Sequential([keras.Input((3,)), L.Dense(3)]),
        lambda tmp: dict(
            normalization={"mean": np.float32(0.5), "std": np.array([60.0, 61.0, 62.0])}
        ),
        lambda result: (
            result.metadata.input.normalization == {"mean": [0.5], "std": [60.0, 61.0, 62.0]}
        ),
    ),
    (
        "one-unit-one-label",
        _one_unit_model,
        lambda tmp: dict(labels=["dog"]),
        lambda result: (
            result.metadata.labels == ["dog"] and result.metadata.score_kind == "probabilities"
        ),
    ),
]


@tensorflow_only
@pytest.mark.parametrize(
    "make, kwargs, check", [r[1:] for r in ACCEPTED], ids=[r[0] for r in ACCEPTED]
)
def test_accepted_options(make, kwargs, check, tmp_path):
    result = tflite_export.convert(make(), tmp_path / "m.tflite", verbose=0, **kwargs(tmp_path))
    assert check(result), result.metadata


@tensorflow_only
def test_uint8_input_in_evaluate_takes_raw_pixels(tmp_path):
    path = tmp_path / "u.tflite"
    tflite_export.convert(
        rgb_model(), path, normalization=NORM, image_input="uint8_rgb", sidecar=False, verbose=0
    )
    with pytest.raises(ValueError, match="Pass the raw images, not normalized ones"):
        tflite_export.evaluate(path, pixels(4) / 255.0, latency_samples=0)
    with pytest.raises(ValueError, match=r"pass reference=model.predict\(x_model\)"):
        tflite_export.evaluate(path, pixels(4), reference=rgb_model(), latency_samples=0)
    assert tflite_file.interpreter(str(path)).get_input_details()[0]["dtype"] == np.uint8
