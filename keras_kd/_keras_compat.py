"""Every use of a private Keras API, and every backend difference, in one place.

keras-kd reads a few Keras internals that have no public equivalent. Each is
wrapped here by a small function, so that a Keras release that moves one
breaks this module, and `check_internals()` (run by the test suite) names
the internal and the installed Keras version, instead of a user's training
run failing somewhere deep in a step.
"""

import keras

# (description, probe) pairs: each probe returns True when the internal exists.
_INTERNALS = {
    "keras.src.models.functional.Functional": lambda: hasattr(
        getattr(getattr(keras.src, "models", None), "functional", None),
        "Functional",
    ),
    "keras.Model._compile_loss": lambda: "_compile_loss"
    in _instance_attributes(),
    "keras.Model._loss_tracker": lambda: "_loss_tracker" in _instance_attributes(),
    "keras.Model._build_shapes_dict": lambda: "_build_shapes_dict"
    in _instance_attributes(),
    "keras.KerasTensor._keras_history": lambda: hasattr(
        keras.Input((1,)), "_keras_history"
    ),
    "Functional._run_through_graph": lambda: hasattr(
        keras.src.models.functional.Functional, "_run_through_graph"
    ),
    "Sequential._functional": lambda: "_functional" in _instance_attributes(),
    "Layer._trainable_variables": lambda: "_trainable_variables"
    in _instance_attributes(),
    "Layer._non_trainable_variables": lambda: "_non_trainable_variables"
    in _instance_attributes(),
    "Model._aggregate_additional_loss": lambda: hasattr(
        keras.Model, "_aggregate_additional_loss"
    ),
    "keras.src.losses.loss.scale_loss_for_distribution": lambda: all(
        hasattr(keras.src.losses.loss, name)
        for name in ("scale_loss_for_distribution", "unscale_loss_for_distribution")
    ),
}


def _instance_attributes():
    """Attributes of a built, compiled Sequential model.

    Read with `hasattr`, not `vars`: on PyTorch a layer's sublayers live in
    the torch module's registry, not in its `__dict__`.
    """
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile(loss="mse")
    return {name for name in _PRIVATE_ATTRIBUTES if hasattr(model, name)}


_PRIVATE_ATTRIBUTES = (
    "_compile_loss",
    "_loss_tracker",
    "_build_shapes_dict",
    "_functional",
    "_trainable_variables",
    "_non_trainable_variables",
)


def check_internals():
    """Raises if an internal that keras-kd reads is missing from this Keras.

    Returns:
        The list of internals checked.

    Example:

    >>> check_internals()[0]
    'keras.src.models.functional.Functional'
    """
    missing = []
    for name, probe in _INTERNALS.items():
        try:
            present = probe()
        except Exception:  # An internal that moved may fail in any way.
            present = False
        if not present:
            missing.append(name)
    if missing:
        raise RuntimeError(
            f"keras-kd relies on Keras internals that Keras {keras.__version__} "
            f"does not have: {missing}. Install a Keras version keras-kd "
            "supports (see pyproject.toml), or report this at the keras-kd "
            "issue tracker with your Keras version."
        )
    return list(_INTERNALS)


def is_functional(model):
    """True for a Keras 3 Functional model (Sequential models excluded)."""
    return isinstance(model, keras.src.models.functional.Functional)


def is_graph_model(model):
    """True for a Sequential or Functional model, whose layers can be tapped."""
    return isinstance(model, keras.Sequential) or is_functional(model)


def compiled_loss(model):
    """The loss given to `model.compile()`, as Keras wraps it, or `None`."""
    return getattr(model, "_compile_loss", None)


def total_loss_tracker(model):
    """The `Mean` metric in which Keras tracks a model's reported `loss`."""
    return model._loss_tracker


def own_variables(layer):
    """The variables a layer created itself, not those of its sublayers."""
    return list(layer._trainable_variables) + list(layer._non_trainable_variables)


def aggregate_additional_loss(model, loss):
    """A regularization loss of `model.losses`, reduced as Keras reduces it."""
    return model._aggregate_additional_loss(loss)


def scale_for_replicas(value):
    """A per-replica loss scaled as Keras scales its compiled loss.

    Under `tf.distribute` each of N replicas computes its loss on its share
    of the batch and the gradients are summed, so Keras divides every loss
    by N; a loss added outside the compiled one must be divided too, or it
    weighs N times more than on one device. Elsewhere: `value` unchanged.
    """
    return keras.src.losses.loss.scale_loss_for_distribution(value)


def unscale_for_replicas(value):
    """Undoes `scale_for_replicas`, for reporting a loss as on one device."""
    return keras.src.losses.loss.unscale_loss_for_distribution(value)


def built_input_shape(model):
    """The input shape a model was built with, if it has exactly one."""
    shapes = getattr(model, "_build_shapes_dict", None) or {}
    if len(shapes) == 1:
        shape = next(iter(shapes.values()))
        if isinstance(shape, (tuple, list)) and all(
            isinstance(d, int) or d is None for d in shape
        ):
            return tuple(shape)
    return None


def producing_operation(tensor):
    """The layer (operation) that produced a symbolic `KerasTensor`."""
    return tensor._keras_history.operation


def run_through_graph(model, inputs, operation_fn):
    """Replays a Functional or Sequential model's graph on new `inputs`.

    Args:
        model: A Keras 3 Functional or Sequential model.
        inputs: One tensor, or a list of them, in the model's input order.
        operation_fn: Maps each of the model's operations to the callable
            to apply in its place.

    Returns:
        The outputs of the replayed graph.
    """
    graph = model._functional if isinstance(model, keras.Sequential) else model
    return graph._run_through_graph(
        inputs,
        operation_fn=operation_fn,
        call_fn=lambda op, *args, **kwargs: op(*args, **kwargs),
    )


def assign_after_train_step(model, step_result, new_values):
    """Assigns variables at the end of a train step, on every backend.

    On TensorFlow and PyTorch the variables are assigned in place (inside
    the traced step on TensorFlow). On JAX the train step is a pure function
    of the variables' values: the new values go into the state it returns,
    from which Keras writes them back.

    Args:
        model: The `keras.Model` whose `train_step` returned `step_result`.
        step_result: What the backend's `train_step` returned.
        new_values: Function from `value_of` (variable -> its current value
            in this step) to a list of `(variable, new value)` pairs; every
            variable must be one of `model`'s non-trainable variables.

    Returns:
        `step_result`, with the JAX state updated.
    """
    if keras.backend.backend() != "jax":
        for variable, value in new_values(lambda v: v.value):
            variable.assign(value)
        return step_result
    logs, (trainable, non_trainable, *rest) = step_result
    trainable_index = {id(v): i for i, v in enumerate(model.trainable_variables)}
    fixed_index = {id(v): i for i, v in enumerate(model.non_trainable_variables)}

    def value_of(variable):
        if id(variable) in trainable_index:
            return trainable[trainable_index[id(variable)]]
        return non_trainable[fixed_index[id(variable)]]

    updated = list(non_trainable)
    for variable, value in new_values(value_of):
        updated[fixed_index[id(variable)]] = value
    return logs, (trainable, updated, *rest)
