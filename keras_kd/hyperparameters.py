"""Hyper-parameters that a callback may change while a model trains.

A compiled train step (`tf.function`, `jax.jit`, a PyTorch step) that reads a
Python float bakes it in as a constant at its first trace, so a new value set
between epochs would never reach it. A `Hyperparameter` keeps the float as
the public attribute, the value `get_config` saves, and mirrors it in a
non-trainable float32 scalar `keras.Variable` that the step reads instead.
Assigning the attribute assigns the variable. The `Distiller` owns the
variables (its own and its losses'), so they are part of its
`non_trainable_variables`: on JAX, whose step is stateless, their values
travel in the state that Keras re-reads from the variables at the start of
each epoch, after `on_epoch_begin`; TensorFlow and PyTorch read the variable
itself in every step. Values assigned in the middle of a JAX epoch are
overwritten by the state at its end: change them between epochs.
"""

import keras
from keras import ops

from keras_kd import _keras_compat

_VARIABLES = "_hyperparameter_variables"


class Hyperparameter:
    """A float attribute whose value a compiled train step reads live.

    Args:
        validate: Function checking a new value and returning it as a float;
            it raises a `ValueError` saying what it received and expected.

    Example:

    >>> from keras_kd import hyperparameters
    >>> from keras_kd.losses import DistillationLoss
    >>> def positive(value):
    ...     if value <= 0:
    ...         raise ValueError(f"temperature must be > 0. Received: {value}")
    ...     return float(value)
    >>> class MyKD(DistillationLoss):
    ...     temperature = Hyperparameter(positive)
    ...     def call(self, teacher, student, y=None):
    ...         t = hyperparameters.value(self, "temperature")
    ...         ...
    >>> MyKD.temperature.name
    'temperature'
    """

    def __init__(self, validate):
        self.validate = validate
        self.name = None

    def __set_name__(self, owner, name):
        self.name = name

    def __get__(self, obj, objtype=None):
        if obj is None:
            return self
        try:
            return obj.__dict__[self.name]
        except KeyError:
            raise AttributeError(self.name) from None

    def __set__(self, obj, value):
        value = self.validate(value)
        obj.__dict__[self.name] = value
        variable = obj.__dict__.get(_VARIABLES, {}).get(self.name)
        if variable is not None:
            variable.assign(value)


def names(obj):
    """The names of the `Hyperparameter`s declared on `obj`'s class (or on
    `obj` itself when it is a class), sorted."""
    owner = obj if isinstance(obj, type) else type(obj)
    return sorted(
        {
            name
            for cls in owner.__mro__
            for name, attribute in vars(cls).items()
            if isinstance(attribute, Hyperparameter)
        }
    )


def variables(objects):
    """The variables mirroring the hyper-parameters of `objects`.

    Creates each variable once, from the attribute's current value; a loss
    shared by two Distillers shares its variables.

    Args:
        objects: Objects declaring `Hyperparameter`s (a `Distiller`, its
            distillation losses).

    Returns:
        A list of non-trainable float32 scalar `keras.Variable`s.
    """
    result = []
    for obj in objects:
        store = obj.__dict__.setdefault(_VARIABLES, {})
        for name in names(obj):
            if name not in store:
                store[name] = keras.Variable(
                    getattr(obj, name),
                    dtype="float32",
                    trainable=False,
                    autocast=False,
                    name=f"{getattr(obj, 'name', type(obj).__name__)}_{name}",
                )
            result.append(store[name])
    return result


def value(obj, name):
    """What a train step reads: the variable if one exists, else the float.

    A step that runs op by op (PyTorch's eager step) reads the float: it is
    read again in every step, so it is as live as the variable, and a
    number costs no tensor read and no autograd node there.

    Args:
        obj: The object declaring the hyper-parameter.
        name: Its attribute name, e.g. `"temperature"`.

    Returns:
        A float32 scalar tensor read from the variable (inside a compiled
        step, the step's current value of it), or the Python float when the
        object is used on its own, outside a `Distiller`, or in a step that
        runs op by op.
    """
    variable = obj.__dict__.get(_VARIABLES, {}).get(name)
    if variable is None or _keras_compat.runs_op_by_op():
        return getattr(obj, name)
    return ops.convert_to_tensor(variable)
