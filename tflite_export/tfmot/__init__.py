"""Quantization-aware and pruning-aware distillation through TFMOT.

TFMOT works on tf-keras (Keras 2) models only, so a bridge clones a Keras 3
student into tf-keras (`to_tf_keras`); the teacher's targets are computed in
the user's process, and the fine-tuning runs in a TensorFlow child process
with keras_kd's own soft-target loss.
"""

from tflite_export.tfmot._bridge import SUPPORTED_LAYERS
from tflite_export.tfmot._bridge import check_bridgeable
from tflite_export.tfmot._bridge import layer_weights
from tflite_export.tfmot._bridge import set_layer_weights
from tflite_export.tfmot._bridge import to_tf_keras
from tflite_export.tfmot._distill import TFMOTResult
from tflite_export.tfmot._pruning import prune_distill
from tflite_export.tfmot._qat import quantization_aware_distill

__all__ = [
    "SUPPORTED_LAYERS",
    "TFMOTResult",
    "check_bridgeable",
    "layer_weights",
    "prune_distill",
    "quantization_aware_distill",
    "set_layer_weights",
    "to_tf_keras",
]
