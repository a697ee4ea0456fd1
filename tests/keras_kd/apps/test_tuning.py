"""keras_kd.apps.tuning: the T / alpha / loss search on scikit-learn's 8x8 digits.

A trial is the plain distillation run, score for score and weight for
weight; a second search in the same folder trains only the trials not yet
finished; the grid and the seeded random order are what they say; every
mistake raises with its type and words. Tiny: a 64-16-10 teacher, an 8-unit
student, one epoch per trial.
"""

import dataclasses
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
    options = dict(
        temperature=[1.0, 4.0],
        alpha=[0.5],
        epochs=1,
        batch_size=64,
        learning_rate=1e-2,
        directory=str(directory),
    )
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
    assert [(r.temperature, r.alpha, r.loss) for r in first.trials] == [(1.0, 0.5, "kd")]

    # The trial is the plain run, score for score and weight for weight.
    student, history = _plain_run(digits, temperature=1.0, alpha=0.5, seed=7)
    assert first.trials[0].score == pytest.approx(history.history["val_accuracy"][0], abs=1e-7)
    for got, want in zip(trained[0].student.get_weights(), student.get_weights(), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)

    second = _search(digits, tmp_path, builder, seed=7)  # the rest of the grid: one more trial
    assert builder.calls == 2
    assert [r.temperature for r in second.trials] == [1.0, 4.0]
    assert second.trials[0] == first.trials[0]
    assert all(r.status == "COMPLETED" for r in second.trials)

    third = _search(digits, tmp_path, builder, seed=7)  # nothing left: no training at all
    assert builder.calls == 2
    assert third.trials == second.trials

    best = max(second.trials, key=lambda r: r.score)
    assert second.best == {k: getattr(best, k) for k in ("temperature", "alpha", "loss", "score")}
    table = second.to_markdown()
    assert len(re.findall(r"^\| \d+ \|", table, flags=re.M)) == 2  # one row per trial
    assert f"{best.score:.4f} (best)" in table
    assert f"Best: temperature={best.temperature:g}, alpha=0.5, loss='kd'" in table

    # Other choices in the same folder: refused, nothing trained.
    with pytest.raises(
        ValueError,
        match=r"holds a search whose trials were scored with other settings: choices .* Pass the same settings to resume it, another directory, or overwrite=True",
    ):
        _search(digits, tmp_path, builder, alpha=[0.1, 0.9])
    assert builder.calls == 2
    # overwrite=True starts over; a random search runs its seeded order's first trial.
    fresh = _search(
        digits,
        tmp_path,
        builder,
        alpha=[0.1, 0.9],
        overwrite=True,
        algorithm="random",
        max_trials=1,
        seed=5,
    )
    assert builder.calls == 3
    choices = tuning.check_choices([1.0, 4.0], [0.1, 0.9], ["kd"])
    first_drawn = tuning.trial_order(choices, "random", seed=5)[0]
    assert [{k: getattr(r, k) for k in first_drawn} for r in fresh.trials] == [first_drawn]


def test_a_trial_is_a_frozen_record_of_the_columns():
    trial = tuning.Trial(0, temperature=2.0, alpha=0.5, loss="kd", score=None, status="FAILED")
    assert dataclasses.asdict(trial) == {
        "trial": 0,
        "temperature": 2.0,
        "alpha": 0.5,
        "loss": "kd",
        "score": None,
        "status": "FAILED",
    }
    assert tuple(dataclasses.asdict(trial)) == tuning.COLUMNS  # the JSON's key order
    with pytest.raises(dataclasses.FrozenInstanceError, match="score"):
        trial.score = 0.9
    best = {"temperature": 4.0, "alpha": 0.5, "loss": "kd", "score": 0.8}
    table = tuning.SearchResult(best=best, trials=[trial]).to_markdown()
    assert "| 0 | 2 | 0.5 | kd | n/a | FAILED |" in table


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
        (
            dict(temperature=[0.0, 2.0]),
            "temperature must hold finite numbers > 0. Received: [0.0, 2.0]",
        ),
        (dict(temperature=[float("nan")]), "temperature must hold finite numbers > 0"),
        (dict(temperature=[]), "temperature must hold at least one choice"),
        (
            dict(alpha=[1.5]),
            "alpha must hold numbers in [0, 1] (the weight of the hard-label loss). Received: [1.5]",
        ),
        (dict(losses=["kd", "nope"]), "Unknown: ['nope']. Choose among ["),
        (dict(epochs=0), "epochs must be an integer >= 1. Received: 0."),
        (dict(max_trials=0), "max_trials must be an integer >= 1. Received: 0."),
        (
            dict(objective="val_f1"),
            "objective must be a metric of the distilled student: one of ('val_accuracy', ",
        ),
        (
            dict(algorithm="bayes"),
            "algorithm must be one of ('grid', 'random'). Received: 'bayes'.",
        ),
    ],
)
def test_wrong_choices_raise_value_error(digits, tmp_path, kwargs, words):
    with pytest.raises(ValueError) as info:
        _search(digits, tmp_path, **kwargs)
    assert words in str(info.value)


def test_malformed_data_raise_value_error(digits, tmp_path):
    train, validation, teacher = digits
    with pytest.raises(
        ValueError,
        match=r"train_data must hold as many labels as inputs.*inputs of shape \(600, 64\) and labels of shape \(10,\)",
    ):
        tuning.search(
            teacher,
            CountingBuilder(),
            (train[0], train[1][:10]),
            validation,
            directory=str(tmp_path),
        )
    with pytest.raises(
        ValueError, match=r"validation_data must be a tuple \(x, y\).*Received: ndarray"
    ):
        tuning.search(teacher, CountingBuilder(), train, validation[0], directory=str(tmp_path))


def test_wrong_student_builders_raise_type_error(digits, tmp_path):
    with pytest.raises(
        TypeError, match=r"build_student must be a function of no arguments.*Received: 3"
    ):
        _search(digits, tmp_path, build_student=3)
    with pytest.raises(
        TypeError, match=r"build_student\(\) must return a keras.Model. Received: str"
    ):
        _search(digits, tmp_path / "b", build_student=lambda: "student")
    # The interrupted search's folder keeps its choices: others are refused.
    with pytest.raises(ValueError, match=r"other settings: choices \{'temperature': \[1.0, 4.0\]"):
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


# -- Hostile inputs, issue 20 (defects 3, 6, 16, 23) ------------------------------------


def _bad_settings_file(path):
    path.mkdir()
    (path / tuning.SETTINGS_FILE).write_text("{'choices'")
    return path


# (id, kwargs or a function of (digits, tmp_path) giving kwargs, error words)
REFUSED = [
    (
        "directory-is-a-file",
        lambda d, p: (p / "f").write_text("x") and dict(directory=str(p / "f")),
        r"directory '.*f' is a file, but search keeps its state in a folder",
    ),
    (
        "settings-file-not-json",
        lambda d, p: dict(directory=str(_bad_settings_file(p / "s"))),
        r"settings file .*keras_kd_search.json is not valid JSON.*overwrite=True",
    ),
    (
        "float-validation-labels",
        lambda d, p: dict(validation=(d[1][0], d[1][1].astype("float32") / 3)),
        r"validation_data must hold integer class labels.*dtype float32",
    ),
    (
        "one-hot-labels",
        lambda d, p: dict(train=(d[0][0], np.eye(10)[d[0][1]])),
        r"train_data must hold integer class labels.*shape \(600, 10\).*y.argmax\(-1\)",
    ),
    (
        "labels-out-of-range",
        lambda d, p: dict(train=(d[0][0], d[0][1] + 5)),
        r"every class label must be in \[0, 9\]",
    ),
    (
        "learning-rate-nan",
        dict(learning_rate=float("nan")),
        r"`learning_rate` must be a number > 0",
    ),
    ("learning-rate-negative", dict(learning_rate=-1.0), r"`learning_rate` must be a number > 0"),
    (
        "objective-wrong-direction",
        lambda d, p: dict(objective=__import__("keras_tuner").Objective("val_loss", "max")),
        r"objective 'val_loss' must be minimized",
    ),
    ("seed-a-string", dict(seed="a"), r"seed must be an integer >= 0. Received: 'a'"),
    # Was refused by the first trial's fit, after the settings file and a
    # trial were written in the directory.
    (
        "classes-for-a-one-unit-teacher",
        lambda d, p: dict(
            teacher=keras.Sequential([keras.Input(d[0][0].shape[1:]), keras.layers.Dense(1)])
        ),
        r"^train_data: binary cross-entropy reads labels in \[0, 1\].*Labels 0 to 9 name 10",
    ),
]


@pytest.mark.parametrize("change, words", [r[1:] for r in REFUSED], ids=[r[0] for r in REFUSED])
def test_a_mistake_is_refused_before_the_settings_file_is_written(digits, tmp_path, change, words):
    kwargs = change(digits, tmp_path) if callable(change) else dict(change)
    train, validation, teacher = digits
    train, validation = kwargs.pop("train", train), kwargs.pop("validation", validation)
    teacher = kwargs.pop("teacher", teacher)
    directory = kwargs.pop("directory", str(tmp_path / "search"))
    with pytest.raises(ValueError, match=words):
        tuning.search(
            teacher,
            CountingBuilder(),
            train,
            validation,
            temperature=[2.0],
            alpha=[0.5],
            epochs=1,
            batch_size=64,
            directory=directory,
            **kwargs,
        )
    if not (tmp_path / "s").exists():
        assert not (tmp_path / "search").exists()


def _other_teacher(digits):
    teacher = digits[2]
    other = keras.models.clone_model(teacher)
    other.set_weights([w + 1e-3 for w in teacher.get_weights()])
    return other


# (id, change to a finished search's call, the words naming what changed)
CHANGED = [
    ("other-teacher", lambda d: dict(teacher=_other_teacher(d)), r"the teacher's weights changed"),
    (
        "other-training-data",
        lambda d: dict(train=(d[0][0][::-1], d[0][1][::-1])),
        r"the training data changed",
    ),
    (
        "other-validation-data",
        lambda d: dict(validation=(d[1][0][:100], d[1][1][:100])),
        r"the validation data changed",
    ),
    ("more-epochs", lambda d: dict(epochs=5), r"epochs 1 there, 5 now"),
    (
        "other-learning-rate",
        lambda d: dict(learning_rate=1e-3),
        r"learning_rate 0.01 there, 0.001 now",
    ),
    (
        "other-objective",
        lambda d: dict(objective="val_loss"),
        r"objective 'val_accuracy' there, 'val_loss' now",
    ),
]


@pytest.fixture(scope="module")
def finished_search(digits, tmp_path_factory):
    directory = tmp_path_factory.mktemp("finished")
    _search(digits, directory, temperature=[2.0])
    return directory


@pytest.mark.parametrize("change, words", [c[1:] for c in CHANGED], ids=[c[0] for c in CHANGED])
def test_a_resumed_search_with_another_setting_is_refused_naming_it(
    digits, finished_search, change, words
):
    kwargs = change(digits)
    train, validation, teacher = digits
    builder = CountingBuilder()
    options = dict(
        temperature=[2.0],
        alpha=[0.5],
        epochs=1,
        batch_size=64,
        learning_rate=1e-2,
        directory=str(finished_search),
    )
    options.update(kwargs)
    with pytest.raises(ValueError, match=words):
        tuning.search(
            options.pop("teacher", teacher),
            builder,
            options.pop("train", train),
            options.pop("validation", validation),
            **options,
        )
    assert builder.calls == 0


@pytest.mark.slow
@pytest.mark.parametrize("objective", ["val_student_loss", "distillation_loss"])
def test_loss_objectives_are_minimized(digits, tmp_path, objective):
    result = _search(digits, tmp_path, temperature=[1.0, 4.0], objective=objective)
    scores = [row.score for row in result.trials]
    assert result.best["score"] == min(scores)
    assert result.objective == objective


def test_the_command_line_refuses_an_output_inside_the_search_folder(tmp_path, capsys):
    from keras_kd.cli import main

    code = main(
        [
            "tune",
            "--teacher",
            "t.keras",
            "--student",
            "s.keras",
            "--dataset",
            "digits",
            "--directory",
            str(tmp_path / "search"),
            "-o",
            str(tmp_path / "search" / tuning.SETTINGS_FILE),
        ]
    )
    assert code == 2
    assert "lies inside --directory" in capsys.readouterr().err
