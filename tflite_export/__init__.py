"""tflite_export: the road from a distilled Keras student to a quantized
TFLite (LiteRT) file on Android.

Importing it does not import TensorFlow: conversion from a JAX or PyTorch
process runs in a TensorFlow child process. keras_kd never imports it.
"""

from tflite_export.convert import ConversionResult
from tflite_export.convert import convert
from tflite_export.evaluate import EvaluationReport
from tflite_export.evaluate import evaluate
from tflite_export.pruning import prune_distill
from tflite_export.qat import quantization_aware_distill
from tflite_export.tfmot_runner import TFMOTResult
