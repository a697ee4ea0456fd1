"""`benchmarks/scale.py`'s tables: the goals' verdicts follow the numbers.

The benchmark itself starts a dozen subprocesses (minutes even with
`--quick`), so CI checks only how its results become the README's table;
`python benchmarks/scale.py --quick --no-write` runs the whole script.
"""

import pytest
from _paths import import_benchmark


@pytest.fixture(scope="module")
def scale():
    return import_benchmark("scale")


def cache_result(student_epochs, cached_epochs):
    live = [2 * s for s in student_epochs]
    epochs = {
        "student": student_epochs,
        "cached_dense": cached_epochs,
        "cached_top_k": cached_epochs,
        "live": live,
    }
    return {
        "samples": 4096,
        "batch_size": 128,
        "repeats": len(student_epochs),
        "epochs": epochs,
        "median": {a: sorted(t)[len(t) // 2] for a, t in epochs.items()},
        "ratio": {a: 1.0 for a in ("cached_dense", "cached_top_k", "live")},
        "teacher_params": 390410,
        "student_params": 26698,
        "write_seconds_dense": 1.5,
        "write_seconds_top_k": 1.7,
        "bytes_per_sample_dense": 20.1,
        "bytes_per_sample_top_k": 22.1,
    }


def test_epoch_ratio_is_the_median_of_each_rounds_ratio(scale):
    times = {"cached": [1.0, 3.0, 6.0], "student": [1.0, 2.0, 5.0]}
    # Per round: 1.0, 1.5, 1.2 -> median 1.2; medians' ratio: 3.0 / 2.0 = 1.5.
    assert scale._round_ratios(times, "cached", "student") == pytest.approx(1.2)


@pytest.mark.parametrize("ratio, verdict", [(1.10, "1.10 met"), (1.11, "1.11 **NOT met**")])
def test_cache_table_says_whether_the_110_goal_is_met(scale, ratio, verdict):
    result = cache_result([1.0, 1.0, 1.0], [ratio] * 3)
    result["ratio"]["cached_dense"] = ratio
    table = scale.cache_table({"jax": result})
    row = next(line for line in table.splitlines() if line.startswith("| jax"))
    assert f"| {verdict} |" in row
    assert "dense 20.1, top-5 22.1" in table


@pytest.mark.parametrize("dense, verdict", [([88.0, 88.2], "met"), ([87.7, 87.9], "**NOT met**")])
def test_accuracy_table_compares_dense_cache_with_live_within_02_points(scale, dense, verdict):
    result = {
        "backend": "tensorflow",
        "samples": 10000,
        "test_samples": 10000,
        "seeds": [0, 1],
        "teacher_epochs": 2,
        "student_epochs": 3,
        "temperature": 2.0,
        "alpha": 0.5,
        "teacher_accuracy": 89.0,
        "accuracy": {
            "student": [87.0, 87.2],
            "cached_dense": dense,
            "cached_top_k": [87.5, 87.7],
            "live": [88.0, 88.2],
        },
    }
    table = scale.accuracy_table(result)
    row = next(line for line in table.splitlines() if line.startswith("| cached dense"))
    assert row.endswith(f"goal ±0.2: {verdict} |"), row
    assert "| student alone | 87.10% ± 0.14 | 87.00, 87.20 | -1.00 |" in table


def test_data_parallel_table_says_virtual_devices_say_nothing_about_speed(scale):
    result = {
        "max_weight_difference": 5.9e-8,
        "replicas": 2,
        "samples": 2048,
        "batch_size": 128,
        "steps": 16,
        "ratio": 1.9,
        "step_ms": {"one_device": 100.0, "two_devices": 190.0},
    }
    two = {"to_one_device": 3e-8, "between_processes": 0.0}
    table = scale.data_parallel_table({"jax": result}, two)
    assert (
        "| JAX DataParallel, 2 host devices, one process | 5.9e-08 | 100.0 ms | 190.0 ms | 1.90 |"
        in table
    )
    assert "2 processes on localhost | 3.0e-08 (between the processes: 0.0e+00)" in table
    assert "say nothing about the speed" in table


def test_cached_epoch_table_reports_both_sizes_per_backend(scale):
    def size(ratio, samples):
        return {"ratio": ratio, "alone_ms": 2.0, "cached_ms": 2.0 * ratio, "samples": samples}

    results = {"cache": {}}
    for backend, ratios in (("jax", (1.05, 1.02)), ("torch", (1.3, 1.08))):
        results["cache"][backend] = cache_result([1.0] * 3, [1.0] * 3)
        results["cache"][backend]["sizes"] = {
            "mlp": {**size(ratios[0], 14376), "rounds": 5},
            "cnn": {**size(ratios[1], 2048), "rounds": 5},
        }
    results["load"] = ((9.0, 8.0, 7.0), (10.0, 9.0, 8.0))
    table = scale.cached_epoch_table(results)
    assert (
        "| jax | 16-unit MLP, digits x8 (14,376 samples), batch 64 | 2.00 ms/step "
        "| 2.10 ms/step | 1.05 | met |" in table
    )
    assert "| torch | 16-unit MLP, digits x8 (14,376 samples), batch 64 |" in table
    assert "| 1.30 | **NOT met** |" in table
    assert "| torch | demo CNN student, 2,048 images, batch 128 |" in table
    assert "Load average (1, 5, 15 min) before: 9.0, 8.0, 7.0; after: 10.0, 9.0, 8.0" in table
    assert scale.cached_epoch_table({"cache": {"jax": cache_result([1.0], [1.0])}}) is None
