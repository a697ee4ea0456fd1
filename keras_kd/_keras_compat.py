"""Every use of a private Keras API, and every backend difference, in one place.

keras-kd reads a few Keras internals that have no public equivalent. Each is
wrapped here by a small function, so that a Keras release that moves one
breaks this module, and `check_internals()` (run by the test suite) names
the internal and the installed Keras version, instead of a user's training
run failing somewhere deep in a step.
"""

import contextlib
import sys

import keras

# (description, probe) pairs: each probe returns True when the internal exists.
_INTERNALS = {
    "keras.src.models.functional.Functional": lambda: hasattr(
        getattr(getattr(keras.src, "models", None), "functional", None),
        "Functional",
    ),
    "keras.Model._compile_loss": lambda: "_compile_loss" in _instance_attributes(),
    "keras.Model._loss_tracker": lambda: "_loss_tracker" in _instance_attributes(),
    "keras.Model._build_shapes_dict": lambda: "_build_shapes_dict" in _instance_attributes(),
    "keras.KerasTensor._keras_history": lambda: hasattr(keras.Input((1,)), "_keras_history"),
    "Functional._run_through_graph": lambda: hasattr(
        keras.src.models.functional.Functional, "_run_through_graph"
    ),
    "Sequential._functional": lambda: "_functional" in _instance_attributes(),
    "Layer._trainable_variables": lambda: "_trainable_variables" in _instance_attributes(),
    "Layer._non_trainable_variables": lambda: "_non_trainable_variables" in _instance_attributes(),
    "Model._aggregate_additional_loss": lambda: hasattr(keras.Model, "_aggregate_additional_loss"),
    "Layer._flatten_layers": lambda: hasattr(keras.layers.Layer, "_flatten_layers"),
    "Operation._inbound_nodes, _outbound_nodes, Node.parent_nodes, Node.input_tensors, "
    "KerasHistory.node_index, KerasHistory.tensor_index": lambda: _graph_probe(),
    "Functional._inputs_struct": lambda: _inputs_struct_probe(),
    "keras.src.backend.get_keras_mask": lambda: all(
        hasattr(keras.src.backend, name) for name in ("get_keras_mask", "set_keras_mask")
    ),
    "keras.Variable._value": lambda: hasattr(keras.Variable(0.0), "_value"),
    "keras.src.backend.AutocastScope": lambda: hasattr(keras.src.backend, "AutocastScope"),
    "keras.src.losses.loss.scale_loss_for_distribution": lambda: all(
        hasattr(keras.src.losses.loss, name)
        for name in ("scale_loss_for_distribution", "unscale_loss_for_distribution")
    ),
}


def _inputs_struct_probe():
    inputs = keras.Input((1,))
    return hasattr(keras.Model(inputs, keras.layers.Identity()(inputs)), "_inputs_struct")


def _graph_probe():
    inputs = keras.Input((1,))
    dense = keras.layers.Dense(1)
    outputs = dense(inputs)
    keras.layers.ReLU()(outputs)
    (node,) = dense._inbound_nodes
    return (
        len(dense._outbound_nodes) == 1
        and isinstance(node.parent_nodes, list)
        and list(node.input_tensors) == [inputs]
        and outputs._keras_history.node_index == 0
        and outputs._keras_history.tensor_index == 0
    )


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


def missing_internals(probes, *args):
    """The names of `probes` (`{name: probe(*args) -> bool}`) whose internal
    is absent; a probe that raises counts as absent (a moved internal may
    fail in any way). Shared with `keras_kd.apps._keras_tuner_compat`."""
    missing = []
    for name, probe in probes.items():
        try:
            present = probe(*args)
        except Exception:
            present = False
        if not present:
            missing.append(name)
    return missing


def check_internals():
    """Raises if an internal that keras-kd reads is missing from this Keras.

    Returns:
        The list of internals checked.

    Example:

    >>> check_internals()[0]
    'keras.src.models.functional.Functional'
    """
    missing = missing_internals(_INTERNALS)
    if missing:
        raise RuntimeError(
            f"keras-kd relies on Keras internals that Keras {keras.__version__} "
            f"does not have: {missing}. Install a Keras version keras-kd "
            "supports (see pyproject.toml), or report this at the keras-kd "
            "issue tracker with your Keras version."
        )
    return list(_INTERNALS)


# Attributes Keras' trainers assign in every step that hold arrays only (the
# JAX trainer's state between steps), never a layer or a variable to track:
# Keras' tracking `__setattr__` walks every array of them, which costs a small
# model's step ~1 us per array. A Keras that renames them only loses the saving.
UNTRACKED_STEP_ATTRIBUTES = frozenset({"_jax_state", "_jax_state_synced"})


def runs_op_by_op():
    """True when the code running now executes op by op, step after step.

    PyTorch's train step runs eagerly (Keras' default, `jit_compile=False`):
    a Python number it reads is read again in the next step, so a value
    assigned between steps reaches it. A traced step (`tf.function`,
    `jax.jit`, `torch.compile`) keeps the number it read when traced:
    False there, and on TensorFlow and JAX always.

    Example:

    >>> runs_op_by_op() == (keras.backend.backend() == "torch")
    True
    """
    if keras.backend.backend() != "torch":
        return False
    return not sys.modules["torch"].compiler.is_compiling()


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


def sublayers(layer, recursive=False):
    """The layers tracked by `layer` (not itself), in a fixed order."""
    return list(layer._flatten_layers(include_self=False, recursive=recursive))


def graph_neighbours(layer):
    """`(producers, consumers)` of a layer called once in a model graph.

    `producers` are the layers whose outputs it takes, `consumers` the
    layers that take its output; `None` for a layer called zero or several
    times symbolically (shared, or only ever called eagerly, as in a
    subclassed model).
    """
    inbound = getattr(layer, "_inbound_nodes", [])
    if len(inbound) != 1:
        return None
    producers = [node.operation for node in inbound[0].parent_nodes]
    consumers = [node.operation for node in getattr(layer, "_outbound_nodes", [])]
    return producers, consumers


def functional_inputs(model):
    """A Functional model's inputs in the structure it takes them, or `None`."""
    return getattr(model, "_inputs_struct", None) if is_functional(model) else None


def built_input_shape(model):
    """The input shape a model was built with, if it has exactly one."""
    shapes = getattr(model, "_build_shapes_dict", None) or {}
    if len(shapes) == 1:
        shape = next(iter(shapes.values()))
        if isinstance(shape, (tuple, list)) and all(isinstance(d, int) or d is None for d in shape):
            return tuple(shape)
    return None


def without_autocast():
    """A context in which float variables read in their own dtype.

    Under a mixed-precision policy a layer's call reads its float32
    variables cast to float16 (on TensorFlow; not on PyTorch); the
    compression state and kernels are computed in float32 whatever the
    policy, so they are read with this.
    """
    return keras.src.backend.AutocastScope(None)


def keras_mask(tensor):
    """The Keras mask a tensor carries (`_keras_mask`), or `None`.

    Layers that support masking (`Embedding(mask_zero=True)`, and the RNN,
    attention and elementwise layers that propagate a mask) attach it to
    their outputs; on JAX and for some TensorFlow tensors Keras keeps it in
    a side table keyed by the tensor, which this reads too.
    """
    return keras.src.backend.get_keras_mask(tensor)


def without_keras_mask(tensor):
    """A copy of `tensor` that carries no Keras mask.

    Keras' losses and metrics read the mask of `y_pred` themselves; a caller
    that has already folded the mask into the sample weights passes them
    this copy, so the mask is not applied twice. The tensor that carries the
    mask is left as it is.
    """
    copy = keras.ops.add(tensor, keras.ops.zeros((), dtype=tensor.dtype))
    if keras_mask(copy) is not None:
        keras.src.backend.set_keras_mask(copy, None)
    return copy


def producing_operation(tensor):
    """The layer (operation) that produced a symbolic `KerasTensor`."""
    return tensor._keras_history.operation


def has_producer(tensor):
    """Whether `tensor` is a symbolic `KerasTensor` with an operation behind it."""
    return hasattr(tensor, "_keras_history")


def producing_index(tensor):
    """Which of its producing operation's outputs a symbolic `KerasTensor`
    is (0 for the first; a model used as a layer may have several)."""
    return tensor._keras_history.tensor_index


def producing_inputs(tensor):
    """The symbolic tensors read by the operation that produced `tensor`;
    `()` for a tensor with no graph behind it (not a `KerasTensor`)."""
    history = getattr(tensor, "_keras_history", None)
    if history is None:
        return ()
    return tuple(history.operation._inbound_nodes[history.node_index].input_tensors)


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


@contextlib.contextmanager
def variables_kept_on_failure(model):
    """Keeps `model`'s variables usable when `fit`/`evaluate`/`predict` fails.

    Keras' JAX trainer detaches ("purges") the value of every model,
    optimizer and metric variable while its stateless step runs, and
    re-attaches them at the end. An error raised inside the first step (a
    loss that raises, bad data found while tracing) leaves them detached:
    `get_weights()` and saving then fail with `'NoneType' object is not
    callable`. On JAX this context builds the optimizer (as `fit` would),
    remembers every value (JAX arrays are immutable: no copy is made) and,
    on any failure, puts back each value that is still detached. Other
    backends never detach values; there it does nothing.

    Args:
        model: The compiled (or not) `keras.Model` about to run.

    Example:

    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    >>> with variables_kept_on_failure(model):
    ...     pass
    """
    if keras.backend.backend() != "jax":
        yield
        return
    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None and not optimizer.built:
        optimizer.build(model.trainable_variables)
    variables = _all_variables(model)
    saved = {id(v): v._value for v in variables}
    try:
        yield
    except BaseException:
        for variable in _all_variables(model):
            if variable._value is None:
                value = saved.get(id(variable))
                if value is None:
                    value = keras.ops.zeros(variable.shape, variable.dtype)
                variable._value = value
        raise


def _all_variables(model):
    variables = list(model.variables)
    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None:
        variables += list(optimizer.variables)
    variables += list(model.metrics_variables)
    return variables


def active_tf_strategy():
    """The `tf.distribute` strategy in scope, or `None`.

    Read through `sys.modules`: keras-kd never imports TensorFlow, and a
    strategy can only be in scope if the user's program imported it.
    """
    tf = sys.modules.get("tensorflow")
    if tf is None or keras.backend.backend() != "tensorflow":
        return None
    return tf.distribute.get_strategy() if tf.distribute.has_strategy() else None


def _check_built_in_scope(strategy, teacher, student):
    """Raises unless every model's variables were created in `strategy`'s
    scope: Keras fails at `fit` with a bare `AssertionError` otherwise."""
    models = teacher if isinstance(teacher, (list, tuple)) else [teacher]
    for role, model in [("teacher", m) for m in models] + [("student", student)]:
        for variable in getattr(model, "weights", []):
            value = getattr(variable, "value", variable)
            if not strategy.extended.variable_created_in_scope(value):
                raise ValueError(
                    f"The Distiller is built inside {type(strategy).__name__}.scope(), "
                    f"but the {role} '{model.name}' was built outside it (its "
                    f"variable '{variable.path}' is not distributed). Build or "
                    "load the teacher and the student inside the same "
                    "`with strategy.scope():` block as the Distiller. See "
                    "docs/scaling.md."
                )


def _is_multi_worker(strategy):
    """True for a `tf.distribute.MultiWorkerMirroredStrategy` (whose class,
    in TensorFlow 2.x, is `CollectiveAllReduceStrategy`)."""
    tf = sys.modules["tensorflow"]
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


def _torch_parallel_wrapper(model):
    """The name of the torch wrapper class of `model`, if it is one."""
    torch = sys.modules.get("torch")
    if torch is None:
        return None
    wrappers = (torch.nn.DataParallel, torch.nn.parallel.DistributedDataParallel)
    return type(model).__name__ if isinstance(model, wrappers) else None


def check_distribution(teacher, student):
    """Raises for a distributed set-up that Keras 3 cannot train.

    - TensorFlow's `MultiWorkerMirroredStrategy`: a plain Keras 3 model
      fails under it with several workers (keras-team/keras#20585).
    - PyTorch: Keras 3 has no distribution for this backend, so a
      `keras.distribution` set on it, or a model wrapped in torch's
      `DataParallel` / `DistributedDataParallel`, would silently train on
      one device or fail deep in a step.

    Args:
        teacher: The teacher given to the `Distiller` (any accepted form).
        student: The student given to the `Distiller`.
    """
    strategy = active_tf_strategy()
    if strategy is not None and _is_multi_worker(strategy):
        raise ValueError(
            "keras-kd cannot train under tf.distribute."
            "MultiWorkerMirroredStrategy (received "
            f"{type(strategy).__name__}): Keras 3 itself fails under it "
            "with several workers (keras-team/keras#20585, open upstream). "
            "To train across machines, use the JAX backend: "
            "keras.distribution.initialize(job_addresses=..., "
            "num_processes=..., process_id=...) in every process, then "
            "keras.distribution.set_distribution(keras.distribution."
            "DataParallel()). On one machine with several GPUs, use "
            "tf.distribute.MirroredStrategy. See docs/scaling.md."
        )
    if strategy is not None:
        _check_built_in_scope(strategy, teacher, student)
    if keras.backend.backend() != "torch":
        return
    if keras.distribution.distribution() is not None:
        raise ValueError(
            "keras.distribution is not supported on the PyTorch backend: "
            "Keras 3 distributes training on JAX (keras.distribution."
            "DataParallel / ModelParallel) and TensorFlow (tf.distribute."
            "MirroredStrategy) only, and a distribution set on PyTorch "
            f"(received {keras.distribution.distribution()!r}) is not "
            "applied. Switch to KERAS_BACKEND=jax or tensorflow, or unset "
            "it with keras.distribution.set_distribution(None)."
        )
    models = teacher if isinstance(teacher, (list, tuple)) else [teacher]
    for role, model in [("teacher", m) for m in models] + [("student", student)]:
        wrapper = _torch_parallel_wrapper(model)
        if wrapper is not None:
            raise ValueError(
                f"The {role} is a torch.nn.{wrapper}-wrapped module: Keras 3 "
                "has no distribution for the PyTorch backend, and keras-kd "
                "distils Keras models. Pass the Keras model itself, and "
                "train data-parallel on the JAX backend (keras.distribution."
                "DataParallel) or TensorFlow (tf.distribute.MirroredStrategy)."
            )
