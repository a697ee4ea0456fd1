"""Benchmark: the distilled Fashion-MNIST student in MediaPipe Tasks, every mode.

The student is the one of `benchmarks/export.py` (trained once, cached in
`_work/`). It is converted as the README's MediaPipe-ready command does
(`labels`, `normalization` 0/255, `image_input="uint8_rgb"`,
`probabilities=True`) in every quantization mode. Each file MediaPipe can
load is loaded by MediaPipe's Python `ImageClassifier` (mediapipe 1.2.3, in
its own environment: tests/_mediapipe_venv.py) and classifies the test images
given as SRGB `mp.Image` camera frames (R = G = B = the pixel); its top-1 is
compared with the LiteRT interpreter's on the same frames
(`tflite_export.evaluate`) and with the Keras student's on the float images.
The modes `convert` refuses are listed with its message.

Usage:

    KERAS_BACKEND=tensorflow python benchmarks/mediapipe_client.py    # trains the pair once
    KERAS_BACKEND=tensorflow python benchmarks/mediapipe_client.py --quick

Writes the table to `benchmarks/RESULTS_mediapipe.md`, `docs/android.md` and
`README.md` (between the `mediapipe` markers).
"""

import json
import os
import subprocess
import sys
import tempfile
import time

import keras
import numpy as np
from _markdown import publish
from _shared import HERE
from _shared import ROOT
from _shared import data_and_pair
from _shared import pair_parser

import tflite_export
from keras_kd.apps.data import FASHION_MNIST_CLASSES
from keras_kd.apps.render import markdown_table
from tflite_export import modes

sys.path.insert(0, os.path.join(ROOT, "tests"))
from _mediapipe_venv import MEDIAPIPE  # noqa: E402
from _mediapipe_venv import ensure_venv  # noqa: E402

CLIENT = os.path.join(ROOT, "tests", "_scripts", "mediapipe_classify.py")
RESULTS = os.path.join(HERE, "RESULTS_mediapipe.md")
CLASS_NAMES = list(FASHION_MNIST_CLASSES)


def frames(x):
    """Float images in [0, 1], 1 channel, as uint8 RGB camera frames."""
    return np.repeat(np.round(x * 255.0).astype("uint8"), 3, axis=-1)


def convert_all(student, x_cal, folder):
    """`{mode: path}` of the files written, `{mode: message}` of the refused."""
    written, refused = {}, {}
    for mode in modes.names():
        path = os.path.join(folder, f"student_{mode}.tflite")
        try:
            tflite_export.convert(
                student,
                path,
                quantization=mode,
                representative_data=x_cal,
                labels=CLASS_NAMES,
                normalization={"mean": 0.0, "std": 255.0},
                image_input="uint8_rgb",
                probabilities=True,
                verbose=0,
            )
            written[mode] = path
        except ValueError as error:
            refused[mode] = str(error)
    return written, refused


def classify(paths, images, folder):
    """MediaPipe's results for every file, from one client process."""
    np.save(os.path.join(folder, "images.npy"), images)
    job = os.path.join(folder, "job.json")
    with open(job, "w") as f:
        json.dump({"images": os.path.join(folder, "images.npy"), "files": list(paths)}, f)
    result = os.path.join(folder, "result.json")
    subprocess.run([str(ensure_venv()), CLIENT, job, result], check=True)
    with open(result) as f:
        return json.load(f)


def main():
    parser = pair_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=10000, help="Test images classified.")
    args = parser.parse_args()
    start = time.time()
    (x, _), (x_test, y_test), (_, student) = data_and_pair(args)
    x_test, y_test = x_test[: args.images], y_test[: args.images]
    keras_top1 = np.argmax(student.predict(x_test, batch_size=512, verbose=0), -1)
    with tempfile.TemporaryDirectory() as folder:
        written, refused = convert_all(student, x[:300], folder)
        seen = classify(written.values(), frames(x_test), folder)
        rows = []
        for mode, path in written.items():
            result = seen[path]
            if "error" in result:
                rows.append([mode, "no: " + result["error"][:80], "-", "-", "-", "-", "-"])
                continue
            scores = np.array(result["scores"], dtype="float64")
            litert = tflite_export.evaluate(path, frames(x_test), latency_samples=0).outputs
            top1 = np.argmax(scores, -1)
            rows.append(
                [
                    mode,
                    f"yes ({os.path.getsize(path):,} bytes)",
                    f"{np.mean(top1 == np.argmax(litert, -1)):.2%}",
                    f"{np.mean(top1 == keras_top1):.2%}",
                    f"{np.mean(top1 == y_test):.2%}",
                    f"{np.abs(scores - litert).max():.3g}",
                    f"{np.abs(scores.sum(-1) - 1).max():.3g}",
                ]
            )
    header = [
        "mode",
        "loads in MediaPipe",
        "top-1 = LiteRT's",
        "top-1 = Keras'",
        "accuracy (MediaPipe)",
        "max score diff vs LiteRT",
        "largest gap of a score sum to 1",
    ]
    refusals = "\n".join(
        f"- `{mode}`: refused by `convert`: {message}" for mode, message in refused.items()
    )
    text = (
        f"Fashion-MNIST test set ({len(x_test):,} images as uint8 RGB frames, given to "
        f"MediaPipe as SRGB `mp.Image`); the distilled student `student_cnn` "
        f"({student.count_params():,} parameters, 1 channel) converted with "
        f"`--labels --normalization 0 255 --image-input uint8_rgb --probabilities`; Keras "
        f"student {np.mean(keras_top1 == y_test):.2%}; {MEDIAPIPE} `ImageClassifier`, running "
        f"mode IMAGE; backend {keras.backend.backend()}. Total {time.time() - start:.0f} s.\n\n"
        f"{markdown_table(header, rows)}\n\n{refusals}"
    )
    print("\n" + text)
    if not args.quick:
        documents = [os.path.join(ROOT, doc) for doc in ("docs/android.md", "README.md")]
        publish(
            text,
            "mediapipe",
            "MediaPipe benchmark (benchmarks/mediapipe_client.py)",
            [RESULTS, *documents],
        )


if __name__ == "__main__":
    main()
