"""Distillation at scale, measured: a cached teacher, data-parallel training
and mixed precision (issue 11).

Every part runs in its own subprocess, since the Keras backend (and the
number of virtual devices) is fixed when Keras starts:

1. Cached teacher, on each backend: the epoch time of the student trained
   alone, distilled from a dense float16 cache, from a top-5 float16 cache
   and from the live teacher (`teacher_cnn` -> `student_cnn`), the arms taking
   turns one epoch each (the order rotating every round) after one uncounted
   epoch each; ratios are the median over rounds of each round's ratio. Also
   the time `TeacherCache.write` takes and the bytes per sample on disk.
   And issue 22's two sizes (a 16-unit MLP and the demo's CNN student),
   cached epoch from `TeacherCache.arrays` / student-alone epoch, measured
   by `cache_speed.measure_backend` (the function `cache_speed.py` runs).
   On one backend (`--accuracy-backend`): test accuracy on the 10,000
   Fashion-MNIST test images of the student distilled from the dense cache,
   the top-5 cache and the live teacher, over three seeds.
2. Data-parallel (TensorFlow `MirroredStrategy` on 2 logical CPUs, JAX
   `DataParallel` on 2 host devices): the largest weight difference to one
   device from `tests/_scripts/data_parallel.py` (and, for two JAX
   processes, `tests/_scripts/jax_multiprocess.py`), and the step time of
   two devices against one, taking turns.
3. Mixed precision, on each backend: test accuracy and epoch time of a
   student distilled on the 8x8 digits under `mixed_bfloat16` against
   float32, taking turns one epoch each.

Usage:

    nice -n 10 python benchmarks/scale.py            # everything (~15-20 min, shared machine)
    python benchmarks/scale.py --quick --no-write    # tiny sizes, checks the script runs

Writes `benchmarks/RESULTS_scale.md` and `README.md` (between the `scale`
markers); the raw numbers go to `benchmarks/_work/scale.json`.
"""

import argparse
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

from _markdown import write_between_markers
from cache_speed import measure_backend as cached_epoch_ratios
from cache_speed import round_ratio as _round_ratios
from cache_speed import table as sizes_table
from epoch_time import _timer_callback

HERE = os.path.dirname(os.path.abspath(__file__))
WORK = os.path.join(HERE, "_work")
ROOT = os.path.dirname(HERE)
SCRIPTS = os.path.join(ROOT, "tests", "_scripts")
RESULTS = os.path.join(HERE, "RESULTS_scale.md")
BACKENDS = ("tensorflow", "jax", "torch")
RESULT_PREFIX = "SCALE_RESULT "
CACHE_ARMS = ("student", "cached_dense", "cached_top_k", "live")
TOP_K = 5
TIMEOUT = 1800


# -- Workers: one backend each, in their own process --------------------------------


def _sparse_ce(keras):
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def _directory_bytes(directory):
    return sum(
        os.path.getsize(os.path.join(directory, name))
        for name in os.listdir(directory)
        if name.startswith("shard_")
    )


def _write_caches(keras_kd, teacher, x, folder):
    """Writes the dense and the top-k float16 caches of `teacher` on `x`;
    returns them with the seconds each write took and its bytes per sample."""
    caches, info = {}, {}
    for name, top_k in (("dense", None), ("top_k", TOP_K)):
        directory = os.path.join(folder, name)
        start = time.perf_counter()
        caches[name] = keras_kd.TeacherCache.write(
            teacher, x, directory, top_k=top_k, dtype="float16", batch_size=256
        )
        info[f"write_seconds_{name}"] = time.perf_counter() - start
        info[f"bytes_per_sample_{name}"] = _directory_bytes(directory) / len(x)
    return caches, info


def _distillers(keras, teacher, caches, seed, x_shape, temperature, alpha):
    """The four arms' models, each student starting from the same weights."""
    import keras_kd
    from keras_kd.apps.reference_models import student_cnn

    models = {}
    for arm in CACHE_ARMS:
        keras.utils.set_random_seed(seed)
        student = student_cnn(x_shape, 10, name=f"student_{arm}")
        if arm == "student":
            model = student
        else:
            source = {
                "live": teacher,
                "cached_dense": caches["dense"],
                "cached_top_k": caches["top_k"],
            }[arm]
            model = keras_kd.Distiller(
                source, student, keras_kd.losses.SoftTargetKD(temperature), alpha=alpha
            )
        model.compile(keras.optimizers.Adam(1e-3), _sparse_ce(keras), metrics=["accuracy"])
        models[arm] = model
    return models


def _fit_inputs(arm, caches, x, y, batch_size, seed):
    if arm in ("student", "live"):
        return dict(x=x, y=y, batch_size=batch_size, shuffle=True)
    cache = caches["dense" if arm == "cached_dense" else "top_k"]
    return dict(x=cache.dataset(x, y, batch_size=batch_size, shuffle=True, seed=seed))


def _take_turns(run, arms, repeats, label):
    """One uncounted epoch per arm, then `repeats` rounds of one epoch each,
    the order rotating every round: `{arm: [seconds, ...]}`."""
    for arm in arms:
        print(f"[{label}] first epoch {arm}: {run(arm):.2f} s", flush=True)
    times = {arm: [] for arm in arms}
    for round_index in range(repeats):
        shift = round_index % len(arms)
        for arm in arms[shift:] + arms[:shift]:
            times[arm].append(run(arm))
            print(f"[{label}] round {round_index + 1} {arm}: {times[arm][-1]:.2f} s", flush=True)
    return times


def cache_timing_worker(args):
    """Part 1, timing: cache writes and the four arms' epoch times."""
    import keras

    import keras_kd
    from keras_kd.apps.data import load_fashion_mnist
    from keras_kd.apps.reference_models import teacher_cnn

    (x, y), _ = load_fashion_mnist()
    x, y = x[: args.timing_samples], y[: args.timing_samples]
    keras.utils.set_random_seed(0)
    teacher = teacher_cnn(x.shape[1:], 10)  # untrained: speed does not depend on weights
    folder = tempfile.mkdtemp(dir=WORK)
    try:
        # The teacher's first call (tracing) is not part of a write's cost.
        keras_kd.TeacherCache.write(teacher, x[:256], os.path.join(folder, "warm"))
        caches, info = _write_caches(keras_kd, teacher, x, folder)
        models = _distillers(keras, teacher, caches, 1, x.shape[1:], 4.0, 0.1)
        timer = _timer_callback(keras)()

        def run(arm):
            fit = _fit_inputs(arm, caches, x, y, args.batch_size, 0)
            models[arm].fit(**fit, epochs=1, verbose=0, callbacks=[timer])
            return timer.seconds[-1]

        times = _take_turns(run, CACHE_ARMS, args.repeats, keras.backend.backend())
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    # The two sizes, from in-memory targets (`TeacherCache.arrays`).
    sizes = cached_epoch_ratios(max(args.repeats, 3), quick=args.quick)
    return {
        "samples": len(x),
        "batch_size": args.batch_size,
        "repeats": args.repeats,
        "epochs": times,
        "median": {a: statistics.median(t) for a, t in times.items()},
        "ratio": {a: _round_ratios(times, a, "student") for a in CACHE_ARMS[1:]},
        "teacher_params": teacher.count_params(),
        "student_params": models["student"].count_params(),
        "sizes": sizes,
        **info,
    }


def _trained_teacher(keras, x, y, epochs, seed):
    """`teacher_cnn` trained on `x`, from `_work/` if trained before alike."""
    from keras_kd.apps.reference_models import teacher_cnn

    name = f"scale_teacher_{keras.backend.backend()}_{len(x)}_{epochs}_{seed}.keras"
    path = os.path.join(WORK, name)
    if os.path.exists(path):
        print(f"Reusing the teacher trained before: {path}", flush=True)
        return keras.saving.load_model(path)
    keras.utils.set_random_seed(seed)
    teacher = teacher_cnn(x.shape[1:], 10)
    teacher.compile(keras.optimizers.Adam(2e-3), _sparse_ce(keras), metrics=["accuracy"])
    teacher.fit(x, y, epochs=epochs, batch_size=128, verbose=2)
    teacher.save(path)
    return teacher


def _test_accuracy(model, x_test, y_test):
    import numpy as np

    logits = model.predict(x_test, batch_size=1024, verbose=0)
    return 100.0 * float(np.mean(np.argmax(logits, -1) == y_test))


def cache_accuracy_worker(args):
    """Part 1, accuracy: the student distilled from the dense cache, the
    top-k cache and the live teacher, per seed."""
    import keras
    from _shared import RECIPE

    import keras_kd
    from keras_kd.apps.data import load_fashion_mnist

    (x, y), (x_test, y_test) = load_fashion_mnist()
    x, y = x[: args.accuracy_samples], y[: args.accuracy_samples]
    x_test, y_test = x_test[: args.test_samples], y_test[: args.test_samples]
    teacher = _trained_teacher(keras, x, y, args.teacher_epochs, 0)
    folder = tempfile.mkdtemp(dir=WORK)
    accuracies = {arm: [] for arm in CACHE_ARMS}
    try:
        caches, _ = _write_caches(keras_kd, teacher, x, folder)
        for seed in args.seeds:
            models = _distillers(
                keras, teacher, caches, seed, x.shape[1:], RECIPE.temperature, RECIPE.alpha
            )
            for arm, model in models.items():
                fit = _fit_inputs(arm, caches, x, y, args.batch_size, seed)
                keras.utils.set_random_seed(seed)
                model.fit(**fit, epochs=args.student_epochs, verbose=0)
                student = model if arm == "student" else model.student
                accuracies[arm].append(_test_accuracy(student, x_test, y_test))
                print(f"seed {seed} {arm}: {accuracies[arm][-1]:.2f}%", flush=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return {
        "samples": len(x),
        "test_samples": len(x_test),
        "seeds": args.seeds,
        "teacher_epochs": args.teacher_epochs,
        "student_epochs": args.student_epochs,
        "temperature": RECIPE.temperature,
        "alpha": RECIPE.alpha,
        "teacher_accuracy": _test_accuracy(teacher, x_test, y_test),
        "accuracy": accuracies,
    }


def mixed_precision_worker(args):
    """Part 3: a digits student distilled under float32 and mixed_bfloat16,
    one epoch each in turn; test accuracy at the end."""
    import keras

    import keras_kd
    from keras_kd.apps.data import load_digits

    (x, y), (x_test, y_test) = load_digits(flatten=True)

    def mlp(units, name):
        return keras.Sequential(
            [
                keras.Input((64,)),
                keras.layers.Dense(units, activation="relu"),
                keras.layers.Dense(10),
            ],
            name=name,
        )

    keras.config.set_dtype_policy("float32")
    keras.utils.set_random_seed(0)
    teacher = mlp(256, "teacher")
    teacher.compile(keras.optimizers.Adam(1e-2), _sparse_ce(keras))
    teacher.fit(x, y, epochs=args.mp_epochs, batch_size=64, verbose=0)
    models = {}
    for policy in ("float32", "mixed_bfloat16"):
        keras.config.set_dtype_policy(policy)
        keras.utils.set_random_seed(0)
        student = mlp(64, f"student_{policy}")
        models[policy] = keras_kd.Distiller(
            teacher, student, keras_kd.losses.SoftTargetKD(4.0), alpha=0.1
        )
        models[policy].compile(keras.optimizers.Adam(1e-2), _sparse_ce(keras))
    keras.config.set_dtype_policy("float32")
    timer = _timer_callback(keras)()

    def run(policy):
        models[policy].fit(x, y, epochs=1, batch_size=32, verbose=0, callbacks=[timer])
        return timer.seconds[-1]

    times = _take_turns(run, list(models), args.mp_epochs - 1, f"{keras.backend.backend()} mp")
    accuracy = {p: _test_accuracy(m.student, x_test, y_test) for p, m in models.items()}
    return {
        "train_samples": len(x),
        "test_samples": len(x_test),
        "epochs": args.mp_epochs,
        "compute_dtype": models["mixed_bfloat16"].student.layers[-1].compute_dtype,
        "accuracy": accuracy,
        "median": {p: statistics.median(t) for p, t in times.items()},
        "ratio": _round_ratios(times, "mixed_bfloat16", "float32"),
    }


def data_parallel_timing_worker(args):
    """Part 2, speed: one device against two, taking turns (the devices are
    virtual CPUs set up by `tests/_scripts/data_parallel.py` on import)."""
    sys.path.insert(0, SCRIPTS)
    import contextlib

    import data_parallel  # noqa: F401  (sets up the two devices)
    import keras

    import keras_kd
    from keras_kd.apps.data import load_fashion_mnist
    from keras_kd.apps.reference_models import student_cnn
    from keras_kd.apps.reference_models import teacher_cnn

    (x, y), _ = load_fashion_mnist()
    x, y = x[: args.dp_samples], y[: args.dp_samples]
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
        build_scope, fit_scope = strategy.scope, contextlib.nullcontext
    else:
        devices = keras.distribution.list_devices("cpu")
        distribution = keras.distribution.DataParallel(devices=devices)
        build_scope = fit_scope = distribution.scope
    scopes = {
        "one_device": (contextlib.nullcontext, contextlib.nullcontext),
        "two_devices": (build_scope, fit_scope),
    }
    models = {}
    for arm, (build, _) in scopes.items():
        with build():
            keras.utils.set_random_seed(0)
            models[arm] = keras_kd.Distiller(
                teacher_cnn(x.shape[1:], 10),
                student_cnn(x.shape[1:], 10),
                keras_kd.losses.SoftTargetKD(4.0),
                alpha=0.1,
            )
            models[arm].compile(keras.optimizers.Adam(1e-3), _sparse_ce(keras))
    timer = _timer_callback(keras)()

    def run(arm):
        with scopes[arm][1]():
            models[arm].fit(
                x, y, batch_size=args.batch_size, epochs=1, verbose=0, callbacks=[timer]
            )
        return timer.seconds[-1]

    times = _take_turns(run, list(models), args.repeats, f"{keras.backend.backend()} dp")
    steps = -(-len(x) // args.batch_size)
    return {
        "samples": len(x),
        "batch_size": args.batch_size,
        "steps": steps,
        "step_ms": {a: 1000 * statistics.median(t) / steps for a, t in times.items()},
        "ratio": _round_ratios(times, "two_devices", "one_device"),
    }


WORKERS = {
    "cache_timing": cache_timing_worker,
    "cache_accuracy": cache_accuracy_worker,
    "mixed_precision": mixed_precision_worker,
    "data_parallel_timing": data_parallel_timing_worker,
}


# -- Driver: the subprocesses, then the tables ---------------------------------------


def _env(backend, **extra):
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3", **extra)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (ROOT, HERE, env.get("PYTHONPATH")) if p)
    return env


def _run_worker(part, backend, args):
    """Runs `part` in a fresh process on `backend`; returns its JSON result."""
    command = [sys.executable, os.path.abspath(__file__), "--worker", part, *args.passthrough]
    process = subprocess.Popen(
        command, env=_env(backend), stdout=subprocess.PIPE, text=True, bufsize=1
    )
    result = None
    for line in process.stdout:
        if line.startswith(RESULT_PREFIX):
            result = json.loads(line[len(RESULT_PREFIX) :])
        else:
            print(line, end="", flush=True)
    if process.wait() != 0 or result is None:
        raise SystemExit(f"{part} on {backend} failed (exit code {process.returncode}).")
    return result


def _script_json(script, backend, *script_args):
    """The JSON line a `tests/_scripts/` script prints."""
    process = subprocess.run(
        [sys.executable, os.path.join(SCRIPTS, script), *script_args],
        env=_env(backend),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    if process.returncode != 0:
        raise SystemExit(f"{script} on {backend} failed:\n{process.stderr[-3000:]}")
    return json.loads(process.stdout.strip().splitlines()[-1])


def two_jax_processes(folder):
    """Max |weight difference| between two JAX processes joined on localhost
    and one device on the same global batches (`jax_multiprocess.py`), and
    between the two processes."""
    import numpy as np

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    outputs = [os.path.join(folder, f"process{i}.npz") for i in range(2)]
    script = os.path.join(SCRIPTS, "jax_multiprocess.py")
    env = _env("jax")
    env.pop("XLA_FLAGS", None)
    processes = [
        subprocess.Popen(
            [sys.executable, script, str(port), str(i), out],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i, out in enumerate(outputs)
    ]
    single = os.path.join(folder, "single.npz")
    reference = (
        "import sys, keras; sys.path.insert(0, sys.argv[1]); import jax_multiprocess as w\n"
        "with keras.device('cpu:0'): w.train(sys.argv[2])\n"
    )
    subprocess.run(
        [sys.executable, "-c", reference, SCRIPTS, single],
        check=True,
        env=_env("jax", JAX_PLATFORMS="cpu"),
        timeout=TIMEOUT,
    )
    try:
        for p in processes:
            _, err = p.communicate(timeout=TIMEOUT)
            if p.returncode != 0:
                raise SystemExit(f"jax_multiprocess.py failed:\n{err[-3000:]}")
    finally:
        for p in processes:
            if p.poll() is None:
                p.kill()
    first, second, one = (np.load(path) for path in (*outputs, single))
    weights = [k for k in one.files if k.startswith("w")]
    return {
        "to_one_device": max(float(np.max(np.abs(first[k] - one[k]))) for k in weights),
        "between_processes": max(float(np.max(np.abs(first[k] - second[k]))) for k in weights),
    }


def measure(args):
    """Every part, in turn; what is measured so far is saved after each part
    (`_work/scale.json`), so that a late failure loses only its own part."""
    results = {"cache": {}, "mixed_precision": {}, "data_parallel": {}}
    start = time.perf_counter()
    load_before = os.getloadavg()

    def save():
        results["minutes"] = (time.perf_counter() - start) / 60
        results["args"] = {k: v for k, v in vars(args).items() if k != "passthrough"}
        with open(os.path.join(WORK, "scale.json"), "w") as f:
            json.dump(results, f, indent=1)

    for backend in args.backends:
        results["cache"][backend] = _run_worker("cache_timing", backend, args)
        results["load"] = (load_before, os.getloadavg())
        results["mixed_precision"][backend] = _run_worker("mixed_precision", backend, args)
        save()
    results["accuracy"] = _run_worker("cache_accuracy", args.accuracy_backend, args)
    results["accuracy"]["backend"] = args.accuracy_backend
    save()
    for backend in [b for b in args.backends if b != "torch"]:
        equal = _script_json("data_parallel.py", backend, "kd")
        results["data_parallel"][backend] = {
            "max_weight_difference": equal["max_weight_difference"],
            "replicas": equal["replicas"],
            **_run_worker("data_parallel_timing", backend, args),
        }
        save()
    if "jax" in args.backends:
        folder = tempfile.mkdtemp(dir=WORK)
        try:
            results["two_processes"] = two_jax_processes(folder)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        save()
    return results


# -- Tables --------------------------------------------------------------------------


def _mean_std(values):
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return statistics.mean(values), spread


def _table(columns, rows, note):
    """A Markdown table (the first column left-aligned, the others right)
    followed by a note."""
    align = "|---|" + "---:|" * (len(columns) - 1)
    return "\n".join(["| " + " | ".join(columns) + " |", align, *rows, "", note])


def _verdict(met):
    return "met" if met else "**NOT met**"


def cache_table(results):
    columns = [
        "backend",
        "student alone",
        "cached dense KD",
        "cached top-5 KD",
        "live-teacher KD",
        "cached dense / alone (goal ≤ 1.10)",
        "cached top-5 / alone",
        "live / alone",
        "cache write, dense",
        "cache write, top-5",
    ]
    rows = []
    for backend, r in results.items():
        m, ratio = r["median"], r["ratio"]
        rows.append(
            f"| {backend} | {m['student']:.2f} s | {m['cached_dense']:.2f} s "
            f"| {m['cached_top_k']:.2f} s | {m['live']:.2f} s "
            f"| {ratio['cached_dense']:.2f} {_verdict(ratio['cached_dense'] <= 1.10)} "
            f"| {ratio['cached_top_k']:.2f} | {ratio['live']:.2f} "
            f"| {r['write_seconds_dense']:.2f} s | {r['write_seconds_top_k']:.2f} s |"
        )
    r = next(iter(results.values()))
    return _table(
        columns,
        rows,
        f"Epoch times: median of {r['repeats']} epochs per arm after one uncounted epoch, the "
        f"arms taking turns in one process per backend; ratios: median over rounds of each "
        f"round's ratio. Fashion-MNIST, first {r['samples']:,} training images, batch "
        f"{r['batch_size']}; teacher_cnn ({r['teacher_params']:,} parameters, untrained: speed "
        f"does not depend on the weights), student_cnn ({r['student_params']:,}); SoftTargetKD "
        f"T=4, alpha=0.1; caches float16. Bytes per sample on disk (shard files over samples, "
        f"10 classes): dense {r['bytes_per_sample_dense']:.1f}, top-{TOP_K} "
        f"{r['bytes_per_sample_top_k']:.1f}.",
    )


def accuracy_table(r):
    live_mean, _ = _mean_std(r["accuracy"]["live"])
    names = {
        "student": "student alone",
        "cached_dense": "cached dense KD (float16)",
        "cached_top_k": f"cached top-{TOP_K} KD (float16)",
        "live": "live-teacher KD",
    }
    rows = []
    for arm, values in r["accuracy"].items():
        mean, spread = _mean_std(values)
        gap = mean - live_mean
        note = ""
        if arm == "cached_dense":
            note = f" goal ±0.2: {_verdict(abs(gap) <= 0.2)}"
        per_seed = ", ".join(f"{v:.2f}" for v in values)
        rows.append(
            f"| {names[arm]} | {mean:.2f}% ± {spread:.2f} | {per_seed} | {gap:+.2f}{note} |"
        )
    return _table(
        ["student", "test accuracy (mean ± std)", "per seed", "vs live KD"],
        rows,
        f"Keras backend {r['backend']}; first {r['samples']:,} Fashion-MNIST training images, "
        f"test accuracy on {r['test_samples']:,} test images; teacher_cnn trained "
        f"{r['teacher_epochs']} epochs on the same images ({r['teacher_accuracy']:.2f}%); "
        f"students student_cnn {r['student_epochs']} epochs, Adam 1e-3, batch 128, "
        f"SoftTargetKD T={r['temperature']:g}, alpha={r['alpha']:g}; seeds {r['seeds']}.",
    )


def data_parallel_table(results, two_processes):
    engines = {
        "tensorflow": "TF MirroredStrategy, 2 logical CPUs",
        "jax": "JAX DataParallel, 2 host devices",
    }
    rows = []
    for backend, r in results.items():
        rows.append(
            f"| {engines[backend]}, one process | {r['max_weight_difference']:.1e} "
            f"| {r['step_ms']['one_device']:.1f} ms | {r['step_ms']['two_devices']:.1f} ms "
            f"| {r['ratio']:.2f} |"
        )
    if two_processes:
        rows.append(
            f"| JAX DataParallel, 2 processes on localhost | {two_processes['to_one_device']:.1e} "
            f"(between the processes: {two_processes['between_processes']:.1e}) | — | — | — |"
        )
    r = next(iter(results.values()))
    columns = [
        "engine",
        "max abs weight difference to 1 device",
        "1-device step",
        "2-device step",
        "2 / 1 step time",
    ]
    return _table(
        columns,
        rows,
        "Weight differences: `tests/_scripts/data_parallel.py kd` (teacher and student MLPs, "
        "SoftTargetKD, SGD, 16 steps of global batch 32) and `tests/_scripts/jax_multiprocess.py`"
        " (the same, 2 processes joined by `keras.distribution.initialize`, a `tf.data` input). "
        f"Step times: teacher_cnn -> student_cnn KD, {r['samples']:,} Fashion-MNIST images, "
        f"global batch {r['batch_size']} ({r['steps']} steps), median epoch over steps, the two "
        "arms taking turns. Virtual CPU devices share the same cores: these step times say "
        "nothing about the speed of data-parallel training on real devices; the 1-device step "
        "time is there for a GPU owner to compare with.",
    )


def mixed_precision_table(results):
    columns = [
        "backend",
        "float32 accuracy",
        "mixed_bfloat16 accuracy",
        "difference",
        "float32 epoch",
        "mixed_bfloat16 epoch",
        "bf16 / f32 epoch time",
    ]
    rows = []
    for backend, r in results.items():
        a, m = r["accuracy"], r["median"]
        rows.append(
            f"| {backend} | {a['float32']:.2f}% | {a['mixed_bfloat16']:.2f}% "
            f"| {a['mixed_bfloat16'] - a['float32']:+.2f} | {1000 * m['float32']:.0f} ms "
            f"| {1000 * m['mixed_bfloat16']:.0f} ms | {r['ratio']:.2f} |"
        )
    r = next(iter(results.values()))
    return _table(
        columns,
        rows,
        f"8x8 digits ({r['train_samples']:,} training, {r['test_samples']:,} test images); "
        "an MLP teacher (256 hidden) trained in float32, an MLP student (64 hidden) distilled "
        f"{r['epochs']} epochs (SoftTargetKD T=4, alpha=0.1, Adam 1e-2, batch 32), under each "
        "policy, one epoch each in turn; epoch time the median after the first epoch.",
    )


def cached_epoch_table(results):
    """The issue's two sizes (MLP and CNN) from in-memory targets, per
    backend; `None` for results measured before they were."""
    sizes = {b: r["sizes"] for b, r in results["cache"].items() if "sizes" in r}
    if not sizes:
        return None
    return (
        "**A cached epoch at student speed: two sizes** (targets in memory, "
        "`TeacherCache.arrays`; `benchmarks/cache_speed.py`'s measurement)\n\n"
        + sizes_table(sizes, *results.get("load", (None, None)))
    )


def format_tables(results, minutes):
    parts = [
        "**Cached teacher: epoch time**\n\n" + cache_table(results["cache"]),
        "**Cached teacher: test accuracy**\n\n" + accuracy_table(results["accuracy"]),
    ]
    sizes = cached_epoch_table(results)
    if sizes:
        parts.insert(1, sizes)
    if results["data_parallel"]:
        parts.append(
            "**Data-parallel: equal to one device**\n\n"
            + data_parallel_table(results["data_parallel"], results.get("two_processes"))
        )
    parts += [
        "**Mixed precision (mixed_bfloat16 against float32)**\n\n"
        + mixed_precision_table(results["mixed_precision"]),
        f"Measured with `nice -n 10 python benchmarks/scale.py` in {minutes:.0f} minutes on a "
        f"{os.cpu_count()}-core {platform.machine()} machine **shared with seven other "
        "engineers' jobs while it ran**: absolute times are slower and noisier than on a quiet "
        "machine; the ratios come from arms that took turns within one process.",
    ]
    return "\n\n".join(parts)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", nargs="+", default=list(BACKENDS), choices=BACKENDS)
    parser.add_argument("--accuracy-backend", default="tensorflow", choices=BACKENDS)
    parser.add_argument("--quick", action="store_true", help="Tiny sizes: checks the script.")
    parser.add_argument("--no-write", action="store_true", help="Write no Markdown file.")
    parser.add_argument(
        "--table-only",
        action="store_true",
        help="Measure nothing: rebuild the tables from _work/scale.json.",
    )
    parser.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    sizes = {
        # name: (default, --quick)
        "timing-samples": (10000, 512),
        "accuracy-samples": (20000, 512),
        "test-samples": (10000, 256),
        "teacher-epochs": (3, 1),
        "student-epochs": (5, 1),
        "dp-samples": (4096, 256),
        "batch-size": (128, 64),
        "repeats": (5, 1),
        "mp-epochs": (12, 2),
    }
    for name, (default, _) in sizes.items():
        parser.add_argument(f"--{name}", type=int, default=default)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args(argv)
    if args.quick:
        for name, (default, quick) in sizes.items():
            key = name.replace("-", "_")
            if getattr(args, key) == default:
                setattr(args, key, quick)
        args.seeds = args.seeds[:1] if args.seeds == [0, 1, 2] else args.seeds
    os.makedirs(WORK, exist_ok=True)
    if args.worker:
        result = WORKERS[args.worker](args)
        print(RESULT_PREFIX + json.dumps(result), flush=True)
        return
    args.passthrough = [
        a for name in sizes for a in (f"--{name}", str(getattr(args, name.replace("-", "_"))))
    ]
    args.passthrough += ["--seeds", *map(str, args.seeds)] + (["--quick"] if args.quick else [])
    if args.table_only:
        with open(os.path.join(WORK, "scale.json")) as f:
            results = json.load(f)
    else:
        results = measure(args)
    tables = format_tables(results, results["minutes"])
    print(tables)
    if not args.no_write:
        for path in (RESULTS, os.path.join(ROOT, "README.md")):
            write_between_markers(path, "scale", tables)


if __name__ == "__main__":
    main()
