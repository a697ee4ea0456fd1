"""The command line's one set of file loaders: `.keras`, `.npz`, `.npy`, `.tflite`.

Each checks that the file exists and is of the right kind, and raises a
`UsageError` that names the option, says what was received and how to fix
it. Keras and NumPy are imported only when a file is loaded.
"""

import os
import zipfile

from keras_kd.cli._errors import UsageError

TFLITE_IDENTIFIER = b"TFL3"  # bytes 4 to 8 of every TFLite flatbuffer


def existing_file(path, what, suffixes, hint):
    """Checks that `path` is a file whose name ends in one of `suffixes`.

    Args:
        path: The path given on the command line.
        what: How the error names it, e.g. `"--teacher"`.
        suffixes: The accepted endings, e.g. `(".keras",)`.
        hint: How to make such a file, appended to the error.

    Returns:
        `path`, unchanged.

    Raises:
        UsageError: The file is missing, a folder, or named otherwise.

    Example:

    >>> student.save("student.keras")
    >>> existing_file("student.keras", "the student", (".keras",), "")
    'student.keras'
    """
    kinds = " or ".join(suffixes)
    if not str(path).endswith(tuple(suffixes)):
        raise UsageError(f"{what} must be a {kinds} file. Received: {path!r}. {hint}")
    if not os.path.exists(path):
        raise UsageError(f"{what}: no such file {path!r}. Check the path. {hint}")
    if not os.path.isfile(path):
        raise UsageError(f"{what}: {path!r} is a folder, not a {kinds} file.")
    return path


def keras_file(path, what="the model"):
    """Checks that `path` is an existing `.keras` archive; returns `path`."""
    hint = "Save the model with model.save('model.keras')."
    existing_file(path, what, (".keras",), hint)
    if not zipfile.is_zipfile(path):
        raise UsageError(f"{what}: {path!r} is not a .keras archive (not a zip file). {hint}")
    return path


def load_keras_model(path, what="the model"):
    """`keras_kd.files.load_keras_model`, its errors as `UsageError`s naming `what`."""
    from keras_kd import files

    keras_file(path, what)
    try:
        return files.load_keras_model(path, what)
    except ValueError as error:
        raise UsageError(str(error)) from None


def load_npz(path, what="--data", required=("x",)):
    """The arrays of an `.npz` file, as a dict, with the `required` keys.

    Args:
        path: The `.npz` file.
        what: How errors name it, e.g. `"--data"`.
        required: Keys that must be present.

    Returns:
        A dict `{key: np.ndarray}`.

    Raises:
        UsageError: The file is missing, not an `.npz`, lacks a required
            key, or holds an `x` and a `y` of different lengths.

    Example:

    >>> np.savez("train.npz", x=x_train, y=y_train)
    >>> arrays = load_npz("train.npz", "--data", required=("x", "y"))
    >>> sorted(arrays)
    ['x', 'y']
    """
    import numpy as np

    hint = "Save it with np.savez(path, x=inputs, y=integer_labels)."
    existing_file(path, what, (".npz",), hint)
    try:
        with np.load(path, allow_pickle=False) as stored:
            arrays = dict(stored)
    except Exception as error:
        raise UsageError(
            f"{what}: {path!r} is not a readable .npz file "
            f"({type(error).__name__}: {error}). {hint}"
        ) from None
    missing = [key for key in required if key not in arrays]
    if missing:
        raise UsageError(
            f"{what}: {path!r} holds arrays {sorted(arrays)}, but needs {list(required)}. {hint}"
        )
    if "x" in arrays:
        check_samples(arrays["x"], f"{what}: {path!r}: 'x'")
    if "x" in arrays and "y" in arrays and arrays["y"].ndim == 0:
        raise UsageError(
            f"{what}: {path!r} holds one label 'y' (shape ()), but {len(arrays['x'])} "
            "inputs 'x'. Give one label per input: save y of shape "
            f"({len(arrays['x'])},)."
        )
    if "x" in arrays and "y" in arrays and len(arrays["x"]) != len(arrays["y"]):
        raise UsageError(
            f"{what}: {path!r} holds {len(arrays['x'])} inputs 'x' but "
            f"{len(arrays['y'])} labels 'y'. Give one label per input."
        )
    return arrays


def load_npy(path, what):
    """The array of an `.npy` file; raises `UsageError` if it is missing."""
    import numpy as np

    hint = "Save it with np.save(path, array)."
    existing_file(path, what, (".npy",), hint)
    try:
        return np.load(path, allow_pickle=False)
    except Exception as error:
        raise UsageError(
            f"{what}: {path!r} is not a readable .npy file "
            f"({type(error).__name__}: {error}). {hint}"
        ) from None


def check_samples(x, what):
    """Raises unless `x` holds at least one sample of finite numbers.

    Example:

    >>> check_samples(np.zeros((0, 8)), "--data: 'x'")
    Traceback (most recent call last):
    ...
    keras_kd.cli._errors.UsageError: --data: 'x' holds no samples ...
    """
    import numpy as np

    if x.ndim == 0 or len(x) == 0:
        raise UsageError(
            f"{what} holds no samples (shape {x.shape}). Save at least one input, "
            "shaped (n,) + the model's input shape."
        )
    if x.dtype.kind not in "biuf":
        raise UsageError(f"{what} must hold numbers. Received: dtype {x.dtype}.")
    if x.dtype.kind == "f" and not np.isfinite(x).all():
        raise UsageError(
            f"{what} holds {int(np.isnan(x).sum())} NaN and {int(np.isinf(x).sum())} "
            "infinite values. Drop or fix those samples first."
        )
    return x


def load_inputs(path, what):
    """Model inputs from an `.npy` array or the `x` of an `.npz` file."""
    if str(path).endswith(".npy"):
        return check_samples(load_npy(path, what), f"{what}: {path!r}")
    return load_npz(path, what)["x"]


def load_model_or_outputs(path, what):
    """A `.keras` model, or a model's stored outputs from an `.npy` file."""
    if str(path).endswith(".npy"):
        return load_npy(path, what)
    if not str(path).endswith(".keras"):
        raise UsageError(
            f"{what} must be a .keras model or an .npy of its outputs. Received: {path!r}."
        )
    return load_keras_model(path, what)


def tflite_file(path, what="the file"):
    """Checks that `path` is an existing TFLite flatbuffer; returns `path`."""
    hint = "Write one with keras-kd export or tflite_export.convert."
    existing_file(path, what, (".tflite",), hint)
    with open(path, "rb") as f:
        identifier = f.read(8)[4:]
    if identifier != TFLITE_IDENTIFIER:
        raise UsageError(f"{path} is not a .tflite file (no TFL3 flatbuffer identifier). {hint}")
    return path


def check_fits(model, x, what, data):
    """Raises if `x`'s sample shape differs from `model`'s input shape."""
    try:
        expected = tuple(model.input_shape[1:])
    except (AttributeError, ValueError, TypeError):  # several or unknown inputs
        return
    received = tuple(x.shape[1:])
    fits = len(expected) == len(received) and all(
        e is None or e == r for e, r in zip(expected, received)
    )
    if not fits:
        raise UsageError(
            f"{data}: the inputs 'x' have shape {x.shape}, but {what} expects "
            f"(n, {', '.join(str(e) for e in expected)}). Save inputs of that shape in 'x'."
        )


def check_student_reads(student, labelled, *, one_class_per_sample=False):
    """Refuses labels the student's head cannot read, before any training
    (class labels 0-9 for a one-unit head, a class past its last unit), each
    set named as the command line names it.

    Args:
        student: The student model; its output width is read if known.
        labelled: `{name: (x, y)}`, e.g. `{"--data": (x, y)}`; a `y` of
            `None` (unlabelled data) is skipped.
        one_class_per_sample: Also require one whole class label per input
            (`checks.check_class_labels`), for readers of integer classes
            only: the TFMOT engine and the accuracy table.

    Example:

    >>> import keras, numpy as np
    >>> student = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    >>> check_student_reads(student, {"--data": (np.zeros((2, 4)), np.array([0, 9]))})
    Traceback (most recent call last):
    ...
    ValueError: --data: ...
    """
    from keras_kd import checks
    from keras_kd import validation

    units = validation.output_units(student)
    for name, (x, y) in labelled.items():
        if y is None:
            continue
        if one_class_per_sample:
            checks.check_class_labels(y, units, len(x), name)
        else:
            checks.check_classifier_labels(y, units, name)
