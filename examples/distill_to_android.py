"""From a teacher to an int8 `.tflite` file for Android, in one script.

The whole road on Fashion-MNIST, on whichever Keras backend you run it:

1. train a teacher CNN (or load yours with `--teacher teacher.keras`);
2. distill a 15x smaller student from it with `keras_kd.Distiller`;
3. convert the student to a full-integer int8 `.tflite` file, calibrated on
   300 training images, that MediaPipe Tasks' `ImageClassifier` loads as it
   is: it takes a uint8 RGB camera frame (`image_input="uint8_rgb"`: the
   grayscale conversion and the scaling are in the file), outputs
   probabilities, and carries the class names and its input description as
   TFLite Model Metadata; a JSON sidecar says the same for a plain LiteRT app;
4. run the file in the LiteRT interpreter on the test set, fed as RGB
   pixels, and print its accuracy, its agreement with the Keras student, its
   latency and its size next to the float32 file's.

Usage:

    KERAS_BACKEND=jax python examples/distill_to_android.py --out exported/
    python examples/distill_to_android.py --quick --out /tmp/kd   # a smoke run in seconds

The files land in `--out`: `teacher.keras`, `student.keras`,
`student_float32.tflite`, `student_int8.tflite` and their `.json` sidecars.
Copy `student_int8.tflite` into the app's assets; docs/android.md shows the
Kotlin for MediaPipe Tasks and for the plain LiteRT interpreter.
"""

import argparse
import os

import keras
import numpy as np

import keras_kd
import tflite_export
from keras_kd.apps.data import FASHION_MNIST_CLASSES
from keras_kd.apps.data import load_fashion_mnist
from keras_kd.apps.demo import PRESETS
from keras_kd.apps.reference_models import student_cnn
from keras_kd.apps.reference_models import teacher_cnn
from keras_kd.apps.render import markdown_table
from keras_kd.apps.render import percent

CLASS_NAMES = list(FASHION_MNIST_CLASSES)
RECIPE = PRESETS["fashion_mnist"]


def sparse_ce():
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def train_teacher(x, y, epochs):
    teacher = teacher_cnn()
    teacher.compile(keras.optimizers.Adam(2e-3), sparse_ce(), metrics=["accuracy"])
    teacher.fit(x, y, epochs=epochs, batch_size=128, verbose=2)
    return teacher


def distill(teacher, x, y, epochs):
    distiller = keras_kd.Distiller(
        teacher=teacher,
        student=student_cnn(),
        distillation_loss=keras_kd.losses.SoftTargetKD(temperature=RECIPE.temperature),
        alpha=RECIPE.alpha,
    )
    distiller.compile(keras.optimizers.Adam(2e-3), sparse_ce(), metrics=["accuracy"])
    distiller.fit(x, y, epochs=epochs, batch_size=128, verbose=2)
    return distiller.student


def export(student, x_calibration, out):
    """Writes the float32 and int8 files; returns their ConversionResults."""
    results = {}
    for name, mode in (("float32", None), ("int8", "int8")):
        results[name] = tflite_export.convert(
            student,
            os.path.join(out, f"student_{name}.tflite"),
            quantization=mode,
            representative_data=x_calibration if mode else None,
            labels=CLASS_NAMES,
            # The loader scales pixels to [0, 1]: the file divides by 255 itself.
            normalization={"mean": 0.0, "std": 255.0},
            image_input="uint8_rgb",
            probabilities=True,
            verbose=0,
        )
    return results


def camera_frames(x):
    """Fashion-MNIST images as a camera gives them: uint8 RGB, R = G = B."""
    return np.repeat(np.round(x * 255.0).astype("uint8"), 3, axis=-1)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="exported", help="Folder for the files.")
    parser.add_argument("--teacher", help="A trained teacher .keras file (else one is trained).")
    parser.add_argument("--teacher-epochs", type=int, default=RECIPE.teacher_epochs)
    parser.add_argument("--epochs", type=int, default=RECIPE.epochs)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="2,000 training and 1,000 test images, 1 epoch each: checks the road, not the model.",
    )
    args = parser.parse_args(argv)

    (x_train, y_train), (x_test, y_test) = load_fashion_mnist()
    if args.quick:
        x_train, y_train = x_train[:2000], y_train[:2000]
        x_test, y_test = x_test[:1000], y_test[:1000]
        args.teacher_epochs = args.epochs = 1
    os.makedirs(args.out, exist_ok=True)
    keras.utils.set_random_seed(0)

    if args.teacher:
        teacher = keras.saving.load_model(args.teacher)
    else:
        print(f"== Training the teacher ({args.teacher_epochs} epochs)")
        teacher = train_teacher(x_train, y_train, args.teacher_epochs)
        teacher.save(os.path.join(args.out, "teacher.keras"))
    print(f"== Distilling the student ({args.epochs} epochs, backend {keras.backend.backend()})")
    student = distill(teacher, x_train, y_train, args.epochs)
    student.save(os.path.join(args.out, "student.keras"))

    print("== Converting to TFLite and checking the files in LiteRT")
    files = export(student, x_train[:300], args.out)
    rows = []
    frames = camera_frames(x_test)
    logits = student.predict(x_test, verbose=0)
    probabilities = np.exp(logits - logits.max(-1, keepdims=True))
    probabilities /= probabilities.sum(-1, keepdims=True)
    for name, result in files.items():
        report = tflite_export.evaluate(result.path, frames, y_test, reference=probabilities)
        rows.append(
            [
                name,
                f"{result.bytes:,}",
                f"{result.bytes / files['float32'].bytes:.2f}x",
                percent(report.accuracy),
                percent(report.agreement),
                f"{1000 * report.latency_ms:.1f} µs",
            ]
        )
    print()
    print(
        markdown_table(
            [
                "file",
                "bytes",
                "vs float32",
                "test accuracy",
                "agrees with Keras",
                "latency (batch 1)",
            ],
            rows,
        )
    )
    print(f"\nFor the app: {files['int8'].path} (MediaPipe-ready)")
    print(files["int8"].metadata)


if __name__ == "__main__":
    main()
