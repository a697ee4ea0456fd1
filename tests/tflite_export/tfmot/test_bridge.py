"""The Keras 3 -> tf-keras bridge: same function, same weights, clear errors.
Runs under each KERAS_BACKEND (the clone itself is always tf-keras)."""

import keras
import numpy as np
import pytest

from tflite_export import tfmot

L = keras.layers


def every_layer_model():
    """A Functional model using every layer the bridge lists, plus a nested
    Sequential, with random (not initial) weights everywhere."""
    image = keras.Input((12, 12, 3), name="image")
    x = L.Rescaling(1 / 2.0, offset=0.1)(image)
    x = L.ZeroPadding2D(1)(x)
    x = L.Conv2D(4, 3, kernel_regularizer="l2")(x)
    x = L.BatchNormalization()(x)
    x = L.ReLU(max_value=6.0)(x)
    x = L.Add()(
        [L.DepthwiseConv2D(3, padding="same")(x), L.SeparableConv2D(4, 3, padding="same")(x)]
    )
    x = L.AveragePooling2D(1)(L.MaxPooling2D()(x))
    pooled_2d = [L.GlobalAveragePooling2D()(x), L.GlobalMaxPooling2D()(x)]
    seq = L.Reshape((-1, 4))(L.Flatten()(x))
    seq = L.Conv1D(3, 2, activation="relu")(seq)
    seq = L.AveragePooling1D(1)(L.MaxPooling1D()(seq))
    pooled_1d = [L.GlobalAveragePooling1D()(seq), L.GlobalMaxPooling1D()(seq)]
    x = L.Concatenate()(pooled_2d + pooled_1d)
    x = L.Activation("tanh")(L.Dense(8)(L.Dropout(0.3)(x)))
    head = keras.Sequential([keras.Input((8,)), L.Dense(5), L.Softmax()], name="head")
    model = keras.Model(image, head(x), name="every_layer")
    rng = np.random.default_rng(0)
    for weight in model.weights:
        values = rng.normal(scale=0.3, size=weight.shape)
        if "variance" in weight.path:
            values = np.abs(values) + 0.5
        weight.assign(values.astype("float32"))
    return model


@pytest.mark.slow
def test_clone_of_every_listed_layer_matches_to_1e_5():
    model = every_layer_model()
    clone = tfmot.to_tf_keras(model)
    x = np.random.default_rng(1).normal(size=(6, 12, 12, 3)).astype("float32")
    expected = keras.ops.convert_to_numpy(model(x, training=False))
    np.testing.assert_allclose(clone(x, training=False).numpy(), expected, atol=1e-5)
    import tf_keras

    assert isinstance(clone, tf_keras.Model)
    cloned = {type(layer).__name__ for layer in clone.layers}
    cloned |= {type(layer).__name__ for layer in clone.get_layer("head").layers}
    listed = set(tfmot.SUPPORTED_LAYERS) - {
        "Subtract",
        "Multiply",
        "Average",
        "Maximum",
        "Minimum",
        "ZeroPadding1D",
    }
    assert listed <= cloned
    assert len(clone.losses) == 1  # the L2 kernel regularizer came along


def test_sequential_clone_and_weights_back():
    model = keras.Sequential(
        [keras.Input((5,)), L.Dense(4, activation="relu"), L.Dense(3)], name="seq"
    )
    clone = tfmot.to_tf_keras(model)
    x = np.random.default_rng(2).normal(size=(8, 5)).astype("float32")
    np.testing.assert_allclose(clone(x).numpy(), keras.ops.convert_to_numpy(model(x)), atol=1e-5)
    for weight in clone.weights:
        weight.assign(weight.numpy() * 2.0)
    fresh = keras.models.clone_model(model)
    tfmot.set_layer_weights(fresh, tfmot.layer_weights(clone))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(fresh(x)), clone(x).numpy(), atol=1e-5)


def test_weights_of_another_architecture_are_refused():
    model = keras.Sequential([keras.Input((5,)), L.Dense(4, name="d")])
    other = keras.Sequential([keras.Input((6,)), L.Dense(4, name="d")])
    with pytest.raises(ValueError, match=r"Layer 'd' \(Dense\) holds weights of shapes"):
        tfmot.set_layer_weights(model, tfmot.layer_weights(other))


def test_unsupported_layer_is_named_with_its_class():
    model = keras.Sequential([keras.Input((5,)), L.LayerNormalization(name="norm"), L.Dense(2)])
    with pytest.raises(
        ValueError,
        match=r"cannot clone layer 'norm' of class "
        r"keras\.src\.layers\.normalization\.layer_normalization\.LayerNormalization",
    ):
        tfmot.to_tf_keras(model)


def doubled(t):
    return t * 2.0


def test_custom_activation_is_refused():
    model = keras.Sequential([keras.Input((5,)), L.Dense(2, activation=doubled, name="odd")])
    with pytest.raises(ValueError, match=r"layer 'odd' .*activation .* is not a built-in"):
        tfmot.check_bridgeable(model)


class Subclassed(keras.Model):
    def __init__(self):
        super().__init__(name="mine")
        self.dense = L.Dense(2)

    def call(self, x):
        return self.dense(x)


def test_subclassed_model_is_refused_with_the_reason():
    model = Subclassed()
    model(np.zeros((1, 3), "float32"))
    with pytest.raises(
        ValueError,
        match=r"'mine' is a subclassed model .* needs a Sequential or "
        r"Functional model\. TFMOT .* works on tf-keras only",
    ):
        tfmot.to_tf_keras(model)


def test_not_a_model_is_refused():
    with pytest.raises(ValueError, match="must be a Keras 3 model .* numpy.ndarray"):
        tfmot.check_bridgeable(np.zeros(3))
