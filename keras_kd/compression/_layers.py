"""Which layer gets which treatment, and the math of a compressed kernel layer.

Every leaf layer of the model is put in one of four groups:

- kernel layers (`Dense`, `Conv1D/2D/3D`, `DepthwiseConv1D/2D`): their call
  is replaced by one computing with the masked, folded, fake-quantized
  kernel (`kernel_call`), then the activation ranges;
- range-keeping layers (pooling by maximum, reshapes, dropout, padding...):
  left alone, the int8 tensor passes through them with its scale, as in
  TFLite;
- other weightless layers, and layers with only non-trainable weights
  (`Activation`, `Add`, `Concatenate`, `Rescaling`, `Normalization`...): their
  output gets an activation quantizer;
- any other layer with trainable weights (`LSTM`, `Embedding`,
  `LayerNormalization`...): not supported for quantization (named in the
  error); left dense by pruning.

A `BatchNormalization` that follows a linear kernel layer as its only
consumer in a Functional or Sequential graph is folded into it, the way the
TFLite converter folds it: `w' = w * gamma / sqrt(var + eps)`,
`b' = beta + (b - mean) * gamma / sqrt(var + eps)`, then `w'` is quantized.
"""

import keras
from keras import ops

from keras_kd import _keras_compat

KERNEL_LAYERS = (
    keras.layers.Dense,
    keras.layers.Conv1D,
    keras.layers.Conv2D,
    keras.layers.Conv3D,
    keras.layers.DepthwiseConv1D,
    keras.layers.DepthwiseConv2D,
)
# Subclasses of the convolutions above whose math differs: not kernel layers.
_NOT_KERNEL_LAYERS = (
    keras.layers.Conv1DTranspose,
    keras.layers.Conv2DTranspose,
    keras.layers.Conv3DTranspose,
)

RANGE_KEEPING_LAYERS = (
    keras.layers.InputLayer,
    keras.layers.Flatten,
    keras.layers.Reshape,
    keras.layers.Permute,
    keras.layers.RepeatVector,
    keras.layers.Identity,
    keras.layers.Dropout,
    keras.layers.SpatialDropout1D,
    keras.layers.SpatialDropout2D,
    keras.layers.SpatialDropout3D,
    keras.layers.GaussianNoise,
    keras.layers.GaussianDropout,
    keras.layers.AlphaDropout,
    keras.layers.ActivityRegularization,
    keras.layers.MaxPooling1D,
    keras.layers.MaxPooling2D,
    keras.layers.MaxPooling3D,
    keras.layers.GlobalMaxPooling1D,
    keras.layers.GlobalMaxPooling2D,
    keras.layers.GlobalMaxPooling3D,
    keras.layers.ZeroPadding1D,
    keras.layers.ZeroPadding2D,
    keras.layers.ZeroPadding3D,
    keras.layers.Cropping1D,
    keras.layers.Cropping2D,
    keras.layers.Cropping3D,
)

# Activations TFLite fuses into its FULLY_CONNECTED and CONV ops: one range,
# after the activation. Any other gets a range before it too.
FUSED_ACTIVATIONS = ("linear", "relu", "relu6")

KERNEL, KEEP, OUTPUT, UNSUPPORTED = "kernel", "keep", "output", "unsupported"


def value(variable):
    """The tensor of a Keras variable (JAX's ops refuse the variable itself),
    in the variable's own dtype even under a mixed-precision policy."""
    if isinstance(variable, keras.Variable):
        with _keras_compat.without_autocast():
            # A tensor read now: TensorFlow would convert the variable itself
            # later, in the layer's autocast scope.
            return ops.copy(variable.value)
    return variable


def assign(variable, new_value):
    """`variable.assign(new_value)` that lands under a mixed-precision policy
    too (on PyTorch, an assignment in a float16 layer call wrote into the
    float16 copy read for the call, and was lost)."""
    with _keras_compat.without_autocast():
        variable.assign(new_value)


def is_kernel_layer(layer):
    return isinstance(layer, KERNEL_LAYERS) and not isinstance(layer, _NOT_KERNEL_LAYERS)


def leaf_layers(model):
    """The model's units of computation, in a fixed order.

    Keras' own layers are units even when they hold others (`LSTM` holds its
    cell, `Bidirectional` its RNNs); models and the user's own layers are
    looked into.
    """
    leaves = []

    def visit(layer):
        for child in _keras_compat.sublayers(layer):
            own = type(child).__module__.startswith("keras.")
            if isinstance(child, keras.Model) or not (own or _is_leaf(child)):
                visit(child)
            else:
                leaves.append(child)

    visit(model)
    return leaves


def _is_leaf(layer):
    return not _keras_compat.sublayers(layer)


def kind_of(layer):
    """`KERNEL`, `KEEP`, `OUTPUT` or `UNSUPPORTED` (see the module doc)."""
    if is_kernel_layer(layer):
        return KERNEL
    if isinstance(layer, RANGE_KEEPING_LAYERS):
        return KEEP
    if isinstance(layer, keras.layers.BatchNormalization) or not layer.trainable_weights:
        return OUTPUT
    return UNSUPPORTED


def activation_name(layer):
    activation = getattr(layer, "activation", None)
    if activation is None:
        return "linear"
    return getattr(activation, "__name__", type(activation).__name__)


def batch_norm_folds(model):
    """`{kernel layer name: BatchNormalization layer}` for the foldable pairs.

    A pair folds when, in the model's graph, the normalization's one input
    is the output of a kernel layer with a linear activation, called once,
    whose output feeds nothing else. Subclassed models have no graph: none
    of their normalizations fold.
    """
    folds = {}
    for layer in leaf_layers(model):
        if not isinstance(layer, keras.layers.BatchNormalization):
            continue
        neighbours = _keras_compat.graph_neighbours(layer)
        if neighbours is None or len(neighbours[0]) != 1:
            continue
        parent = neighbours[0][0]
        if (
            is_kernel_layer(parent)
            and activation_name(parent) == "linear"
            and _single_consumer(parent) is layer
            and layer.axis in (-1, len(layer.input.shape) - 1)
        ):
            folds[parent.name] = layer
    return folds


def _single_consumer(layer):
    """The one layer consuming `layer`'s output in the graph, or `None`."""
    neighbours = _keras_compat.graph_neighbours(layer)
    if neighbours is None or len(neighbours[1]) != 1:
        return None
    return neighbours[1][0]


def is_fusable_activation(layer):
    """A ReLU or ReLU6 layer, which TFLite fuses into the op before it."""
    if isinstance(layer, keras.layers.ReLU):
        return layer.negative_slope == 0 and layer.threshold == 0 and layer.max_value in (None, 6.0)
    return isinstance(layer, keras.layers.Activation) and activation_name(layer) in (
        "relu",
        "relu6",
    )


def fused_activations(model, folds):
    """Names of the kernel layers whose output (through a folded
    normalization) feeds only a ReLU or ReLU6 layer.

    TFLite fuses that activation into the kernel op, so the int8 tensor is
    the activation's output alone; such a kernel layer gets no range of its
    own (two roundings in Keras against one in TFLite would differ).
    """
    names = set()
    for layer in leaf_layers(model):
        if not is_kernel_layer(layer) or activation_name(layer) != "linear":
            continue
        follower = _single_consumer(layer)
        if follower is not None and follower is folds.get(layer.name):
            follower = _single_consumer(follower)
        if follower is not None and is_fusable_activation(follower):
            names.add(layer.name)
    return names


def feeds_concatenation(layer):
    """Whether `layer`'s output feeds only a `Concatenate` layer.

    TFLite's int8 CONCATENATION gives its inputs the range of its output
    (the converter quantizes the producing op straight to it), so such a
    layer gets no range of its own: a rounding of its own in Keras, then
    the concatenation's, would differ from TFLite's one rounding by several
    output steps. Subclassed models have no graph: always `False`.
    """
    return isinstance(_single_consumer(layer), keras.layers.Concatenate)


def fold_batch_norm(kernel, bias, norm):
    """`(kernel, bias)` with the inference-mode `norm` folded in."""
    scale = ops.rsqrt(value(norm.moving_variance) + norm.epsilon)
    if norm.scale:
        scale = scale * value(norm.gamma)
    shift = -value(norm.moving_mean) * scale
    if norm.center:
        shift = shift + value(norm.beta)
    bias = shift if bias is None else bias * scale + shift
    if kernel.shape[-1] == scale.shape[0]:
        kernel = kernel * scale
    else:  # depthwise: (..., in, multiplier), channel = in * multiplier + m
        kernel = kernel * ops.reshape(scale, kernel.shape[-2:])
    return kernel, bias


# The kernel layers whose int8 weights TFLite keeps one range per output
# channel for: CONV_2D and DEPTHWISE_CONV_2D. The converter cannot carry a
# per-channel range through the reshape it puts around the others (Conv1D
# and DepthwiseConv1D become 2-D convolutions: "'tfl.reshape' op requires
# 'output' type ... to be cast compatible"; Dense's kernel is transposed:
# "'tfl.transpose' op has mismatched quantized axes"), and TensorFlow's
# per-channel fake quantization takes tensors of rank 4 at most (Conv3D).
PER_CHANNEL_LAYERS = (keras.layers.Conv2D, keras.layers.DepthwiseConv2D)


def quantizes_per_channel(layer):
    """Whether `layer`'s kernel gets one int8 range per output channel
    (else one for the whole kernel)."""
    return isinstance(layer, PER_CHANNEL_LAYERS)


def kernel_channel_view(layer, kernel):
    """The kernel reshaped so its last axis is TFLite's output channel."""
    if isinstance(layer, (keras.layers.DepthwiseConv1D, keras.layers.DepthwiseConv2D)):
        return ops.reshape(kernel, tuple(kernel.shape[:-2]) + (-1,))
    return kernel


def linear_call(layer, inputs, kernel, bias):
    """The layer's output before its activation, with the given weights
    (cast to the inputs' dtype: float16 under a mixed-precision policy)."""
    kernel = ops.cast(kernel, inputs.dtype)
    bias = None if bias is None else ops.cast(bias, inputs.dtype)
    if isinstance(layer, keras.layers.Dense):
        outputs = ops.matmul(inputs, kernel)
        channels_first = False
    else:
        if isinstance(layer, (keras.layers.DepthwiseConv1D, keras.layers.DepthwiseConv2D)):
            outputs = ops.depthwise_conv(
                inputs,
                kernel,
                strides=layer.strides,
                padding=layer.padding,
                dilation_rate=layer.dilation_rate,
                data_format=layer.data_format,
            )
        else:
            outputs = layer.convolution_op(inputs, kernel)
        channels_first = layer.data_format == "channels_first"
    if bias is None:
        return outputs
    if channels_first:
        bias = ops.reshape(bias, (1, -1) + (1,) * (len(outputs.shape) - 2))
    return ops.add(outputs, bias)
