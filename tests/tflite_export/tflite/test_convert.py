"""tflite_export.convert: every quantization mode, from every backend, checked
in the LiteRT interpreter; named tensors, sidecar, and the bad-input errors.

Under JAX and PyTorch each conversion runs in a TensorFlow child process, so
those backends convert fewer modes (float32 and int8_io) to stay fast."""

import json
import os

import keras
import numpy as np
import pytest
from _tfmot_models import cnn
from _tfmot_models import images

import tflite_export
from tflite_export import tflite_file
from tflite_export.tflite._calibration import draw_samples

L = keras.layers
ON_TENSORFLOW = keras.backend.backend() == "tensorflow"
ALL_MODES = [None, "dynamic", "float16", "int8", "int8_io", "int16x8"]
MODES = ALL_MODES if ON_TENSORFLOW else [None, "int8_io"]
# Largest |TFLite - Keras| output difference, as a share of the outputs' range.
TOLERANCE = {
    None: 1e-5,
    "float16": 5e-3,
    "dynamic": 5e-2,
    "int8": 0.1,
    "int8_io": 0.1,
    "int16x8": 3e-2,
}


@pytest.fixture(scope="module")
def setup():
    keras.utils.set_random_seed(0)
    x, y = images(n=512)
    return x, y, cnn(x[:384], y[:384])


@pytest.fixture(scope="module")
def converted(setup, tmp_path_factory):
    x, _, model = setup
    folder = tmp_path_factory.mktemp("modes")
    return {
        mode: tflite_export.convert(
            model,
            folder / f"cnn_{mode}.tflite",
            quantization=mode,
            representative_data=x[:200],
            verbose=0,
        )
        for mode in MODES
    }


@pytest.mark.parametrize("mode", MODES)
def test_every_mode_runs_in_litert_close_to_keras(setup, converted, mode):
    x, y, model = setup
    result = converted[mode]
    expected = model.predict(x, verbose=0)
    report = tflite_export.evaluate(result.path, x, y, reference=model, latency_samples=0)
    spread = float(expected.max() - expected.min())
    assert report.max_abs_diff <= TOLERANCE[mode] * spread, (mode, report.max_abs_diff, spread)
    assert report.agreement >= 0.97
    assert result.mode == mode and result.bytes == os.path.getsize(result.path)


def test_int8_io_file_has_int8_input_and_output(converted):
    result = converted["int8_io"]
    assert (result.input_dtype, result.output_dtype) == ("int8", "int8")
    assert result.inputs[0].scale > 0 and -128 <= result.inputs[0].zero_point <= 127
    assert result.outputs[0].scale > 0
    kernels = tflite_file.weight_dtypes(tflite_file.interpreter(result.path))
    assert "int8" in kernels["CONV_2D"] and "int8" in kernels["FULLY_CONNECTED"]


@pytest.mark.skipif(not ON_TENSORFLOW, reason="the modes are converted on TensorFlow")
def test_int8_kernels_with_float_io_and_float_kernels_in_float32(converted):
    int8 = converted["int8"]
    assert (int8.input_dtype, int8.output_dtype) == ("float32", "float32")
    assert {"QUANTIZE", "DEQUANTIZE"} <= int8.ops
    kernels = tflite_file.weight_dtypes(tflite_file.interpreter(int8.path))
    assert "int8" in kernels["CONV_2D"] and "int8" in kernels["FULLY_CONNECTED"]
    float_kernels = tflite_file.weight_dtypes(tflite_file.interpreter(converted[None].path))
    assert float_kernels["CONV_2D"] == {"float32"}
    int16 = tflite_file.interpreter(converted["int16x8"].path)
    activations = {np.dtype(d["dtype"]).name for d in int16.get_tensor_details()}
    assert "int16" in activations


def test_signature_has_named_tensors_and_a_free_batch(converted):
    result = converted[None]
    litert = tflite_file.interpreter(result.path)
    assert litert.get_signature_list() == {
        "serving_default": {"inputs": ["image"], "outputs": ["logits"]}
    }
    assert result.inputs[0].shape == (-1, 8, 8, 1)


@pytest.mark.slow
def test_probability_head_names_its_output(setup, tmp_path):
    x, y, _ = setup
    model = cnn(x[:64], y[:64], head="softmax")
    result = tflite_export.convert(model, tmp_path / "p.tflite", verbose=0)
    assert result.outputs[0].name == "probabilities" == result.output_kind


@pytest.mark.slow
def test_sidecar_describes_the_file_for_android(setup, tmp_path):
    x, _, model = setup
    result = tflite_export.convert(
        model,
        tmp_path / "cnn_int8_io.tflite",
        quantization="int8_io",
        representative_data=x[:50],
        labels=["a", "b", "c"],
        normalization={"mean": 0.0, "std": 255.0},
        metadata=False,
        verbose=0,
    )
    assert result.sidecar_path == str(tmp_path / "cnn_int8_io.json")
    with open(result.sidecar_path) as f:
        sidecar = json.load(f)
    assert sidecar["model_file"] == "cnn_int8_io.tflite"
    assert sidecar["input_shape"] == [1, 8, 8, 1] and sidecar["input_dtype"] == "int8"
    assert sidecar["output_kind"] == "logits" and sidecar["labels"] == ["a", "b", "c"]
    assert sidecar["normalization"] == {"mean": 0.0, "std": 255.0}
    assert sidecar["inputs"][0]["scale"] == pytest.approx(result.inputs[0].scale)
    assert sidecar["outputs"][0]["zero_point"] == result.outputs[0].zero_point


@pytest.mark.slow
def test_keras_file_converts(setup, tmp_path):
    x, _, model = setup
    model.save(tmp_path / "cnn.keras")
    result = tflite_export.convert(
        str(tmp_path / "cnn.keras"), tmp_path / "cnn.tflite", sidecar=False
    )
    report = tflite_export.evaluate(result.path, x, reference=model, latency_samples=0)
    assert report.max_abs_diff < 1e-4 and result.sidecar_path is None
    assert not (tmp_path / "cnn.json").exists()


def test_calibration_is_bounded_and_reads_every_data_form(setup):
    x, y, _ = setup
    shapes = [(8, 8, 1)]
    assert draw_samples(x, shapes, limit=100)[0].shape == (100, 8, 8, 1)
    batches = (x[i : i + 32] for i in range(0, 512, 32))
    assert draw_samples(batches, shapes, limit=70)[0].shape == (70, 8, 8, 1)
    singles = (row for row in x)
    np.testing.assert_array_equal(draw_samples(singles, shapes, limit=5)[0], x[:5])

    class Batches(keras.utils.PyDataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            return x[i * 16 : (i + 1) * 16], y[i * 16 : (i + 1) * 16]

    np.testing.assert_array_equal(draw_samples(Batches(), shapes, limit=40)[0], x[:40])


@pytest.mark.skipif(not ON_TENSORFLOW, reason="tf.data is TensorFlow's")
def test_calibration_from_tf_data(setup, tmp_path):
    import tensorflow as tf

    x, y, model = setup
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
    result = tflite_export.convert(
        model,
        tmp_path / "c.tflite",
        quantization="int8",
        representative_data=dataset,
        num_calibration_samples=48,
        verbose=0,
    )
    assert result.calibration_samples == 48


# ---- bad input: a clear error, and nothing written -------------------------


def test_int8_without_representative_data(setup, tmp_path):
    _, _, model = setup
    with pytest.raises(ValueError, match="quantization='int8' needs representative_data"):
        tflite_export.convert(model, tmp_path / "m.tflite", quantization="int8")
    assert os.listdir(tmp_path) == []


def test_representative_data_of_the_wrong_shape_names_the_expected_one(setup, tmp_path):
    _, _, model = setup
    good = tmp_path / "m.tflite"
    good.write_bytes(b"an earlier good file")
    wrong = np.zeros((10, 28, 28, 1), "float32")
    with pytest.raises(
        ValueError, match=r"shape \(28, 28, 1\).*expects inputs of shape \(8, 8, 1\)"
    ):
        tflite_export.convert(model, good, quantization="int8", representative_data=wrong)
    assert good.read_bytes() == b"an earlier good file"
    assert os.listdir(tmp_path) == ["m.tflite"]


@pytest.mark.skipif(not ON_TENSORFLOW, reason="the custom layer lives in this process")
def test_op_without_builtin_kernel_names_it_and_the_flag(tmp_path):
    class Determinant(L.Layer):
        def call(self, x):
            return keras.ops.expand_dims(keras.ops.det(keras.ops.reshape(x, (-1, 2, 2))), -1)

    inputs = keras.Input((4,))
    model = keras.Model(inputs, L.Dense(3)(Determinant()(inputs)))
    good = tmp_path / "m.tflite"
    good.write_bytes(b"an earlier good file")
    with pytest.raises(
        tflite_export.ExportError,
        match="no built-in TFLite kernel: MatrixDeterminant.*allow_select_tf_ops=True",
    ):
        tflite_export.convert(model, good)
    assert good.read_bytes() == b"an earlier good file"
    assert sorted(os.listdir(tmp_path)) == ["m.tflite"]
    result = tflite_export.convert(model, good, allow_select_tf_ops=True)
    assert "FlexMatrixDeterminant" in result.ops


def test_missing_folder(setup, tmp_path):
    _, _, model = setup
    with pytest.raises(ValueError, match="folder of the output path does not exist: .*nowhere"):
        tflite_export.convert(model, tmp_path / "nowhere" / "m.tflite")


def test_keras_file_that_is_not_a_model(tmp_path):
    fake = tmp_path / "notes.keras"
    fake.write_text("not a model")
    with pytest.raises(ValueError, match="notes.keras.* is not a .keras archive"):
        tflite_export.convert(str(fake), tmp_path / "m.tflite")
    with pytest.raises(ValueError, match="no such file .*absent.keras"):
        tflite_export.convert(str(tmp_path / "absent.keras"), tmp_path / "m.tflite")
    assert os.listdir(tmp_path) == ["notes.keras"]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"quantization": "int4"}, "quantization must be one of None"),
        ({"labels": ["a", "b"]}, "labels has 2 names but the model outputs 3"),
        ({"normalization": {"mean": 0}}, r"normalization must be a dict \{'mean'"),
        ({"output_kind": "scores"}, "must be one of 'auto', 'logits'"),
    ],
)
def test_bad_settings(setup, tmp_path, kwargs, message):
    _, _, model = setup
    with pytest.raises(ValueError, match=message):
        tflite_export.convert(model, tmp_path / "m.tflite", **kwargs)
    assert os.listdir(tmp_path) == []


def test_non_keras_object(tmp_path):
    with pytest.raises(
        ValueError, match="model must be a Keras model or the path of a .keras file. Received: dict"
    ):
        tflite_export.convert({}, tmp_path / "m.tflite")


def test_size_breakdown_shows_int8_weights_at_a_quarter_of_float32(setup, converted):
    model = setup[2]
    float32 = tflite_file.size_breakdown(converted[None].path)
    int8 = tflite_file.size_breakdown(converted["int8_io"].path)
    assert float32.total == converted[None].bytes and int8.total == converted["int8_io"].bytes
    # Four bytes a weight or bias, plus a few small shape constants.
    assert abs(float32.tensor_data - 4 * model.count_params()) <= 0.05 * 4 * model.count_params()
    assert float32.quantization == 0 and int8.quantization > 0
    # int8 kernels, int32 biases: a little over a quarter.
    assert 0.25 <= int8.tensor_data / float32.tensor_data <= 0.3
    assert int8.other > 0 and float32.other > 0


def test_written_files_get_the_usual_permissions(converted):
    # Not the owner-only mode of the temporary file they were written through.
    umask = os.umask(0)
    os.umask(umask)
    for path in (converted[None].path, converted[None].sidecar_path):
        assert os.stat(path).st_mode & 0o777 == 0o666 & ~umask
