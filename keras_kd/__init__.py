"""keras-kd: knowledge distillation for Keras 3 on TensorFlow, JAX and PyTorch.

Example:

>>> import keras, keras_kd
>>> distiller = keras_kd.Distiller(teacher=teacher, student=student,
...                                distillation_loss="kd", alpha=0.1)
"""

import sys

# First, before Keras (and on its TensorFlow backend, TensorFlow) is imported:
# the `keras-kd` command prints no start-up chatter unless --verbose.
from keras_kd import _quiet

_quiet.silence_if_console_command(sys.argv)

from keras_kd import callbacks  # noqa: E402
from keras_kd import losses  # noqa: E402
from keras_kd import recipes  # noqa: E402
from keras_kd import teachers  # noqa: E402
from keras_kd import views  # noqa: E402
from keras_kd.distiller import Distiller  # noqa: E402
from keras_kd.teachers.cache import TeacherCache  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "Distiller", "TeacherCache", "callbacks", "losses", "recipes", "teachers", "views",
    "__version__",
]  # fmt: skip
