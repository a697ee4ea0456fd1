"""Epoch time of distillation against its parts and against Keras' own Distiller.

On the same Fashion-MNIST subset, batch size and reference CNNs
(`keras_kd.apps.reference_models`), one process per backend measures the epoch
wall time of:

  (a) the student trained alone with `fit`;
  (b) the teacher's inference alone over the same data (`predict`, same batch
      size, `training=False`);
  (c) `keras_kd.Distiller` with `SoftTargetKD(temperature=4)`, alpha=0.1;
  (d) `keras.distillation.Distiller` with `LogitsDistillation(temperature=4,
      loss=KLDivergence())` and `student_loss_weight=0.1`.

Every setup first runs one epoch that is not counted (tracing, XLA / jit
compilation); then the setups take turns, one epoch each, for `--repeats`
rounds (the order rotates each round), so that noise from a shared machine
hits all of them alike. Times come from callbacks around each epoch (or each
`predict` loop), so `fit`'s own set-up is not counted. The table reports the
medians and two ratios, with the issue's targets:

  keras_kd / (student alone + teacher inference)   <= 1.05
  keras_kd / keras.distillation                    <= 1.0

All four compile with Keras' default `jit_compile="auto"` (on a CPU-only
machine: a `tf.function` without XLA on TensorFlow, `jax.jit` on JAX, eager
on PyTorch) and `metrics=["accuracy"]`.

Usage:

    python benchmarks/epoch_time.py                       # all three backends
    python benchmarks/epoch_time.py --backend jax         # one; others from cache
    python benchmarks/epoch_time.py --train-size 2048 --repeats 1   # smoke test

Each backend runs in its own subprocess with `KERAS_BACKEND` set. Results go
to `benchmarks/_work/epoch_time_<backend>.json`, and the table for every
backend measured so far to `benchmarks/RESULTS_epoch_time.md` and
`README.md` (between the `epoch_time` markers).
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

from _markdown import write_between_markers

HERE = os.path.dirname(os.path.abspath(__file__))
WORK = os.path.join(HERE, "_work")
ROOT = os.path.dirname(HERE)
RESULTS = os.path.join(HERE, "RESULTS_epoch_time.md")
BACKENDS = ("tensorflow", "jax", "torch")
SETUPS = ("student", "teacher_inference", "keras_kd", "keras_distillation")
RESULT_PREFIX = "EPOCH_TIME_RESULT "


# -- Worker: one backend, in its own process -----------------------------------


def _timer_callback(keras, clock=time.perf_counter):
    """A callback class timing each epoch or prediction loop with `clock`
    (wall time by default; `time.process_time` for this process's CPU time)."""

    class EpochTimer(keras.callbacks.Callback):
        """Seconds of `clock` of each training epoch or prediction loop."""

        def __init__(self):
            super().__init__()
            self.seconds = []

        def _begin(self, *args, **kwargs):
            self._start = clock()

        def _end(self, *args, **kwargs):
            self.seconds.append(clock() - self._start)

        on_epoch_begin = on_predict_begin = _begin
        on_epoch_end = on_predict_end = _end

    return EpochTimer


def _build_setups(keras, x, y, batch_size, temperature, alpha):
    import keras_kd
    from keras_kd.apps.reference_models import student_cnn
    from keras_kd.apps.reference_models import teacher_cnn

    def sparse_ce():
        return keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    keras.utils.set_random_seed(0)
    teacher = teacher_cnn(x.shape[1:], 10)
    students = {}
    for key in ("student", "keras_kd", "keras_distillation"):
        keras.utils.set_random_seed(1)
        students[key] = student_cnn(x.shape[1:], 10, name=f"student_{key}")

    students["student"].compile(keras.optimizers.Adam(1e-3), sparse_ce(), metrics=["accuracy"])
    ours = keras_kd.Distiller(
        teacher,
        students["keras_kd"],
        keras_kd.losses.SoftTargetKD(temperature=temperature),
        alpha=alpha,
    )
    ours.compile(keras.optimizers.Adam(1e-3), loss=sparse_ce(), metrics=["accuracy"])
    theirs = keras.distillation.Distiller(
        teacher=teacher,
        student=students["keras_distillation"],
        distillation_losses=keras.distillation.LogitsDistillation(
            temperature=temperature, loss=keras.losses.KLDivergence()
        ),
        student_loss_weight=alpha,
    )
    theirs.compile(keras.optimizers.Adam(1e-3), loss=sparse_ce(), metrics=["accuracy"])
    # The teacher itself is only used for inference; compiled so that its
    # `jit_compile` is resolved as for the others.
    teacher.compile(loss=sparse_ce())

    Timer = _timer_callback(keras)
    timers = {name: Timer() for name in SETUPS}
    models = {
        "student": students["student"],
        "teacher_inference": teacher,
        "keras_kd": ours,
        "keras_distillation": theirs,
    }

    def run(name):
        model, timer = models[name], timers[name]
        if name == "teacher_inference":
            model.predict(x, batch_size=batch_size, verbose=0, callbacks=[timer])
        else:
            model.fit(
                x,
                y,
                batch_size=batch_size,
                epochs=1,
                verbose=0,
                shuffle=True,
                callbacks=[timer],
            )
        return timer.seconds[-1]

    info = {
        "jit_compile": {name: bool(m.jit_compile) for name, m in models.items()},
        "teacher_params": teacher.count_params(),
        "student_params": students["student"].count_params(),
    }
    return run, info


def worker(args):
    import keras

    from keras_kd.apps.data import load_fashion_mnist

    (x, y), _ = load_fashion_mnist()
    x, y = x[: args.train_size], y[: args.train_size]
    run, info = _build_setups(keras, x, y, args.batch_size, args.temperature, args.alpha)
    first = {}
    for name in SETUPS:  # Tracing and compilation: not counted.
        first[name] = run(name)
        print(f"[{keras.backend.backend()}] first epoch {name}: {first[name]:.2f} s", flush=True)
    times = {name: [] for name in SETUPS}
    for round_index in range(args.repeats):
        shift = round_index % len(SETUPS)
        for name in SETUPS[shift:] + SETUPS[:shift]:
            times[name].append(run(name))
            print(
                f"[{keras.backend.backend()}] round {round_index + 1} {name}: "
                f"{times[name][-1]:.2f} s",
                flush=True,
            )
    result = {
        "backend": keras.backend.backend(),
        "keras": keras.__version__,
        "train_size": len(x),
        "batch_size": args.batch_size,
        "repeats": args.repeats,
        "first_epoch": first,
        "epochs": times,
        "median": {name: statistics.median(v) for name, v in times.items()},
        **info,
    }
    print(RESULT_PREFIX + json.dumps(result), flush=True)


# -- Driver: one subprocess per backend, then the table --------------------------


def _run_backend(backend, args):
    command = [
        sys.executable,
        os.path.abspath(__file__),
        "--worker",
        "--train-size",
        str(args.train_size),
        "--batch-size",
        str(args.batch_size),
        "--repeats",
        str(args.repeats),
        "--temperature",
        str(args.temperature),
        "--alpha",
        str(args.alpha),
    ]
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="2")
    start = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True, bufsize=1)
    result = None
    for line in process.stdout:
        if line.startswith(RESULT_PREFIX):
            result = json.loads(line[len(RESULT_PREFIX) :])
        else:
            print(line, end="", flush=True)
    if process.wait() != 0 or result is None:
        raise SystemExit(f"The {backend} run failed (exit code {process.returncode}).")
    result["wall_seconds"] = time.perf_counter() - start
    os.makedirs(WORK, exist_ok=True)
    with open(os.path.join(WORK, f"epoch_time_{backend}.json"), "w") as f:
        json.dump(result, f, indent=1)
    return result


def _ratios(result):
    """Medians over rounds of each round's ratios.

    Within one round the four setups ran minutes apart at most, so a ratio
    per round cancels slow drifts in the machine's load better than a ratio
    of medians taken over different rounds.
    """
    e = result["epochs"]
    rounds = range(len(e["keras_kd"]))
    to_parts = [e["keras_kd"][i] / (e["student"][i] + e["teacher_inference"][i]) for i in rounds]
    to_keras = [e["keras_kd"][i] / e["keras_distillation"][i] for i in rounds]
    return statistics.median(to_parts), statistics.median(to_keras)


def _compilation(backend, jit_compile):
    if backend == "tensorflow":
        # Keras' "auto" turns XLA off on CPU-only machines.
        return "tf.function, XLA" if jit_compile else "tf.function, no XLA"
    if backend == "jax":
        return "jax.jit" if jit_compile else "not jitted"
    return "torch.compile" if jit_compile else "eager"


def format_table(results):
    """Markdown table of the median epoch times, one row per backend."""
    lines = [
        "| backend | step compiled as (Keras default) | (a) student alone "
        "| (b) teacher inference | (a) + (b) "
        "| (c) keras_kd | (d) keras.distillation "
        "| (c) / ((a) + (b)) ≤ 1.05 | (c) / (d) ≤ 1.0 |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        m = r["median"]
        to_parts, to_keras = _ratios(r)
        jit = _compilation(r["backend"], r["jit_compile"]["keras_kd"])
        lines.append(
            f"| {r['backend']} | {jit} | {m['student']:.2f} s | {m['teacher_inference']:.2f} s "
            f"| {m['student'] + m['teacher_inference']:.2f} s | {m['keras_kd']:.2f} s "
            f"| {m['keras_distillation']:.2f} s "
            f"| {to_parts:.2f} {'met' if to_parts <= 1.05 else 'NOT met'} "
            f"| {to_keras:.2f} {'met' if to_keras <= 1.0 else 'NOT met'} |"
        )
    r = results[0]
    lines += [
        "",
        f"Times: median of {r['repeats']} epochs each, after one uncounted epoch; "
        f"ratios: median over the {r['repeats']} rounds of each round's ratio; Fashion-MNIST, "
        f"first {r['train_size']:,} training images, batch {r['batch_size']} "
        f"({-(-r['train_size'] // r['batch_size'])} steps); teacher_cnn "
        f"({r['teacher_params']:,} parameters), student_cnn ({r['student_params']:,}); "
        f"Keras {r['keras']}, {os.cpu_count()} CPU cores ({platform.machine()}).",
    ]
    return "\n".join(lines)


def write_results(results):
    table = format_table(results)
    for path in (RESULTS, os.path.join(ROOT, "README.md")):
        write_between_markers(path, "epoch_time", table)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--backend",
        action="append",
        choices=BACKENDS,
        help="Backend(s) to measure now (default: all three). "
        "Others in the table are read from benchmarks/_work/.",
    )
    parser.add_argument("--train-size", type=int, default=30000)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--temperature", type=float, default=4.0)
    parser.add_argument("--alpha", type=float, default=0.1)
    parser.add_argument(
        "--no-write", action="store_true", help="Do not update RESULTS_epoch_time.md."
    )
    parser.add_argument(
        "--table-only",
        action="store_true",
        help="Measure nothing; rebuild the table from benchmarks/_work/.",
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args)

    for backend in [] if args.table_only else args.backend or BACKENDS:
        _run_backend(backend, args)
    results = []
    for backend in BACKENDS:
        path = os.path.join(WORK, f"epoch_time_{backend}.json")
        if os.path.exists(path):
            with open(path) as f:
                results.append(json.load(f))
    table = format_table(results)
    print()
    print(table)
    if not args.no_write:
        write_results(results)


if __name__ == "__main__":
    main()
