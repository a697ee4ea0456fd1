"""keras-kd: knowledge distillation for Keras 3 on TensorFlow, JAX and PyTorch.

Example:

>>> import keras, keras_kd
>>> distiller = keras_kd.Distiller(teacher=teacher, student=student,
...                                distillation_loss="kd", alpha=0.1)
"""

from keras_kd import callbacks
from keras_kd import losses
from keras_kd import recipes
from keras_kd import teachers
from keras_kd.distiller import Distiller

__version__ = "0.1.0"

__all__ = ["Distiller", "callbacks", "losses", "recipes", "teachers", "__version__"]
