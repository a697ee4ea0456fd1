"""`quantization_aware`: a model that trains with int8 rounding simulated."""

from keras_kd.compression import _checks
from keras_kd.compression import _wrap


def quantization_aware(model, fold_batch_norm=True):
    """A quantization-aware copy of `model`: same function, int8 simulated.

    Weights are rounded to int8 per output channel (symmetric, narrow range,
    as TFLite stores them) and activations per tensor (asymmetric, over
    ranges tracked by a moving average in training and frozen in
    inference), with straight-through gradients. Train it like any model,
    or as the student of `keras_kd.Distiller`, on TensorFlow, JAX or
    PyTorch; then `tflite_export.convert(qat, "student.tflite",
    quantization="int8")` writes an int8 file from the learned ranges, with
    no representative data.

    Args:
        model: A built Keras model: Functional, Sequential or subclassed
            (which needs `get_config()`, as for saving it). Its weights are
            copied; the model itself is left as it is. A model returned by
            `pruning_aware` keeps its masks, so its zeros stay zero in int8.
        fold_batch_norm: Fold each `BatchNormalization` that follows a
            `Dense` or convolution (with no activation in between) into its
            kernel and bias before quantizing, as the TFLite converter folds
            it; its statistics are then frozen. Subclassed models have no
            layer graph, so their normalizations are never folded.

    Returns:
        A Functional Keras model with the same inputs and outputs, which
        saves and loads as `.keras`.

    Raises:
        ValueError: `model` is not a built Keras model, has no Dense or
            convolution layer, or holds a layer with trainable weights that
            cannot be quantized (the error names it).

    Example:

    >>> import keras, numpy as np
    >>> from keras_kd import compression
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    >>> qat = compression.quantization_aware(model)
    >>> qat.compile("adam", "mse")
    >>> _ = qat.fit(np.ones((8, 4)), np.zeros((8, 3)), verbose=0)
    >>> tuple(qat(np.ones((1, 4))).shape)
    (1, 3)
    """
    _checks.check_model(model, "quantization_aware")
    wrapper = _wrap.find_wrapper(model)
    if wrapper is not None:
        if wrapper.quantize:
            raise ValueError(f"The model {model.name!r} is already quantization-aware.")
        # A pruning-aware model: keep its masks and step, add quantization.
        inner = _wrap.copy_model(wrapper.model)
        result = _wrap.compressed_model(
            inner, True, wrapper.pruning, fold_batch_norm, name=model.name
        )
        new = _wrap.find_wrapper(result)
        for old_mask, new_mask in zip(wrapper.masks, new.masks):
            new_mask.assign(old_mask)
        new.step.assign(wrapper.step)
        return result
    inner = _wrap.copy_model(model)
    return _wrap.compressed_model(inner, True, None, fold_batch_norm, name=model.name)


def is_quantization_aware(model):
    """Whether `model` was made by `quantization_aware` (and so converts to
    int8 with no representative data)."""
    wrapper = _wrap.find_wrapper(model)
    return wrapper is not None and wrapper.quantize
