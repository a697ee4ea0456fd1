"""Temperature, alpha and loss search for distillation, with KerasTuner.

`search` trains one distilled student per trial, each from the same seeded
initial weights, and scores it on a validation split. KerasTuner's oracle
picks the trials (a grid or a seeded random search over the given choices)
and keeps its state in `directory`, so a second call with the same folder
continues where the first stopped and never trains a finished trial again.

KerasTuner is an optional extra: `pip install "keras-kd[tuning]"`. It is
imported only when `search` runs.
"""

import contextlib
import hashlib
import io
import itertools
import json
import math
import os
from dataclasses import dataclass

import keras
import numpy as np

from keras_kd import files
from keras_kd import losses as losses_module
from keras_kd.apps import _keras_tuner_compat
from keras_kd.checks import check_classifier_labels
from keras_kd.checks import check_number
from keras_kd.classification import compile_classifier
from keras_kd.distiller import Distiller
from keras_kd.files import atomic_write
from keras_kd.validation import output_units

INSTALL_HINT = 'Install it with: pip install "keras-kd[tuning]"'
PROJECT_NAME = "keras_kd_search"
SETTINGS_FILE = "keras_kd_search.json"
ALGORITHMS = ("grid", "random")
COLUMNS = ("trial", "temperature", "alpha", "loss", "score", "status")
# What a trial's `Distiller` reports, on the training data and (`val_`) on
# the validation data: the objectives `search` accepts.
METRICS = ("accuracy", "loss", "student_loss", "distillation_loss")
OBJECTIVES = tuple(f"val_{name}" for name in METRICS) + METRICS
# Accuracy is maximized, every loss minimized: KerasTuner cannot infer the
# direction of the distillation metrics from their names.
DIRECTIONS = {name: "max" if name.endswith("accuracy") else "min" for name in OBJECTIVES}


def import_keras_tuner():
    """Imports KerasTuner, or says how to install it.

    Returns:
        The `keras_tuner` module.

    Raises:
        ImportError: KerasTuner is not installed; the message names
            `pip install "keras-kd[tuning]"`.

    Example:

    >>> import_keras_tuner().__name__
    'keras_tuner'
    """
    try:
        import keras_tuner
    except ImportError as error:
        raise ImportError(
            f"keras_kd.apps.tuning needs KerasTuner, which could not be imported ({error}). "
            f"{INSTALL_HINT}"
        ) from None
    _keras_tuner_compat.check_internals(keras_tuner)
    return keras_tuner


@dataclass(frozen=True)
class Trial:
    """One trial of a `search`: its settings, score and KerasTuner status.

    Its fields are `COLUMNS`, in that order; `dataclasses.asdict(trial)` is
    the trial as written to JSON.

    Attributes:
        trial: Its position in the order the trials ran, from 0.
        temperature: The distillation temperature.
        alpha: The weight of the hard-label loss.
        loss: The registered name of the distillation loss.
        score: The objective at the trial's best epoch; `None` if it failed.
        status: KerasTuner's status, e.g. `"COMPLETED"` or `"FAILED"`.

    Example:

    >>> Trial(0, 2.0, 0.5, "kd", 0.9, "COMPLETED").score
    0.9
    """

    trial: int
    temperature: float
    alpha: float
    loss: str
    score: float | None
    status: str


@dataclass
class SearchResult:
    """What `search` found: the best settings and every trial.

    Attributes:
        best: Dict with the best trial's `temperature`, `alpha`, `loss` and
            `score` (the objective on the validation data).
        trials: One `Trial` per trial, in the order they ran; its `score` is
            `None` for a trial that failed.
        objective: The name of the objective, e.g. `"val_accuracy"`.
    """

    best: dict
    trials: list[Trial]
    objective: str = "val_accuracy"

    def to_markdown(self):
        """The trials as a Markdown table, best trial marked, then the best line.

        Returns:
            A string.

        Example:

        >>> result = SearchResult(
        ...     best={"temperature": 2.0, "alpha": 0.5, "loss": "kd", "score": 0.9},
        ...     trials=[Trial(0, temperature=2.0, alpha=0.5, loss="kd", score=0.9,
        ...                   status="COMPLETED")])
        >>> print(result.to_markdown())
        | trial | temperature | alpha | loss | val_accuracy | status |
        |---:|---:|---:|---|---:|---|
        | 0 | 2 | 0.5 | kd | 0.9000 (best) | COMPLETED |
        <BLANKLINE>
        Best: temperature=2, alpha=0.5, loss='kd' (val_accuracy 0.9000).
        """
        lines = [
            f"| trial | temperature | alpha | loss | {self.objective} | status |",
            "|---:|---:|---:|---|---:|---|",
        ]
        for row in self.trials:
            score = "n/a" if row.score is None else f"{row.score:.4f}"
            if _same_settings(row, self.best):
                score += " (best)"
            lines.append(
                f"| {row.trial} | {row.temperature:g} | {row.alpha:g} | "
                f"{row.loss} | {score} | {row.status} |"
            )
        best = self.best
        lines += [
            "",
            f"Best: temperature={best['temperature']:g}, alpha={best['alpha']:g}, "
            f"loss={best['loss']!r} ({self.objective} {best['score']:.4f}).",
        ]
        return "\n".join(lines)


def _same_settings(row, best):
    return all(getattr(row, key) == best[key] for key in ("temperature", "alpha", "loss"))


def search(
    teacher,
    build_student,
    train_data,
    validation_data,
    temperature=(1.0, 2.0, 4.0),
    alpha=(0.1, 0.5),
    losses=("kd",),
    epochs=5,
    max_trials=None,
    directory="keras_kd_search",
    seed=0,
    objective="val_accuracy",
    algorithm="grid",
    batch_size=128,
    learning_rate=1e-3,
    overwrite=False,
    verbose=0,
):
    """Searches the distillation temperature, alpha and loss on validation data.

    Every trial builds a fresh student with `build_student()` after
    `keras.utils.set_random_seed(seed)`, so all trials start from the same
    weights and see the same batches: they differ only in the settings
    searched. The trial's score is the objective at its best epoch, as
    KerasTuner scores a Keras model.

    Args:
        teacher: What `Distiller` accepts as a teacher: a trained
            `keras.Model`, a list of them, or a `keras_kd.teachers` object.
        build_student: Function of no arguments returning a new, untrained
            student `keras.Model` each call.
        train_data: `(x, y)`: training inputs and integer labels.
        validation_data: `(x, y)` to score each trial on; never the test set.
        temperature: Temperatures to try (for losses that take one).
        alpha: Weights of the hard-label loss to try, each in [0, 1].
        losses: Registered distillation loss names to try, e.g. `["kd"]`.
        epochs: Training epochs per trial.
        max_trials: Trials to run at most (counting those already finished
            in `directory`); None runs the whole grid.
        directory: Folder holding KerasTuner's state; a second call with the
            same folder and choices resumes the search.
        seed: Seed of the students' weights, the shuffling, and the random
            search's draws.
        objective: One of `OBJECTIVES`, e.g. `"val_accuracy"` (maximized)
            or `"val_student_loss"` (minimized).
        algorithm: `"grid"` (every combination, in order) or `"random"`.
        batch_size: Batch size for training.
        learning_rate: Adam learning rate for every trial.
        overwrite: If True, discards a search stored in `directory`.
        verbose: Keras and KerasTuner verbosity; 0 prints nothing.

    Returns:
        A `SearchResult` with `.best`, `.trials` and `.to_markdown()`.

    Raises:
        ImportError: KerasTuner is not installed.
        ValueError: A choice is out of range, `directory` holds a search
            over other choices, or the data are malformed.
        TypeError: `build_student()` does not return a Keras model.

    Example:

    >>> def build_student():
    ...     return keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    >>> teacher = build_student()
    >>> data = (np.random.rand(64, 4), np.random.randint(0, 3, size=64))
    >>> result = search(teacher, build_student, data, data, temperature=[2.0],
    ...                 alpha=[0.5], epochs=1, directory="search")
    >>> sorted(result.best)
    ['alpha', 'loss', 'score', 'temperature']
    >>> [trial.status for trial in result.trials]
    ['COMPLETED']
    """
    keras_tuner = import_keras_tuner()
    choices = check_choices(temperature, alpha, losses)
    check_counts(epochs=epochs, batch_size=batch_size, max_trials=max_trials)
    if not (isinstance(seed, (int, np.integer)) and not isinstance(seed, bool) and seed >= 0):
        raise ValueError(f"seed must be an integer >= 0. Received: {seed!r}.")
    objective = _objective_name(objective)
    if algorithm not in ALGORITHMS:
        raise ValueError(f"algorithm must be one of {ALGORITHMS}. Received: {algorithm!r}.")
    learning_rate = check_number(
        "search",
        "learning_rate",
        learning_rate,
        0,
        low_inclusive=False,
        hint="Typical values: 1e-4 to 1e-2.",
    )
    train_data = _check_data(train_data, "train_data", teacher)
    validation_data = _check_data(validation_data, "validation_data", teacher)
    _check_student_builder(build_student)
    if os.path.exists(directory) and not os.path.isdir(directory):
        raise ValueError(
            f"directory {os.fspath(directory)!r} is a file, but search keeps its "
            "state in a folder. Give a folder's path (created if missing)."
        )
    # Everything that changes a trial's score: a resumed search must share it.
    settings = {
        "choices": choices,
        "objective": objective,
        "algorithm": algorithm,
        "epochs": int(epochs),
        "batch_size": int(batch_size),
        "learning_rate": learning_rate,
        "seed": int(seed),
        "teacher": _teacher_fingerprint(teacher),
        "train_data": _data_fingerprint(train_data),
        "validation_data": _data_fingerprint(validation_data),
    }
    _check_directory(directory, settings, overwrite)
    # Written before any training, so that an interrupted search too is
    # resumed only over the same settings.
    _write_settings(directory, settings)

    max_trials = max_trials or math.prod(len(values) for values in choices.values())
    oracle = _oracle_class(keras_tuner)(
        order=trial_order(choices, algorithm, seed),
        objective=keras_tuner.Objective(objective, DIRECTIONS[objective]),
        max_trials=max_trials,
        hyperparameters=_space(keras_tuner, choices),
        tune_new_entries=False,
        allow_new_entries=False,
        seed=seed,
    )
    quiet = contextlib.redirect_stdout(io.StringIO()) if not verbose else contextlib.nullcontext()
    with quiet:
        tuner = _tuner_class(keras_tuner)(
            oracle, directory=directory, project_name=PROJECT_NAME, overwrite=overwrite
        )
        tuner.configure(teacher, build_student, seed, batch_size, learning_rate)
        tuner.search(train_data, validation_data, epochs=epochs, verbose=verbose)
    return _result(tuner.oracle, objective)


def check_choices(temperature, alpha, losses):
    """The searched choices as lists, checked; raises `ValueError` if wrong.

    Example:

    >>> check_choices([1, 2], [0.5], ["kd"])
    {'temperature': [1.0, 2.0], 'alpha': [0.5], 'loss': ['kd']}
    >>> check_choices([0], [0.5], ["kd"])
    Traceback (most recent call last):
    ...
    ValueError: temperature must hold finite numbers > 0. Received: [0]. ...
    """
    temperature, alpha, losses = (
        _as_list(v, n)
        for v, n in ((temperature, "temperature"), (alpha, "alpha"), (losses, "losses"))
    )
    if not all(_is_number(t) and math.isfinite(t) and t > 0 for t in temperature):
        raise ValueError(
            f"temperature must hold finite numbers > 0. Received: {temperature}. "
            "Pass e.g. temperature=[1, 2, 4]."
        )
    if not all(_is_number(a) and 0.0 <= a <= 1.0 for a in alpha):
        raise ValueError(
            f"alpha must hold numbers in [0, 1] (the weight of the hard-label loss). "
            f"Received: {alpha}. Pass e.g. alpha=[0.1, 0.5]."
        )
    known = losses_module.registered_names()
    unknown = [name for name in losses if name not in known]
    if unknown:
        raise ValueError(
            f"losses must be registered distillation loss names. Unknown: {unknown}. "
            f"Choose among {known}."
        )
    return {
        "temperature": sorted({float(t) for t in temperature}),
        "alpha": sorted({float(a) for a in alpha}),
        "loss": list(dict.fromkeys(losses)),
    }


def _as_list(values, name):
    if isinstance(values, (str, int, float)):
        values = [values]
    values = list(values)
    if not values:
        raise ValueError(f"{name} must hold at least one choice. Received: an empty list.")
    return values


def _is_number(value):
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def check_counts(**counts):
    """Raises `ValueError` unless each count is None or an integer >= 1.

    Example:

    >>> check_counts(epochs=0)
    Traceback (most recent call last):
    ...
    ValueError: epochs must be an integer >= 1. Received: 0.
    """
    for name, value in counts.items():
        if value is None and name == "max_trials":
            continue
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1. Received: {value!r}.")


def _objective_name(objective):
    """The objective's name, from a name or a `keras_tuner.Objective`."""
    name = getattr(objective, "name", objective)
    if not isinstance(name, str) or name not in OBJECTIVES:
        raise ValueError(
            f"objective must be a metric of the distilled student: one of {OBJECTIVES} "
            "(accuracy is maximized, the losses minimized). "
            f"Received: {objective!r}."
        )
    direction = getattr(objective, "direction", DIRECTIONS[name])
    if direction != DIRECTIONS[name]:
        raise ValueError(
            f"objective {name!r} must be {DIRECTIONS[name]}imized. Received: "
            f"direction={direction!r}. Pass the name alone, e.g. objective={name!r}."
        )
    return name


def _check_data(data, name, teacher=None):
    if not (isinstance(data, (tuple, list)) and len(data) == 2):
        raise ValueError(
            f"{name} must be a tuple (x, y) of inputs and integer labels. "
            f"Received: {type(data).__name__}."
        )
    x, y = (np.asarray(part) for part in data)
    if x.ndim == 0 or y.ndim == 0 or len(x) == 0 or len(x) != len(y):
        raise ValueError(
            f"{name} must hold as many labels as inputs, at least one. "
            f"Received: inputs of shape {x.shape} and labels of shape {y.shape}."
        )
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1 or y.dtype.kind not in "iu":
        raise ValueError(
            f"{name} must hold integer class labels, shape ({len(x)},): each trial "
            "trains with sparse categorical cross-entropy and scores accuracy. "
            f"Received: labels of shape {y.shape}, dtype {y.dtype}. One-hot labels: "
            "pass y.argmax(-1); float labels of whole numbers: y.astype('int32')."
        )
    check_classifier_labels(y, _classes(teacher), name)
    return x, y


def _classes(teacher):
    """The teacher's number of classes, or `None` where it cannot be read."""
    if isinstance(teacher, (list, tuple)) and teacher:
        teacher = teacher[0]
    manifest = getattr(teacher, "manifest", None)
    if isinstance(manifest, dict):
        return manifest["teacher_output_shape"][-1]
    if isinstance(teacher, keras.Model):
        return output_units(teacher)
    return None


def _teacher_fingerprint(teacher):
    """A hash of the teacher's weights (a cache's own fingerprint)."""
    if isinstance(teacher, (list, tuple)):
        return "+".join(_teacher_fingerprint(t) for t in teacher)
    manifest = getattr(teacher, "manifest", None)
    if isinstance(manifest, dict):
        return f"cache:{manifest['teacher_fingerprint']}:{manifest['data_fingerprint']}"
    return _weights_fingerprint(getattr(teacher, "weights", []))


def _weights_fingerprint(weights):
    digest = hashlib.sha256()
    for weight in weights:
        value = np.ascontiguousarray(keras.ops.convert_to_numpy(weight))
        digest.update(f"{value.shape}{value.dtype}".encode())
        digest.update(value.tobytes())
    return digest.hexdigest()[:16]


def _data_fingerprint(data):
    digest = hashlib.sha256()
    for part in data:
        part = np.ascontiguousarray(part)
        digest.update(f"{part.shape}{part.dtype}".encode())
        digest.update(part.tobytes())
    return digest.hexdigest()[:16]


def _check_student_builder(build_student):
    if not callable(build_student):
        raise TypeError(
            "build_student must be a function of no arguments returning a new student "
            f"keras.Model. Received: {build_student!r}."
        )


# What each recorded setting is, for the message that names a change.
_SETTING_NAMES = {
    "teacher": "the teacher's weights",
    "train_data": "the training data",
    "validation_data": "the validation data",
}


def _check_directory(directory, settings, overwrite):
    """A search stored in `directory` must have every setting of this one."""
    path = os.path.join(directory, SETTINGS_FILE)
    if overwrite or not os.path.exists(path):
        return
    stored = files.read_json(
        path,
        "The search settings file",
        "Pass overwrite=True to start the search over, or another directory.",
    )
    if not isinstance(stored, dict):
        stored = {}
    changed = [key for key in settings if stored.get(key) != settings[key]]
    if changed:
        described = [
            f"{_SETTING_NAMES[key]} changed"
            if key in _SETTING_NAMES
            else f"{key} {stored.get(key)!r} there, {settings[key]!r} now"
            for key in changed
        ]
        raise ValueError(
            f"{os.fspath(directory)!r} holds a search whose trials were scored with "
            f"other settings: {'; '.join(described)}. Its scores would not compare. "
            "Pass the same settings to resume it, another directory, or "
            "overwrite=True to start over."
        )


def _write_settings(directory, settings):
    os.makedirs(directory, exist_ok=True)
    atomic_write(os.path.join(directory, SETTINGS_FILE), json.dumps(settings, indent=1))


def trial_order(choices, algorithm="grid", seed=0):
    """Every combination of the choices, in the order the trials run them.

    `"grid"` runs them in order (temperature, then alpha, then loss);
    `"random"` in an order shuffled with `seed`, without repeats.

    Example:

    >>> trial_order({"temperature": [1.0, 2.0], "alpha": [0.5], "loss": ["kd"]})
    [{'temperature': 1.0, 'alpha': 0.5, 'loss': 'kd'}, \
{'temperature': 2.0, 'alpha': 0.5, 'loss': 'kd'}]
    """
    names = list(choices)
    order = [dict(zip(names, values)) for values in itertools.product(*choices.values())]
    if algorithm == "random":
        order = [order[i] for i in np.random.default_rng(seed).permutation(len(order))]
    return order


def _oracle_class(keras_tuner):
    """A KerasTuner oracle that runs `order`'s untried combinations in turn.

    Its only state is the trials KerasTuner stores in the project folder, so
    a resumed search skips every combination already tried. (KerasTuner
    1.4.8's `GridSearchOracle` keeps its position in memory only: reloaded,
    it stops without running the rest of the grid.)
    """
    status = _keras_tuner_compat.trial_status(keras_tuner)

    class ChoicesOracle(keras_tuner.Oracle):
        def __init__(self, order, **kwargs):
            super().__init__(**kwargs)
            self.order = order

        def populate_space(self, trial_id):
            tried = [trial.hyperparameters.values for trial in self.trials.values()]
            for values in self.order:
                if values not in tried:
                    return {"status": status.RUNNING, "values": dict(values)}
            return {"status": status.STOPPED, "values": None}

    return ChoicesOracle


def _space(keras_tuner, choices):
    hp = keras_tuner.HyperParameters()
    for name, values in choices.items():
        hp.Choice(name, values)
    return hp


def train_trial(
    teacher,
    build_student,
    settings,
    train_data,
    validation_data,
    epochs,
    seed=0,
    batch_size=128,
    learning_rate=1e-3,
    verbose=0,
):
    """Trains one trial's distilled student; what `search` runs per trial.

    Args:
        teacher, build_student, epochs, seed, batch_size, learning_rate,
        verbose: As in `search`.
        settings: Dict with `temperature`, `alpha` and `loss`.
        train_data, validation_data: `(x, y)` tuples.

    Returns:
        `(distiller, history)`: the trained `Distiller` and its `History`.

    Example:

    >>> def build_student():
    ...     return keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    >>> data = (np.random.rand(64, 4), np.random.randint(0, 3, size=64))
    >>> distiller, history = train_trial(
    ...     build_student(), build_student, {"temperature": 2.0, "alpha": 0.5, "loss": "kd"},
    ...     data, data, epochs=1)
    >>> "val_accuracy" in history.history
    True
    """
    keras.utils.set_random_seed(seed)
    student = build_student()
    if not isinstance(student, keras.Model):
        raise TypeError(
            f"build_student() must return a keras.Model. Received: {type(student).__name__}. "
            "Return a new, untrained model from each call."
        )
    loss = losses_module.with_temperature(settings["loss"], settings["temperature"])
    distiller = Distiller(teacher, student, distillation_loss=loss, alpha=settings["alpha"])
    compile_classifier(distiller, keras.optimizers.Adam(learning_rate))
    keras.utils.set_random_seed(seed)
    history = distiller.fit(
        *train_data,
        validation_data=validation_data,
        epochs=epochs,
        batch_size=batch_size,
        verbose=verbose,
    )
    return distiller, history


def _tuner_class(keras_tuner):
    """A KerasTuner tuner whose trial is `train_trial`."""

    class DistillationTuner(_keras_tuner_compat.base_tuner(keras_tuner)):
        def configure(self, teacher, build_student, seed, batch_size, learning_rate):
            self.trial_args = dict(
                teacher=teacher,
                build_student=build_student,
                seed=seed,
                batch_size=batch_size,
                learning_rate=learning_rate,
            )

        def run_trial(self, trial, train_data, validation_data, epochs, verbose=0):
            try:
                _, history = train_trial(
                    settings=trial.hyperparameters.values,
                    train_data=train_data,
                    validation_data=validation_data,
                    epochs=epochs,
                    verbose=verbose,
                    **self.trial_args,
                )
            except Exception as error:  # a mistake: stop the search, not just the trial
                raise _TrialError(error) from error
            return history  # KerasTuner scores its best epoch

        def _try_run_and_update_trial(self, trial, *args, **kwargs):
            try:
                _keras_tuner_compat.run_and_update_trial(
                    DistillationTuner, self, trial, *args, **kwargs
                )
            except _TrialError as wrapped:
                raise wrapped.error from None

        def save_model(self, trial_id, model, step=0):
            """Nothing to save: `search` returns settings, not models."""

    _TrialError = _fatal_error_class(keras_tuner)
    return DistillationTuner


def _fatal_error_class(keras_tuner):
    class TrialError(keras_tuner.errors.FatalError):
        """Carries a trial's exception through KerasTuner, which re-raises fatal ones."""

        def __init__(self, error):
            super().__init__(str(error))
            self.error = error

    return TrialError


def _result(oracle, objective):
    """The `SearchResult` of an oracle's trials."""
    trials = []
    ordered = [oracle.trials[trial_id] for trial_id in oracle.start_order]
    for index, trial in enumerate(ordered):
        values = trial.hyperparameters.values
        trials.append(
            Trial(
                trial=index,
                temperature=values["temperature"],
                alpha=values["alpha"],
                loss=values["loss"],
                score=None if trial.score is None else float(trial.score),
                status=str(trial.status),
            )
        )
    best_trials = [t for t in oracle.get_best_trials(len(trials)) if t.score is not None]
    if not best_trials:
        raise ValueError(
            f"No trial finished with a score for {objective!r}; see the trials: {trials}."
        )
    best = {key: best_trials[0].hyperparameters.values[key] for key in ("temperature", "alpha")}
    best["loss"] = best_trials[0].hyperparameters.values["loss"]
    best["score"] = float(best_trials[0].score)
    return SearchResult(best=best, trials=trials, objective=objective)
