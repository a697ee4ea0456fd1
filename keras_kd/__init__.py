"""keras-kd: knowledge distillation for Keras 3 on TensorFlow, JAX and PyTorch.

The package's face is lazy: `import keras_kd` imports neither Keras nor a
backend, so that the `keras-kd` command can silence TensorFlow's start-up
logging before either is imported. The first use of any public name imports
the whole core (the Distiller, the losses, the teachers, the callbacks), which
registers every class keras-kd saves, so `keras.saving.load_model` finds them
after any use of `keras_kd`; `keras_kd.load_core()` does the same explicitly.

Layers, each importing only those before it (`docs/architecture.md`):
core (`keras_kd` and its sub-packages below) ← apps (`keras_kd.apps`:
demo, data, reference models, comparison, tuning, recipes) ← export
(`tflite_export`) ← the command (`keras_kd.cli`).

Example:

>>> import keras, keras_kd
>>> distiller = keras_kd.Distiller(teacher=teacher, student=student,
...                                distillation_loss="kd", alpha=0.1)
"""

import importlib
import sys
from typing import TYPE_CHECKING

from keras_kd._version import __version__ as __version__

if TYPE_CHECKING:
    from keras_kd import callbacks as callbacks
    from keras_kd import checks as checks
    from keras_kd import classification as classification
    from keras_kd import compression as compression
    from keras_kd import files as files
    from keras_kd import losses as losses
    from keras_kd import outputs as outputs
    from keras_kd import taps as taps
    from keras_kd import teachers as teachers
    from keras_kd import views as views
    from keras_kd.distiller import Distiller as Distiller
    from keras_kd.teachers.cache import TeacherCache as TeacherCache

# Public name -> the module that defines it.
_CLASSES = {
    "Distiller": "keras_kd.distiller",
    "TeacherCache": "keras_kd.teachers.cache",
}
# Public sub-modules of the core, reachable as attributes.
_SUBMODULES = (
    "callbacks",
    "checks",
    "classification",
    "compression",
    "files",
    "losses",
    "outputs",
    "taps",
    "teachers",
    "views",
)
# What importing the core means: every module that registers a saveable class
# (in the order the core's own imports need).
_CORE = (
    "keras_kd.callbacks",
    "keras_kd.losses",
    "keras_kd.teachers",
    "keras_kd.distiller",
    "keras_kd.compression",
)

__all__ = sorted([*_CLASSES, *_SUBMODULES, "load_core", "__version__"])


def load_core() -> None:
    """Imports the core now, registering every class keras-kd saves.

    Called by the first use of any public name; call it yourself only to load
    a saved Distiller before naming anything of keras_kd.

    Example:

    >>> keras_kd.load_core()
    >>> "keras_kd>Distiller" in keras.saving.get_custom_objects()
    True
    """
    for module in _CORE:
        importlib.import_module(module)


def _core_is_importing() -> bool:
    """Whether a keras_kd module is being executed right now (an import of
    the core is under way, so loading the rest of it now would run in a
    circle)."""
    return any(
        getattr(getattr(module, "__spec__", None), "_initializing", False)
        for name, module in list(sys.modules.items())
        if name.startswith("keras_kd.")
    )


def __getattr__(name: str):
    if name in _CLASSES:
        module = _CLASSES[name]
    elif name in _SUBMODULES:
        module = f"{__name__}.{name}"
    else:
        raise AttributeError(f"module 'keras_kd' has no attribute '{name}'")
    if not _core_is_importing():
        load_core()
    value = importlib.import_module(module)
    return getattr(value, name) if name in _CLASSES else value


def __dir__():
    return sorted(set(globals()) | set(__all__))
