"""Function matching against the student alone, on a Fashion-MNIST subset.

A teacher trained with augmentation (`small_teacher_cnn`, 206,922 parameters) and
a student 23x smaller (`tiny_student_cnn`, 9,098 parameters). For the same
student, per seed:

- alone: labels only, the same flips and translations, with or without
  mixup (on one-hot labels); the variant with the better mean *validation*
  accuracy is "alone" for the gap;
- KD with the demo's settings (T=2, alpha=0.5), the same flips and
  translations shown to teacher and student (mixup needs alpha=0);
- function matching (`keras_kd.apps.recipes.function_matching`: alpha=0, KL at
  T=1, flips, translations and mixup that teacher and student see alike);
- function matching and the student alone again, with a longer schedule.

Every arm: Adam with `keras_kd.apps.recipes.patient_schedule` (cosine decay to 0
over its epochs), batch 128. Gap closed = (student - alone) / (teacher -
alone), per seed, then mean ± std. Settings are scored on the validation
split (the last 10,000 training images); the test set is only reported.

Usage (TensorFlow backend; the alone arms use tf.data for mixup):

    KERAS_BACKEND=tensorflow nice -n 10 python benchmarks/recipes.py   # ~25 min on 2 shared cores
    KERAS_BACKEND=tensorflow python benchmarks/recipes.py --quick      # seconds: checks the script

Writes benchmarks/RESULTS_recipes.md (not with --quick).
"""

import os
import statistics
import time

import keras
import numpy as np
import tensorflow as tf
from _args import BATCH
from _args import LEARNING_RATE
from _args import MIXUP_ALPHA
from _args import TRANSLATION
from _args import student_parser

import keras_kd
from keras_kd.apps import recipes
from keras_kd.apps.data import load_fashion_mnist
from keras_kd.apps.reference_models import small_teacher_cnn
from keras_kd.apps.reference_models import tiny_student_cnn

HERE = os.path.dirname(os.path.abspath(__file__))
WORK = os.path.join(HERE, "_work")


def parse_args():
    parser = student_parser(__doc__.split("\n")[0], train_samples=5000, teacher_epochs=15, epochs=4)
    parser.add_argument("--long-epochs", type=int, default=8)
    args = parser.parse_args()
    if args.quick:
        args.train_samples, args.teacher_epochs, args.epochs, args.long_epochs = 512, 1, 1, 2
        args.seeds = [0]
    return args


def augmentation(seed, mixup):
    return recipes.function_matching_augmentation(
        mixup_alpha=MIXUP_ALPHA if mixup else None, translation=TRANSLATION, seed=seed
    )


def augmented_dataset(x, y, seed, mixup):
    """Shuffled batches with flips, translations and (optionally) mixup of
    images and one-hot labels, as the alone arms and the teacher train on."""
    layers = augmentation(seed, mixup)
    one_hot = keras.utils.to_categorical(y, 10).astype("float32")

    def augment(images, labels):
        for layer in layers:
            if isinstance(layer, keras.layers.MixUp):
                mixed = layer({"images": images, "labels": labels}, training=True)
                images, labels = mixed["images"], mixed["labels"]
            else:
                images = layer(images, training=True)
        return images, labels

    data = tf.data.Dataset.from_tensor_slices((x, one_hot))
    return data.shuffle(len(x), seed=seed).batch(BATCH).map(augment).prefetch(2)


def optimizer(epochs, samples):
    steps = -(-samples // BATCH)
    schedule = recipes.patient_schedule(LEARNING_RATE, epochs, steps)
    return keras.optimizers.Adam(schedule)


def accuracy(model, x, y):
    logits = model.predict(x, batch_size=1000, verbose=0)
    return float(np.mean(np.argmax(logits, axis=-1) == y))


def train_alone(x, y, epochs, seed, mixup):
    keras.utils.set_random_seed(seed)
    student = tiny_student_cnn()
    student.compile(
        optimizer(epochs, len(x)), keras.losses.CategoricalCrossentropy(from_logits=True)
    )
    student.fit(augmented_dataset(x, y, seed, mixup), epochs=epochs, verbose=0)
    return student


def train_distilled(teacher, x, y, epochs, seed, recipe):
    keras.utils.set_random_seed(seed)
    if recipe == "kd":
        distiller = keras_kd.Distiller(
            teacher,
            tiny_student_cnn(),
            distillation_loss=keras_kd.losses.SoftTargetKD(temperature=2.0),
            alpha=0.5,
            augmentation=augmentation(seed, mixup=False),
        )
    else:
        distiller = recipes.function_matching(
            teacher,
            tiny_student_cnn(),
            mixup_alpha=MIXUP_ALPHA,
            translation=TRANSLATION,
            seed=seed,
        )
    distiller.compile(
        optimizer(epochs, len(x)), keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    distiller.fit(x, y, epochs=epochs, batch_size=BATCH, verbose=0)
    return distiller.student


def cached_teacher(x, y, epochs):
    path = os.path.join(WORK, f"recipes_teacher_{keras.backend.backend()}_{len(x)}_{epochs}.keras")
    if os.path.exists(path):
        print(f"Reusing the teacher trained before: {path}", flush=True)
        return keras.saving.load_model(path, compile=False)
    keras.utils.set_random_seed(0)
    teacher = small_teacher_cnn()
    teacher.compile(
        optimizer(epochs, len(x)), keras.losses.CategoricalCrossentropy(from_logits=True)
    )
    teacher.fit(augmented_dataset(x, y, seed=0, mixup=False), epochs=epochs, verbose=2)
    os.makedirs(WORK, exist_ok=True)
    teacher.save(path)
    return teacher


def run(args):
    (x_all, y_all), (x_test, y_test) = load_fashion_mnist()
    x, y = x_all[: args.train_samples], y_all[: args.train_samples]
    x_val, y_val = x_all[-10000:], y_all[-10000:]
    if args.quick:
        x_val, y_val, x_test, y_test = x_val[:500], y_val[:500], x_test[:500], y_test[:500]
    start = time.time()
    teacher = cached_teacher(x, y, args.teacher_epochs)
    scores = {"teacher": [(accuracy(teacher, x_val, y_val), accuracy(teacher, x_test, y_test))]}
    print(f"teacher: val/test {scores['teacher'][0]} ({time.time() - start:.0f} s)", flush=True)
    arms = [
        ("alone, flips+translations", lambda s: train_alone(x, y, args.epochs, s, False)),
        ("alone, flips+translations+mixup", lambda s: train_alone(x, y, args.epochs, s, True)),
        ("KD (T=2, alpha=0.5)", lambda s: train_distilled(teacher, x, y, args.epochs, s, "kd")),
        ("function matching", lambda s: train_distilled(teacher, x, y, args.epochs, s, "fm")),
        (
            "function matching, long",
            lambda s: train_distilled(teacher, x, y, args.long_epochs, s, "fm"),
        ),
    ]
    for seed in args.seeds:
        for name, train in arms:
            arm_start = time.time()
            student = train(seed)
            scores.setdefault(name, []).append(
                (accuracy(student, x_val, y_val), accuracy(student, x_test, y_test))
            )
            print(
                f"seed {seed} {name}: val/test {scores[name][-1]} "
                f"({time.time() - arm_start:.0f} s)",
                flush=True,
            )
    # The alone variant for the long schedule: the better one on validation.
    best_alone = max(arms[:2], key=lambda arm: statistics.mean(v for v, _ in scores[arm[0]]))
    use_mixup = "mixup" in best_alone[0]
    long_alone = f"{best_alone[0]}, long"
    for seed in args.seeds:
        arm_start = time.time()
        student = train_alone(x, y, args.long_epochs, seed, use_mixup)
        scores.setdefault(long_alone, []).append(
            (accuracy(student, x_val, y_val), accuracy(student, x_test, y_test))
        )
        print(
            f"seed {seed} {long_alone}: val/test {scores[long_alone][-1]} "
            f"({time.time() - arm_start:.0f} s)",
            flush=True,
        )
    return scores, best_alone[0], long_alone, time.time() - start


def mean_std(values):
    values = [100 * v for v in values]
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.2f} ± {spread:.2f}"


def gap_closed(scores, arm, alone, split):
    """Per seed (student - alone) / (teacher - alone), as mean ± std in %."""
    teacher = scores["teacher"][0][split]
    gaps = [
        (s[split] - a[split]) / (teacher - a[split]) for s, a in zip(scores[arm], scores[alone])
    ]
    return mean_std(gaps) + "%"


def format_results(args, scores, alone, long_alone, seconds):
    params = (small_teacher_cnn().count_params(), tiny_student_cnn().count_params())
    lines = [
        "# Function matching on Fashion-MNIST (benchmarks/recipes.py)",
        "",
        "Measured on a machine of 2 CPU cores **shared with 7 other engineers' jobs** (times are "
        f"wall-clock under that load); Keras backend {keras.backend.backend()}; "
        f"{seconds / 60:.0f} minutes in all.",
        "",
        f"Sizes: every model trains on the **first {args.train_samples:,} Fashion-MNIST training "
        "images only** (a subset, to fit the machine); the validation split is the last 10,000 "
        "training images, the test set is the official 10,000. Teacher `small_teacher_cnn` "
        f"({params[0]:,} parameters), trained once (seed 0) for {args.teacher_epochs} epochs with "
        f"random flips and translations; student `tiny_student_cnn` ({params[1]:,} parameters, "
        f"{params[0] / params[1]:.0f}x smaller). Students: {args.epochs} epochs, the long "
        f"schedule {args.long_epochs}; Adam {LEARNING_RATE:g} with a cosine decay to 0 over each "
        f"run (`patient_schedule`), batch {BATCH}; seeds {args.seeds}; mixup alpha "
        f"{MIXUP_ALPHA:g}, translations ±{TRANSLATION:g}.",
        "",
        "| model | epochs | validation accuracy (%) | test accuracy (%) | gap closed, validation | "
        "gap closed, test |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    val_t, test_t = scores["teacher"][0]
    lines.append(
        f"| teacher | {args.teacher_epochs} | {100 * val_t:.2f} | {100 * test_t:.2f} | | |"
    )
    for arm, values in scores.items():
        if arm == "teacher":
            continue
        epochs = args.long_epochs if arm.endswith("long") else args.epochs
        reference = long_alone if arm.endswith("long") else alone
        if arm.startswith("alone"):
            gaps = "| | |"
        else:
            gaps = " | ".join(gap_closed(scores, arm, reference, split) for split in (0, 1))
            gaps = f"| {gaps} |"
        lines.append(
            f"| {arm} | {epochs} | {mean_std(v for v, _ in values)} | "
            f"{mean_std(t for _, t in values)} {gaps}"
        )
    lines += [
        "",
        f'Accuracies are mean ± std over {len(args.seeds)} seeds. "Alone" for the gap is '
        f"**{alone}**, the alone variant with the better mean validation accuracy; the long "
        f"arms compare with **{long_alone}**. Gap closed = (student − alone) / (teacher − alone), "
        "computed per seed, then mean ± std.",
    ]
    return "\n".join(lines)


def main():
    args = parse_args()
    scores, alone, long_alone, seconds = run(args)
    text = format_results(args, scores, alone, long_alone, seconds)
    print(text)
    if not args.quick:
        with open(os.path.join(HERE, "RESULTS_recipes.md"), "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
