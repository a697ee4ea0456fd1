"""tflite_export.convert of keras_kd.compression models: int8 from the
learned ranges with no representative data (trained on any backend), and
the pruned zeros in the file's kernels."""

import os

import keras
import numpy as np
import pytest
from _compression_models import cnn
from _compression_models import compile_for_labels
from _compression_models import images
from _compression_models import predict
from _compression_models import subclassed
from _once import layer_coverage_runs_on_tensorflow

import tflite_export
from keras_kd import compression
from keras_kd import outputs as outputs_lib
from tflite_export.tflite import tflite_file


def _trained_qat(make, x, y, epochs=3):
    qat = compile_for_labels(compression.quantization_aware(make()))
    qat.fit(x, y, epochs=epochs, batch_size=16, verbose=0)
    return qat


def _litert_outputs(path, x):
    litert = tflite_file.interpreter(path)
    runner = litert.get_signature_runner()
    (name,) = litert.get_signature_list()["serving_default"]["inputs"]
    (output,) = runner(**{name: x}).values()
    return output


@pytest.mark.slow
@pytest.mark.parametrize("make", [cnn, subclassed], ids=["functional", "subclassed"])
def test_quantization_aware_model_becomes_a_full_int8_file(make, tmp_path):
    x, y = images(128)
    qat = _trained_qat(make, x, y)
    path = os.path.join(tmp_path, "qat.tflite")
    result = tflite_export.convert(qat, path, quantization="int8", verbose=0)
    assert result.mode == "int8"
    litert = tflite_file.interpreter(path)
    assert tflite_file.op_names(litert) <= {
        "QUANTIZE",
        "DEQUANTIZE",
        "CONV_2D",
        "FULLY_CONNECTED",
        "MAX_POOL_2D",
        "RESHAPE",
        "SHAPE",
        "STRIDED_SLICE",
        "PACK",
    }
    kernels = tflite_file.weight_dtypes(litert)
    assert "int8" in kernels["FULLY_CONNECTED"] and "int8" in kernels["CONV_2D"]
    assert "float32" not in kernels["FULLY_CONNECTED"] | kernels["CONV_2D"]
    keras_out, lite_out = predict(qat, x), _litert_outputs(path, x)
    step = result.outputs[0].scale or _output_step(litert)
    within_one_step = np.mean(np.abs(lite_out - keras_out) <= step * 1.001)
    assert within_one_step >= 0.99, (within_one_step, np.abs(lite_out - keras_out).max() / step)
    assert np.mean(lite_out.argmax(-1) == keras_out.argmax(-1)) >= 0.99


def _output_step(litert):
    """Scale of the last int8 tensor (the one DEQUANTIZE reads)."""
    int8 = [d for d in litert.get_tensor_details() if np.dtype(d["dtype"]) == np.int8]
    return int8[-1]["quantization"][0]


@pytest.mark.slow
def test_pruned_zeros_reach_the_file_float_and_int8(tmp_path):
    x, y = images(64)
    pruned = compile_for_labels(compression.pruning_aware(cnn(), 0.75, 0, 3, 1))
    pruned.fit(x, y, epochs=1, batch_size=16, verbose=0)
    float_path = os.path.join(tmp_path, "pruned.tflite")
    tflite_export.convert(pruned, float_path, verbose=0)
    assert sorted(tflite_file.kernel_zero_shares(float_path).values()) == pytest.approx(
        [0.75] * 3, abs=0.02
    )
    qat = compile_for_labels(compression.quantization_aware(pruned))
    qat.fit(x, y, epochs=1, batch_size=16, verbose=0)
    int8_path = os.path.join(tmp_path, "pruned_int8.tflite")
    tflite_export.convert(qat, int8_path, quantization="int8", verbose=0)
    shares = tflite_file.kernel_zero_shares(int8_path)
    assert len(shares) == 3 and all(s >= 0.73 for s in shares.values()), shares


@pytest.fixture(scope="module")
def trained_qat():
    x, y = images(16)
    qat = compile_for_labels(compression.quantization_aware(cnn()))
    qat.fit(x, y, epochs=1, verbose=0)
    return qat


@pytest.mark.parametrize(
    "trained, kwargs, words",
    [
        (True, {"quantization": None}, "converts to int8"),
        (True, {"quantization": "dynamic"}, "converts to int8"),
        (
            True,
            {"quantization": "int8", "representative_data": np.zeros((4, 8, 8, 1))},
            "representative_data would be ignored",
        ),
        (False, {"quantization": "int8"}, "has not been trained yet.*input_0_quantizer"),
    ],
    ids=["float32", "dynamic", "with-data", "untrained"],
)
def test_hostile_conversions_are_refused_before_writing(
    trained, kwargs, words, trained_qat, tmp_path
):
    model = trained_qat if trained else compression.quantization_aware(cnn())
    path = os.path.join(tmp_path, "out.tflite")
    with pytest.raises(ValueError, match=words):
        tflite_export.convert(model, path, verbose=0, **kwargs)
    assert not os.path.exists(path)


@pytest.mark.slow
@layer_coverage_runs_on_tensorflow
def test_depthwise_folded_norm_add_pooling_and_softmax_convert_and_agree(tmp_path):
    inputs = keras.Input((8, 8, 3), name="image")
    h = keras.layers.DepthwiseConv2D(3, depth_multiplier=2, use_bias=False)(inputs)
    h = keras.layers.BatchNormalization()(h)
    h = keras.layers.Activation("relu")(h)
    h = keras.layers.Conv2D(4, 1)(h)
    h = keras.layers.Add()([h, h])
    h = keras.layers.GlobalAveragePooling2D()(h)
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(h))
    qat = compression.quantization_aware(model)
    qat.compile("adam", "sparse_categorical_crossentropy")
    x = np.random.default_rng(0).uniform(size=(64, 8, 8, 3)).astype("float32")
    qat.fit(x, np.arange(64) % 3, epochs=1, batch_size=16, verbose=0)
    path = os.path.join(tmp_path, "mixed.tflite")
    tflite_export.convert(qat, path, quantization="int8", sidecar=False, verbose=0)
    kernels = tflite_file.weight_dtypes(tflite_file.interpreter(path))
    assert "int8" in kernels["DEPTHWISE_CONV_2D"] and "float32" not in kernels["DEPTHWISE_CONV_2D"]
    # The softmax's int8 output step is 1/256.
    report = tflite_export.evaluate(path, x, reference=predict(qat, x), latency_samples=0)
    assert report.max_abs_diff <= 1 / 255 and report.agreement >= 0.98


def _conv1d():
    inputs = keras.Input((6, 2), name="a")
    h = keras.layers.Conv1D(3, 3, activation="relu")(inputs)
    return keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Flatten()(h)))


def _two_inputs():
    a, b = keras.Input((6,), name="a"), keras.Input((3,), name="b")
    h = keras.layers.Concatenate()([keras.layers.Dense(4)(a), b])
    return keras.Model([a, b], keras.layers.Dense(2)(h))


def _mixed_float16():
    policy = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        inputs = keras.Input((6,), name="a")
        h = keras.layers.Dense(4, activation="relu")(inputs)
        return keras.Model(inputs, keras.layers.Dense(2, dtype="float32")(h))
    finally:
        keras.config.set_dtype_policy(policy)


# Each was refused by the converter ("'tfl.reshape' op requires 'output' type
# ... cast compatible"; "'tfl.sub' op failed to verify that binary op operands
# have same element type") or, for the concatenation, LiteRT's output was up
# to 20 output steps from Keras'.
@pytest.mark.slow
@layer_coverage_runs_on_tensorflow
@pytest.mark.parametrize(
    "make", [_conv1d, _two_inputs, _mixed_float16], ids=["conv1d", "concat", "mixed_float16"]
)
def test_more_layer_kinds_convert_and_agree_with_keras(make, tmp_path):
    keras.utils.set_random_seed(0)
    model = make()
    rng = np.random.default_rng(0)
    x = [rng.normal(size=(32, *t.shape[1:])).astype("float32") for t in model.inputs]
    x[-1] *= 3.0  # a raw input of another range than the Dense's output
    qat = compression.quantization_aware(model)
    qat.compile("adam", "mse")
    qat.fit(x, np.zeros((32, 2)), batch_size=8, verbose=0)
    path = os.path.join(tmp_path, "qat.tflite")
    tflite_export.convert(qat, path, quantization="int8", sidecar=False, verbose=0)
    runner = tflite_file.interpreter(path).get_signature_runner()
    (lite,) = runner(**{t.name: v for t, v in zip(model.inputs, x)}).values()
    step = max(high - low for low, high in _ranges(qat)) / 255
    np.testing.assert_allclose(lite, predict(qat, x), atol=step * 1.001)


def _ranges(qat):
    from keras_kd.compression import _wrap

    return _wrap.find_wrapper(qat).activation_ranges().values()


def test_softmax_head_is_read_through_the_compression_wrapper(tmp_path):
    """Was: the wrapper's head read as logits, so a quantization- or
    pruning-aware student with a softmax head was distilled as if it
    output logits, its file's output named 'logits', and probabilities=True
    (keras-kd qat --probabilities) folded a second softmax."""
    x = np.random.default_rng(0).normal(size=(64, 16)).astype("float32")
    confident = keras.initializers.RandomNormal(stddev=2.0, seed=0)
    model = keras.Sequential(
        [
            keras.Input((16,)),
            keras.layers.Dense(3, kernel_initializer=confident),
            keras.layers.Softmax(),
        ]
    )
    pruning = compression.pruning_aware(model, target_sparsity=0.5, end_step=4, frequency=1)
    assert outputs_lib.detect_output_kind(pruning) == "probabilities"
    qat = compression.quantization_aware(model)
    assert outputs_lib.detect_output_kind(qat) == "probabilities"
    qat.compile(keras.optimizers.SGD(0.0), "mse")  # only the ranges are learned
    qat.fit(x, predict(model, x), epochs=3, batch_size=16, verbose=0)
    path = os.path.join(tmp_path, "qat.tflite")
    result = tflite_export.convert(qat, path, quantization="int8", probabilities=True, verbose=0)
    assert result.outputs[0].name == "probabilities"
    keras_out, lite_out = predict(qat, x), _litert_outputs(path, x)
    twice = keras.ops.convert_to_numpy(keras.ops.softmax(keras_out))
    assert np.abs(twice - keras_out).max() > 0.2  # a second softmax shows
    np.testing.assert_allclose(lite_out, keras_out, atol=0.05)
