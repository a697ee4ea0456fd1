"""keras_kd.apps.tuning: the T / alpha / loss search on scikit-learn's 8x8 digits.

A trial is the plain distillation run, score for score and weight for
weight; a second search in the same folder trains only the trials not yet
finished; the grid and the seeded random order are what they say; every
mistake raises with its type and words. Tiny: a 64-16-10 teacher, an 8-unit
student, one epoch per trial.
"""

import re
import sys

import keras
import numpy as np
import pytest

from keras_kd import Distiller
from keras_kd.apps import tuning
from keras_kd.apps.data import load_digits
from keras_kd.losses import SoftTargetKD
from keras_kd.losses import with_temperature


def _dense(units, name):
    return keras.Sequential(
        [keras.Input((64,)), keras.layers.Dense(units, activation="relu"), keras.layers.Dense(10)],
        name=name,
    )


@pytest.fixture(scope="module")
def digits():
    """`(train, validation, teacher)`: 600 + 300 digits and a trained teacher."""
    (x, y), _ = load_digits(flatten=True)
    train, validation = (x[:600], y[:600]), (x[600:900], y[600:900])
    keras.utils.set_random_seed(0)
    teacher = _dense(16, "teacher")
    teacher.compile(
        keras.optimizers.Adam(1e-2), keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    teacher.fit(*train, epochs=3, batch_size=64, verbose=0)
    return train, validation, teacher


class CountingBuilder:
    """`build_student` that counts its calls: one per trial trained."""

    def __init__(self):
        self.calls = 0

    def __call__(self):
        self.calls += 1
        return _dense(8, "student")


def _search(digits, directory, build_student=None, **kwargs):
    train, validation, teacher = digits
    options = dict(temperature=[1.0, 4.0], alpha=[0.5], epochs=1, batch_size=64,
                   learning_rate=1e-2, directory=str(directory))  # fmt: skip
    options.update(kwargs)
    return tuning.search(teacher, build_student or CountingBuilder(), train, validation, **options)


def _plain_run(digits, temperature, alpha, seed):
    """The same student distilled by hand: `(student, history)`."""
    train, validation, teacher = digits
    keras.utils.set_random_seed(seed)
    student = _dense(8, "student")
    distiller = Distiller(teacher, student, SoftTargetKD(temperature=temperature), alpha=alpha)
    distiller.compile(
        keras.optimizers.Adam(1e-2),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    keras.utils.set_random_seed(seed)
    history = distiller.fit(*train, validation_data=validation, epochs=1, batch_size=64, verbose=0)
    return student, history


@pytest.mark.slow
def test_resumes_from_its_folder_and_a_trial_is_the_plain_run(digits, tmp_path, monkeypatch):
    trained = []  # the distillers the trials trained, in order
    train_trial = tuning.train_trial

    def recording_train_trial(*args, **kwargs):
        trained.append(train_trial(*args, **kwargs)[0])
        return trained[-1], trained[-1].history

    monkeypatch.setattr(tuning, "train_trial", recording_train_trial)
    builder = CountingBuilder()
    first = _search(digits, tmp_path, builder, max_trials=1, seed=7)
    assert builder.calls == 1
    assert [(r["temperature"], r["alpha"], r["loss"]) for r in first.trials] == [(1.0, 0.5, "kd")]

    # The trial is the plain run, score for score and weight for weight.
    student, history = _plain_run(digits, temperature=1.0, alpha=0.5, seed=7)
    assert first.trials[0]["score"] == pytest.approx(history.history["val_accuracy"][0], abs=1e-7)
    for got, want in zip(trained[0].student.get_weights(), student.get_weights(), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)

    second = _search(digits, tmp_path, builder, seed=7)  # the rest of the grid: one more trial
    assert builder.calls == 2
    assert [r["temperature"] for r in second.trials] == [1.0, 4.0]
    assert second.trials[0] == first.trials[0]
    assert all(r["status"] == "COMPLETED" for r in second.trials)

    third = _search(digits, tmp_path, builder, seed=7)  # nothing left: no training at all
    assert builder.calls == 2
    assert third.trials == second.trials

    best = max(second.trials, key=lambda r: r["score"])
    assert second.best == {k: best[k] for k in ("temperature", "alpha", "loss", "score")}
    table = second.to_markdown()
    assert len(re.findall(r"^\| \d+ \|", table, flags=re.M)) == 2  # one row per trial
    assert f"{best['score']:.4f} (best)" in table
    assert f"Best: temperature={best['temperature']:g}, alpha=0.5, loss='kd'" in table

    # Other choices in the same folder: refused, nothing trained.
    with pytest.raises(ValueError, match=r"holds a search over .* Pass the same choices to resume it, another directory, or overwrite=True"):
        _search(digits, tmp_path, builder, alpha=[0.1, 0.9])
    assert builder.calls == 2
    # overwrite=True starts over; a random search runs its seeded order's first trial.
    fresh = _search(digits, tmp_path, builder, alpha=[0.1, 0.9], overwrite=True,
                    algorithm="random", max_trials=1, seed=5)  # fmt: skip
    assert builder.calls == 3
    choices = tuning.check_choices([1.0, 4.0], [0.1, 0.9], ["kd"])
    first_drawn = tuning.trial_order(choices, "random", seed=5)[0]
    assert [{k: r[k] for k in first_drawn} for r in fresh.trials] == [first_drawn]


def test_grid_and_seeded_random_orders():
    choices = tuning.check_choices([4, 1, 2], [0.5, 0.1], ["kd", "dkd"])
    assert choices == {"temperature": [1.0, 2.0, 4.0], "alpha": [0.1, 0.5], "loss": ["kd", "dkd"]}
    grid = tuning.trial_order(choices, "grid")
    assert len(grid) == 12
    assert grid[:3] == [
        {"temperature": 1.0, "alpha": 0.1, "loss": "kd"},
        {"temperature": 1.0, "alpha": 0.1, "loss": "dkd"},
        {"temperature": 1.0, "alpha": 0.5, "loss": "kd"},
    ]
    shuffled = tuning.trial_order(choices, "random", seed=3)
    assert shuffled == tuning.trial_order(choices, "random", seed=3)
    assert shuffled != grid and sorted(map(str, shuffled)) == sorted(map(str, grid))
    assert tuning.trial_order(choices, "random", seed=4) != shuffled


def test_with_temperature_sets_the_temperature_only_where_the_loss_has_one():
    assert with_temperature("kd", 3.0).temperature == 3.0
    assert with_temperature("dkd", 2.5).temperature == 2.5
    assert "temperature" not in with_temperature("rkd", 3.0).get_config()


@pytest.mark.parametrize(
    "kwargs, words",
    [
        (dict(temperature=[0.0, 2.0]), "temperature must hold finite numbers > 0. Received: [0.0, 2.0]"),
        (dict(temperature=[float("nan")]), "temperature must hold finite numbers > 0"),
        (dict(temperature=[]), "temperature must hold at least one choice"),
        (dict(alpha=[1.5]), "alpha must hold numbers in [0, 1] (the weight of the hard-label loss). Received: [1.5]"),
        (dict(losses=["kd", "nope"]), "Unknown: ['nope']. Choose among ["),
        (dict(epochs=0), "epochs must be an integer >= 1. Received: 0."),
        (dict(max_trials=0), "max_trials must be an integer >= 1. Received: 0."),
        (dict(objective="val_f1"), "objective must be a metric of the distilled student: one of ('val_accuracy', "),
        (dict(algorithm="bayes"), "algorithm must be one of ('grid', 'random'). Received: 'bayes'."),
    ],
)
def test_wrong_choices_raise_value_error(digits, tmp_path, kwargs, words):
    with pytest.raises(ValueError) as info:
        _search(digits, tmp_path, **kwargs)
    assert words in str(info.value)


def test_malformed_data_raise_value_error(digits, tmp_path):
    train, validation, teacher = digits
    with pytest.raises(ValueError, match=r"train_data must hold as many labels as inputs.*600 inputs and 10 labels"):
        tuning.search(teacher, CountingBuilder(), (train[0], train[1][:10]), validation,
                      directory=str(tmp_path))  # fmt: skip
    with pytest.raises(ValueError, match=r"validation_data must be a tuple \(x, y\).*Received: ndarray"):
        tuning.search(teacher, CountingBuilder(), train, validation[0], directory=str(tmp_path))


def test_wrong_student_builders_raise_type_error(digits, tmp_path):
    with pytest.raises(TypeError, match=r"build_student must be a function of no arguments.*Received: 3"):
        _search(digits, tmp_path, build_student=3)
    with pytest.raises(TypeError, match=r"build_student\(\) must return a keras.Model. Received: str"):
        _search(digits, tmp_path / "b", build_student=lambda: "student")
    # The interrupted search's folder keeps its choices: others are refused.
    with pytest.raises(ValueError, match=r"holds a search over \{'choices': \{'temperature': \[1.0, 4.0\]"):
        _search(digits, tmp_path / "b", temperature=[3.0])


def test_without_keras_tuner_the_error_says_how_to_install_it(monkeypatch, digits, tmp_path):
    monkeypatch.setitem(sys.modules, "keras_tuner", None)
    with pytest.raises(ImportError, match=r'needs KerasTuner.*pip install "keras-kd\[tuning\]"'):
        _search(digits, tmp_path)


def test_keras_tuner_is_imported_only_when_a_search_runs():
    """No module of keras_kd imports KerasTuner at its top level."""
    import ast
    import pathlib

    root = pathlib.Path(tuning.__file__).parent
    for path in root.rglob("*.py"):
        for node in ast.parse(path.read_text()).body:
            names = [a.name for a in getattr(node, "names", [])] + [getattr(node, "module", None)]
            assert not any(str(n).startswith("keras_tuner") for n in names), path
