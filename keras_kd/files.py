"""Writes that either complete or leave the destination as it was.

Every file the package writes goes through here: `check_destination` before
any work starts (the folder exists and is writable, the path is no folder
and overwrites none of the inputs), then `atomic_write` or
`atomic_write_all` (several files written whole, then published together).
"""

import json
import os
import tempfile
import zipfile


def check_destination(path, inputs=(), what="The output path"):
    """Returns `path` as an absolute string; raises if it cannot be written.

    Checked before any work starts, so a long conversion never ends in an
    error about where to put its result.

    Args:
        path: The file to write.
        inputs: Paths the work reads (models, data, sidecars of inputs):
            `path` must be none of them.
        what: How the error names `path`.

    Returns:
        The absolute path.

    Raises:
        ValueError: The folder is missing or not writable, `path` is a
            folder, or `path` is one of `inputs`.

    Example:

    >>> import os, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> check_destination(os.path.join(folder, "a.tflite")).endswith("a.tflite")
    True
    >>> check_destination(os.path.join(folder, "m.keras"), inputs=[os.path.join(folder, "m.keras")])
    Traceback (most recent call last):
    ...
    ValueError: The output path ... is also an input ...
    """
    path = os.path.abspath(os.fspath(path))
    folder = os.path.dirname(path)
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise ValueError(
            f"The folder of the output path is a file: {folder} (for {path}). "
            "Choose a path in a folder."
        )
    if not os.path.isdir(folder):
        raise ValueError(
            f"The folder of the output path does not exist: {folder} (for "
            f"{path}). Create it first (os.makedirs({folder!r})) or choose "
            "another path."
        )
    if os.path.isdir(path):
        raise ValueError(f"The output path is a folder: {path}. Give a file name.")
    if path in {os.path.abspath(os.fspath(p)) for p in inputs if p is not None}:
        raise ValueError(
            f"{what} {path} is also an input of this work; writing it would "
            "destroy the input. Choose another output path."
        )
    _check_writable(folder, path)
    return path


def _check_writable(folder, path):
    """Creates and removes a temporary file in `folder` (root ignores modes)."""
    try:
        handle, probe = tempfile.mkstemp(dir=folder, prefix=".keras-kd-probe.")
        os.close(handle)
        os.remove(probe)
    except OSError as error:
        raise ValueError(
            f"Cannot write in the folder {folder} (for {path}): "
            f"{error.strerror or error}. Choose a writable folder."
        ) from None


def atomic_write(path, content):
    """Writes `content` (bytes or str) to `path` through a temporary file.

    The temporary file lives in the same folder and is renamed over `path`
    only once it is complete, so a failure leaves no partial file and keeps
    an existing file untouched.

    Raises:
        OSError: The write failed (a full disk, a read-only folder); the
            message names the path, and nothing at `path` changed.
    """
    atomic_write_all({path: content})


def atomic_write_all(contents):
    """Writes `{path: bytes or str}` whole, then publishes them together.

    Every file is first written completely to a temporary file beside its
    destination; only then are they renamed into place, one after the
    other. A failure while writing leaves every destination as it was (a
    `.tflite` never goes without its sidecar because the disk filled up).

    Raises:
        OSError: A write failed; its message names the path, and no
            destination was changed.
    """
    staged = []
    try:
        for path, content in contents.items():
            staged.append((_stage(path, content), path))
        for temporary, path in staged:
            os.replace(temporary, path)
    except OSError as error:
        raise OSError(
            error.errno,
            f"Could not write {path} ({error.strerror or error}). Nothing was "
            "changed there; free some space or choose a writable folder",
        ) from None
    finally:
        for temporary, _ in staged:
            if os.path.exists(temporary):
                os.remove(temporary)


def _stage(path, content):
    """Writes `content` to a new temporary file beside `path`; returns it."""
    folder = os.path.dirname(os.path.abspath(path))
    data = content.encode("utf-8") if isinstance(content, str) else content
    handle, temporary = tempfile.mkstemp(
        dir=folder, prefix=f".{os.path.basename(path)}.", suffix=".partial"
    )
    try:
        with os.fdopen(handle, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        # mkstemp makes the file owner-only; give it the permissions any
        # newly created file gets here (0666 less the umask).
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)
    except BaseException:
        os.remove(temporary)
        raise
    return temporary


def load_keras_model(path: "str | os.PathLike", what: str = "the model"):
    """Loads a `.keras` file as an uncompiled `keras.Model`, or says what is wrong.

    The one `.keras` loader of keras-kd: the command line and `tflite_export`
    both read models through it.

    Args:
        path: The `.keras` file.
        what: How errors name it, e.g. `"--teacher"`.

    Returns:
        The `keras.Model`.

    Raises:
        ValueError: The file is missing, a folder, not a `.keras` archive, or
            holds no Keras model; the message names the file and the fix.

    Example:

    >>> student.save("student.keras")
    >>> load_keras_model("student.keras").name
    'student'
    """
    import keras

    import keras_kd

    keras_kd.load_core()  # registers every class keras-kd saves (Distiller, compressed layers)
    path = os.fspath(path)
    hint = "Save the model with model.save('model.keras'), or pass the model object itself."
    if not os.path.exists(path):
        raise ValueError(f"{what}: no such file {path!r}. Check the path. {hint}")
    if not os.path.isfile(path):
        raise ValueError(f"{what}: {path!r} is a folder, not a .keras file. {hint}")
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{what}: {path!r} is not a .keras archive (not a zip file). {hint}")
    try:
        model = keras.saving.load_model(path, compile=False)
    except Exception as error:  # any failure to read the archive is the file's
        raise ValueError(
            f"{what}: {path!r} could not be loaded as a Keras model "
            f"({type(error).__name__}: {error}). Pass a file written by "
            "model.save('model.keras'); custom layers must be registered "
            "with @keras.saving.register_keras_serializable()."
        ) from None
    if not isinstance(model, keras.Model):
        raise ValueError(f"{what}: {path!r} holds a {type(model).__name__}, not a Keras model.")
    return model


def read_json(path: "str | os.PathLike", what: str, fix: str):
    """Reads a JSON file keras-kd wrote, or says which file is damaged and how to recover.

    Args:
        path: The file.
        what: How the error names it, e.g. `"The TeacherCache file"`.
        fix: What the user can do, appended to the error.

    Returns:
        The parsed JSON value.

    Raises:
        ValueError: The file is not valid JSON (or not UTF-8 text).

    Example:

    >>> atomic_write("settings.json", '{"epochs": 3}')
    >>> read_json("settings.json", "The settings file", "Write it again.")
    {'epochs': 3}
    """
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (ValueError, UnicodeDecodeError) as error:
        raise ValueError(f"{what} {path} is not valid JSON ({error}). {fix}") from None
