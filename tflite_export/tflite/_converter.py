"""The TensorFlow half of `convert`: a model in this process to `.tflite` bytes.

Only imported where Keras runs on TensorFlow (the user's own process, or the
child that `convert` starts for JAX and PyTorch users, or the TFMOT worker's
tf-keras models). The model is traced once into a `serving_default` function
with named inputs and outputs and a free batch dimension, then converted with
the settings of the requested quantization mode.
"""

import os
import re

import keras
import tensorflow as tf
from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

from keras_kd.files import load_keras_model
from tflite_export import modes as modes_lib
from tflite_export._errors import ExportError
from tflite_export._worker._runner import silence_stdout
from tflite_export.tflite._contract import LUMINANCE


def serving_function(model, output_name, image_input=None, normalization=None, softmax=False):
    """A frozen `tf.function` calling `model(..., training=False)`, named tensors.

    Args:
        model: A built Keras 3 (TensorFlow backend) or tf-keras model.
        output_name: Name of the output tensor (`"logits"`, `"probabilities"`
            or `"output"`); several outputs get `_0`, `_1`, ... suffixes.
        image_input: `None`, or `"uint8_rgb"`: the function takes uint8 RGB
            images `(batch, height, width, 3)`, converts them to the model's
            channels (BT.601 luminance for one channel) and normalizes them.
        normalization: `{"mean": m, "std": s}`, folded in with `image_input`.
        softmax: Whether a softmax follows the model's (single) output.

    Returns:
        A concrete function with the weights folded in as constants, inputs
        named after the model's input layers, a batch dimension of `None`,
        and a dict of named outputs.
    """
    specs = [
        tf.TensorSpec((None,) + tuple(t.shape[1:]), _dtype(t), name=name)
        for t, name in zip(model.inputs, input_names(model))
    ]
    if image_input is not None:
        specs = [tf.TensorSpec(specs[0].shape[:-1] + (3,), tf.uint8, name=specs[0].name)]

    def call(*inputs):
        if image_input is not None:
            inputs = [_from_pixels(inputs[0], model.inputs[0].shape[-1], normalization)]
        outputs = model(inputs[0] if len(inputs) == 1 else list(inputs), training=False)
        if isinstance(outputs, dict):
            outputs = list(outputs.values())
        outputs = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
        return [tf.nn.softmax(outputs[0], axis=-1)] if softmax else outputs

    traced = tf.function(call, input_signature=specs).get_concrete_function()
    # Keras 3 variables would otherwise stay resource variables in the file
    # (VAR_HANDLE / READ_VARIABLE ops that the interpreter cannot run).
    frozen = convert_variables_to_constants_v2(traced)
    names = (
        [output_name]
        if len(traced.outputs) == 1
        else [f"{output_name}_{i}" for i in range(len(traced.outputs))]
    )

    def serve(*inputs):
        return dict(zip(names, frozen(*inputs)))

    return tf.function(serve, input_signature=specs).get_concrete_function()


def _from_pixels(pixels, channels, normalization):
    """uint8 RGB pixels to the model's input: channels, then `(x - mean) / std`."""
    x = tf.cast(pixels, tf.float32)
    if channels == 1:
        x = tf.reduce_sum(x * tf.constant(LUMINANCE, tf.float32), axis=-1, keepdims=True)
    mean = tf.constant(normalization["mean"], tf.float32)
    std = tf.constant(normalization["std"], tf.float32)
    return (x - mean) / std


def input_names(model):
    """The model's input layer names as identifiers, unique, e.g. `["image"]`."""
    names = []
    for i, tensor in enumerate(model.inputs):
        raw = getattr(tensor, "name", "") or f"input_{i}"
        name = re.sub(r"\W", "_", raw.split(":")[0]) or f"input_{i}"
        names.append(name if name not in names else f"{name}_{i}")
    return names


def _dtype(tensor):
    dtype = tensor.dtype
    return tf.as_dtype(dtype if isinstance(dtype, str) else getattr(dtype, "name", dtype))


def make_converter(
    model,
    mode,
    calibration,
    allow_select_tf_ops,
    output_name,
    verbose,
    image_input=None,
    normalization=None,
    softmax=False,
):
    """A `tf.lite.TFLiteConverter` for `model` set up for `mode`.

    Args:
        model: The model to convert (see `serving_function`).
        mode: A mode name of `tflite_export.MODES`.
        calibration: Per-input float32 arrays of calibration samples (from
            `_calibration.draw_samples`), or `None` where the mode needs none
            or the model is quantization-aware (its ranges are in the graph).
        allow_select_tf_ops: Whether TensorFlow ops without a built-in TFLite
            kernel may be kept (they need the Flex delegate on the device).
        output_name: Name of the output tensor in the signature.
        verbose: Whether to show a progress bar during calibration.
        image_input, normalization, softmax: What `serving_function` folds
            into the graph.

    Returns:
        The configured converter.
    """
    function = serving_function(model, output_name, image_input, normalization, softmax)
    # An empty tf.Module as the trackable: the signature keeps its names.
    converter = tf.lite.TFLiteConverter.from_concrete_functions([function], tf.Module())
    settings = modes_lib.get(mode)
    # A quantization-aware model carries its ranges as FakeQuant ops: the
    # converter reads them, there is nothing to calibrate, and it refuses the
    # INT8 ops set without a representative dataset (the builtin set gives
    # the same int8 kernels; `convert` checks the file is integer).
    learned_ranges = settings.needs_calibration and calibration is None
    ops_set = "TFLITE_BUILTINS" if learned_ranges else settings.ops_set
    converter.target_spec.supported_ops = [getattr(tf.lite.OpsSet, ops_set)]
    if allow_select_tf_ops:
        converter.target_spec.supported_ops.append(tf.lite.OpsSet.SELECT_TF_OPS)
    if settings.optimize:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if settings.weight_type is not None:
        converter.target_spec.supported_types = [tf.as_dtype(settings.weight_type)]
    if settings.input_dtype != "float32":
        converter.inference_input_type = tf.as_dtype(settings.input_dtype)
    if settings.output_dtype != "float32":
        converter.inference_output_type = tf.as_dtype(settings.output_dtype)
    if settings.needs_calibration and not learned_ranges:
        converter.representative_dataset = _representative(calibration, verbose)
    return converter


def _representative(calibration, verbose):
    def samples():
        count = len(calibration[0])
        bar = keras.utils.Progbar(count, unit_name="sample") if verbose else None
        for i in range(count):
            yield [column[i : i + 1] for column in calibration]
            if bar is not None:
                try:
                    bar.update(i + 1)
                except BrokenPipeError:  # `keras-kd export | head`: go on, silently
                    bar = None
                    silence_stdout()

    return samples


def convert_job(job):
    """Runs a `"convert"` `Job` in the TensorFlow child; returns its outcome.

    Loads the job's `.keras` model and its calibration arrays, converts it
    with the job's settings and writes the `.tflite` to `job.output`.
    """
    calibration = None
    if modes_lib.get(job.quantization).needs_calibration and os.path.exists(job.arrays_path):
        arrays = job.read_arrays()
        calibration = [arrays[f"input_{i}"] for i in range(len(arrays))]
    job.import_custom_modules()
    content = to_tflite_bytes(
        load_keras_model(job.model),
        job.quantization,
        calibration=calibration,
        allow_select_tf_ops=job.allow_select_tf_ops,
        output_name=job.output_name,
        verbose=job.verbose,
        image_input=job.image_input,
        normalization=job.normalization,
        softmax=job.softmax,
    )
    with open(job.output, "wb") as f:
        f.write(content)
    return {"bytes": len(content)}


def to_tflite_bytes(
    model,
    mode,
    calibration=None,
    allow_select_tf_ops=False,
    output_name="output",
    verbose=True,
    image_input=None,
    normalization=None,
    softmax=False,
):
    """Converts `model` and returns the flatbuffer's bytes.

    Args:
        See `make_converter`.

    Returns:
        The `.tflite` file's content.

    Raises:
        ExportError: The model holds ops without a built-in TFLite kernel and
            `allow_select_tf_ops` is False (the message names them and the flag),
            or the converter rejected the model for another reason.
    """
    converter = make_converter(
        model,
        mode,
        calibration,
        allow_select_tf_ops,
        output_name,
        verbose,
        image_input,
        normalization,
        softmax,
    )
    try:
        return converter.convert()
    except Exception as error:  # ConverterError and friends: re-worded below
        raise ExportError(explain_conversion_error(str(error), mode)) from None


def explain_conversion_error(message, mode):
    """A converter error turned into one that names the cause and the fix."""
    select = re.search(r"TF Select ops: ([^\n]+)", message)
    custom = re.search(r"Custom ops: ([^\n]+)", message)
    if select:
        return (
            "The model uses TensorFlow ops that have no built-in TFLite kernel: "
            f"{select.group(1).strip()}. Replace them with supported ops, or pass "
            "allow_select_tf_ops=True (CLI: --allow-select-tf-ops) to keep them "
            "as Select TF ops; the app then needs the Flex delegate "
            "(org.tensorflow:tensorflow-lite-select-tf-ops on Android)."
        )
    if custom:
        return (
            "The model uses TensorFlow ops that TFLite cannot run, neither as "
            f"built-in nor as Select TF ops: {custom.group(1).strip()}. Replace "
            "them with supported ops, or implement them as TFLite custom ops."
        )
    if modes_lib.get(mode).needs_calibration and "quantiz" in message.lower():
        return (
            f"Quantization mode {mode!r} could not quantize every op to integers: "
            f"{message.strip()[:2000]}\nTry quantization='dynamic' or 'float16', "
            "or allow_select_tf_ops=True."
        )
    return f"The TFLite converter rejected the model: {message.strip()[:4000]}"
