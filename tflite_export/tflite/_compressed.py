"""What `convert` does with a model from `keras_kd.compression`.

- A quantization-aware model converts as it is, to `"int8"` or `"int8_io"`:
  its weights and activation ranges reach the converter as FakeQuant ops,
  so no representative data is needed (and any given is refused, as it
  would be ignored).
- A pruning-aware model (not quantization-aware) is `strip`ped first: the
  plain model, zeros in place, converts in any mode.
- A quantization-aware model trained under a float16 or bfloat16 policy
  (e.g. `mixed_float16`) converts as its float32 copy, same weights and
  ranges: the converter's int8 pass takes float32 graphs only (else
  "'tfl.sub' op failed to verify that binary op operands have same element
  type").
"""

import keras

from keras_kd import _keras_compat
from keras_kd import compression
from keras_kd.compression import _wrap

LEARNED_RANGE_MODES = ("int8", "int8_io")


def prepare(model, mode, representative_data):
    """`(model to convert, whether its ranges are learned)` for `convert`.

    Raises:
        ValueError: A quantization-aware model asked for another mode, given
            representative data, or never trained (no ranges yet).
    """
    wrapper = _wrap.find_wrapper(model)
    if wrapper is None:
        return model, False
    if not wrapper.quantize:
        return compression.strip(model), False
    if mode.name not in LEARNED_RANGE_MODES:
        raise ValueError(
            f"A quantization-aware model converts to int8: quantization='int8' or "
            f"'int8_io'. Received: quantization={mode.name!r}. For another mode, "
            "convert keras_kd.compression.strip(model), the float model."
        )
    if representative_data is not None:
        raise ValueError(
            "A quantization-aware model carries its own int8 ranges, learned in "
            "training; representative_data would be ignored. Leave it out."
        )
    quantizers = [*wrapper.input_quantizers, *wrapper.quantizers]
    untracked = [q.name for q in quantizers if not q.is_tracked()]
    if untracked:
        raise ValueError(
            "The quantization-aware model has not been trained yet, so these "
            f"activation ranges are unknown: {', '.join(untracked)}. Train it "
            "(fit, or as a Distiller's student) for at least one step, then convert."
        )
    if _computes_below_float32(model):
        model = _float32_copy(model)
    return model, True


def _computes_below_float32(model):
    layers = [model, *_keras_compat.sublayers(model, recursive=True)]
    wrapper = _wrap.find_wrapper(model)
    layers += _keras_compat.sublayers(wrapper.model, recursive=True)
    return any(layer.compute_dtype != "float32" for layer in layers)


def _float32_copy(model):
    """`model` rebuilt with every layer computing in float32, same weights."""

    def float32(config):
        if isinstance(config, dict):
            if config.get("class_name") in ("DTypePolicy", "FloatDTypePolicy"):
                return {**config, "config": {**config["config"], "name": "float32"}}
            return {key: float32(item) for key, item in config.items()}
        if isinstance(config, list):
            return [float32(item) for item in config]
        return config

    config = float32(keras.saving.serialize_keras_object(model))
    copy = keras.saving.deserialize_keras_object(config)
    copy.set_weights(model.get_weights())
    return copy
