"""Pruning-aware distillation, under each KERAS_BACKEND."""

import os

import keras
import numpy as np
import pytest
from _once import worker_behaviour_runs_on_tensorflow
from _tfmot_models import problem

import tflite_export
from tflite_export.tfmot import _pruning as pruning


@pytest.fixture(scope="module")
def setup():
    return problem()


@pytest.fixture(scope="module")
def pruned(setup, tmp_path_factory):
    x, y, validation, teacher, student = setup
    path = tmp_path_factory.mktemp("prune") / "student_pruned.tflite"
    return tflite_export.prune_distill(
        student,
        teacher,
        x,
        y,
        path,
        target_sparsity=0.7,
        quantization="dynamic",
        epochs=2,
        validation_data=validation,
        verbose=0,
    )


def _kernels(model):
    return [
        keras.ops.convert_to_numpy(layer.kernel)
        for layer in model.layers
        if isinstance(layer, (keras.layers.Dense, keras.layers.Conv2D))
    ]


@pytest.mark.slow
def test_stripped_weights_reach_the_target_sparsity(pruned, setup):
    student = setup[-1]
    assert pruned.student is not None and pruned.student is not student
    kernels = _kernels(pruned.student)
    zeros = sum(int(np.sum(k == 0)) for k in kernels)
    measured = zeros / sum(k.size for k in kernels)
    assert abs(measured - 0.7) <= 0.02
    assert pruned.sparsity == pytest.approx(measured, abs=1e-9)
    assert all(abs(np.mean(k == 0) - 0.7) <= 0.02 for k in kernels)
    assert not any(np.mean(k == 0) > 0.1 for k in _kernels(student))


@pytest.mark.slow
def test_pruned_file_is_written_and_measured(pruned):
    assert os.path.getsize(pruned.path) == pruned.bytes > 0
    assert pruned.gzip_bytes < pruned.bytes
    assert pruned.quantization == "dynamic"
    assert pruned.ptq_accuracy is not None  # the dense student, same mode
    assert pruned.accuracy > 0.6  # chance is 1/3
    assert pruned.evaluated_on == "validation_data"


@pytest.mark.slow
def test_pruned_student_is_a_keras_3_model_that_runs(pruned, setup):
    x = setup[0][:8]
    outputs = keras.ops.convert_to_numpy(pruned.student(x))
    assert outputs.shape == (8, 3) and np.all(np.isfinite(outputs))


def test_schedule_ends_on_a_pruning_step():
    schedule = pruning.pruning_schedule(0.8, num_samples=1000, batch_size=32, epochs=3)
    config = schedule.get_config()["config"]
    assert config["end_step"] % config["frequency"] == 0
    assert 0 < config["end_step"] <= 3 * 32
    assert config["final_sparsity"] == 0.8


@pytest.mark.parametrize("target", [0, 1, 1.5, -0.2, "0.8", None])
def test_target_sparsity_outside_zero_one_is_refused(setup, target):
    x, y, _, teacher, student = setup
    with pytest.raises(ValueError, match=r"strictly between 0 and 1.*Received: target_sparsity="):
        tflite_export.prune_distill(student, teacher, x, y, target_sparsity=target)


def test_unknown_quantization_mode_is_refused(setup):
    x, y, _, teacher, student = setup
    with pytest.raises(
        ValueError,
        match=r"quantization must be one of None \(float32\), 'float32', .*'int8'.*Received: quantization='int4'",
    ):
        tflite_export.prune_distill(student, teacher, x, y, quantization="int4")


def _cli(argv):
    from keras_kd.cli import main

    return main(argv)


@worker_behaviour_runs_on_tensorflow
@pytest.mark.slow
def test_cli_prune_writes_the_file_and_prints_the_table(setup, tmp_path, capsys):
    x, y, _, teacher, student = setup
    student.save(tmp_path / "student.keras")
    outputs = keras.ops.convert_to_numpy(teacher.predict(x, verbose=0))
    np.save(tmp_path / "teacher.npy", outputs)
    np.savez(tmp_path / "train.npz", x=x, y=y)
    output = tmp_path / "pruned.tflite"
    code = _cli(
        [
            "prune",
            str(tmp_path / "student.keras"),
            "--teacher",
            str(tmp_path / "teacher.npy"),
            "--data",
            str(tmp_path / "train.npz"),
            "-o",
            str(output),
            "--target-sparsity",
            "0.5",
            "--epochs",
            "1",
            "--quiet",
            "--engine",
            "tfmot",
        ]
    )
    printed = capsys.readouterr().out
    assert code == 0 and output.exists()
    assert "sparsity" in printed and "gzip bytes" in printed
    assert "accuracies on the --data set" in printed


def test_cli_reports_bad_input_without_a_traceback(setup, tmp_path, capsys):
    assert (
        _cli(["qat", "s.keras", "--teacher", "t.keras", "--data", str(tmp_path / "missing.npz")])
        == 2
    )
    error = capsys.readouterr().err
    assert error.startswith("error: ") and "missing.npz" in error and "Traceback" not in error
    np.savez(tmp_path / "bad.npz", images=np.zeros((2, 8, 8, 1)))
    assert (
        _cli(["qat", "s.keras", "--teacher", "t.keras", "--data", str(tmp_path / "bad.npz")]) == 2
    )
    error = capsys.readouterr().err
    assert "holds arrays ['images']" in error and "['x']" in error


@worker_behaviour_runs_on_tensorflow
@pytest.mark.slow
def test_seed_makes_the_fine_tuning_reproducible(pruned, setup, tmp_path):
    x, y, validation, teacher, student = setup

    def prune(seed, name):
        return tflite_export.prune_distill(
            student,
            teacher,
            x,
            y,
            tmp_path / name,
            target_sparsity=0.7,
            quantization="dynamic",
            epochs=2,
            validation_data=validation,
            seed=seed,
            verbose=0,
        )

    def content(result):
        with open(result.path, "rb") as f:
            return f.read()

    assert content(prune(0, "again.tflite")) == content(pruned)  # the fixture's seed
    other = _kernels(prune(1, "other.tflite").student)
    assert any(not np.array_equal(a, b) for a, b in zip(other, _kernels(pruned.student)))
