"""The quantization modes: one table that every part of tflite_export reads.

The converter takes its TFLite settings from here, calibration asks
`needs_calibration`, QAT and pruning check their modes here, and the command
line lists `names()` as its choices. Adding a mode means adding one row to
`MODES`, nothing else. Importing this module does not import TensorFlow: the
ops set and weight type are stored by name and looked up by the converter.

Example:

>>> from tflite_export import modes
>>> modes.names()
('float32', 'dynamic', 'float16', 'int8', 'int8_io', 'int16x8')
>>> modes.get("int8_io").input_dtype
'int8'
>>> [mode.name for mode in MODES.values() if mode.needs_calibration]
['int8', 'int8_io', 'int16x8']
"""

import dataclasses


@dataclasses.dataclass(frozen=True)
class QuantizationMode:
    """One way of converting a model to `.tflite`.

    Attributes:
        name: The mode's name, e.g. `"int8"`; `"float32"` is no quantization.
        ops_set: Name of the `tf.lite.OpsSet` member the converter targets.
        optimize: Whether the converter quantizes (`tf.lite.Optimize.DEFAULT`).
        weight_type: `None`, or the name of the one weight dtype the converter
            may use (`target_spec.supported_types`), e.g. `"float16"`.
        needs_calibration: Whether activation ranges are calibrated on
            representative samples.
        input_dtype: Dtype of the file's input tensor.
        output_dtype: Dtype of the file's output tensor.
        description: One line for documentation and `--help`.
        uint8_image_input: Whether the mode converts a graph that takes a
            uint8 image (`convert(..., image_input="uint8_rgb")`): its first
            op, a CAST to float, must have a kernel in the mode.
    """

    name: str
    ops_set: str
    optimize: bool
    weight_type: str
    needs_calibration: bool
    input_dtype: str
    output_dtype: str
    description: str
    uint8_image_input: bool = True


MODES = {
    mode.name: mode
    for mode in (
        QuantizationMode(
            "float32",
            "TFLITE_BUILTINS",
            False,
            None,
            False,
            "float32",
            "float32",
            "no quantization",
        ),
        QuantizationMode(
            "dynamic",
            "TFLITE_BUILTINS",
            True,
            None,
            False,
            "float32",
            "float32",
            "int8 weights, float activations",
        ),
        QuantizationMode(
            "float16",
            "TFLITE_BUILTINS",
            True,
            "float16",
            False,
            "float32",
            "float32",
            "float16 weights",
        ),
        QuantizationMode(
            "int8",
            "TFLITE_BUILTINS_INT8",
            True,
            None,
            True,
            "float32",
            "float32",
            "int8 weights and activations, float input and output",
        ),
        QuantizationMode(
            "int8_io",
            "TFLITE_BUILTINS_INT8",
            True,
            None,
            True,
            "int8",
            "int8",
            "int8 weights, activations, input and output",
            uint8_image_input=False,
        ),
        QuantizationMode(
            "int16x8",
            "EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8",
            True,
            None,
            True,
            "float32",
            "float32",
            "int16 activations, int8 weights",
            uint8_image_input=False,
        ),
    )
}

FLOAT32 = "float32"


def names():
    """The mode names, in the table's order, e.g. `("float32", "dynamic", ...)`."""
    return tuple(MODES)


def get(name):
    """The `QuantizationMode` called `name`.

    Args:
        name: A mode name; `None` and `"none"` also mean `"float32"`.

    Returns:
        The `QuantizationMode`.

    Raises:
        ValueError: `name` is not in the table; the message lists the names.

    Example:

    >>> get(None).name
    'float32'
    """
    if name is None or name == "none":
        name = FLOAT32
    if not isinstance(name, str) or name not in MODES:
        listed = ", ".join(repr(n) for n in MODES)
        raise ValueError(
            f"quantization must be one of None (float32), {listed}. Received: quantization={name!r}"
        )
    return MODES[name]


def public_name(name):
    """A mode as `ConversionResult.mode` reports it: `None` for float32.

    Example:

    >>> public_name("float32") is None, public_name("int8")
    (True, 'int8')
    """
    mode = get(name).name
    return None if mode == FLOAT32 else mode
