"""Saving the distilled student whole or not at all, never losing it."""

import os
import shutil
import tempfile

from keras_kd.cli._errors import UsageError


def save_model(model, path):
    """Saves `model` to `path` through a temporary file in the same folder.

    The temporary file is renamed over `path` only once it is complete, so a
    failure leaves no partial file and keeps an existing `path` untouched.
    If writing fails, the model is saved to a fresh temporary folder instead
    and the error says where: hours of training are never lost.

    Args:
        model: The `keras.Model` to save.
        path: The destination `.keras` file; its folder must exist.

    Returns:
        `path`.

    Raises:
        UsageError: Writing `path` failed; the message names the fallback
            copy (or says that it failed too).

    Example:

    >>> save_model(student, "student_distilled.keras")
    'student_distilled.keras'
    """
    folder, name = os.path.split(os.path.abspath(path))
    try:
        staging = tempfile.mkdtemp(dir=folder, prefix=f".{name}.")
        try:
            model.save(os.path.join(staging, name))
            os.replace(os.path.join(staging, name), path)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    except (OSError, ValueError) as error:
        raise UsageError(
            f"could not write {path} ({type(error).__name__}: {error}). {_fallback(model, name)}"
        ) from None
    return path


def _fallback(model, name):
    """Saves `model` under the system's temporary folder; says where."""
    try:
        fallback = os.path.join(tempfile.mkdtemp(prefix="keras-kd-"), name)
        model.save(fallback)
    except (OSError, ValueError) as error:
        return f"Saving a copy elsewhere failed too ({type(error).__name__}: {error})."
    return f"The trained model was saved to {fallback} instead; move it where you want it."
