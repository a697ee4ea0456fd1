"""A virtual environment that stands for a fresh Google Colab runtime.

Colab ships TensorFlow, Keras, protobuf and absl-py preinstalled; installing
keras-kd there must leave them as they are. This module lays out such a
runtime once (tensorflow 2.19 with the versions Colab ships beside it) and
reuses it while it still holds exactly those versions. The runtime itself is
never modified by a test: `overlay` lays a fresh, empty virtual environment
on top of it, into which the notebook's install cell installs, as it would
into a fresh Colab session.

`.ci/run` calls it once: `python tests/_colab_runtime.py PATH`; the test's
fixture calls `ensure` when the runtime is missing.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import _pip

# A Colab runtime as the issue that asked for this found it: tensorflow 2.19.0
# with protobuf 5.29 and absl-py 2.3, beside Keras 3.10.0 (the lowest Keras
# keras-kd claims), tf-keras 2.19.0 and numpy 2.0.2.
RUNTIME = {
    "tensorflow": "2.19.0",
    "keras": "3.10.0",
    "tf-keras": "2.19.0",
    "protobuf": "5.29.5",
    "absl-py": "2.3.1",
    "numpy": "2.0.2",
}

# The environment variable that names the runtime's folder, and its default.
VENV_VARIABLE = "KERAS_KD_COLAB_VENV"
DEFAULT_VENV = os.path.join(tempfile.gettempdir(), "keras-kd-colab-runtime")


def venv_path():
    """The runtime's folder: `$KERAS_KD_COLAB_VENV`, else one in the temp folder."""
    return os.environ.get(VENV_VARIABLE) or DEFAULT_VENV


def python(venv):
    """The Python executable of a virtual environment."""
    return os.path.join(venv, "bin", "python")


def installed_versions(python_executable, names):
    """`{name: version or None}` of the distributions `python_executable` sees."""
    script = (
        "import importlib.metadata as m, json, sys\n"
        "def v(n):\n"
        "    try:\n"
        "        return m.version(n)\n"
        "    except m.PackageNotFoundError:\n"
        "        return None\n"
        "print(json.dumps({n: v(n) for n in sys.argv[1:]}))\n"
    )
    completed = subprocess.run(
        # -I: not the current folder, where a checkout's keras_kd.egg-info would be seen.
        [python_executable, "-I", "-c", script, *names],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(completed.stdout)


def is_ready(venv):
    """Whether `venv` exists and holds exactly the runtime's versions."""
    if not os.path.exists(python(venv)):
        return False
    try:
        return installed_versions(python(venv), list(RUNTIME)) == RUNTIME
    except (OSError, subprocess.CalledProcessError):
        return False


def ensure(venv=None):
    """Creates the runtime at `venv` unless it is there with the right versions.

    Args:
        venv: the folder; `venv_path()` when None.

    Returns:
        The folder, ready.

    Example:
    >>> ensure("/tmp/keras-kd-colab-runtime")  # doctest: +SKIP
    '/tmp/keras-kd-colab-runtime'
    """
    venv = venv or venv_path()
    if is_ready(venv):
        return venv
    shutil.rmtree(venv, ignore_errors=True)
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    _pip.install(python(venv), "-q", "--upgrade", "pip")
    _pip.install(python(venv), "-q", *(f"{name}=={version}" for name, version in RUNTIME.items()))
    if not is_ready(venv):
        raise RuntimeError(f"The Colab runtime at {venv} did not get the versions {RUNTIME}.")
    print(f"Colab runtime {venv} created in {time.monotonic() - started:.0f} s", file=sys.stderr)
    return venv


def overlay(runtime, folder):
    """A fresh, empty virtual environment at `folder` that sees `runtime`'s packages.

    What pip installs into the overlay stays there; the runtime is not
    touched, so each test starts from a fresh runtime.

    Returns:
        The overlay's Python executable.
    """
    subprocess.run([python(runtime), "-m", "venv", "--without-pip", folder], check=True)
    runtime_site = _site_packages(python(runtime))
    with open(os.path.join(_site_packages(python(folder)), "colab_runtime.pth"), "w") as f:
        f.write(f"import site; site.addsitedir({runtime_site!r})\n")
    return python(folder)


def _site_packages(python_executable):
    completed = subprocess.run(
        [python_executable, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    )
    return completed.stdout.strip()


if __name__ == "__main__":
    print(ensure(sys.argv[1] if len(sys.argv) > 1 else None))
