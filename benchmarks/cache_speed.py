"""A cached epoch against the student's own epoch (issue 22's goal: <= 1.10).

A `Distiller` on `TeacherCache.arrays` (the targets in memory, sliced by
Keras' array path: no Python call per batch) against the student trained
alone, measured side by side in one process per backend, for two sizes: the
issue's 16-unit MLP on the 8x8 digits repeated 8 times (batch 64) and the
demo's CNN student (`student_cnn`, 26,698 parameters) on 2,048 28x28 images
(batch 128). One uncounted epoch each, then `--rounds` rounds of one epoch
each, the order alternating; the ratio is the median over rounds of each
round's ratio, so load on a shared machine hits both alike. The load
average before and after is printed with the table.

Each epoch is timed by `--clock`: `cpu` (the default) is this process's CPU
time (`time.process_time`: every thread of the measuring process, none of
another's), which waiting for a core on a shared machine does not inflate;
`wall` is the wall clock (`time.perf_counter`), what a user waits, and on a
loaded machine noise of tens of percent. The table names the clock.

Usage:

    python benchmarks/cache_speed.py                    # three backends, a process each
    python benchmarks/cache_speed.py --max-ratio 1.10   # exit 1 when a ratio is above 1.10
    python benchmarks/cache_speed.py --clock wall       # wall time instead of CPU time
    KERAS_BACKEND=jax python benchmarks/cache_speed.py --backends jax   # in this process
    python benchmarks/cache_speed.py --quick            # tiny sizes, one round: runs?

`benchmarks/scale.py` reports the same two sizes with `epoch_ratio`.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

from epoch_time import _timer_callback

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BACKENDS = ("tensorflow", "jax", "torch")
ROUNDS = 5
LIMIT = 1.10
RESULT_PREFIX = "CACHE_SPEED "
# --quick: samples per case, and one round.
QUICK_SAMPLES = {"mlp": 512, "cnn": 256}
# What times an epoch (`--clock`), and how the table names it.
CLOCKS = {"cpu": time.process_time, "wall": time.perf_counter}
CLOCK_NAMES = {
    "cpu": "CPU time of the measuring process (`time.process_time`, all its threads)",
    "wall": "wall time (`time.perf_counter`)",
}


def digits_mlp(samples=None):
    """The issue's case: a 16-unit MLP on the 8x8 digits repeated 8 times."""
    import keras
    import numpy as np

    from keras_kd.apps.data import load_digits

    (x, y), _ = load_digits(flatten=True)
    x, y = np.concatenate([x] * 8)[:samples], np.concatenate([y] * 8)[:samples]

    def make(units, name):
        return keras.Sequential(
            [
                keras.Input((64,)),
                keras.layers.Dense(units, activation="relu"),
                keras.layers.Dense(10),
            ],
            name=name,
        )

    return x, y, make(64, "teacher"), lambda name: make(16, name), 64


def demo_cnn(samples=None):
    """The demo's CNN student on 2,048 28x28 images."""
    import keras
    import numpy as np

    from keras_kd.apps.reference_models import student_cnn

    samples = samples or 2048
    rng = np.random.default_rng(0)
    x = rng.random((samples, 28, 28, 1)).astype("float32")
    y = rng.integers(0, 10, samples).astype("int32")
    teacher = keras.Sequential(
        [keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(10)]
    )
    return x, y, teacher, lambda name: student_cnn(name=name), 128


CASES = {"mlp": digits_mlp, "cnn": demo_cnn}
CASE_NAMES = {
    "mlp": "16-unit MLP, digits x8 ({samples:,} samples), batch 64",
    "cnn": "demo CNN student, {samples:,} images, batch 128",
}


def case_name(case, result):
    """What a table calls a case, with the samples it was measured on."""
    return CASE_NAMES[case].format(samples=result["samples"])


def round_ratio(times, numerator, denominator):
    """Median over rounds of each round's ratio (cancels slow load drifts).

    Args:
        times: `{arm: [seconds per round, ...]}`.
        numerator: The arm on top.
        denominator: The arm below.

    Returns:
        A float.
    """
    pairs = zip(times[numerator], times[denominator])
    return statistics.median(a / b for a, b in pairs)


def epoch_ratio(folder, case, rounds=ROUNDS, samples=None, clock="cpu"):
    """Cached epoch / student-alone epoch for one case, in this process.

    Args:
        folder: Where the cache is written.
        case: `"mlp"` or `"cnn"` (see `CASES`).
        rounds: Counted rounds (one epoch per arm each).
        samples: `None` for the case's size, or fewer samples.
        clock: `"cpu"` or `"wall"` (see `CLOCKS`).

    Returns:
        `{"ratio", "alone_ms", "cached_ms", "steps", "samples", "rounds",
        "epochs", "clock"}`: the median of each round's ratio, and the
        median milliseconds per step of each arm, by `clock`.
    """
    import keras

    import keras_kd

    x, y, teacher, make_student, batch_size = CASES[case](samples)
    keras.utils.set_random_seed(0)
    cache = keras_kd.TeacherCache.write(
        teacher, x, os.path.join(folder, f"cache_{case}"), dtype="float32"
    )
    inputs, labels = cache.arrays(x, y)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    alone = make_student("alone")
    alone.compile("adam", loss, metrics=["accuracy"])
    distiller = keras_kd.Distiller(
        cache, make_student("cached"), keras_kd.losses.SoftTargetKD(4.0), alpha=0.1
    )
    distiller.compile("adam", loss, metrics=["accuracy"])
    timer = _timer_callback(keras, CLOCKS[clock])()
    arms = {
        "alone": lambda: alone.fit(
            x, y, batch_size=batch_size, epochs=1, verbose=0, callbacks=[timer]
        ),
        "cached": lambda: distiller.fit(
            inputs, labels, batch_size=batch_size, epochs=1, verbose=0, callbacks=[timer]
        ),
    }
    for run in arms.values():  # tracing and compilation, not counted
        run()
    times = {name: [] for name in arms}
    for round_index in range(rounds):
        order = list(arms) if round_index % 2 else list(arms)[::-1]
        for name in order:
            arms[name]()
            times[name].append(timer.seconds[-1])
    steps = -(-len(x) // batch_size)
    return {
        "ratio": round_ratio(times, "cached", "alone"),
        "alone_ms": 1000 * statistics.median(times["alone"]) / steps,
        "cached_ms": 1000 * statistics.median(times["cached"]) / steps,
        "steps": steps,
        "samples": len(x),
        "rounds": rounds,
        "epochs": times,
        "clock": clock,
    }


def measure_backend(rounds, quick=False, cases=tuple(CASES), clock="cpu"):
    """The cases on the backend of this process: `{case: epoch_ratio(...)}`."""
    with tempfile.TemporaryDirectory() as folder:
        return {
            case: epoch_ratio(
                folder,
                case,
                1 if quick else rounds,
                QUICK_SAMPLES[case] if quick else None,
                clock,
            )
            for case in cases
        }


def _run_backend(backend, args):
    """`measure_backend` in a fresh process on `backend`."""
    command = [sys.executable, os.path.abspath(__file__), "--worker", "--rounds", str(args.rounds)]
    command += ["--cases", ",".join(args.cases), "--clock", args.clock]
    command += ["--quick"] if args.quick else []
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (ROOT, HERE, env.get("PYTHONPATH")) if p)
    process = subprocess.run(command, env=env, capture_output=True, text=True)
    lines = [line for line in process.stdout.splitlines() if line.startswith(RESULT_PREFIX)]
    if process.returncode != 0 or not lines:
        raise SystemExit(
            f"cache_speed: the {backend} run failed (exit code {process.returncode}):\n"
            f"{process.stderr[-3000:]}"
        )
    return json.loads(lines[-1][len(RESULT_PREFIX) :])


def measure(args):
    """`{backend: {case: result}}`: in this process when it is the one backend
    asked for, else one process per backend, in turn."""
    if args.backends == [_this_backend()]:
        return {args.backends[0]: measure_backend(args.rounds, args.quick, args.cases, args.clock)}
    return {backend: _run_backend(backend, args) for backend in args.backends}


def _this_backend():
    if "keras" in sys.modules:
        return sys.modules["keras"].backend.backend()
    return os.environ.get("KERAS_BACKEND", "tensorflow")


def table(results, load_before=None, load_after=None, max_ratio=None):
    """The Markdown table of `measure`'s results, with the machine's load
    (`os.getloadavg()` before and after; left out when `None`)."""
    limit = LIMIT if max_ratio is None else max_ratio
    first = next(iter(next(iter(results.values())).values()))
    # Results measured before `--clock` existed were timed by the wall clock.
    clock = first.get("clock", "wall")
    time_kind = "CPU" if clock == "cpu" else "wall"
    rows = [
        f"| backend | case | student alone ({time_kind}) | cached ({time_kind}) "
        f"| cached / alone | goal ≤ {limit:.2f} |",
        "|---|---|---:|---:|---:|---|",
    ]
    for backend, cases in results.items():
        for case, r in cases.items():
            verdict = "met" if r["ratio"] <= limit else "**NOT met**"
            rows.append(
                f"| {backend} | {case_name(case, r)} | {r['alone_ms']:.2f} ms/step "
                f"| {r['cached_ms']:.2f} ms/step | {r['ratio']:.2f} | {verdict} |"
            )
    note = (
        f"Clock: {CLOCK_NAMES[clock]}. Median over {first['rounds']} rounds of each round's "
        "ratio (one epoch per arm, the order alternating, after one uncounted epoch each); "
        "ms/step: each arm's median epoch over its steps."
    )
    if load_before is not None:
        note += (
            f" Load average (1, 5, 15 min) before: {_load(load_before)}; after: "
            f"{_load(load_after)}; {os.cpu_count()} CPU cores."
        )
    return "\n".join(rows + ["", note])


def _load(load):
    return ", ".join(f"{value:.1f}" for value in load)


def over_limit(results, max_ratio):
    """One message per (backend, case) whose ratio is above `max_ratio`."""
    return [
        f"{backend}, {case_name(case, r)}: cached epoch / student epoch = "
        f"{r['ratio']:.2f} > --max-ratio {max_ratio:.2f}"
        for backend, cases in results.items()
        for case, r in cases.items()
        if r["ratio"] > max_ratio
    ]


def _positive(text):
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value < float("inf"):  # inf would pass every ratio: no limit at all
        raise argparse.ArgumentTypeError(
            f"must be a finite number > 0, such as 1.10 (the issue's goal). Received: {text!r}"
        )
    return value


def _clock(text):
    if text not in CLOCKS:
        raise argparse.ArgumentTypeError(
            "must be cpu (this process's CPU time, robust on a shared machine) or wall "
            f"(the wall clock). Received: {text!r}"
        )
    return text


def _names_among(known, what):
    def parse(text):
        names = [name.strip() for name in text.split(",") if name.strip()]
        if not names or any(name not in known for name in names) or len(set(names)) < len(names):
            raise argparse.ArgumentTypeError(
                f"must be {what} among {', '.join(known)}, separated by commas, each "
                f"once. Received: {text!r}"
            )
        return names

    return parse


def main(argv=None):
    """Measures, prints the table; returns 1 when a ratio is above `--max-ratio`."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--rounds", type=int, default=ROUNDS, help="Counted rounds (>= 1; 3 or more for a median)."
    )
    parser.add_argument(
        "--backends",
        type=_names_among(BACKENDS, "backends"),
        default=list(BACKENDS),
        help="Comma-separated; one process each, unless only this process's backend.",
    )
    parser.add_argument(
        "--max-ratio",
        type=_positive,
        default=None,
        help="Exit with status 1, naming each case, when a ratio is above this.",
    )
    parser.add_argument(
        "--cases",
        type=_names_among(tuple(CASES), "cases"),
        default=list(CASES),
        help="Comma-separated: mlp, cnn.",
    )
    parser.add_argument(
        "--clock",
        type=_clock,
        default="cpu",
        help="cpu (default: this process's CPU time per epoch) or wall (wall time).",
    )
    parser.add_argument("--quick", action="store_true", help="Tiny sizes, one round.")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error(f"--rounds must be >= 1 (3 or more for a median). Received: {args.rounds}")
    if args.quick and args.rounds != ROUNDS and not args.worker:
        parser.error(f"--quick measures one round; drop --rounds {args.rounds} or --quick.")
    if args.worker:
        result = measure_backend(args.rounds, args.quick, args.cases, args.clock)
        print(RESULT_PREFIX + json.dumps(result), flush=True)
        return 0
    load_before = os.getloadavg()
    results = measure(args)
    print(table(results, load_before, os.getloadavg(), args.max_ratio), flush=True)
    if args.max_ratio is None:
        return 0
    failures = over_limit(results, args.max_ratio)
    for message in failures:
        print(f"cache_speed: NOT met: {message}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
