"""`benchmarks/cache_speed.py`: it runs and reports; `--max-ratio` decides.

Speed targets are checked by the benchmark, not here (CI shares a loaded
machine): the quick run below measures one tiny case without a limit, so CI
checks that the benchmark runs and reports its ratio, and the `--max-ratio`
verdict is tested on given numbers.
"""

import keras
import pytest
from _paths import import_benchmark


@pytest.fixture(scope="module")
def cache_speed():
    return import_benchmark("cache_speed")


def results(clock="cpu", **ratios):
    """`measure`'s shape: `{backend: {case: result}}`, from `backend_case=ratio`."""
    table = {}
    for key, ratio in ratios.items():
        backend, case = key.split("_")
        table.setdefault(backend, {})[case] = {
            "ratio": ratio,
            "alone_ms": 1.0,
            "cached_ms": ratio,
            "steps": 10,
            "samples": 640,
            "rounds": 3,
            "epochs": {"alone": [1.0] * 3, "cached": [ratio] * 3},
            "clock": clock,
        }
    return table


@pytest.mark.slow  # Compiles two small models: ~5 s of CPU, more on a loaded machine.
def test_quick_run_reports_the_ratio_without_a_limit(cache_speed, capsys):
    backend = keras.backend.backend()
    assert cache_speed.main(["--quick", "--cases", "mlp", "--backends", backend]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith(f"| {backend} |"))
    assert "16-unit MLP, digits x8 (512 samples)" in row and row.count("ms/step") == 2
    assert "Load average (1, 5, 15 min) before:" in out
    assert "| student alone (CPU) | cached (CPU) |" in out
    assert "Clock: CPU time of the measuring process (`time.process_time`" in out


@pytest.mark.parametrize(
    "argv, header, note",
    [
        ([], "| student alone (CPU) | cached (CPU) |", "Clock: CPU time"),
        (["--clock", "cpu"], "| student alone (CPU) | cached (CPU) |", "Clock: CPU time"),
        (["--clock", "wall"], "| student alone (wall) | cached (wall) |", "Clock: wall time"),
    ],
)
def test_the_clock_reaches_the_measurement_and_the_table_names_it(
    cache_speed, monkeypatch, capsys, argv, header, note
):
    seen = []

    def measure(args):
        seen.append(args.clock)
        return results(clock=args.clock, jax_mlp=1.0)

    monkeypatch.setattr(cache_speed, "measure", measure)
    assert cache_speed.main(argv) == 0
    out = capsys.readouterr().out
    assert seen == [argv[-1] if argv else "cpu"]
    assert header in out and note in out


@pytest.mark.parametrize("clock", ["cpu", "wall"])
def test_each_backend_process_is_given_the_clock(cache_speed, monkeypatch, clock):
    commands = []

    class Finished:
        returncode = 0
        stdout = cache_speed.RESULT_PREFIX + '{"mlp": {}}\n'
        stderr = ""

    def run(command, **kwargs):
        commands.append(command)
        return Finished()

    monkeypatch.setattr(cache_speed.subprocess, "run", run)
    args = cache_speed.argparse.Namespace(
        rounds=3, cases=["mlp"], clock=clock, quick=False, backends=["jax", "torch"]
    )
    monkeypatch.setattr(cache_speed, "_this_backend", lambda: "tensorflow")
    assert cache_speed.measure(args) == {"jax": {"mlp": {}}, "torch": {"mlp": {}}}
    for command in commands:
        assert command[command.index("--clock") + 1] == clock


def test_results_without_a_clock_are_named_wall_time(cache_speed):
    old = results(jax_mlp=1.0)
    del old["jax"]["mlp"]["clock"]  # measured before `--clock` existed
    text = cache_speed.table(old)
    assert "| student alone (wall) | cached (wall) |" in text and "Clock: wall time" in text


@pytest.mark.parametrize(
    "ratios, max_ratio, failing",
    [
        ({"jax_mlp": 1.10, "jax_cnn": 0.90}, 1.10, []),
        ({"jax_mlp": 1.11, "jax_cnn": 0.90}, 1.10, ["jax, 16-unit MLP"]),
        (
            {"torch_mlp": 2.0, "torch_cnn": 1.5, "jax_mlp": 1.0},
            1.10,
            ["torch, 16-unit MLP", "torch, demo CNN"],
        ),
        ({"tensorflow_cnn": 1.3}, 1.5, []),
    ],
)
def test_max_ratio_exits_1_naming_each_case_above_it(
    cache_speed, monkeypatch, capsys, ratios, max_ratio, failing
):
    monkeypatch.setattr(cache_speed, "measure", lambda args: results(**ratios))
    status = cache_speed.main(["--max-ratio", str(max_ratio)])
    captured = capsys.readouterr()
    assert status == (1 if failing else 0)
    messages = captured.err.strip().splitlines() if failing else []
    assert len(messages) == len(failing)
    for message, start in zip(messages, failing):
        assert message.startswith(f"cache_speed: NOT met: {start}")
        assert f"> --max-ratio {max_ratio:.2f}" in message
    assert ("**NOT met**" in captured.out) == bool(failing)


def test_without_max_ratio_a_slow_ratio_still_exits_0(cache_speed, monkeypatch, capsys):
    monkeypatch.setattr(cache_speed, "measure", lambda args: results(jax_mlp=3.0))
    assert cache_speed.main([]) == 0
    assert "| 3.00 | **NOT met** |" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, words",
    [
        (["--max-ratio", "0"], "must be a finite number > 0"),
        (["--max-ratio", "fast"], "must be a finite number > 0"),
        (["--max-ratio", "nan"], "must be a finite number > 0"),
        # inf (or an overflowing 1e999) passed every ratio: no limit at all.
        (["--max-ratio", "inf"], "must be a finite number > 0"),
        (["--max-ratio", "1e999"], "must be a finite number > 0"),
        (["--backends", "tf"], "must be backends among tensorflow, jax, torch"),
        # Twice: the backend measured twice, one result kept.
        (["--backends", "jax,jax"], "separated by commas, each once"),
        (["--cases", "mlp,mlp"], "each once. Received: 'mlp,mlp'"),
        (["--rounds", "-2"], "--rounds must be >= 1"),
        (["--quick", "--rounds", "7"], "--quick measures one round; drop --rounds 7"),
        (["--backends", ""], "must be backends among"),
        (["--cases", "resnet"], "must be cases among mlp, cnn"),
        (["--rounds", "0"], "--rounds must be >= 1"),
        (["--clock", "gpu"], "must be cpu (this process's CPU time"),
        (["--clock", "CPU"], "must be cpu (this process's CPU time"),
        (["--clock", ""], "or wall (the wall clock). Received: ''"),
        (["--clock", "process_time"], "Received: 'process_time'"),
    ],
)
def test_bad_arguments_are_refused_by_name(cache_speed, capsys, argv, words):
    with pytest.raises(SystemExit) as error:
        cache_speed.main(argv)
    assert error.value.code == 2
    assert words in capsys.readouterr().err
