"""A character-level language model distilled on real text, then run in LiteRT.

The text is the fortune-cookie collection of the Debian package `fortunes`
(`apt-get install fortunes`; read by `keras_kd.apps.data.load_fortunes`, no
download at run time). The model reads a fixed window of characters and
predicts, at every position, the next one: outputs `(batch, time, 96)`, so
`SoftTargetKD` distils position by position.

1. a teacher: a small causal Transformer (`keras.layers` only: a causal
   convolution for word-piece features and order, then pre-norm blocks of
   `MultiHeadAttention(use_causal_mask=True)` and a feed-forward layer);
2. a GRU student several times smaller, trained on the text alone, then
   distilled with `--divergence` (forward KL, reverse KL or JSD) and
   `alpha` on the true next characters;
3. the distilled student converted with `tflite_export.convert` (float32)
   and run by the LiteRT interpreter on the held-out text.

Quality is bits per character (bpc) on held-out fortunes: the mean
cross-entropy of the next character, in bits; lower is better.

Usage:

    KERAS_BACKEND=tensorflow python examples/char_lm.py --divergence jsd
    KERAS_BACKEND=jax python examples/char_lm.py --quick     # seconds
"""

import argparse
import math
import os
import tempfile

import keras
import numpy as np

import keras_kd
import tflite_export
from keras_kd.apps.data import CHARACTERS
from keras_kd.apps.data import load_fortunes

VOCABULARY = len(CHARACTERS)


def windows(ids, length, stride=None):
    """Cuts a character-id stream into `(x, y)` windows: `y` is `x` shifted
    by one character. Ids are given as float32 so that the `.tflite` file
    takes float input (the way `tflite_export.evaluate` feeds it);
    `Embedding` casts them back to integers."""
    stride = stride or length
    starts = np.arange(0, len(ids) - length - 1, stride)
    index = starts[:, None] + np.arange(length)
    return ids[index].astype("float32"), ids[index + 1].astype("int32")


def transformer_lm(length, width=128, depth=2, heads=4, name="teacher"):
    """A causal Transformer over `length` characters (Functional, pre-norm)."""
    inputs = keras.Input((length,), dtype="float32", name="chars")
    x = keras.layers.Embedding(VOCABULARY, width)(inputs)
    # Position enters through a causal convolution (each position sees its
    # 4 last characters) and the causal mask itself.
    x = keras.layers.Conv1D(width, 4, padding="causal", activation="gelu")(x)
    for _ in range(depth):
        h = keras.layers.LayerNormalization()(x)
        h = keras.layers.MultiHeadAttention(heads, width // heads)(h, h, use_causal_mask=True)
        x = keras.layers.Add()([x, h])
        h = keras.layers.LayerNormalization()(x)
        h = keras.layers.Dense(4 * width, activation="gelu")(h)
        x = keras.layers.Add()([x, keras.layers.Dense(width)(h)])
    x = keras.layers.LayerNormalization()(x)
    return keras.Model(inputs, keras.layers.Dense(VOCABULARY)(x), name=name)


def gru_lm(length, units=96, embedding=32, name="student"):
    """A one-layer GRU over `length` characters (unrolled: plain ops in TFLite)."""
    inputs = keras.Input((length,), dtype="float32", name="chars")
    x = keras.layers.Embedding(VOCABULARY, embedding)(inputs)
    x = keras.layers.GRU(units, return_sequences=True, unroll=True)(x)
    return keras.Model(inputs, keras.layers.Dense(VOCABULARY)(x), name=name)


def bits_per_character(logits, y):
    """Mean next-character cross-entropy in bits, computed in float64."""
    z = np.asarray(logits, "float64")
    z = z - z.max(-1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(-1, keepdims=True))
    return float(-np.take_along_axis(log_p, y[..., None], -1).mean() / math.log(2.0))


def keras_bpc(model, x, y):
    return bits_per_character(model.predict(x, batch_size=256, verbose=0), y)


def compile_kwargs(learning_rate):
    return {
        "optimizer": keras.optimizers.Adam(learning_rate),
        "loss": keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    }


def train_teacher(x, y, epochs, length, learning_rate=2e-3, batch_size=64, **sizes):
    teacher = transformer_lm(length, **sizes)
    teacher.compile(**compile_kwargs(learning_rate))
    teacher.fit(x, y, epochs=epochs, batch_size=batch_size, verbose=0)
    return teacher


def train_student(
    x,
    y,
    epochs,
    length,
    teacher=None,
    divergence="forward",
    beta=0.5,
    alpha=0.5,
    temperature=1.0,
    learning_rate=5e-3,
    batch_size=64,
    **sizes,
):
    """The GRU student on the text alone (`teacher=None`) or distilled with
    `SoftTargetKD(temperature, divergence, beta)` and weight `alpha` on the
    true next characters."""
    student = gru_lm(length, **sizes)
    model = student
    if teacher is not None:
        loss = keras_kd.losses.SoftTargetKD(temperature, divergence=divergence, beta=beta)
        model = keras_kd.Distiller(teacher, student, distillation_loss=loss, alpha=alpha)
    model.compile(**compile_kwargs(learning_rate))
    model.fit(x, y, epochs=epochs, batch_size=batch_size, verbose=0)
    return student


def litert_bpc(student, x, y, path):
    """Converts `student` to a float32 `.tflite` file at `path` and returns
    the bits per character of the LiteRT interpreter's outputs on `x`."""
    tflite_export.convert(student, path, verbose=0)
    report = tflite_export.evaluate(path, x, latency_samples=10, warmup=2)
    return bits_per_character(report.outputs, y), report.bytes


def main(argv=None):
    parser = argparse.ArgumentParser(description="Character-level LM distillation.")
    parser.add_argument("--divergence", default="forward", choices=["forward", "reverse", "jsd"])
    parser.add_argument("--beta", type=float, default=0.5)
    parser.add_argument("--alpha", type=float, default=0.5)
    parser.add_argument("--window", type=int, default=64)
    parser.add_argument("--train-chars", type=int, default=400_000)
    parser.add_argument("--teacher-epochs", type=int, default=8)
    parser.add_argument("--student-epochs", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="Folder for the .tflite file.")
    parser.add_argument("--quick", action="store_true", help="Tiny run to check the script.")
    args = parser.parse_args(argv)
    teacher_sizes, student_sizes = {}, {}
    if args.quick:
        args.window, args.train_chars, args.teacher_epochs, args.student_epochs = 16, 12_000, 1, 1
        teacher_sizes, student_sizes = {"width": 32, "depth": 1}, {"units": 16, "embedding": 8}

    keras.utils.set_random_seed(args.seed)
    train_ids, test_ids = load_fortunes(max_chars=args.train_chars)
    x, y = windows(train_ids, args.window)
    x_test, y_test = windows(test_ids, args.window)
    teacher = train_teacher(x, y, args.teacher_epochs, args.window, **teacher_sizes)
    alone = train_student(x, y, args.student_epochs, args.window, **student_sizes)
    distilled = train_student(
        x,
        y,
        args.student_epochs,
        args.window,
        teacher=teacher,
        divergence=args.divergence,
        beta=args.beta,
        alpha=args.alpha,
        **student_sizes,
    )
    out = args.out or tempfile.mkdtemp(prefix="char_lm_")
    lite_bpc, size = litert_bpc(distilled, x_test, y_test, os.path.join(out, "student.tflite"))

    print(f"Held-out fortunes: {x_test.size:,} characters; window {args.window}.")
    print("| model | parameters | bits per character |")
    print("|---|---:|---:|")
    for label, model in (
        ("teacher (Transformer)", teacher),
        ("student alone (GRU)", alone),
        (f"student distilled ({args.divergence})", distilled),
    ):
        print(f"| {label} | {model.count_params():,} | {keras_bpc(model, x_test, y_test):.3f} |")
    print(f"| same, float32 .tflite in LiteRT ({size:,} bytes) | | {lite_bpc:.3f} |")


if __name__ == "__main__":
    main()
