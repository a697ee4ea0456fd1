"""The one exception of the TensorFlow side of tflite_export."""


class ExportError(ValueError):
    """The conversion or TFMOT work failed on the TensorFlow side.

    Raised the same way whatever the step and whatever the backend: the
    converter rejected the model (an op without a TFLite kernel, a mode that
    cannot quantize it), a QAT or pruning job failed, or the TensorFlow child
    process that JAX and PyTorch users convert in exited with an error (the
    message then holds the child's stderr in full). Bad arguments found
    before any work starts stay plain `ValueError`s; `ExportError`
    subclasses `ValueError`, so `except ValueError` catches both.

    Example:

    >>> try:
    ...     raise ExportError("The TFLite converter rejected the model: ...")
    ... except ValueError as error:
    ...     type(error).__name__
    'ExportError'
    """
