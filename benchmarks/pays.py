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
- fm_plain: the same, from the plain cache (flips and translations, no
  mixup): the teacher's distribution alone, matched at T=1, on the views
  the student alone trains on (the ablation of fm's mixup).

Every arm: Adam, cosine decay to 0 over its epochs (`patient_schedule`),
batch 128, from a peak learning rate of 2e-3, or, with several
`--learning-rates`, the one of them that gives the arm its best validation
accuracy in a shorter run (`--select-epochs`, seed 1000; `learning_rate_for`).
Gap closed = (arm - alone) / (teacher - alone) per seed, on the test set; the
table also gives validation accuracy.

Resumable: everything lands in `--work`; the teacher trains with
`keras.callbacks.BackupAndRestore`, the caches resume shard by shard, each
(arm, seed) run is saved when done and resumes mid-training from its own
backup, so a killed run started again continues where it stopped. The CPU
seconds of every part, over every invocation that worked on it, are kept in
`cpu.json` (a part under way when the process is killed by SIGKILL loses
its share), and their sum printed.

Several processes may share one `--work` with other `--seeds` or `--arms`
(the settings of the students must be the same: `check_work`): the teacher
and each (arm, seed) are locked while one process makes them, the other
waits and then reads them; each invocation is appended to settings.json;
RESULTS_pays.md shows every run the folder holds, whichever process ends last.

Usage (several processes on a few cores: give each one thread,
`TF_NUM_INTRAOP_THREADS=1 TF_NUM_INTEROP_THREADS=1`; measured here, 3-4
processes on 2 cores, the tiny student's step took 34 CPU ms so, 70-80 with
TensorFlow's default threads, which wait on each other):

    # The full configuration (about 19 CPU hours here: 5 arms, 3 seeds, 100 epochs,
    # each arm's rate chosen among three), in two processes sharing one folder:
    C="--seeds 0 1 2 --learning-rates 4e-3 8e-3 1.6e-2 --work W"
    KERAS_BACKEND=tensorflow nice -n 10 python benchmarks/pays.py $C \\
        --arms fm alone kd kd_std dkd
    KERAS_BACKEND=tensorflow nice -n 10 python benchmarks/pays.py $C \\
        --arms dkd kd_std kd alone
    # The first full run (every arm at 2e-3; the table `pays`):
    KERAS_BACKEND=tensorflow nice -n 10 python benchmarks/pays.py
    # The teacher alone first (the batch-norm `bn` teacher: about 100 CPU
    # seconds an epoch here, 8-15 wall minutes on the shared 2 cores):
    KERAS_BACKEND=tensorflow nice -n 19 python benchmarks/pays.py \\
        --teacher bn --teacher-epochs 12 --teacher-only
    # The previous session's reduced run (teacher_cnn, ~1 h):
    KERAS_BACKEND=tensorflow nice -n 10 python benchmarks/pays.py \\
        --teacher cnn --teacher-epochs 12 --epochs 8 --views 4 --seeds 0
    # The capacity ablation: the same teacher, student_cnn (26,698 parameters):
    KERAS_BACKEND=tensorflow nice -n 10 python benchmarks/pays.py --student cnn \\
        --work benchmarks/_work/pays_student_cnn --seeds 0 --arms alone kd_std
    # Each arm's learning rate chosen on the validation split (runs of 10 epochs):
    KERAS_BACKEND=tensorflow nice -n 10 python benchmarks/pays.py \\
        --learning-rates 1e-3 2e-3 4e-3 --select-epochs 10 --work W
    python benchmarks/pays.py --quick                               # seconds: checks the script

Writes benchmarks/RESULTS_pays.md (not with --quick): the seeds every arm in
`--work` finished, between the markers of its student settings
(`results_marker`); refused before training where RESULTS_pays.md's
markers are broken or its table there is of other settings, e.g. another
teacher (`results_conflict`).
`--report-only` and `--analyse` show every run `--work` holds (whichever
process made it), or the `--arms` and `--seeds` given; a run counts once
its record (`<arm>_seed<seed>.json`) is written.
"""

import os
import shutil
import signal
import sys
import time

import keras
import numpy as np
from _args import BATCH
from _args import LEARNING_RATE
from _args import int_at_least
from _args import positive_float
from _args import student_parser
from _markdown import MarkdownFileError
from _pays_folder import ARMS
from _pays_folder import SELECTION_SEED
from _pays_folder import STUDENTS
from _pays_folder import arm_summary
from _pays_folder import baseline_records
from _pays_folder import chosen_rate
from _pays_folder import finished_runs
from _pays_folder import folder_records
from _pays_folder import folder_table
from _pays_folder import parts_begun
from _pays_folder import parts_begun_text
from _pays_folder import run_record
from _pays_folder import runs_table
from _pays_folder import selection_part
from _pays_folder import selection_record
from _pays_folder import selection_table
from _pays_folder import table
from _pays_folder import total_cpu_seconds
from _pays_models import FLIP_AVERAGED
from _pays_models import STUDENT_MODELS
from _pays_models import TEACHERS
from _pays_models import flip_averaged
from _pays_models import make_student
from _pays_models import make_teacher
from _pays_models import teacher_batches
from _pays_models import view_augmentation
from _pays_results import table_conflict
from _pays_results import write_table
from _work import RecordError
from _work import charged
from _work import claimed
from _work import cpu_spent
from _work import load_record
from _work import read_ledger
from _work import save_record

import keras_kd
from keras_kd.apps import recipes
from keras_kd.apps.data import load_fashion_mnist

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "RESULTS_pays.md")
VALIDATION = 5000
# The full configuration's student settings (the defaults).
FULL_EPOCHS = 100
FULL_VIEWS = 16


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
        teacher_epochs=30,
        epochs=FULL_EPOCHS,
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
    parser.add_argument(
        "--student",
        choices=tuple(STUDENT_MODELS),
        default="tiny",
        help="tiny: tiny_student_cnn, 9,098 parameters (the default); cnn: student_cnn, "
        "26,698 parameters (the capacity ablation). One --work holds one student.",
    )
    parser.add_argument(
        "--views", type=int_at_least(1), default=FULL_VIEWS, help="Cached views per image."
    )
    parser.add_argument(
        "--learning-rates",
        type=positive_float,
        nargs="+",
        default=[LEARNING_RATE],
        help="Adam's peak learning rate (cosine decay to 0). One: every arm trains at it "
        f"(default {LEARNING_RATE:g}). Several: each arm's is chosen among them on the "
        "validation split (`learning_rate_for`).",
    )
    parser.add_argument(
        "--select-epochs",
        type=int_at_least(1),
        default=None,
        help="With several --learning-rates: the epochs of each selection run "
        "(default: a tenth of --epochs, at least 1).",
    )
    parser.add_argument(
        "--arms",
        nargs="+",
        choices=ARMS,
        default=None,
        help="Arms to train (default: all). --report-only and --analyse: the arms to "
        "show (default: every run the folder holds, whichever process made it).",
    )
    # As --arms: None until parse_args knows whether it was given.
    parser.set_defaults(seeds=None)
    only = parser.add_mutually_exclusive_group()
    only.add_argument("--teacher-only", action="store_true", help="Stop once the teacher is saved.")
    only.add_argument(
        "--report-only",
        action="store_true",
        help="Print the table of the (arm, seed) runs finished so far; train nothing.",
    )
    only.add_argument(
        "--analyse",
        action="store_true",
        help="For every saved student: test accuracy, agreement with the teacher, KL to the "
        "teacher, training-set accuracy; train nothing.",
    )
    return parser


# --arms and --seeds when not given: what trains (--report-only and
# --analyse show every run --work holds instead).
DEFAULT_RUNS = {"arms": list(ARMS), "seeds": [0, 1, 2]}


def parse_args(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    for name in ("arms", "seeds", "learning_rates"):
        values = getattr(args, name)
        if values is not None and len(set(values)) != len(values):
            option = name.replace("_", "-")
            parser.error(f"--{option} lists a value twice: {values}. Give each once.")
    named = {}  # A selection run's file (`selection_part`) names its rate with :g.
    for rate in args.learning_rates:
        if (other := named.setdefault(f"{rate:g}", rate)) != rate:
            parser.error(
                f"--learning-rates {other!r} and {rate!r} are the same to 6 significant "
                f"digits ({rate:g}), which name their selection runs and the tables. Give "
                "rates that differ within 6 digits."
            )
    if args.quick:  # First: the checks below see the epochs it sets.
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
    if args.train_samples > 60000 - VALIDATION:
        parser.error(
            f"--train-samples must be at most {60000 - VALIDATION:,}: the last "
            f"{VALIDATION:,} training images are the validation split. Received: "
            f"{args.train_samples}"
        )
    if len(args.learning_rates) == 1 and args.select_epochs is not None:
        parser.error(
            f"--select-epochs {args.select_epochs} was given with one learning rate "
            f"({args.learning_rates[0]:g}): there is nothing to select. Give two or more "
            "--learning-rates, or drop --select-epochs."
        )
    if args.select_epochs is not None and args.select_epochs > args.epochs:
        parser.error(
            f"--select-epochs {args.select_epochs} is more than --epochs {args.epochs}: "
            "a selection run is meant to be a shorter one. Give at most --epochs."
        )
    if len(args.learning_rates) > 1 and args.select_epochs is None:
        args.select_epochs = max(1, args.epochs // 10)
    args.runs_given = [name for name in DEFAULT_RUNS if getattr(args, name) is not None]
    for name, value in DEFAULT_RUNS.items():
        if getattr(args, name) is None:
            setattr(args, name, list(value))
    if os.path.exists(args.work) and not os.path.isdir(args.work):
        parser.error(f"--work must be a folder, but {args.work} is a file.")
    return args


def _error(message):
    """`pays.py: error: message` (with the usage) and exit status 2."""
    build_parser().error(message)


# -- Training ----------------------------------------------------------------------


def optimizer(epochs, samples, learning_rate=LEARNING_RATE):
    steps = -(-samples // BATCH)
    return keras.optimizers.Adam(recipes.patient_schedule(learning_rate, epochs, steps))


def accuracy(model, x, y):
    logits = model.predict(x, batch_size=1000, verbose=0)
    return float(np.mean(np.argmax(logits, axis=-1) == y))


def trained_teacher(args, data):
    """The teacher, trained once (resuming from its backup) and saved, and
    returned averaged over a mirror image (`flip_averaged`); its record gives
    both accuracies (`test_plain`, `val_plain` for the network alone). A
    second process sharing `--work` waits for it, then loads it."""
    with claimed(args.work, "teacher"):
        return _trained_teacher(args, data)


def _trained_teacher(args, data):
    (x, y), (x_val, y_val), (x_test, y_test) = data
    path = os.path.join(args.work, "teacher.keras")
    record_path = os.path.join(args.work, "teacher.json")
    if os.path.exists(path) and os.path.exists(record_path):
        mismatch = teacher_mismatch(args)
        if mismatch:
            _error(mismatch)
        network, record = keras.saving.load_model(path, compile=False), load_record(record_path)
    else:
        backup_dir = os.path.join(args.work, "teacher_backup")
        with charged(args.work, "teacher"):
            keras.utils.set_random_seed(0)
            network = make_teacher(args.teacher)
            network.compile(
                optimizer(args.teacher_epochs, len(x)),
                keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            )
            # The backup outlives the fit (kept until the record is saved): a
            # run killed while scoring resumes at the last epoch, not the first.
            backup = keras.callbacks.BackupAndRestore(backup_dir, delete_checkpoint=False)
            network.fit(
                teacher_batches(x, y),  # shuffled by tf.data: fit's own shuffle would be ignored
                epochs=args.teacher_epochs,
                verbose=2,
                callbacks=[backup],
                shuffle=False,
            )
            record = {
                "model": args.teacher,
                "parameters": network.count_params(),
                "epochs": args.teacher_epochs,
                "val": accuracy(network, x_val, y_val),
                "test": accuracy(network, x_test, y_test),
            }
            network.save(path)
        save_record(record_path, {**record, "cpu_seconds": cpu_spent(args.work, "teacher")})
        record = load_record(record_path)
        shutil.rmtree(backup_dir, ignore_errors=True)
    teacher = flip_averaged(network)
    if "test_plain" not in record:  # (also a teacher saved before the flip average)
        record = {
            **record,
            "val_plain": record["val"],
            "test_plain": record["test"],
            "val": accuracy(teacher, x_val, y_val),
            "test": accuracy(teacher, x_test, y_test),
        }
        save_record(record_path, record)
    return teacher, record


def teacher_mismatch(args):
    """Why `--work`'s teacher is not the one asked for, or `None`."""
    record = load_record(os.path.join(args.work, "teacher.json"))
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


# The settings of a folder written before they were options.
OLDER_FOLDERS = {"student": "tiny", "learning_rates": [LEARNING_RATE], "select_epochs": None}


def student_settings(args):
    return {
        "epochs": args.epochs,
        "views": args.views,
        "train_samples": args.train_samples,
        "student": args.student,
        "learning_rates": args.learning_rates,
        "select_epochs": args.select_epochs,
    }


def check_work(args):
    """Refuses, before anything is written, settings that differ from what
    `--work` already holds: its teacher, and the epochs, views and training
    samples its arms and caches were made with (a finished arm of other
    epochs would be reported as these; a cache of other views is refused
    hours later, after the teacher loads)."""
    read_ledger(args.work)  # refused now, not when the first part ends
    mismatch = teacher_mismatch(args)
    if mismatch:
        _error(mismatch)
    if args.teacher_only:
        return
    stale = _plain_teacher_cache(args.work)
    if stale:
        _error(stale)
    saved = load_record(os.path.join(args.work, STUDENTS))
    if saved:
        # A students.json written before --student and --learning-rates
        # existed: its arms trained the tiny student at LEARNING_RATE.
        saved = {**OLDER_FOLDERS, **saved}
    else:
        saved = _settings_found(args.work)
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


def bind_student_settings(args):
    """Writes the students' settings into `--work` before the teacher is
    made (hours, during which another process sharing the folder could
    start with others), checking them again under the lock."""
    with claimed(args.work, "settings"):
        check_work(args)
        save_record(os.path.join(args.work, STUDENTS), student_settings(args))


def _plain_teacher_cache(work):
    """Why a view cache of `work` is not the flip-averaged teacher's, or
    `None`. Its fingerprint cannot tell: it hashes the weights, which the
    flip average shares with the network alone (a cache of an earlier
    version of this script)."""
    for cache in ("cache", "cache_mixup"):
        for file in ("manifest.json", "plan.json"):
            written = load_record(os.path.join(work, cache, file)) or {}
            name = written.get("teacher_name", FLIP_AVERAGED)
            if name != FLIP_AVERAGED:
                return (
                    f"{os.path.join(work, cache)} holds the targets of the teacher {name!r}, "
                    f"not of its flip average ({FLIP_AVERAGED!r}) the students learn from. "
                    "Remove that folder to write it again, or give another --work."
                )
    return None


def _settings_found(work):
    """The student settings a folder without students.json shows: the epochs
    of its finished arms (trained, before the options existed, as
    `OLDER_FOLDERS`), the views and samples of its caches. A teacher and
    caches alone bind no student, epochs or learning rate: they serve any."""
    found = {}
    records = [f"{arm}_seed" for arm in ARMS]
    for name in sorted(os.listdir(work)) if os.path.isdir(work) else ():
        if name.endswith(".json") and name.rsplit("seed", 1)[0] + "seed" in records:
            found = {**OLDER_FOLDERS, **found}
            found.setdefault("epochs", (load_record(os.path.join(work, name)) or {}).get("epochs"))
    for cache in ("cache", "cache_mixup"):
        for file in ("manifest.json", "plan.json"):
            settings = load_record(os.path.join(work, cache, file)) or {}
            views = (settings.get("views") or {}).get("views")
            if views:
                found.setdefault("views", views)
                found.setdefault("train_samples", settings["samples"] // views)
    return {key: value for key, value in found.items() if value is not None}


def cached_views(args, teacher, x, mixup):
    """The teacher's targets for `--views` views of `x`, written once."""
    name = "cache_mixup" if mixup else "cache"
    record_path = os.path.join(args.work, f"{name}.json")
    with charged(args.work, name):
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
    if load_record(record_path) is None:
        save_record(record_path, {"cpu_seconds": cpu_spent(args.work, name)})
    return cache


def cache_of(arm):
    """The view cache `arm` trains from: `None` (alone: the labels), "mixup"
    (fm) or "plain" (every other arm, fm_plain too); one place, so the
    caches written are the ones the arms read."""
    return None if arm == "alone" else "mixup" if arm == "fm" else "plain"


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
    # fm and fm_plain: alpha 0, KL at T=1; the cache given holds the views
    # (with mixup for fm).
    return recipes.function_matching(cache, student)


def run_arm(args, arm, seed, data, caches):
    """One (arm, seed): trained (resuming from its backup) and scored, once;
    a second process sharing `--work` waits for it, then reads its record."""
    record_path = os.path.join(args.work, f"{arm}_seed{seed}.json")
    record = run_record(record_path)
    if record is not None:
        return record
    with claimed(args.work, f"{arm}_seed{seed}"):
        return run_record(record_path) or _run_arm(args, arm, seed, data, caches)


def _run_arm(args, arm, seed, data, caches):
    (x, y), (x_val, y_val), (x_test, y_test) = data
    part = f"{arm}_seed{seed}"
    rate = learning_rate_for(args, arm, data, caches)
    with charged(args.work, part):
        student = _fit_student(args, part, arm, seed, args.epochs, rate, (x, y), caches)
        record = {
            "arm": arm,
            "seed": seed,
            "epochs": args.epochs,
            "learning_rate": rate,
            "val": accuracy(student, x_val, y_val),
            "test": accuracy(student, x_test, y_test),
        }
    record["cpu_seconds"] = cpu_spent(args.work, part)
    # The trained student, for analyses after the run (agreement with the
    # teacher, fit to its targets); saved before the record that marks it done.
    student.save(os.path.join(args.work, f"{part}.keras"))
    save_record(os.path.join(args.work, f"{part}.json"), record)
    shutil.rmtree(os.path.join(args.work, f"{part}_backup"), ignore_errors=True)
    print(
        f"{arm} seed {seed}: val {record['val']:.4f} test {record['test']:.4f} "
        f"({record['cpu_seconds']:.0f} CPU s)",
        flush=True,
    )
    return record


def _fit_student(args, part, arm, seed, epochs, learning_rate, train, caches):
    """A new student trained as `arm` for `epochs` at the peak `learning_rate`,
    resuming from `part`'s backup (kept until the caller's record is saved,
    as the teacher's)."""
    x, y = train
    backup_dir = os.path.join(args.work, f"{part}_backup")
    keras.utils.set_random_seed(seed)
    student = make_student(args.student)
    backup = keras.callbacks.BackupAndRestore(backup_dir, delete_checkpoint=False)
    # A resumed fit skips the epochs done: the views must start at the next one.
    metadata = load_record(os.path.join(backup_dir, "training_metadata.json")) or {}
    resumed = metadata.get("epoch", 0)
    compile_args = dict(
        optimizer=optimizer(epochs, len(x), learning_rate),
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
        student.fit(batches, epochs=epochs, verbose=2, callbacks=[backup])
    else:
        cache = caches[cache_of(arm)]
        distiller = distiller_for(arm, cache, student)
        distiller.compile(**compile_args)
        batches = cache.dataset(x, y, batch_size=BATCH, shuffle=True, seed=seed)
        batches.set_epoch(resumed)
        distiller.fit(batches, epochs=epochs, verbose=2, callbacks=[backup])
    return student


# -- Choosing each arm's learning rate -------------------------------------------------


def learning_rate_for(args, arm, data, caches):
    """The peak learning rate `arm` trains at.

    With one `--learning-rates`, that one. With several, the one whose
    selection run reaches the highest validation accuracy (the first listed
    on a tie): a run of `--select-epochs` epochs (its own cosine schedule),
    seed `SELECTION_SEED`, on the training split, one per rate. Each is a
    part of `--work` as a reported run is (`select_<arm>_lr<rate>.json`),
    made once and resumed after a kill.

    Args:
        args: The parsed arguments.
        arm: One of `ARMS`.
        data: `((x, y), (x_val, y_val), (x_test, y_test))`.
        caches: The view caches, as for `run_arm`.

    Returns:
        A float.
    """
    if len(args.learning_rates) == 1:
        return args.learning_rates[0]
    records = [selection_run(args, arm, rate, data, caches) for rate in args.learning_rates]
    best = chosen_rate({r["learning_rate"]: r["val"] for r in records}, args.learning_rates)
    scores = ", ".join(f"{r['learning_rate']:g}: {100 * r['val']:.2f}%" for r in records)
    print(f"{arm}: learning rate {best:g} (validation {scores})", flush=True)
    return best


def selection_run(args, arm, rate, data, caches):
    """The record of `arm`'s selection run at `rate`, trained once."""
    (x, y), (x_val, y_val), _ = data
    part = selection_part(arm, rate)
    path = os.path.join(args.work, f"{part}.json")
    with claimed(args.work, part):
        record = selection_record(path, args.select_epochs)
        if record is not None:
            return record
        with charged(args.work, part):
            epochs = args.select_epochs
            student = _fit_student(args, part, arm, SELECTION_SEED, epochs, rate, (x, y), caches)
            record = {
                "arm": arm,
                "learning_rate": rate,
                "epochs": epochs,
                "seed": SELECTION_SEED,
                "val": accuracy(student, x_val, y_val),
            }
        record["cpu_seconds"] = cpu_spent(args.work, part)
        save_record(path, record)
        shutil.rmtree(os.path.join(args.work, f"{part}_backup"), ignore_errors=True)
    return record


# -- The table -------------------------------------------------------------------------


def report(args):
    """The table of what `--work` holds, without training or loading data."""
    teacher_record = load_record(os.path.join(args.work, "teacher.json"))
    epochs = {"teacher": args.teacher_epochs, "run": args.epochs, "selection": args.select_epochs}
    if teacher_record is None:
        # (was: "nothing to report" with the teacher's backup at epoch 12 of 30)
        begun = parts_begun_text(parts_begun(args.work, epochs))
        _error(
            f"--report-only: no trained teacher in {args.work} yet (no teacher.json), "
            f"so no table to report. {begun}{' ' if begun else ''}Give the --work of a run, "
            "or run without --report-only."
        )
    arms, all_seeds = runs_to_show(args)
    finished = folder_records(args.work, arms, all_seeds)
    text, seeds, cpu = folder_table(args.work, teacher_record, finished, arms, all_seeds)
    baseline = baseline_records(args.work, arms, all_seeds)  # --arms kd: its gap all the same
    print(text)
    print(arm_summary(teacher_record, finished, baseline))
    print(runs_table(teacher_record, finished, baseline))
    selection = selection_table(args.work, args.arms if "arms" in args.runs_given else ARMS)
    if selection:
        print(selection)
    print(
        f"Seeds finished by every arm: {seeds}; CPU time of the parts finished: {cpu / 3600:.2f} h"
    )
    # (was: every arm's, whatever --arms named)
    begun = parts_begun(args.work, epochs, args.arms if "arms" in args.runs_given else None)
    if begun:
        print(parts_begun_text(begun))
    return text


def runs_to_show(args):
    """The arms and seeds --report-only and --analyse show: those given, else
    those of every run `--work` holds (other processes sharing it may have
    run seeds or arms this command line does not name)."""
    arms, seeds = finished_runs(args.work)
    return (
        args.arms if "arms" in args.runs_given else arms,
        args.seeds if "seeds" in args.runs_given else seeds,
    )


def kl_to_teacher(teacher_logits, student_logits):
    """Mean KL(teacher || student) in nats at T=1, per sample, in float64."""
    log_t = teacher_logits - _logsumexp(teacher_logits)
    log_s = student_logits - _logsumexp(student_logits)
    return float(np.mean(np.sum(np.exp(log_t) * (log_t - log_s), axis=-1)))


def _logsumexp(logits):
    logits = np.asarray(logits, dtype="float64")
    top = logits.max(axis=-1, keepdims=True)
    return top + np.log(np.sum(np.exp(logits - top), axis=-1, keepdims=True))


FIT_SAMPLES = 10000  # training images (unaugmented) scored for each student's fit


def analyse(args):
    """What each saved student learned: a table, one row per (arm, seed).

    Test accuracy, agreement with the teacher's top class on the test set,
    KL(teacher || student) at T=1 on the test set, and accuracy on the first
    `FIT_SAMPLES` training images as they are (how far the student fits the
    data it trained on: near its test accuracy means capacity, not
    overfitting, limits it).
    """
    if load_record(os.path.join(args.work, "teacher.json")) is None:
        _error(f"--analyse: no trained teacher in {args.work} yet (no teacher.json).")
    network = keras.saving.load_model(os.path.join(args.work, "teacher.keras"), compile=False)
    teacher = flip_averaged(network)
    (x_all, y_all), (x_test, y_test) = load_fashion_mnist()
    x_fit, y_fit = x_all[:FIT_SAMPLES], y_all[:FIT_SAMPLES]
    teacher_test = teacher.predict(x_test, batch_size=1000, verbose=0)
    teacher_fit = teacher.predict(x_fit, batch_size=1000, verbose=0)
    lines = [
        "| arm | seed | test (%) | agrees with teacher, test (%) | KL(teacher ‖ student), "
        "test (nats) | training images (%) |",
        "|---|---:|---:|---:|---:|---:|",
        f"| teacher | | {100 * np.mean(teacher_test.argmax(-1) == y_test):.2f} | 100.00 | 0 | "
        f"{100 * np.mean(teacher_fit.argmax(-1) == y_fit):.2f} |",
    ]
    notes = []
    arms, seeds = runs_to_show(args)
    for seed in seeds:
        for arm in arms:
            part = f"{arm}_seed{seed}"
            path = os.path.join(args.work, f"{part}.keras")
            # The record marks a run done: a student file without one is of a
            # run still training or killed while saving it (partial).
            if load_record(os.path.join(args.work, f"{part}.json")) is None:
                continue
            if not os.path.exists(path):
                notes.append(f"{arm} seed {seed}: finished without a saved student ({path})")
                continue
            try:
                student = keras.saving.load_model(path, compile=False)
            except Exception as error:  # noqa: BLE001  Any unreadable file: say which.
                notes.append(
                    f"{arm} seed {seed}: {path} cannot be loaded ({type(error).__name__}: "
                    f"{str(error).splitlines()[0] if str(error) else ''}); remove it and "
                    f"{part}.json to train that run again"
                )
                continue
            test = student.predict(x_test, batch_size=1000, verbose=0)
            fit = student.predict(x_fit, batch_size=1000, verbose=0)
            lines.append(
                f"| {arm} | {seed} | {100 * np.mean(test.argmax(-1) == y_test):.2f} | "
                f"{100 * np.mean(test.argmax(-1) == teacher_test.argmax(-1)):.2f} | "
                f"{kl_to_teacher(teacher_test, test):.3f} | "
                f"{100 * np.mean(fit.argmax(-1) == y_fit):.2f} |"
            )
    text = "\n".join(lines)
    if notes:
        text += "\n\nNot analysed:\n" + "\n".join(f"- {note}" for note in notes)
    print(text)
    return text


def main(argv=None):
    args = parse_args(argv)
    try:
        return _main(args)
    except RecordError as error:
        _error(str(error))


def _main(args):
    if args.report_only:
        return report(args)
    if args.analyse:
        return analyse(args)
    check_work(args)
    # Before hours of training, not after: the table must have a place to go.
    conflict = None if args.quick or args.teacher_only else results_conflict(args)
    if conflict:
        _error(conflict)
    os.makedirs(args.work, exist_ok=True)
    if not args.teacher_only:
        bind_student_settings(args)
    installed = signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
    if installed:
        # An exit, so that the CPU of the part under way reaches the ledger.
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    try:
        return _train_and_report(args)
    finally:
        if installed:  # put back for a caller that goes on (a test process)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _train_and_report(args):
    record_invocation(args)
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
    needed = {cache_of(arm) for arm in args.arms} - {None}
    caches = {
        name: cached_views(args, teacher, x, mixup=name == "mixup")
        for name in ("plain", "mixup")
        if name in needed
    }
    records = [run_arm(args, arm, seed, data, caches) for seed in args.seeds for arm in args.arms]
    cpu = total_cpu_seconds(args.work, teacher_record, records)
    baseline = baseline_records(args.work, args.arms, args.seeds)  # another process's
    text = table(teacher_record, [*records, *baseline], args.arms, args.seeds)
    print(text)
    print(
        f"CPU time, all parts (summed over resumed runs): {cpu / 3600:.2f} h; "
        f"this invocation's wall time {time.time() - wall:.0f} s",
        flush=True,
    )
    if not args.quick:
        write_results(args, teacher_record)
    return text


def write_results(args, teacher_record):
    """RESULTS_pays.md: the table of every run `--work` holds, at
    `results_marker(args)` (`_pays_results.write_table`)."""
    try:
        write_table(RESULTS, results_marker(args), table_settings(args), args.work, teacher_record)
    except MarkdownFileError as error:
        _error(str(error))


def table_settings(args):
    """The settings a folder's table in RESULTS_pays.md is of: the student's
    and the teacher's (its `Settings:` line adds the arms and seeds shown);
    `results_conflict` compares them with the table there."""
    return {
        **student_settings(args),
        "teacher": args.teacher,
        "teacher_epochs": args.teacher_epochs,
    }


def results_marker(args):
    """Where RESULTS_pays.md keeps the table of a folder's runs: one per
    student settings (student, epochs, views, training samples, learning
    rates and selection epochs), so a shorter ablation or another student
    does not replace the full configuration's table ("pays"); a new one is
    added at the end of the file. Rates are named exactly (`repr`): two that
    differ only past 6 digits name two tables, not one."""
    marker = "pays" if args.student == "tiny" else f"pays_student_{args.student}"
    if (args.epochs, args.views) != (FULL_EPOCHS, FULL_VIEWS):
        marker += f"_{args.epochs}epochs_{args.views}views"
    if args.train_samples != 60000 - VALIDATION:
        marker += f"_{args.train_samples}samples"
    if args.learning_rates != [LEARNING_RATE]:
        marker += "_lr_" + "_".join(repr(rate) for rate in args.learning_rates)
    if args.select_epochs not in (None, max(1, args.epochs // 10)):
        marker += f"_select{args.select_epochs}epochs"
    return marker


def results_conflict(args):
    """Why RESULTS_pays.md cannot take this folder's table, or `None`
    (`_pays_results.table_conflict`: broken markers, a read-only file, or a
    table of other settings at `results_marker(args)`, another teacher's:
    the marker names the student settings only)."""
    return table_conflict(RESULTS, results_marker(args), table_settings(args))


def record_invocation(args):
    """Appends this invocation's settings to settings.json (each process
    sharing `--work` once overwrote the other's)."""
    path = os.path.join(args.work, "settings.json")
    with claimed(args.work, "settings"):
        saved = load_record(path)
        invocations = saved.get("invocations", [saved]) if saved else []
        entry = {**vars(args), "started": time.strftime("%Y-%m-%d %H:%M:%S %Z")}
        save_record(path, {"invocations": [*invocations, entry]})


def run_as_script():
    """`main()`, ended at once after a SIGTERM has unwound it (the CPU ledger
    and every record written): with TensorFlow's input pipeline alive, the
    interpreter's own shutdown waited forever on its generator thread (seen:
    a run sent SIGTERM mid-epoch still sleeping minutes later)."""
    try:
        main()  # (its table is for callers; `sys.exit("")` would exit 1 after --teacher-only)
    except SystemExit as exit_:
        if exit_.code != 128 + signal.SIGTERM:
            raise
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(exit_.code)


if __name__ == "__main__":
    run_as_script()
