"""tflite_export: the road from a distilled Keras student to a quantized
TFLite (LiteRT) file on Android. TensorFlow only; keras_kd never imports it.
"""

from tflite_export.pruning import prune_distill
from tflite_export.qat import quantization_aware_distill
from tflite_export.tfmot_runner import TFMOTResult
