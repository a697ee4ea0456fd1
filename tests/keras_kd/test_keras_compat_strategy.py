"""A distributed set-up Keras cannot train is refused at construction
(issue 20, defect 21): models built outside a tf.distribute strategy's
scope, with the Distiller inside, used to fail at fit with a bare
AssertionError."""

import keras
import numpy as np
import pytest

import keras_kd

pytestmark = pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="tf.distribute")


def dense():
    return keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])


@pytest.mark.parametrize("outside", ["teacher", "student"])
def test_models_built_outside_the_strategy_scope_are_named(outside):
    import tensorflow as tf

    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
    models = {outside: dense()}
    with strategy.scope():
        inside = "student" if outside == "teacher" else "teacher"
        models[inside] = dense()
        with pytest.raises(
            ValueError, match=rf"the {outside} '.*' was built outside it.*strategy.scope"
        ):
            keras_kd.Distiller(models["teacher"], models["student"])


def test_models_built_inside_the_scope_train():
    import tensorflow as tf

    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
    with strategy.scope():
        d = keras_kd.Distiller(dense(), dense(), alpha=0.0)
        d.compile("sgd")
    d.fit(np.zeros((8, 4), "float32"), epochs=1, verbose=0)
