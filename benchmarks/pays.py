"""Distillation that pays with all labels: a strong teacher, its augmented
views cached once, and a small student distilled patiently (issue 22).

Full Fashion-MNIST: the first 55,000 training images train, the last 5,000
validate, the 10,000 test images are reported. One teacher (a CNN trained
with flips and translations) is trained once and saved; the students learn
from it averaged over each image and its mirror image (`flip_averaged`); its
targets for `--views` augmented views of every training image are cached once
(`keras_kd.TeacherCache.write(..., augmentation=..., views=...)`), and every
distilled arm reads them: epoch `e` shows the student view `e mod views`,
re-augmented exactly as the teacher saw it. Arms, for the same student, the
same epochs and the same views (flips and translations; function matching
adds mixup, from its own cache):

- alone: labels only, on the same views;
- kd: `SoftTargetKD(T=4)`, alpha 0.1;
- kd_std: `SoftTargetKD(T=2, standardize=True)` (Sun et al., 2024), its
  distillation term weighted 9 against 1 for the labels (alpha 0.1), as in
  the paper;
- dkd: `DKD` (Zhao et al., 2022; its defaults), weighted 1 against 1 for the
  labels (alpha 0.5), as in mdistiller;
- mld: `MLD(standardize=True)` (multi-level logit distillation, Jin et
  al., 2023, at mdistiller's temperatures 2-6, its KL term on standardized
  logits as in Sun et al.'s MLKD runs), weighted 9 against 1 for the labels (alpha
  0.1), as kd_std;
- fm: function matching (`keras_kd.apps.recipes.function_matching`: alpha 0,
  KL at T=1, flips, translations and mixup, from the mixup cache).

Every arm: Adam, cosine decay to 0 over its epochs (`patient_schedule`),
batch 128. Gap closed = (arm - alone) / (teacher - alone) per seed, on the
test set; the table also gives validation accuracy.

Resumable: everything lands in `--work`; the teacher trains with
`keras.callbacks.BackupAndRestore`, the caches resume shard by shard, each
(arm, seed) run is saved when done and resumes mid-training from its own
backup, so a killed run started again continues where it stopped. The CPU
seconds of every part are kept, and their sum printed.

Usage:

    # The full configuration (many hours):
    KERAS_BACKEND=tensorflow nice -n 10 python benchmarks/pays.py
    # The teacher alone first (the batch-norm `bn` teacher: about 100 CPU
    # seconds an epoch here, 8-15 wall minutes on the shared 2 cores):
    KERAS_BACKEND=tensorflow nice -n 19 python benchmarks/pays.py \\
        --teacher bn --teacher-epochs 12 --teacher-only
    # The previous session's reduced run (teacher_cnn, ~1 h):
    KERAS_BACKEND=tensorflow nice -n 10 python benchmarks/pays.py \\
        --teacher cnn --teacher-epochs 12 --epochs 8 --views 4 --seeds 0
    python benchmarks/pays.py --quick                               # seconds: checks the script

Writes benchmarks/RESULTS_pays.md (not with --quick).
"""

import json
import os
import statistics
import time

import keras
import numpy as np
from _args import BATCH
from _args import LEARNING_RATE
from _args import MIXUP_ALPHA
from _args import TRANSLATION
from _args import int_at_least
from _args import student_parser

import keras_kd
from keras_kd.apps import recipes
from keras_kd.apps.data import load_fashion_mnist
from keras_kd.apps.reference_models import teacher_cnn
from keras_kd.apps.reference_models import tiny_student_cnn

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "RESULTS_pays.md")
VALIDATION = 5000
ARMS = ("alone", "kd", "kd_std", "dkd", "mld", "fm")


# What --quick sets, overriding the defaults (and refusing other values).
QUICK = {
    "teacher": "cnn",
    "teacher_epochs": 1,
    "epochs": 2,
    "views": 2,
    "seeds": [0],
    "train_samples": 1024,
}


def build_parser():
    parser = student_parser(
        __doc__.split("\n")[0],
        train_samples=60000 - VALIDATION,
        teacher_epochs=60,
        epochs=100,
        epochs_help="Epochs of every student arm.",
    )
    parser.add_argument("--work", default=os.path.join(HERE, "_work", "pays"))
    parser.add_argument(
        "--teacher",
        choices=tuple(TEACHERS),
        default="bn",
        help="wide: two convolutions per block with batch norm; bn: a cheaper one with "
        "batch norm (the default); cnn: teacher_cnn.",
    )
    parser.add_argument("--views", type=int_at_least(1), default=16, help="Cached views per image.")
    parser.add_argument("--arms", nargs="+", choices=ARMS, default=list(ARMS))
    only = parser.add_mutually_exclusive_group()
    only.add_argument("--teacher-only", action="store_true", help="Stop once the teacher is saved.")
    only.add_argument(
        "--report-only",
        action="store_true",
        help="Print the table of the (arm, seed) runs finished so far; train nothing.",
    )
    return parser


def parse_args(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    for name in ("arms", "seeds"):
        values = getattr(args, name)
        if len(set(values)) != len(values):
            parser.error(f"--{name} lists a value twice: {values}. Give each once.")
    if args.train_samples > 60000 - VALIDATION:
        parser.error(
            f"--train-samples must be at most {60000 - VALIDATION:,}: the last "
            f"{VALIDATION:,} training images are the validation split. Received: "
            f"{args.train_samples}"
        )
    if args.quick:
        changed = [
            f"--{name.replace('_', '-')}"
            for name in QUICK
            if getattr(args, name) != parser.get_default(name)
        ]
        if changed:
            sets = ", ".join(f"--{name.replace('_', '-')}" for name in QUICK)
            parser.error(
                f"--quick sets {sets} itself, but {', '.join(changed)} was given too. "
                "Drop one or the other."
            )
        for name, value in QUICK.items():
            setattr(args, name, value)
        args.work = os.path.join(args.work, "quick")
    if os.path.exists(args.work) and not os.path.isdir(args.work):
        parser.error(f"--work must be a folder, but {args.work} is a file.")
    return args


def _error(message):
    """`pays.py: error: message` (with the usage) and exit status 2."""
    build_parser().error(message)


# -- Models ------------------------------------------------------------------------


def _batch_norm_cnn(blocks, input_shape, classes):
    """`(filters, convolutions)` blocks of 3x3 convolutions with batch norm,
    each block ending in a max pooling; then dropout, Dense(256), dropout."""
    inputs = keras.Input(input_shape)
    x = inputs
    for filters, convolutions in blocks:
        for _ in range(convolutions):
            x = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
            x = keras.layers.BatchNormalization()(x)
            x = keras.layers.ReLU()(x)
        x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Dropout(0.3)(keras.layers.Flatten()(x))
    x = keras.layers.Dense(256, activation="relu")(x)
    x = keras.layers.Dropout(0.3)(x)
    return keras.Model(inputs, keras.layers.Dense(classes)(x), name="teacher")


def wide_teacher(input_shape=(28, 28, 1), classes=10):
    """Two 3x3 convolutions per block (48, 96), one of 192, batch norm,
    dropout: 770k parameters, 85x the student."""
    return _batch_norm_cnn(((48, 2), (96, 2), (192, 1)), input_shape, classes)


def bn_teacher(input_shape=(28, 28, 1), classes=10):
    """One 3x3 convolution of 32 at full size, two of 64 and two of 128 after
    each pooling, batch norm, dropout: 575k parameters, 63x the student, at
    a third of `wide_teacher`'s cost per image (its full-size convolutions
    are the cost)."""
    return _batch_norm_cnn(((32, 1), (64, 2), (128, 2)), input_shape, classes)


TEACHERS = {"wide": wide_teacher, "bn": bn_teacher, "cnn": teacher_cnn}


def make_teacher(kind):
    return TEACHERS[kind]()


def make_student():
    return tiny_student_cnn()


def view_augmentation(seed, mixup=False):
    """The views every arm trains on: flips and translations (and mixup)."""
    layers = [
        keras.layers.RandomFlip("horizontal", seed=seed),
        keras.layers.RandomTranslation(TRANSLATION, TRANSLATION, seed=seed + 1),
    ]
    if mixup:
        layers.append(keras.layers.MixUp(alpha=MIXUP_ALPHA, seed=seed + 2))
    return layers


def optimizer(epochs, samples):
    steps = -(-samples // BATCH)
    return keras.optimizers.Adam(recipes.patient_schedule(LEARNING_RATE, epochs, steps))


def accuracy(model, x, y):
    logits = model.predict(x, batch_size=1000, verbose=0)
    return float(np.mean(np.argmax(logits, axis=-1) == y))


# -- Resumable parts -----------------------------------------------------------------


def _load_json(path):
    if os.path.exists(path):
        with open(path) as file:
            return json.load(file)
    return None


def _save_json(path, value):
    temporary = path + ".tmp"
    with open(temporary, "w") as file:
        json.dump(value, file, indent=1)
    os.replace(temporary, path)


def teacher_batches(x, y):
    """Shuffled, augmented batches for the teacher (tf.data; its views are
    not replayed, so the teacher takes the fastest pipeline)."""
    import tensorflow as tf

    layers = view_augmentation(seed=100)

    def augment(images, labels):
        for layer in layers:
            images = layer(images, training=True)
        return images, labels

    data = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x), seed=100)
    return data.batch(BATCH).map(augment, num_parallel_calls=2).prefetch(2)


class HorizontalFlip(keras.layers.Layer):
    """Mirrors (batch, height, width, channels) images left to right."""

    def call(self, images):
        return keras.ops.flip(images, axis=2)


def flip_averaged(teacher):
    """The teacher the students learn from: the mean of its logits for an
    image and for its mirror image (test-time augmentation; the `bn` teacher
    of 30 epochs: 93.40 % alone, 93.69 % so, on the test set)."""
    inputs = keras.Input(teacher.input_shape[1:])
    mirrored = teacher(HorizontalFlip()(inputs))
    logits = keras.layers.Average()([teacher(inputs), mirrored])
    return keras.Model(inputs, logits, name="teacher_flip_averaged")


def trained_teacher(args, data):
    """The teacher, trained once (resuming from its backup) and saved, and
    returned averaged over a mirror image (`flip_averaged`); its record gives
    both accuracies (`test_plain`, `val_plain` for the network alone)."""
    (x, y), (x_val, y_val), (x_test, y_test) = data
    path = os.path.join(args.work, "teacher.keras")
    record_path = os.path.join(args.work, "teacher.json")
    if os.path.exists(path) and os.path.exists(record_path):
        mismatch = teacher_mismatch(args)
        if mismatch:
            _error(mismatch)
        network, record = keras.saving.load_model(path, compile=False), _load_json(record_path)
    else:
        start = time.process_time()
        keras.utils.set_random_seed(0)
        network = make_teacher(args.teacher)
        network.compile(
            optimizer(args.teacher_epochs, len(x)),
            keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        )
        backup = keras.callbacks.BackupAndRestore(os.path.join(args.work, "teacher_backup"))
        network.fit(
            teacher_batches(x, y), epochs=args.teacher_epochs, verbose=2, callbacks=[backup]
        )
        record = {
            "model": args.teacher,
            "parameters": network.count_params(),
            "epochs": args.teacher_epochs,
            "val": accuracy(network, x_val, y_val),
            "test": accuracy(network, x_test, y_test),
            "cpu_seconds": time.process_time() - start,
        }
        network.save(path)
        _save_json(record_path, record)
    teacher = flip_averaged(network)
    if "test_plain" not in record:  # (also a teacher saved before the flip average)
        record = {
            **record,
            "val_plain": record["val"],
            "test_plain": record["test"],
            "val": accuracy(teacher, x_val, y_val),
            "test": accuracy(teacher, x_test, y_test),
        }
        _save_json(record_path, record)
    return teacher, record


def teacher_mismatch(args):
    """Why `--work`'s teacher is not the one asked for, or `None`."""
    record = _load_json(os.path.join(args.work, "teacher.json"))
    if record is None:
        return None
    asked = {"model": args.teacher, "epochs": args.teacher_epochs}
    saved = {key: record.get(key) for key in asked}
    if saved == asked:
        return None
    return (
        f"{args.work} holds a teacher trained as {saved}, not {asked}: pass "
        "those settings to reuse it, or another --work to train a new one."
    )


STUDENTS = "students.json"  # The settings every arm of --work trains with.


def student_settings(args):
    return {"epochs": args.epochs, "views": args.views, "train_samples": args.train_samples}


def check_work(args):
    """Refuses, before anything is written, settings that differ from what
    `--work` already holds: its teacher, and the epochs, views and training
    samples its arms and caches were made with (a finished arm of other
    epochs would be reported as these; a cache of other views is refused
    hours later, after the teacher loads)."""
    mismatch = teacher_mismatch(args)
    if mismatch:
        _error(mismatch)
    if args.teacher_only:
        return
    saved = _load_json(os.path.join(args.work, STUDENTS)) or _settings_found(args.work)
    if saved and any(
        saved.get(key, value) != value for key, value in student_settings(args).items()
    ):
        differing = ", ".join(
            f"--{key.replace('_', '-')} {saved.get(key)} there, {value} now"
            for key, value in student_settings(args).items()
            if saved.get(key, value) != value
        )
        _error(
            f"{args.work} holds arms trained with other settings ({differing}). "
            "Pass the same settings to continue them, or another --work."
        )


def _settings_found(work):
    """The student settings a folder of an earlier version shows: the epochs
    of its finished arms, the views and samples of its caches."""
    found = {}
    records = [f"{arm}_seed" for arm in ARMS]
    for name in sorted(os.listdir(work)) if os.path.isdir(work) else ():
        if name.endswith(".json") and name.rsplit("seed", 1)[0] + "seed" in records:
            found.setdefault("epochs", (_load_json(os.path.join(work, name)) or {}).get("epochs"))
    for cache in ("cache", "cache_mixup"):
        for file in ("manifest.json", "plan.json"):
            settings = _load_json(os.path.join(work, cache, file)) or {}
            views = (settings.get("views") or {}).get("views")
            if views:
                found.setdefault("views", views)
                found.setdefault("train_samples", settings["samples"] // views)
    return {key: value for key, value in found.items() if value is not None}


def cached_views(args, teacher, x, mixup):
    """The teacher's targets for `--views` views of `x`, written once."""
    name = "cache_mixup" if mixup else "cache"
    record_path = os.path.join(args.work, f"{name}.json")
    start = time.process_time()
    cache = keras_kd.TeacherCache.write(
        teacher,
        x,
        os.path.join(args.work, name),
        augmentation=view_augmentation(seed=0, mixup=mixup),
        views=args.views,
        seed=0,
        dtype="float16",
        top_k=None,
    )
    if _load_json(record_path) is None:
        _save_json(record_path, {"cpu_seconds": time.process_time() - start})
    return cache


def distiller_for(arm, cache, student):
    if arm == "kd":
        return keras_kd.Distiller(cache, student, keras_kd.losses.SoftTargetKD(4.0), alpha=0.1)
    if arm == "kd_std":
        # Sun et al.: T=2, KD weight 9 against 1 for the labels: alpha 0.1
        # (the Distiller's total is alpha * labels + (1 - alpha) * KD).
        loss = keras_kd.losses.SoftTargetKD(2.0, standardize=True)
        return keras_kd.Distiller(cache, student, loss, alpha=0.1)
    if arm == "dkd":
        # mdistiller: cross-entropy weight 1, DKD (alpha 1, beta 8) weight 1.
        return keras_kd.Distiller(cache, student, keras_kd.losses.DKD(), alpha=0.5)
    if arm == "mld":
        loss = keras_kd.losses.MLD(standardize=True)
        return keras_kd.Distiller(cache, student, loss, alpha=0.1)
    return recipes.function_matching(cache, student)


def run_arm(args, arm, seed, data, caches):
    """One (arm, seed): trained (resuming from its backup) and scored, once."""
    (x, y), (x_val, y_val), (x_test, y_test) = data
    record_path = os.path.join(args.work, f"{arm}_seed{seed}.json")
    record = _load_json(record_path)
    if record is not None:
        return record
    start = time.process_time()
    keras.utils.set_random_seed(seed)
    student = make_student()
    backup_dir = os.path.join(args.work, f"{arm}_seed{seed}_backup")
    backup = keras.callbacks.BackupAndRestore(backup_dir)
    # A resumed fit skips the epochs done: the views must start at the next one.
    resumed = (_load_json(os.path.join(backup_dir, "training_metadata.json")) or {}).get("epoch", 0)
    compile_args = dict(
        optimizer=optimizer(args.epochs, len(x)),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    if arm == "alone":
        student.compile(**compile_args)
        batches = keras_kd.views.ViewBatches(
            x,
            y,
            view_augmentation(seed=0),
            views=args.views,
            seed=0,
            batch_size=BATCH,
            shuffle=True,
            shuffle_seed=seed,
            initial_epoch=resumed,
        )
        student.fit(batches, epochs=args.epochs, verbose=2, callbacks=[backup])
    else:
        cache = caches["mixup" if arm == "fm" else "plain"]
        distiller = distiller_for(arm, cache, student)
        distiller.compile(**compile_args)
        batches = cache.dataset(x, y, batch_size=BATCH, shuffle=True, seed=seed)
        batches.set_epoch(resumed)
        distiller.fit(batches, epochs=args.epochs, verbose=2, callbacks=[backup])
    record = {
        "arm": arm,
        "seed": seed,
        "epochs": args.epochs,
        "val": accuracy(student, x_val, y_val),
        "test": accuracy(student, x_test, y_test),
        "cpu_seconds": time.process_time() - start,
    }
    _save_json(record_path, record)
    print(
        f"{arm} seed {seed}: val {record['val']:.4f} test {record['test']:.4f} "
        f"({record['cpu_seconds']:.0f} CPU s)",
        flush=True,
    )
    return record


# -- The table -------------------------------------------------------------------------


def mean_std(values, scale=100.0):
    values = [scale * v for v in values]
    if len(values) == 1:
        return f"{values[0]:.2f}"
    spread = statistics.stdev(values)
    return f"{statistics.mean(values):.2f} ± {spread:.2f}"


def table(teacher_record, records, arms, seeds):
    alone = {r["seed"]: r["test"] for r in records if r["arm"] == "alone"}
    lines = [
        "| arm | test accuracy (%) | validation (%) | gap closed (test) |",
        "|---|---|---|---|",
        f"| teacher ({teacher_record['parameters']:,} parameters, mean over a mirror image) | "
        f"{100 * teacher_record['test']:.2f} | {100 * teacher_record['val']:.2f} | |",
    ]
    # The gap is the teacher's lead over the student alone; where the teacher
    # does not lead, "gap closed" has no meaning (its sign flips: an arm worse
    # than alone would read as closing it) and is not given.
    no_gap = sorted(seed for seed, value in alone.items() if teacher_record["test"] <= value)
    for arm in arms:
        mine = [r for r in records if r["arm"] == arm and r["seed"] in seeds]
        if not mine:
            continue
        gaps = [
            (r["test"] - alone[r["seed"]]) / (teacher_record["test"] - alone[r["seed"]])
            for r in mine
            if arm != "alone" and r["seed"] in alone
        ]
        if arm == "alone" or not gaps:
            gap = ""
        elif no_gap:
            gap = f"none: the teacher does not beat alone (seeds {no_gap})"
        else:
            gap = mean_std(gaps) + " %"
        lines.append(
            f"| {arm} | {mean_std([r['test'] for r in mine])} | "
            f"{mean_std([r['val'] for r in mine])} | {gap} |"
        )
    return "\n".join(lines)


def report(args):
    """The table of what `--work` holds, without training or loading data."""
    teacher_record = _load_json(os.path.join(args.work, "teacher.json"))
    if teacher_record is None:
        _error(
            f"--report-only: no trained teacher in {args.work} yet (no teacher.json), "
            "so nothing to report. Give the --work of a run, or run without --report-only."
        )
    records = [
        record
        for seed in args.seeds
        for arm in args.arms
        if (record := _load_json(os.path.join(args.work, f"{arm}_seed{seed}.json")))
    ]
    # Only seeds every arm finished: each row then averages the same seeds.
    seeds = [
        seed
        for seed in args.seeds
        if all(any(r["arm"] == arm and r["seed"] == seed for r in records) for arm in args.arms)
    ]
    records = [r for r in records if r["seed"] in seeds]
    text = table(teacher_record, records, args.arms, seeds)
    cpu = total_cpu_seconds(args, teacher_record, records)
    print(text)
    print(
        f"Seeds finished by every arm: {seeds}; CPU time of the parts finished: {cpu / 3600:.2f} h"
    )
    return text


def total_cpu_seconds(args, teacher_record, records):
    """CPU seconds of the teacher, the view caches and the arms' `records`."""
    caches = sum(
        (_load_json(os.path.join(args.work, f"{name}.json")) or {}).get("cpu_seconds", 0.0)
        for name in ("cache", "cache_mixup")
    )
    return teacher_record["cpu_seconds"] + sum(r["cpu_seconds"] for r in records) + caches


def main(argv=None):
    args = parse_args(argv)
    if args.report_only:
        return report(args)
    check_work(args)
    os.makedirs(args.work, exist_ok=True)
    _save_json(os.path.join(args.work, "settings.json"), vars(args))
    (x_all, y_all), (x_test, y_test) = load_fashion_mnist()
    x, y = x_all[: args.train_samples], y_all[: args.train_samples]
    x_val, y_val = x_all[-VALIDATION:], y_all[-VALIDATION:]
    if args.quick:
        x_val, y_val, x_test, y_test = x_val[:500], y_val[:500], x_test[:500], y_test[:500]
    data = ((x, y), (x_val, y_val), (x_test, y_test))
    wall = time.time()
    teacher, teacher_record = trained_teacher(args, data)
    print(f"teacher: val {teacher_record['val']:.4f} test {teacher_record['test']:.4f}", flush=True)
    if args.teacher_only:
        return ""
    _save_json(os.path.join(args.work, STUDENTS), student_settings(args))
    caches = {}
    if set(args.arms) - {"alone", "fm"}:
        caches["plain"] = cached_views(args, teacher, x, mixup=False)
    if "fm" in args.arms:
        caches["mixup"] = cached_views(args, teacher, x, mixup=True)
    records = [run_arm(args, arm, seed, data, caches) for seed in args.seeds for arm in args.arms]
    cpu = total_cpu_seconds(args, teacher_record, records)
    text = table(teacher_record, records, args.arms, args.seeds)
    print(text)
    print(
        f"CPU time, all parts (summed over resumed runs): {cpu / 3600:.2f} h; "
        f"this invocation's wall time {time.time() - wall:.0f} s",
        flush=True,
    )
    if not args.quick:
        settings = {k: v for k, v in vars(args).items() if k != "work"}
        with open(RESULTS, "w") as file:
            file.write(
                "# Distillation that pays: results of benchmarks/pays.py\n\n"
                f"Command settings: `{json.dumps(settings)}`\n\n"
                f"{text}\n\nCPU time, all parts: {cpu / 3600:.2f} h.\n"
            )
    return text


if __name__ == "__main__":
    main()  # (its table is for callers; `sys.exit("")` would exit 1 after --teacher-only)
