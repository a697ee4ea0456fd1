"""keras_kd.compression.quantization_aware: fake-quantized weights and
activations that train on every backend, inside Distiller, and save/resume."""

import os

import keras
import numpy as np
import pytest
from _compression_models import cnn
from _compression_models import compile_for_labels
from _compression_models import images
from _compression_models import mlp
from _compression_models import predict
from _compression_models import subclassed
from _gradients import gradient

import keras_kd
from keras_kd import compression
from keras_kd.compression import _fake_quant
from keras_kd.compression import _layers
from keras_kd.compression import _wrap


def numpy_fake_quant(x, low, high, narrow_range=False):
    """TensorFlow's FakeQuantWithMinMaxVars (nudged zero point), in NumPy."""
    quant_min, quant_max = (1 if narrow_range else 0), 255
    scale = (high - low) / (quant_max - quant_min)
    zero_point = np.clip(np.round(quant_min - low / scale), quant_min, quant_max)
    nudged_low = (quant_min - zero_point) * scale
    nudged_high = (quant_max - zero_point) * scale
    clipped = np.clip(x, nudged_low, nudged_high)
    return np.floor((clipped - nudged_low) / scale + 0.5) * scale + nudged_low


def test_weights_round_to_int8_per_channel_symmetric():
    kernel = np.random.default_rng(0).normal(size=(3, 3, 2, 4)).astype("float32")
    got = keras.ops.convert_to_numpy(_fake_quant.fake_quantize_weights(kernel))
    for c in range(4):
        bound = np.abs(kernel[..., c]).max()
        expected = numpy_fake_quant(kernel[..., c], -bound, bound, narrow_range=True)
        np.testing.assert_allclose(got[..., c], expected, atol=1e-6)
        steps = got[..., c] / (bound / 127)  # symmetric: integers in [-127, 127]
        np.testing.assert_allclose(steps, np.round(steps), atol=1e-3)


def test_per_tensor_weights_share_one_scale():
    kernel = np.array([[0.5, -2.0], [-1.0, 1.0]], "float32")
    got = keras.ops.convert_to_numpy(_fake_quant.fake_quantize_weights(kernel, per_channel=False))
    np.testing.assert_allclose(got, numpy_fake_quant(kernel, -2.0, 2.0, True), atol=1e-6)


def test_activation_range_is_a_moving_average_then_frozen():
    quantizer = _fake_quant.ActivationQuantizer(decay=0.5)
    rng = np.random.default_rng(0)
    batches = [rng.normal(size=(4, 5)).astype("float32") for _ in range(3)]
    low, high = None, None
    for batch in batches:
        quantizer(batch, training=True)
        b_low, b_high = min(batch.min(), 0.0), max(batch.max(), 0.0)
        low = b_low if low is None else min(0.5 * low + 0.5 * batch.min(), 0.0)
        high = b_high if high is None else max(0.5 * high + 0.5 * batch.max(), 0.0)
    np.testing.assert_allclose(quantizer.range(), (low, high), rtol=1e-5)
    probe = rng.normal(scale=3.0, size=(2, 5)).astype("float32")
    got = keras.ops.convert_to_numpy(quantizer(probe, training=False))
    np.testing.assert_allclose(got, numpy_fake_quant(probe, low, high), atol=1e-5)
    np.testing.assert_allclose(quantizer.range(), (low, high), rtol=1e-5)  # frozen


def test_untrained_activation_quantizer_passes_through():
    x = np.array([[0.3, -7.0]], "float32")
    got = _fake_quant.ActivationQuantizer()(x, training=False)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(got), x)


def test_gradient_is_straight_through():
    quantizer = _fake_quant.ActivationQuantizer()
    x = np.linspace(-1, 1, 10, dtype="float32").reshape(2, 5)
    quantizer(x, training=True)
    grad = gradient(lambda v: quantizer(v, training=False), x * 0.5)
    np.testing.assert_allclose(grad, np.ones((2, 5)))


@pytest.mark.parametrize(
    "make", [cnn, mlp, subclassed], ids=["functional", "sequential", "subclassed"]
)
def test_same_function_before_training_up_to_weight_rounding(make):
    model = make()
    x = (
        images(8)[0]
        if make is not mlp
        else np.random.default_rng(0).normal(size=(8, 16)).astype("float32")
    )
    qat = compression.quantization_aware(model)
    assert compression.is_quantization_aware(qat) and not compression.is_quantization_aware(model)
    np.testing.assert_allclose(predict(qat, x), predict(model, x), atol=0.05)
    assert qat.name == model.name


def test_batch_norm_is_folded_as_the_converter_folds_it():
    model = cnn(batch_norm=True)
    norm = model.get_layer("bn")
    rng = np.random.default_rng(1)
    norm.moving_mean.assign(rng.normal(size=4).astype("float32"))
    norm.moving_variance.assign(rng.uniform(0.5, 2.0, size=4).astype("float32"))
    norm.gamma.assign(rng.uniform(0.5, 2.0, size=4).astype("float32"))
    x = images(8)[0]
    qat = compression.quantization_aware(model)
    wrapper = _wrap.find_wrapper(qat)
    assert wrapper._folded == {"conv": "bn"}
    names = [q.name for q in wrapper.quantizers]
    # The conv's range is its ReLU's (fused in TFLite): no range of its own.
    assert names == ["relu_output", "hidden_output", "logits_output"]
    np.testing.assert_allclose(predict(qat, x), predict(model, x), atol=0.05)
    unfolded = compression.quantization_aware(model, fold_batch_norm=False)
    assert _wrap.find_wrapper(unfolded)._folded == {}


@pytest.mark.slow
@pytest.mark.parametrize("make", [cnn, subclassed], ids=["functional", "subclassed"])
def test_trains_in_distiller_and_learns(make):
    x, y = images(96)
    teacher = cnn(name="teacher")
    compile_for_labels(teacher).fit(x, y, epochs=4, batch_size=16, verbose=0)
    qat = compression.quantization_aware(make())
    distiller = keras_kd.Distiller(teacher, qat, alpha=0.5)
    distiller.compile(
        keras.optimizers.Adam(1e-2),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    before = [keras.ops.convert_to_numpy(w).copy() for w in qat.trainable_weights]
    history = distiller.fit(x, y, epochs=4, batch_size=16, verbose=0)
    after = [keras.ops.convert_to_numpy(w) for w in qat.trainable_weights]
    assert all(not np.array_equal(b, a) for b, a in zip(before, after))
    assert history.history["loss"][-1] < history.history["loss"][0]
    ranges = _wrap.find_wrapper(qat).activation_ranges()
    assert all(low <= 0.0 < high for low, high in ranges.values()), ranges
    accuracy = np.mean(predict(qat, x).argmax(-1) == y)
    assert accuracy > 0.6


@pytest.mark.slow
def test_saves_loads_and_resumes_like_an_uninterrupted_run(tmp_path):
    x, y = images(64)

    def fresh():
        keras.utils.set_random_seed(3)
        return compile_for_labels(compression.quantization_aware(cnn()))

    whole = fresh()
    whole.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0)

    first = fresh()
    first.fit(x, y, epochs=1, batch_size=16, shuffle=False, verbose=0)
    path = os.path.join(tmp_path, "qat.keras")
    first.save(path)  # "killed" here
    resumed = keras.models.load_model(path)
    np.testing.assert_allclose(predict(resumed, x), predict(first, x), atol=1e-6)
    resumed.fit(x, y, epochs=1, batch_size=16, shuffle=False, verbose=0)
    for a, b in zip(whole.weights, resumed.weights):
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b), atol=1e-5, err_msg=a.path
        )


def test_saves_and_loads_a_subclassed_student(tmp_path):
    x, _ = images(16)
    qat = compression.quantization_aware(subclassed())
    compile_for_labels(qat).fit(x, images(16)[1], epochs=1, verbose=0)
    path = os.path.join(tmp_path, "qat.keras")
    qat.save(path)
    np.testing.assert_allclose(
        predict(keras.models.load_model(path), x), predict(qat, x), atol=1e-6
    )


class _Unbuilt(keras.Model):
    def call(self, x):
        return x


def _no_kernel_model():
    return keras.Sequential([keras.Input((4,)), keras.layers.ReLU()])


def _lstm_model():
    return keras.Sequential(
        [keras.Input((5, 4)), keras.layers.LSTM(3, name="recurrent"), keras.layers.Dense(2)]
    )


@pytest.mark.parametrize(
    "model, words",
    [
        (lambda: "model.keras", "takes a Keras model"),
        (lambda: keras.layers.Dense(3), "takes a Keras model"),
        (lambda: keras.Sequential([keras.layers.Dense(3)]), "is not built"),
        (_no_kernel_model, "no layer to quantize"),
        (_lstm_model, "'recurrent' \\(LSTM\\)"),
    ],
    ids=["path", "layer", "unbuilt", "no-kernel", "unsupported-layer"],
)
def test_hostile_models_are_refused_with_the_reason(model, words):
    with pytest.raises(ValueError, match=words):
        compression.quantization_aware(model())


def test_already_quantization_aware_is_refused():
    qat = compression.quantization_aware(mlp())
    with pytest.raises(ValueError, match="already quantization-aware"):
        compression.quantization_aware(qat)


def test_subclassed_model_without_config_is_refused():
    class NoConfig(keras.Model):
        def __init__(self, units):
            super().__init__()
            self.dense = keras.layers.Dense(units)

        def call(self, x):
            return self.dense(x)

    model = NoConfig(3)
    model(np.zeros((1, 4), "float32"))
    with pytest.raises(ValueError, match="needs get_config"):
        compression.quantization_aware(model)


def _conv1d_model():
    inputs = keras.Input((6, 2))
    h = keras.layers.Conv1D(3, 3, activation="relu", name="conv")(inputs)
    return keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Flatten()(h)))


def _depthwise1d_model():
    inputs = keras.Input((6, 2))
    h = keras.layers.DepthwiseConv1D(3, name="conv")(inputs)
    return keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Flatten()(h)))


def _conv3d_model():
    inputs = keras.Input((3, 3, 3, 1))
    h = keras.layers.Conv3D(2, 2, name="conv")(inputs)
    return keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Flatten()(h)))


def _conv2d_model():
    inputs = keras.Input((4, 4, 1))
    h = keras.layers.Conv2D(3, 3, name="conv")(inputs)
    return keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Flatten()(h)))


def two_input_concatenation():
    """Two inputs, a Dense and a raw input concatenated, then a Dense."""
    a, b = keras.Input((6,), name="a"), keras.Input((3,), name="b")
    h = keras.layers.Concatenate(name="concat")([keras.layers.Dense(4, name="dense")(a), b])
    return keras.Model([a, b], keras.layers.Dense(2, name="head")(h), name="two_inputs")


# (model, per-channel kernel range?) Per channel only where the converter
# carries it (CONV_2D, DEPTHWISE_CONV_2D); before, Conv1D/DepthwiseConv1D
# files were refused by the converter and Conv3D failed to train on TF.
@pytest.mark.parametrize(
    "make, per_channel",
    [
        (_conv1d_model, False),
        (_depthwise1d_model, False),
        (_conv3d_model, False),
        (_conv2d_model, True),
    ],
    ids=["conv1d", "depthwise1d", "conv3d", "conv2d"],
)
def test_kernel_ranges_are_per_channel_only_where_tflite_keeps_them(make, per_channel):
    qat = compression.quantization_aware(make())
    layer = _wrap.find_wrapper(qat).model.get_layer("conv")
    assert _layers.quantizes_per_channel(layer) == per_channel
    qat.compile("sgd", "mse")
    x = np.ones((2, *qat.input_shape[1:]), "float32")
    loss = qat.train_on_batch(x, np.zeros((2, 2), "float32"))  # Conv3D failed here on TF
    assert np.isfinite(loss)


def test_a_layer_feeding_a_concatenation_takes_its_range():
    # TFLite's int8 CONCATENATION quantizes its inputs to its own range:
    # a range of the Dense's own rounded first, and LiteRT differed from
    # Keras by several output steps.
    qat = compression.quantization_aware(two_input_concatenation())
    names = [q.name for q in _wrap.find_wrapper(qat).quantizers]
    assert names == ["concat_output", "head_output"]


def test_trains_under_a_mixed_precision_policy():
    # Failed on TensorFlow (float16 ranges met float32 batch statistics) and
    # on PyTorch (a float32 kernel against float16 inputs).
    policy = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        qat = compile_for_labels(compression.quantization_aware(cnn()))
    finally:
        keras.config.set_dtype_policy(policy)
    x, y = images(16)
    loss = qat.train_on_batch(x, y)
    assert np.isfinite(loss)
    ranges = _wrap.find_wrapper(qat).activation_ranges()
    assert all(low <= 0.0 < high for low, high in ranges.values()), ranges
    assert keras.backend.standardize_dtype(qat(x).dtype) == "float16"
