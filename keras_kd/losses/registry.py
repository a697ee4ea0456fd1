"""The names of the distillation losses, and what each one says about itself.

`@register("name")` makes a `DistillationLoss` subclass selectable as
`Distiller(distillation_loss="name")` and serializable. Everything that lists
losses (error messages, the callbacks, the docs) reads this registry through
`registered_names`, `describe`, `names_where` and `listing`, so a new loss
appears in all of them from the line that registers it.
"""

import collections
import inspect

import keras

from keras_kd import hyperparameters

_REGISTRY = {}
_SERIALIZATION_PACKAGE = "keras_kd"

FINAL_OUTPUTS = "final outputs"
INTERMEDIATE_LAYERS = "intermediate layers"

LossInfo = collections.namedtuple(
    "LossInfo",
    [
        "name",
        "class_name",
        "summary",
        "reads",
        "requires_labels",
        "hyperparameters",
        "loss_class",
    ],
)
LossInfo.__doc__ = """What a registered loss is, as read from its class.

Fields:
    name: The registered name, e.g. `"kd"`.
    class_name: The class's name, e.g. `"SoftTargetKD"`.
    summary: The first line of the class's docstring.
    reads: `"final outputs"` when the loss made with its default arguments
        reads only the final outputs of teacher and student
        (`teacher_layers == student_layers == (None,)`), else
        `"intermediate layers"` (including losses whose constructor needs
        layer names, such as `AttentionTransfer`).
    requires_labels: Whether the loss needs `y`.
    hyperparameters: Names of the `keras_kd.hyperparameters.Hyperparameter`s
        it declares, which callbacks may change during training.
    loss_class: The class itself.
"""


def register(name):
    """Class decorator: makes a loss selectable by `name` and serializable.

    Args:
        name: Short name accepted by `Distiller(distillation_loss=name)`.

    Returns:
        The decorator. It sets the class's `registered_name` and registers
        the class with Keras serialization as `"keras_kd>ClassName"`.

    Example:

    >>> from keras import ops
    >>> from keras_kd.losses import DistillationLoss
    >>> @register("my_mse")
    ... class MyMSE(DistillationLoss):
    ...     '''Mean squared error between the final outputs.'''
    ...     def call(self, teacher, student, y=None):
    ...         return ops.mean(ops.square(teacher.outputs - student.outputs), -1)
    >>> "my_mse" in registered_names()
    True
    >>> unregister("my_mse") is MyMSE
    True
    """

    def decorator(cls):
        if name in _REGISTRY and _REGISTRY[name] is not cls:
            raise ValueError(
                f"The distillation loss name '{name}' is already taken by "
                f"{_REGISTRY[name].__name__}. Pick another name, or "
                f"`unregister('{name}')` first. Taken names: "
                f"{registered_names()}."
            )
        cls.registered_name = name
        _REGISTRY[name] = cls
        return keras.saving.register_keras_serializable(package=_SERIALIZATION_PACKAGE)(cls)

    return decorator


def unregister(name):
    """Removes a registered loss (for tests and notebooks that redefine one).

    Args:
        name: A registered name.

    Returns:
        The class that was registered under `name`.
    """
    cls = registered_class(name)
    del _REGISTRY[name]
    custom_objects = keras.saving.get_custom_objects()
    key = f"{_SERIALIZATION_PACKAGE}>{cls.__name__}"
    if custom_objects.get(key) is cls:
        del custom_objects[key]
    return cls


def registered_names():
    """The names `distillation_loss=` accepts, sorted.

    Example:

    >>> "kd" in registered_names()
    True
    """
    return sorted(_REGISTRY)


def registered_class(name):
    """The loss class registered under `name`.

    Raises:
        ValueError: naming the registered losses, if `name` is not one.
    """
    if name not in _REGISTRY:
        raise _unknown(name, "Pass one of them, or a DistillationLoss instance.")
    return _REGISTRY[name]


def _unknown(name, fix):
    return ValueError(
        f"Unknown distillation loss '{name}'. Registered names: "
        f"{registered_names()} ({listing()}). {fix}"
    )


def lookup(name):
    """The loss class a name stands for: its registered name or its class name.

    Args:
        name: A registered name such as `"mld"`, or a registered class's
            name such as `"MLD"` (what `keras.saving.serialize_keras_object`
            writes as `class_name`).

    Returns:
        The class.

    Raises:
        ValueError: naming the registered losses, if `name` is neither.

    Example:

    >>> lookup("mld") is lookup("MLD")
    True
    """
    if name in _REGISTRY:
        return _REGISTRY[name]
    for cls in _REGISTRY.values():
        if cls.__name__ == name:
            return cls
    raise _unknown(name, "Pass one of them (or its class name), or a DistillationLoss instance.")


def _reads(cls):
    try:
        loss = cls()
    except (TypeError, ValueError):  # Its constructor needs layer names.
        return INTERMEDIATE_LAYERS
    layers = tuple(loss.teacher_layers) + tuple(loss.student_layers)
    return FINAL_OUTPUTS if all(layer is None for layer in layers) else INTERMEDIATE_LAYERS


def _summary(cls):
    doc = inspect.getdoc(cls) or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


def _declared_hyperparameters(cls):
    return tuple(hyperparameters.names(cls))


def describe(name=None):
    """What the registered losses are, read from their classes.

    Args:
        name: A registered name, or `None` for every registered loss.

    Returns:
        One `LossInfo` for `name`, or a list of them sorted by name.

    Example:

    >>> info = describe("dkd")
    >>> info.class_name, info.reads, info.requires_labels
    ('DKD', 'final outputs', True)
    >>> info.hyperparameters
    ('temperature',)
    """
    if name is not None:
        cls = registered_class(name)
        return LossInfo(
            name=name,
            class_name=cls.__name__,
            summary=_summary(cls),
            reads=_reads(cls),
            requires_labels=bool(cls.requires_labels),
            hyperparameters=_declared_hyperparameters(cls),
            loss_class=cls,
        )
    return [describe(registered) for registered in registered_names()]


def names_where(predicate):
    """The registered names whose `LossInfo` satisfies `predicate`, sorted.

    Args:
        predicate: Function `LossInfo -> bool`.

    Returns:
        A list of registered names.

    Example:

    >>> "dkd" in names_where(lambda info: info.requires_labels)
    True
    """
    return [info.name for info in describe() if predicate(info)]


def output_level_names():
    """The registered losses that read only the final outputs, by default.

    These are the losses made with their default arguments whose
    `teacher_layers` and `student_layers` are `(None,)`: they work with any
    teacher (an ensemble, a cached teacher) and any student, even one whose
    intermediate layers cannot be tapped.

    Returns:
        A sorted list of registered names.

    Example:

    >>> "kd" in output_level_names(), "at" in output_level_names()
    (True, False)
    """
    return names_where(lambda info: info.reads == FINAL_OUTPUTS)


def listing(names=None):
    """A phrase naming losses for a message: `"DKD ('dkd'), SoftTargetKD ('kd')"`.

    Args:
        names: Registered names, or `None` for all of them.

    Returns:
        A string: each loss's class name and registered name, in the order
        given (sorted by name for `None`), separated by commas.

    Example:

    >>> listing(["kd", "dkd"])
    "SoftTargetKD ('kd'), DKD ('dkd')"
    """
    names = registered_names() if names is None else list(names)
    return ", ".join(f"{_REGISTRY[name].__name__} ('{name}')" for name in names)
