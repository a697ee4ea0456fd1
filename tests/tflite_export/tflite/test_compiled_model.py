"""The files `convert` writes, run by LiteRT's `CompiledModel` API.

`CompiledModel` (ai-edge-litert 2.x, `com.google.ai.edge.litert:litert` 2.x
on Android: `CompiledModel.create`, `createInputBuffers`, `run`) is LiteRT's
newer runtime beside the `Interpreter`. Each file is loaded by it, its
buffers are sized for one sample, and its outputs, sample by sample, are
compared with the Interpreter's: every quantization mode, the MediaPipe-ready
uint8 RGB file, and a `keras_kd.compression` quantization-aware int8 file.

The files are the same whichever backend wrote them (test_convert), and the
runtime does not depend on Keras' backend: this runs once, on TensorFlow.
"""

import keras
import numpy as np
import pytest
from _compression_models import compile_for_labels
from _tfmot_models import cnn
from _tfmot_models import images

import tflite_export
from keras_kd import compression
from tflite_export.tflite import tflite_file

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="the files and the runtime are the same from every backend; run once",
)
NORMALIZATION = {"mean": 0.0, "std": 1.0}
SAMPLES = 48


@pytest.fixture(scope="module")
def problem():
    keras.utils.set_random_seed(0)
    x, y = images(n=256)
    # Pixels / 1 in [0, 255], so a uint8 image input loses nothing.
    x = np.round(np.clip((x + 4.0) * 32.0, 0, 255)).astype("float32")
    return x, y, cnn(x / 255.0 * 8.0 - 4.0, y)


def _student(problem):
    """The trained CNN, fed the 0-255 values (its first layer rescales)."""
    x, y, trained = problem
    inputs = keras.Input((8, 8, 1), name="image")
    scaled = keras.layers.Rescaling(8.0 / 255.0, offset=-4.0)(inputs)
    return keras.Model(inputs, trained(scaled), name="student")


def _compiled_outputs(path, inputs):
    """The file's first output for each sample, run one by one in `CompiledModel`."""
    from ai_edge_litert.compiled_model import CompiledModel

    model = CompiledModel.from_file(str(path))
    (key,) = model.get_signature_list()
    (details,) = model.get_output_tensor_details(key).values()
    size = int(np.prod(details["shape"]))
    inputs_buffers = model.create_input_buffers(0)
    output_buffers = model.create_output_buffers(0)
    outputs = []
    for sample in inputs:
        inputs_buffers[0].write(np.ascontiguousarray(sample[None]))
        model.run_by_index(0, inputs_buffers, output_buffers)
        outputs.append(output_buffers[0].read(size, np.dtype(details["dtype"])))
    return np.stack(outputs), model


def _file_inputs(path, x):
    """`x` as the file takes it: floats, uint8 RGB pixels, or int8 steps."""
    (tensor,) = tflite_file.interpreter(path).get_input_details()
    dtype = np.dtype(tensor["dtype"])
    if dtype == np.uint8:
        return tflite_export.image_pixels(x, NORMALIZATION)
    if dtype == np.int8:
        scale, zero_point = tensor["quantization"]
        return np.clip(np.round(x / scale + zero_point), -128, 127).astype("int8")
    return x


def _interpreter_outputs(path, inputs):
    runner = tflite_file.interpreter(path).get_signature_runner()
    (name,) = runner.get_input_details()
    return np.concatenate([next(iter(runner(**{name: s[None]}).values())) for s in inputs])


def _check_runs_like_the_interpreter(path, x):
    inputs = _file_inputs(path, x[:SAMPLES])
    compiled, model = _compiled_outputs(path, inputs)
    (tensor,) = model.get_input_tensor_details("serving_default").values()
    assert list(tensor["shape"]) == [1, *inputs.shape[1:]]  # one sample a run
    expected = _interpreter_outputs(path, inputs)
    assert compiled.dtype == expected.dtype
    np.testing.assert_allclose(compiled.astype("float64"), expected.astype("float64"), atol=1e-6)
    return compiled


def test_a_float32_file_runs_in_compiled_model_as_in_the_interpreter(problem, tmp_path):
    x, _, _ = problem
    path = tmp_path / "student.tflite"
    tflite_export.convert(_student(problem), path, verbose=0)
    _check_runs_like_the_interpreter(path, x)


@pytest.mark.parametrize("mode", [m for m in tflite_export.MODES if m != "float32"])
def test_every_mode_runs_in_compiled_model_as_in_the_interpreter(mode, problem, tmp_path):
    x, _, _ = problem
    path = tmp_path / f"student_{mode}.tflite"
    calibration = x[:64] if tflite_export.MODES[mode].needs_calibration else None
    tflite_export.convert(
        _student(problem), path, quantization=mode, representative_data=calibration, verbose=0
    )
    _check_runs_like_the_interpreter(path, x)


@pytest.mark.slow
def test_mediapipe_ready_and_quantization_aware_files_run_in_compiled_model(problem, tmp_path):
    x, y, _ = problem
    ready = tmp_path / "ready.tflite"
    options = dict(labels=["a", "b", "c"], normalization=NORMALIZATION, image_input="uint8_rgb")
    tflite_export.convert(
        _student(problem),
        ready,
        quantization="int8",
        representative_data=x[:64],
        probabilities=True,
        verbose=0,
        **options,
    )
    scores = _check_runs_like_the_interpreter(ready, x)
    np.testing.assert_allclose(scores.sum(-1), 1.0, atol=0.02)

    qat = compile_for_labels(compression.quantization_aware(_student(problem)), 1e-4)
    qat.fit(x, y, epochs=1, batch_size=32, verbose=0)
    path = tmp_path / "qat.tflite"
    tflite_export.convert(qat, path, quantization="int8", verbose=0, **options)
    _check_runs_like_the_interpreter(path, x)
