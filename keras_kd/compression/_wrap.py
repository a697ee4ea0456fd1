"""`CompressedModel`: a model's copy whose layers compute compressed.

How it works on every backend: the wrapper owns a copy of the model and
replaces, on that copy's layer instances, the `call` method of each layer it
compresses (an instance attribute; the classes are untouched). Keras calls a
layer's `call` the same way whether the model is Functional, Sequential or
subclassed, and whether it runs on TensorFlow, JAX or PyTorch, so one
mechanism serves them all; the new calls are written in `keras.ops` only.
The compression state (activation ranges, pruning masks, the step counter)
lives in non-trainable variables of the wrapper, updated in training calls
the way `BatchNormalization` updates its statistics, so it is saved in
`.keras` files and checkpoints and is resumed with them.

The public model is a Functional model around this layer
(`compressed_model`), so it has `inputs` and converts like any other.
"""

import keras
from keras import ops

from keras_kd import _keras_compat
from keras_kd.compression import _fake_quant
from keras_kd.compression import _layers
from keras_kd.compression import _registration
from keras_kd.compression import _sparsity


@_registration.register
class CompressedModel(keras.layers.Layer):
    """A model whose kernel layers compute quantized and/or pruned.

    Use `keras_kd.compression.quantization_aware` and `pruning_aware`
    rather than this class.

    Args:
        model: A built Keras model, owned by the wrapper from now on (its
            layers' calls are replaced).
        quantize: Whether weights and activations are fake-quantized to int8.
        pruning: `None`, or a dict of pruning settings (`target_sparsity`,
            `initial_sparsity`, `begin_step`, `end_step`, `frequency`,
            `block_size`).
        fold_batch_norm: Whether normalizations that follow a kernel layer
            are folded into it (quantization only).
        **kwargs: Base layer arguments.
    """

    def __init__(self, model, quantize=False, pruning=None, fold_batch_norm=True, **kwargs):
        super().__init__(**kwargs)
        self.model = model
        self.quantize = bool(quantize)
        self.pruning = None if pruning is None else dict(pruning)
        self.fold_batch_norm = bool(fold_batch_norm)
        self._training = False
        leaves = _layers.leaf_layers(model)
        self._check_supported(leaves)
        folds = _layers.batch_norm_folds(model) if self.quantize and self.fold_batch_norm else {}
        self._folded = {name: norm.name for name, norm in folds.items()}
        self.step = self.add_weight(
            shape=(), dtype="int32", initializer="zeros", trainable=False, name="step"
        )
        self.input_quantizers = []
        if self.quantize:
            self.input_quantizers = [
                _fake_quant.ActivationQuantizer(name=f"input_{i}_quantizer")
                for i in range(len(_float_inputs(model)))
            ]
        self.masks = []
        self.quantizers = []
        self._pruned_layers = []
        folded_norms = {norm.name for norm in folds.values()}
        fused = _layers.fused_activations(model, folds) if self.quantize else set()
        for layer in leaves:
            kind = _layers.kind_of(layer)
            if kind == _layers.KERNEL:
                own_range = not (layer.name in fused or _layers.feeds_concatenation(layer))
                self._install_kernel_call(layer, folds.get(layer.name), own_range)
            elif self.quantize and layer.name in folded_norms:
                layer.call = _identity
            elif self.quantize and kind == _layers.OUTPUT:
                self._install_output_call(layer, own_range=not _layers.feeds_concatenation(layer))
        self.built = True

    # -- setup ---------------------------------------------------------------

    def _check_supported(self, leaves):
        kernels = [layer for layer in leaves if _layers.kind_of(layer) == _layers.KERNEL]
        if not kernels:
            what = "quantize" if self.quantize else "prune"
            found = ", ".join(f"{x.name} ({type(x).__name__})" for x in leaves) or "none"
            raise ValueError(
                f"The model {self.model.name!r} has no layer to {what}: it needs at "
                "least one Dense, Conv1D/2D/3D or DepthwiseConv1D/2D layer. Its "
                f"layers: {found}."
            )
        for layer in kernels:
            if getattr(layer, "lora_enabled", False) or getattr(layer, "quantization_mode", None):
                raise ValueError(
                    f"Layer {layer.name!r} ({type(layer).__name__}) is LoRA-enabled or "
                    "already quantized with model.quantize(); compress the float "
                    "model instead."
                )
        if self.pruning is not None:
            block = self.pruning["block_size"]
            if not any(_sparsity.tiles(block, layer.kernel.shape) for layer in kernels):
                raise ValueError(
                    f"block_size={tuple(block)} tiles none of the kernels of "
                    f"{self.model.name!r} (each seen as an inputs x output channels "
                    "matrix): "
                    + ", ".join(
                        f"{k.name} {_sparsity.matrix_shape(k.kernel.shape)}" for k in kernels
                    )
                    + ". Choose a block size dividing them, or (1, 1)."
                )
        if not self.quantize:
            return
        unsupported = [x for x in leaves if _layers.kind_of(x) == _layers.UNSUPPORTED]
        if unsupported:
            names = ", ".join(f"{x.name!r} ({type(x).__name__})" for x in unsupported)
            raise ValueError(
                f"quantization_aware does not support the layer(s) {names}: layers "
                "with trainable weights must be Dense, Conv1D/2D/3D, "
                "DepthwiseConv1D/2D or BatchNormalization. Replace them, or "
                "quantize after training with tflite_export.convert(..., "
                "quantization='int8', representative_data=...)."
            )

    def _install_kernel_call(self, layer, norm, own_range):
        mask = None
        block = None if self.pruning is None else self.pruning["block_size"]
        if block is not None and _sparsity.tiles(block, layer.kernel.shape):
            mask = self.add_weight(
                shape=tuple(layer.kernel.shape),
                initializer="ones",
                trainable=False,
                name=f"{layer.name}_mask",
            )
            self.masks.append(mask)
            self._pruned_layers.append(layer)
        pre_activation = output = None
        if self.quantize:
            if _layers.activation_name(layer) not in _layers.FUSED_ACTIVATIONS:
                pre_activation = _fake_quant.ActivationQuantizer(
                    name=f"{layer.name}_pre_activation"
                )
                self.quantizers.append(pre_activation)
            if own_range:  # else a fused activation's or concatenation's range
                output = _fake_quant.ActivationQuantizer(name=f"{layer.name}_output")
                self.quantizers.append(output)
        wrapper = self

        def call(inputs, *args, **kwargs):
            kernel = _layers.value(layer.kernel)
            if mask is not None:
                kernel = kernel * ops.cast(_layers.value(mask), kernel.dtype)
            bias = _layers.value(layer.bias) if layer.use_bias else None
            if norm is not None:
                kernel, bias = _layers.fold_batch_norm(kernel, bias, norm)
            if wrapper.quantize:
                view = _layers.kernel_channel_view(layer, kernel)
                per_channel = _layers.quantizes_per_channel(layer)
                kernel = ops.reshape(
                    _fake_quant.fake_quantize_weights(view, per_channel), kernel.shape
                )
            outputs = _layers.linear_call(layer, inputs, kernel, bias)
            if pre_activation is not None:
                outputs = pre_activation(outputs, training=wrapper._training)
            if layer.activation is not None:
                outputs = layer.activation(outputs)
            if output is not None:
                outputs = output(outputs, training=wrapper._training)
            return outputs

        layer.call = call

    def _install_output_call(self, layer, own_range=True):
        if not own_range:  # the concatenation it feeds gives the range
            return
        quantizer = _fake_quant.ActivationQuantizer(name=f"{layer.name}_output")
        self.quantizers.append(quantizer)
        original = type(layer).call.__get__(layer)
        wrapper = self

        def call(*args, **kwargs):
            outputs = original(*args, **kwargs)
            if not hasattr(outputs, "shape"):
                raise ValueError(
                    f"Layer {layer.name!r} ({type(layer).__name__}) returns several "
                    "tensors; quantization_aware quantizes layers with one output."
                )
            return quantizer(outputs, training=wrapper._training)

        layer.call = call

    # -- call ----------------------------------------------------------------

    def call(self, inputs, training=False):
        training = bool(training)
        if training and self.pruning is not None:
            self._update_masks()
        if training:
            _layers.assign(self.step, _layers.value(self.step) + 1)
        if self.quantize:
            flat = keras.tree.flatten(inputs)
            quantized = iter(self.input_quantizers)
            flat = [next(quantized)(x, training=training) if _is_float(x) else x for x in flat]
            inputs = keras.tree.pack_sequence_as(inputs, flat)
        self._training = training
        try:
            return self.model(inputs, training=training)
        finally:
            self._training = False

    def _update_masks(self):
        settings = self.pruning
        step = _layers.value(self.step)
        due = _sparsity.is_update_step(
            step, settings["begin_step"], settings["end_step"], settings["frequency"]
        )
        sparsity = _sparsity.sparsity_at(
            step,
            settings["target_sparsity"],
            settings["begin_step"],
            settings["end_step"],
            settings["initial_sparsity"],
        )
        for layer, mask in zip(self._pruned_layers, self.masks):
            kernel = ops.stop_gradient(_masked(layer, mask))
            fresh = _sparsity.magnitude_mask(kernel, sparsity, self.pruning["block_size"])
            _layers.assign(mask, ops.where(due, ops.cast(fresh, mask.dtype), _layers.value(mask)))

    def compute_output_spec(self, inputs, training=False):
        return self.model.compute_output_spec(inputs)

    # -- state ---------------------------------------------------------------

    def pruned_kernels(self):
        """`{layer name: masked kernel as NumPy}` of the pruned layers."""
        return {
            layer.name: ops.convert_to_numpy(_masked(layer, mask))
            for layer, mask in zip(self._pruned_layers, self.masks)
        }

    def activation_ranges(self):
        """`{quantizer name: (min, max)}` of every activation quantizer."""
        return {q.name: q.range() for q in [*self.input_quantizers, *self.quantizers]}

    def get_config(self):
        return {
            **super().get_config(),
            "model": keras.saving.serialize_keras_object(self.model),
            "quantize": self.quantize,
            "pruning": self.pruning,
            "fold_batch_norm": self.fold_batch_norm,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["model"] = keras.saving.deserialize_keras_object(config["model"])
        if config.get("pruning") is not None:
            config["pruning"]["block_size"] = tuple(config["pruning"]["block_size"])
        return cls(**config)


def _masked(layer, mask):
    kernel = _layers.value(layer.kernel)
    return kernel * ops.cast(_layers.value(mask), kernel.dtype)


def _identity(inputs, *args, **kwargs):
    return inputs


def _is_float(x):
    return "float" in keras.backend.standardize_dtype(x.dtype)


def _float_inputs(model):
    """The float inputs of `model` (quantized on the way in)."""
    return [x for x in keras.tree.flatten(model_inputs(model)) if _is_float(x)]


def model_inputs(model):
    """`keras.Input` tensors matching `model`'s inputs (its own, if it has them).

    Raises:
        ValueError: The model was never built, or a subclassed model takes
            more than one argument.
    """
    if not model.built:
        raise ValueError(
            f"The model {model.name!r} is not built: call it once on data, or "
            "build it with an input shape, before compressing it."
        )
    struct = _keras_compat.functional_inputs(model)
    if struct is None and isinstance(model, keras.Sequential):
        struct = model.inputs[0]
    if struct is not None:
        return keras.tree.map_structure(
            lambda t: keras.Input(shape=t.shape[1:], dtype=t.dtype, name=t.name), struct
        )
    shapes = model.get_build_config() or {}
    if "input_shape" not in shapes:
        raise ValueError(
            f"Cannot tell the input shape of the subclassed model {model.name!r} "
            f"(its build record is {shapes!r}); compression supports subclassed "
            "models whose call() takes one input. Build it with model.build(shape) "
            "or call it once on data."
        )
    shape = shapes["input_shape"]
    return keras.tree.map_shape_structure(lambda s: keras.Input(shape=tuple(s)[1:]), shape)


def find_wrapper(model):
    """The `CompressedModel` inside a compressed model, or `None`."""
    if isinstance(model, CompressedModel):
        return model
    if isinstance(model, keras.Model) and not isinstance(model, keras.Sequential):
        layers = [x for x in getattr(model, "layers", []) if isinstance(x, CompressedModel)]
        if len(layers) == 1:
            return layers[0]
    return None


def copy_model(model):
    """A copy of `model` (same class, config and weights), built."""
    try:
        copy = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(model))
    except Exception as error:  # NotImplementedError, TypeError from get_config
        raise ValueError(
            f"Cannot copy the model {model.name!r} ({type(model).__name__}) through "
            f"its config: {error}. A subclassed model needs get_config() (and "
            "@keras.saving.register_keras_serializable()), as for saving it as .keras."
        ) from None
    if not copy.built:
        copy.build_from_config(model.get_build_config())
    copy.set_weights(model.get_weights())
    return copy


def compressed_model(inner, quantize, pruning, fold_batch_norm, name):
    """The public Functional model around a new `CompressedModel`."""
    inputs = model_inputs(inner)
    layer = CompressedModel(
        inner,
        quantize=quantize,
        pruning=pruning,
        fold_batch_norm=fold_batch_norm,
        name="compressed",
    )
    return keras.Model(inputs, layer(inputs), name=name)
