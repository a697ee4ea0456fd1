"""Callbacks that change distillation hyper-parameters between epochs.

Like `keras.callbacks.LearningRateScheduler`, each computes a value at the
start of every epoch, sets it on the `Distiller` (or its losses), and logs it
at the end of the epoch. The new value reaches the already compiled train
step on every backend: see `keras_kd.hyperparameters`. Values set this way
persist after `fit()`, as a scheduled learning rate does.
"""

import keras
import numpy as np

from keras_kd import _keras_compat
from keras_kd import augment as augment_lib
from keras_kd import checks
from keras_kd import hyperparameters
from keras_kd import losses as losses_lib
from keras_kd.distiller import Distiller


class _DistillerSchedule(keras.callbacks.Callback):
    """Sets `log_name` on the Distiller at each epoch start and logs it.

    Subclasses implement `value(epoch)`, `apply(distiller, value)` and
    `current(distiller)`.
    """

    log_name = None

    def __init__(self, verbose=0):
        super().__init__()
        self.verbose = verbose

    def value(self, epoch):
        raise NotImplementedError

    def apply(self, distiller, value):
        raise NotImplementedError

    def current(self, distiller):
        raise NotImplementedError

    def _distiller(self):
        model = self.model
        if not isinstance(model, Distiller):
            raise ValueError(
                f"{type(self).__name__} changes the hyper-parameters of a "
                "keras_kd.Distiller, so it must be passed to Distiller.fit(). "
                f"Received: it was passed to fit() of the model "
                f"'{getattr(model, 'name', model)}', of type "
                f"{type(model).__module__}.{type(model).__name__}."
            )
        return model

    def on_epoch_begin(self, epoch, logs=None):
        distiller = self._distiller()
        value = self.value(epoch)
        self.apply(distiller, value)
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: {type(self).__name__} setting {self.log_name} to {value}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs[self.log_name] = self.current(self._distiller())


class _FunctionSchedule(_DistillerSchedule):
    """A schedule given by the user as a function `epoch -> value`.

    Checks the function once and each value it returns. Subclasses set
    `log_name` (the value's name in messages and logs), `expected` (what a
    valid value is, for the error message) and `is_valid(value)`, and
    implement `apply` and `current`.
    """

    expected = None

    def __init__(self, schedule, verbose=0):
        super().__init__(verbose)
        if not callable(schedule):
            raise ValueError(
                f"{type(self).__name__} `schedule` must be a function epoch -> "
                f"{self.log_name}. Received: schedule={schedule!r} of type "
                f"{type(schedule).__name__}."
            )
        self.schedule = schedule

    @staticmethod
    def is_valid(value):
        raise NotImplementedError

    def value(self, epoch):
        """`schedule(epoch)` as a float, or an error naming the value."""
        raw = self.schedule(epoch)
        value = _as_float(raw)
        if value is None or not self.is_valid(value):
            raise ValueError(
                f"{type(self).__name__}: schedule({epoch}) returned "
                f"{self.log_name}={raw!r}, but the {self.log_name} must be "
                f"{self.expected}. Make the schedule return such a value for "
                "every epoch."
            )
        return value


class DistillationWarmup(_DistillerSchedule):
    """Ramps the distillation term in linearly over the first epochs.

    Sets `Distiller.distillation_scale` to `min(e / epochs, 1)` at the start
    of epoch `e`, counted from 1: the warm-up of DKD's official code
    (mdistiller, 20 epochs on CIFAR-100), so the first epoch trains with
    `1 / epochs` of the distillation term and epoch `epochs` and later with
    all of it. The hard-label term keeps its weight `alpha`. Logs
    `distillation_scale`.

    Args:
        epochs: Number of warm-up epochs, an integer >= 1.
        verbose: 0 is quiet, 1 prints the value at each epoch start.

    Example:

    >>> warmup = DistillationWarmup(20)
    >>> [warmup.value(epoch) for epoch in (0, 9, 19, 30)]
    [0.05, 0.5, 1.0, 1.0]
    >>> distiller.fit(x_train, y_train, epochs=240,
    ...               callbacks=[warmup])
    """

    log_name = "distillation_scale"

    def __init__(self, epochs, verbose=0):
        super().__init__(verbose)
        if not checks.is_integer(epochs) or epochs < 1:
            raise ValueError(
                "DistillationWarmup `epochs` is the number of warm-up epochs "
                f"and must be an integer >= 1. Received: epochs={epochs!r}"
            )
        self.epochs = int(epochs)

    def value(self, epoch):
        return min((epoch + 1) / self.epochs, 1.0)

    def apply(self, distiller, value):
        distiller.distillation_scale = value

    def current(self, distiller):
        return distiller.distillation_scale


class TemperatureSchedule(_FunctionSchedule):
    """Sets the temperature of every distillation loss that has one.

    At the start of each epoch, `schedule(epoch)` (epochs counted from 0,
    as in `keras.callbacks.LearningRateScheduler`) gives the temperature of
    every loss of the Distiller with a `temperature` (declared as a
    `keras_kd.hyperparameters.Hyperparameter`: `SoftTargetKD`, `DKD`, `DIST`
    and any registered loss that declares one, see
    `keras_kd.losses.describe()`); other losses are left alone. Logs
    `temperature`.

    Args:
        schedule: Function `epoch -> temperature`, a number > 0.
        verbose: 0 is quiet, 1 prints the value at each epoch start.

    Example:

    >>> # From T=8 down to T=2 over 10 epochs.
    >>> schedule = lambda epoch: max(8.0 - 0.6 * epoch, 2.0)
    >>> [schedule(epoch) for epoch in (0, 5, 10)]
    [8.0, 5.0, 2.0]
    >>> distiller.fit(x_train, y_train, epochs=10,
    ...               callbacks=[TemperatureSchedule(schedule)])
    """

    log_name = "temperature"
    expected = f"a finite number > 0, in [{checks.MIN_TEMPERATURE:g}, {checks.MAX_TEMPERATURE:g}]"

    @staticmethod
    def is_valid(value):
        return checks.MIN_TEMPERATURE <= value <= checks.MAX_TEMPERATURE

    def apply(self, distiller, value):
        for loss in _tempered_losses(distiller):
            loss.temperature = value

    def current(self, distiller):
        return _tempered_losses(distiller)[0].temperature


class AlphaSchedule(_FunctionSchedule):
    """Sets `Distiller.alpha`, the weight of the hard-label loss, per epoch.

    At the start of each epoch, `schedule(epoch)` (epochs counted from 0)
    gives `alpha` in [0, 1]; the distillation term gets `1 - alpha`. Logs
    `alpha`. An `alpha > 0` needs labeled data and a `loss` in `compile()`.

    Args:
        schedule: Function `epoch -> alpha`, a number in [0, 1].
        verbose: 0 is quiet, 1 prints the value at each epoch start.

    Example:

    >>> # Lean on the teacher first, then more and more on the labels.
    >>> schedule = lambda epoch: min(0.1 + 0.1 * epoch, 0.9)
    >>> [schedule(epoch) for epoch in (0, 8)]
    [0.1, 0.9]
    >>> distiller.fit(x_train, y_train, epochs=10,
    ...               callbacks=[AlphaSchedule(schedule)])
    """

    log_name = "alpha"
    expected = "a number in [0, 1]"

    @staticmethod
    def is_valid(value):
        return 0.0 <= value <= 1.0

    def apply(self, distiller, value):
        if value > 0 and _keras_compat.compiled_loss(distiller) is None:
            raise ValueError(
                f"AlphaSchedule set alpha={value}, which weights the "
                "student's hard-label loss, but compile() received no "
                "`loss`. Pass one to compile(), e.g. loss=keras.losses."
                "SparseCategoricalCrossentropy(from_logits=True), or keep "
                "alpha at 0."
            )
        if value > 0 and distiller._trained_without_labels:
            raise ValueError(
                f"AlphaSchedule set alpha={value}, which weights the "
                "student's hard-label loss, but the training data has no "
                "labels (y is None). Pass (x, y) to fit(), or keep alpha at 0."
            )
        augment_lib.check_alpha(distiller.augmentation, value)
        distiller.alpha = value

    def current(self, distiller):
        return distiller.alpha


def _as_float(value):
    """A real scalar (Python, NumPy or a 0-d tensor) as a float, else None."""
    try:
        array = np.asarray(value)
    except Exception:  # noqa: BLE001  Anything unconvertible is invalid.
        return None
    if array.ndim != 0 or array.dtype.kind not in "iuf":
        return None
    return float(array)


def _tempered_names():
    """The registered losses that declare a schedulable `temperature`."""
    return losses_lib.names_where(lambda info: "temperature" in info.hyperparameters)


def _tempered_losses(distiller):
    """The Distiller's losses whose temperature a callback can change."""
    tempered = []
    for loss in distiller.distillation_losses:
        if "temperature" in hyperparameters.names(loss):
            tempered.append(loss)
        elif hasattr(loss, "temperature"):
            raise ValueError(
                f"TemperatureSchedule cannot change the temperature of "
                f"{type(loss).__name__}: its `temperature` is a plain "
                "attribute, which the compiled train step reads once. "
                "Declare it on the class as `temperature = keras_kd."
                "hyperparameters.Hyperparameter(validate_temperature)` and "
                "read `keras_kd.hyperparameters.value(self, 'temperature')` "
                "in call()."
            )
    if not tempered:
        names = [type(loss).__name__ for loss in distiller.distillation_losses]
        raise ValueError(
            "TemperatureSchedule sets the temperature of the distillation "
            "losses, but none of this Distiller's losses has one. Received: "
            f"distillation losses {names}. Losses with a temperature: "
            f"{losses_lib.listing(_tempered_names())}."
        )
    return tempered
