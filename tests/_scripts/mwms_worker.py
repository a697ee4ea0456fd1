"""One worker of a two-worker TensorFlow `MultiWorkerMirroredStrategy` on
localhost, training a plain Keras 3 model (no keras-kd).

Usage: `python mwms_worker.py PORT0 PORT1 TASK_INDEX`. Prints one JSON line:
`{"fitted": true}`, or `{"fitted": false, "error": "<type>: <message>"}`.
keras-team/keras#20585: Keras 3 fails here ("Attempt to convert a value
(PerReplica ...)"); the test that runs this tells when it stops failing.
"""

import json
import os
import sys

port0, port1, index = sys.argv[1:]
os.environ["KERAS_BACKEND"] = "tensorflow"
os.environ["TF_CONFIG"] = json.dumps(
    {
        "cluster": {"worker": [f"127.0.0.1:{port0}", f"127.0.0.1:{port1}"]},
        "task": {"type": "worker", "index": int(index)},
    }
)

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

strategy = tf.distribute.MultiWorkerMirroredStrategy()
with strategy.scope():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
x = np.random.default_rng(0).normal(size=(32, 4)).astype("float32")
dataset = tf.data.Dataset.from_tensor_slices((x, x[:, :2])).batch(8)
try:
    model.fit(dataset, epochs=1, verbose=0)
    print(json.dumps({"fitted": True}))
except Exception as error:  # Whatever Keras raises is reported.
    print(json.dumps({"fitted": False, "error": f"{type(error).__name__}: {error}"[:2000]}))
