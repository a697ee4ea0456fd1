"""Quantization-aware distillation in Keras 3, then a full-integer `.tflite`.

A teacher and a small student on scikit-learn's digits (8x8 images): the
student is distilled as usual, then wrapped by
`keras_kd.compression.quantization_aware` and fine-tuned as the Distiller's
student with int8 rounding simulated (on any backend), then converted to an
int8 `.tflite` from the ranges it learned, with no representative data, and
checked in LiteRT against the Keras quantization-aware model. Last, the same
int8 file made ready for MediaPipe Tasks on Android: uint8 RGB frames in,
labels and probabilities out (`keras-kd qat ... --labels --normalization 0 255
--image-input uint8_rgb --probabilities` writes the same from the shell).

    KERAS_BACKEND=jax python examples/quantization_aware_distillation.py --out /tmp/compression
    python examples/quantization_aware_distillation.py --quick --out /tmp/compression  # seconds
"""

import argparse
import os

import keras

import keras_kd
import tflite_export
from keras_kd import compression
from keras_kd.apps.data import load_digits
from keras_kd.apps.render import markdown_table
from keras_kd.apps.render import percent


def cnn(width, name):
    return keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(width, 3, padding="same", activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Flatten(),
            keras.layers.Dense(10),
        ],
        name=name,
    )


def distilled(teacher, student, x, y, epochs, learning_rate):
    distiller = keras_kd.Distiller(teacher, student, distillation_loss="kd", alpha=0.5)
    keras_kd.classification.compile_classifier(distiller, keras.optimizers.Adam(learning_rate))
    distiller.fit(x, y, epochs=epochs, batch_size=64, verbose=0)
    return distiller.student


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="compression_example")
    parser.add_argument("--quick", action="store_true", help="Fewer epochs: a check, not a result.")
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    keras.utils.set_random_seed(0)
    (x_train, y_train), (x_test, y_test) = load_digits()
    epochs = 3 if args.quick else 30

    teacher = cnn(32, "teacher")
    teacher.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    teacher.fit(x_train, y_train, epochs=epochs, batch_size=64, verbose=0)
    student = distilled(teacher, cnn(4, "student"), x_train, y_train, epochs, 3e-3)

    qat = compression.quantization_aware(student)
    qat = distilled(teacher, qat, x_train, y_train, max(1, epochs // 3), 1e-4)
    qat.save(os.path.join(args.out, "student_qat.keras"))

    rows = []
    for name, model, mode in (("float32", student, "float32"), ("int8 (QAT)", qat, "int8")):
        path = os.path.join(args.out, f"student_{mode}.tflite")
        tflite_export.convert(model, path, quantization=mode, verbose=0)
        report = tflite_export.evaluate(path, x_test, y_test, reference=model)
        accuracy, agreement = percent(report.accuracy), percent(report.agreement)
        rows.append([name, f"{report.bytes:,}", accuracy, agreement])
    print(markdown_table(["file", "bytes", "test accuracy", "agrees with Keras"], rows))

    # For MediaPipe Tasks' ImageClassifier: the images are pixels / 255, so
    # the file takes camera frames and divides by 255 itself.
    path = os.path.join(args.out, "student_int8_mediapipe.tflite")
    normalization = {"mean": 0.0, "std": 255.0}
    result = tflite_export.convert(
        qat,
        path,
        quantization="int8",
        labels=[f"digit {d}" for d in range(10)],
        normalization=normalization,
        image_input="uint8_rgb",
        probabilities=True,
        verbose=0,
    )
    frames = tflite_export.image_pixels(x_test, normalization)  # uint8 RGB, as a camera gives
    report = tflite_export.evaluate(path, frames, y_test, latency_samples=0)
    print(
        f"MediaPipe-ready: {path}, {result.bytes:,} bytes, labels {result.metadata.labels[0]!r} "
        f"to {result.metadata.labels[-1]!r}, test accuracy on uint8 RGB frames "
        f"{percent(report.accuracy)}"
    )


if __name__ == "__main__":
    main()
