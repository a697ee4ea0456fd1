"""Silences the start-up chatter of TensorFlow, absl and XLA.

TensorFlow's C++ side prints a dozen lines when it is imported (CUDA stubs,
oneDNN, CPU features, TF-TRT): noise before the command's own output. The
environment variables below must be set before TensorFlow is imported; the
lines absl prints before its logging is initialized (the CUDA stubs) ignore
them, so TensorFlow is imported with the process's stderr discarded,
whenever that happens: Keras imports it under its TensorFlow backend, and
under any backend when it saves a model. `--verbose` keeps it all.
"""

import contextlib
import importlib.abc
import importlib.util
import os
import sys

# Read by TensorFlow, gRPC and glog when they start.
ENVIRONMENT = {
    "TF_CPP_MIN_LOG_LEVEL": "3",  # TensorFlow's C++ INFO, WARNING and ERROR lines
    "GRPC_VERBOSITY": "ERROR",
    "GLOG_minloglevel": "3",
}

VERBOSE_FLAG = "--verbose"


def wants_verbose(argv):
    """Whether the command line asks for `--verbose` (before any `--`).

    Read before the parser is built: the parser may import TensorFlow.

    Args:
        argv: The arguments, without the program name.

    Returns:
        A bool.

    Example:

    >>> wants_verbose(["export", "m.keras", "--verbose"])
    True
    """
    argv = list(argv)
    if "--" in argv:
        argv = argv[: argv.index("--")]
    return VERBOSE_FLAG in argv


@contextlib.contextmanager
def stderr_discarded():
    """Sends file descriptor 2 (C and C++ code's stderr too) to /dev/null.

    Python's own `sys.stderr` is flushed first and restored after, so an
    exception raised inside still reaches the user.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


class _QuietLoader(importlib.abc.Loader):
    """Runs a module's loader with stderr discarded."""

    def __init__(self, loader, finder):
        self.loader = loader
        self.finder = finder

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        if self.finder in sys.meta_path:  # once: the module is being loaded now
            sys.meta_path.remove(self.finder)
        module.__spec__.loader = module.__loader__ = self.loader
        with stderr_discarded():
            self.loader.exec_module(module)
            # The CUDA probe ("failed call to cuInit") logs when the devices
            # are first listed, later than the import: list them now.
            list_devices = getattr(getattr(module, "config", None), "list_physical_devices", None)
            if list_devices is not None:
                list_devices()


class _QuietImport(importlib.abc.MetaPathFinder):
    """Imports the module `name` (and what it imports) with stderr discarded.

    It stays in place until the module is really loaded: a look-up alone
    (`importlib.util.find_spec("tensorflow")`, as PyTorch's compiler does to
    see whether TensorFlow is installed) loads nothing and must not use it up.
    """

    def __init__(self, name):
        self.name = name
        self._searching = False

    def find_spec(self, name, path=None, target=None):
        if name != self.name or self._searching:
            return None
        self._searching = True  # the search below passes through here again
        try:
            spec = importlib.util.find_spec(name)
        finally:
            self._searching = False
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader, self)
        return spec


def silence():
    """Silences TensorFlow's, absl's and XLA's start-up logging.

    Sets `ENVIRONMENT` (values the user set already are kept), has
    TensorFlow imported with stderr discarded whenever it is first imported,
    and lowers absl's Python logging to errors. Child processes that convert
    to `.tflite` inherit the environment.

    Example:

    >>> silence()
    >>> import keras  # no CUDA, oneDNN or CPU-feature lines
    """
    for name, value in ENVIRONMENT.items():
        os.environ.setdefault(name, value)
    if "tensorflow" not in sys.modules:
        sys.meta_path.insert(0, _QuietImport("tensorflow"))
    try:
        from absl import logging as absl_logging
    except ImportError:
        return
    absl_logging.set_verbosity(absl_logging.ERROR)
