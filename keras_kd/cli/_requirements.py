"""The export side of the command line, imported only when a command needs it.

`keras-kd demo` and `keras-kd distill` run with Keras alone; `export`,
`evaluate`, `report`, `qat` and `prune` call `tflite_export`, which needs the
`keras-kd[tensorflow]` extra.
"""

import importlib.util

from keras_kd.cli._errors import UsageError

INSTALL_HINT = "Install it with: pip install 'keras-kd[tensorflow]'"


def import_tflite_export(command, needs=("tensorflow",)):
    """Imports `tflite_export` after checking the packages `command` needs.

    Args:
        command: The sub-command, named in the error, e.g. `"export"`.
        needs: Top-level modules the command runs, e.g. `("tensorflow",)`.

    Returns:
        The `tflite_export` package.

    Raises:
        UsageError: `tflite_export` or one of `needs` is not installed.

    Example:

    >>> import_tflite_export("qat", needs=("tensorflow", "tensorflow_model_optimization"))
    <module 'tflite_export' ...>
    """
    missing = [name for name in needs if importlib.util.find_spec(name) is None]
    if missing:
        raise UsageError(
            f"keras-kd {command} needs {', '.join(missing)}, which is not installed. {INSTALL_HINT}"
        )
    try:
        import tflite_export as package
    except ImportError as error:
        raise UsageError(
            f"keras-kd {command} needs tflite_export, which could not be imported "
            f"({error}). {INSTALL_HINT}"
        ) from None
    return package


def mode_names():
    """The quantization modes of `tflite_export`'s table, or `None` without it.

    Read when the parser is built, for `--quantization`'s choices; importing
    `tflite_export` does not import TensorFlow.

    Example:

    >>> mode_names()[:2]
    ('float32', 'dynamic')
    """
    try:
        import tflite_export
    except ImportError:
        return None
    return tuple(tflite_export.modes.names())
