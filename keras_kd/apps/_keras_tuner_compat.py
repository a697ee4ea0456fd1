"""Every use of a KerasTuner internal, in one place, with a probe.

`keras_kd.apps.tuning` subclasses KerasTuner's base tuner and reads its trial
states, which KerasTuner exports only under `keras_tuner.engine`, and hooks
`_try_run_and_update_trial`, the private step that turns a trial's error into
a failed trial. A KerasTuner release that moves one of them breaks this module,
and `check_internals()` (run by the test suite and before every search) names
it and the installed version, instead of a search failing half-way.
"""

from keras_kd._keras_compat import missing_internals

# (description, probe) pairs: each probe returns True when the internal exists.
_INTERNALS = {
    "keras_tuner.engine.base_tuner.BaseTuner": lambda kt: hasattr(
        kt.engine.base_tuner, "BaseTuner"
    ),
    "keras_tuner.engine.trial.TrialStatus": lambda kt: all(
        hasattr(kt.engine.trial.TrialStatus, name) for name in ("RUNNING", "STOPPED")
    ),
    "BaseTuner._try_run_and_update_trial": lambda kt: hasattr(
        kt.engine.base_tuner.BaseTuner, "_try_run_and_update_trial"
    ),
    "keras_tuner.errors.FatalError": lambda kt: hasattr(kt.errors, "FatalError"),
}


def check_internals(keras_tuner):
    """Raises if an internal that keras-kd reads is missing from this KerasTuner.

    Args:
        keras_tuner: The imported `keras_tuner` module.

    Returns:
        The list of internals checked.

    Example:

    >>> import keras_tuner
    >>> check_internals(keras_tuner)[0]
    'keras_tuner.engine.base_tuner.BaseTuner'
    """
    missing = missing_internals(_INTERNALS, keras_tuner)
    if missing:
        raise RuntimeError(
            f"keras-kd's search relies on KerasTuner internals that KerasTuner "
            f"{keras_tuner.__version__} does not have: {missing}. Install "
            "keras-tuner 1.4 (the keras-kd[tuning] extra), or report this at the "
            "keras-kd issue tracker with your KerasTuner version."
        )
    return list(_INTERNALS)


def base_tuner(keras_tuner):
    """KerasTuner's base tuner class, to subclass with a custom `run_trial`."""
    return keras_tuner.engine.base_tuner.BaseTuner


def trial_status(keras_tuner):
    """KerasTuner's trial states (`RUNNING`, `STOPPED`, ...)."""
    return keras_tuner.engine.trial.TrialStatus


def run_and_update_trial(tuner_class, tuner, trial, *args, **kwargs):
    """Runs `BaseTuner._try_run_and_update_trial` of `tuner_class`'s parent
    for `tuner`: the step that records a trial's result or failure."""
    return super(tuner_class, tuner)._try_run_and_update_trial(trial, *args, **kwargs)
