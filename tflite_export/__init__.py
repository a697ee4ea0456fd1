"""tflite_export: the road from a distilled Keras student to a quantized
TFLite (LiteRT) file on Android. TensorFlow only; keras_kd never imports it.
"""
