"""`pruning_aware` and `strip`: magnitude pruning during training."""

import numbers

import keras

from keras_kd.compression import _checks
from keras_kd.compression import _layers
from keras_kd.compression import _sparsity
from keras_kd.compression import _wrap


def pruning_aware(
    model,
    target_sparsity=0.8,
    begin_step=0,
    end_step=1000,
    frequency=100,
    initial_sparsity=0.0,
    block_size=(1, 1),
):
    """A copy of `model` whose kernels are pruned by magnitude as it trains.

    Each Dense and convolution kernel gets a 0/1 mask (a non-trainable
    variable) that zeroes its smallest-magnitude weights. From `begin_step`
    to `end_step`, every `frequency` training steps, the masks are
    recomputed for the sparsity of Zhu & Gupta's (2017) schedule,
    `s_t = s_f + (s_i - s_f) * (1 - (t - begin_step) / (end_step - begin_step))**3`;
    the step counter is a variable too, so the schedule resumes with a
    checkpoint. The update runs inside the compiled training step, on every
    backend. Other layers are left dense.

    Args:
        model: A built Keras model (Functional, Sequential, or subclassed
            with `get_config()`); its weights are copied.
        target_sparsity: Final share of each kernel's weights set to zero,
            in [0, 1).
        begin_step: Training step of the first pruning.
        end_step: Step at which `target_sparsity` is reached (>= begin_step).
        frequency: Steps between mask updates (>= 1).
        initial_sparsity: Sparsity at `begin_step`, in [0, 1).
        block_size: `(rows, cols)`: weights pruned together in blocks of
            the kernel seen as a (inputs, output channels) matrix, e.g.
            `(1, 4)`; `(1, 1)` prunes single weights. Kernels the blocks do
            not tile (e.g. a 10-class head with `(1, 4)`) stay dense.

    Returns:
        A Functional Keras model computing the same function with masked
        kernels; `strip` turns it into a plain model.

    Example:

    >>> import keras, numpy as np
    >>> from keras_kd import compression
    >>> model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(4)])
    >>> pruned = compression.pruning_aware(model, target_sparsity=0.5,
    ...                                    begin_step=0, end_step=2, frequency=1)
    >>> pruned.compile("sgd", "mse")
    >>> _ = pruned.fit(np.ones((12, 8)), np.zeros((12, 4)), batch_size=4, verbose=0)
    >>> kernel = compression.strip(pruned).layers[-1].kernel
    >>> float(np.mean(keras.ops.convert_to_numpy(kernel) == 0))
    0.5
    """
    _checks.check_model(model, "pruning_aware")
    if _wrap.find_wrapper(model) is not None:
        raise ValueError(
            f"The model {model.name!r} is already compressed; prune the float model "
            "first, then make it quantization-aware (the masks are kept)."
        )
    settings = {
        "target_sparsity": _checks.check_share(target_sparsity, "target_sparsity"),
        "initial_sparsity": _checks.check_share(initial_sparsity, "initial_sparsity"),
        "begin_step": _checks.check_int(begin_step, "begin_step", 0),
        "end_step": _checks.check_int(end_step, "end_step", 0),
        "frequency": _checks.check_int(frequency, "frequency", 1),
        "block_size": _check_block(block_size),
    }
    if settings["end_step"] < settings["begin_step"]:
        raise ValueError(
            "`end_step` must not come before `begin_step`. Received: "
            f"begin_step={begin_step}, end_step={end_step}"
        )
    if settings["initial_sparsity"] > settings["target_sparsity"]:
        raise ValueError(
            "`initial_sparsity` must not exceed `target_sparsity`. Received: "
            f"initial_sparsity={initial_sparsity}, target_sparsity={target_sparsity}"
        )
    inner = _wrap.copy_model(model)
    return _wrap.compressed_model(inner, False, settings, True, name=model.name)


def _check_block(block_size):
    if (
        not isinstance(block_size, (tuple, list))
        or len(block_size) != 2
        or any(
            isinstance(b, bool) or not isinstance(b, numbers.Integral) or b < 1 for b in block_size
        )
    ):
        raise ValueError(
            "`block_size` must be two positive integers (rows, cols), e.g. (1, 4). "
            f"Received: block_size={block_size!r}"
        )
    return tuple(int(b) for b in block_size)


def strip(model):
    """The plain model inside a compressed one, with the pruned zeros in place.

    Args:
        model: A model returned by `pruning_aware` or `quantization_aware`.

    Returns:
        A new model of the original class and architecture with the trained
        float weights; pruned weights are exact zeros. (Quantization is
        dropped: convert the quantization-aware model itself to get int8.)

    Example:

    >>> import keras
    >>> from keras_kd import compression
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    >>> type(compression.strip(compression.pruning_aware(model))).__name__
    'Sequential'
    """
    wrapper = _wrap.find_wrapper(model)
    if wrapper is None:
        raise ValueError(
            "strip takes a model returned by pruning_aware or quantization_aware. "
            f"Received: {type(model).__name__} {getattr(model, 'name', '')!r}"
        )
    plain = _wrap.copy_model(wrapper.model)
    kernels = wrapper.pruned_kernels()
    # Matched by position: a subclassed copy's layers get new default names.
    pairs = zip(_layers.leaf_layers(wrapper.model), _layers.leaf_layers(plain))
    for compressed_layer, plain_layer in pairs:
        if compressed_layer.name in kernels:
            plain_layer.kernel.assign(kernels[compressed_layer.name])
    return plain


def sparsity(model):
    """`{layer name: share of zeros}` of each pruned kernel (masked).

    Args:
        model: A model returned by `pruning_aware` (or `strip`ped from it).
    """
    wrapper = _wrap.find_wrapper(model)
    if wrapper is not None:
        return {name: _sparsity.zero_share(k) for name, k in wrapper.pruned_kernels().items()}
    return {
        layer.name: _sparsity.zero_share(keras.ops.convert_to_numpy(layer.kernel))
        for layer in _layers.leaf_layers(model)
        if _layers.is_kernel_layer(layer)
    }
