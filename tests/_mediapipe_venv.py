"""The virtual environment MediaPipe's client tests run in: mediapipe and numpy.

mediapipe cannot share an environment with tensorflow-model-optimization
(absl-py pins clash), so the tests that load exported files in MediaPipe
Tasks run a client script in an environment of its own. It lives at
`$KERAS_KD_MEDIAPIPE_VENV` (default `~/.cache/keras-kd/mediapipe-venv`), is
made once and reused: `.ci/run` makes it before the tests
(`python tests/_mediapipe_venv.py`), and the tests' fixture makes it if it
is missing.
"""

import os
import pathlib
import shutil
import subprocess
import sys

import _pip

MEDIAPIPE = "mediapipe==1.2.3"
READY = ".keras-kd-ready"  # written once the packages are installed


def venv_path():
    default = pathlib.Path.home() / ".cache" / "keras-kd" / "mediapipe-venv"
    return pathlib.Path(os.environ.get("KERAS_KD_MEDIAPIPE_VENV", default))


def python_of(path):
    return path / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def ensure_venv():
    """The venv's Python, after making the venv if it is not ready; raises
    `RuntimeError` with pip's output if it cannot be made."""
    path = venv_path()
    if (path / READY).is_file():
        return python_of(path)
    if path.exists():
        shutil.rmtree(path)  # a half-made one
    path.parent.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [sys.executable, "-m", "venv", str(path)], capture_output=True, text=True, timeout=300
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"Could not make MediaPipe's test environment at {path}:\n{done.stdout}\n{done.stderr}"
        )
    try:
        _pip.install(str(python_of(path)), "-q", MEDIAPIPE, "numpy", timeout=1200)
    except RuntimeError as error:
        raise RuntimeError(
            f"Could not make MediaPipe's test environment at {path}: {error}"
        ) from None
    (path / READY).write_text(MEDIAPIPE + "\n")
    return python_of(path)


if __name__ == "__main__":
    print(ensure_venv())
