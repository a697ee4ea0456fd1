"""Writes that either complete or leave the destination as it was."""

import os
import tempfile


def check_destination(path):
    """Returns `path` as an absolute string; raises if its folder is missing.

    Checked before any work starts, so a long conversion never ends in an
    error about where to put its result.
    """
    path = os.path.abspath(os.fspath(path))
    folder = os.path.dirname(path)
    if not os.path.isdir(folder):
        raise ValueError(
            f"The folder of the output path does not exist: {folder} (for "
            f"{path}). Create it first (os.makedirs({folder!r})) or choose "
            "another path."
        )
    if os.path.isdir(path):
        raise ValueError(f"The output path is a folder: {path}. Give a file name.")
    return path


def atomic_write(path, content):
    """Writes `content` (bytes or str) to `path` through a temporary file.

    The temporary file lives in the same folder and is renamed over `path`
    only once it is complete, so a failure leaves no partial file and keeps
    an existing file untouched.
    """
    folder = os.path.dirname(os.path.abspath(path))
    data = content.encode("utf-8") if isinstance(content, str) else content
    handle, temporary = tempfile.mkstemp(
        dir=folder, prefix=f".{os.path.basename(path)}.", suffix=".partial"
    )
    try:
        with os.fdopen(handle, "wb") as f:
            f.write(data)
        # mkstemp makes the file owner-only; give it the permissions any
        # newly created file gets here (0666 less the umask).
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise
