"""Quantization-aware and pruning-aware training in Keras 3, on every backend.

- `quantization_aware(model)`: int8 weights and activations simulated
  (fake quantization, straight-through gradients), ranges learned in
  training; `tflite_export.convert(model, path, quantization="int8")` then
  writes an int8 file without representative data.
- `pruning_aware(model, target_sparsity, ...)`: magnitude masks on a
  polynomial sparsity schedule; `strip(model)` returns the plain model with
  the zeros in place.

Both return Functional models that train in `keras_kd.Distiller`, save as
`.keras` and resume. Pure Keras 3: no TensorFlow import.
"""

from keras_kd.compression._fake_quant import ActivationQuantizer
from keras_kd.compression._wrap import CompressedModel
from keras_kd.compression.pruning import pruning_aware
from keras_kd.compression.pruning import sparsity
from keras_kd.compression.pruning import strip
from keras_kd.compression.quantization import is_quantization_aware
from keras_kd.compression.quantization import quantization_aware

__all__ = [
    "ActivationQuantizer",
    "CompressedModel",
    "is_quantization_aware",
    "pruning_aware",
    "quantization_aware",
    "sparsity",
    "strip",
]
