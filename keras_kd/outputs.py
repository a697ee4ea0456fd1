"""What a model's final outputs are (logits or probabilities), and how to read
them as log-probabilities without ever confusing the two.

A teacher or student whose last layer applies a softmax (the Keras
applications, many tutorials) outputs probabilities. Dividing those by a
temperature as if they were logits is a silent, common bug; the functions here
detect a softmax or sigmoid head; `as_logits` and `log_softmax` (defined
with the losses' other numerics in `keras_kd.losses._numerics`, importable
from here) move every output into log-probability space first.
"""

import warnings

import keras
import numpy as np
from keras import activations
from keras import layers

from keras_kd import _keras_compat
from keras_kd import validation
from keras_kd.checks import LOGITS
from keras_kd.checks import PROBABILITIES
from keras_kd.losses._numerics import as_logits  # noqa: F401  Public here.
from keras_kd.losses._numerics import log_softmax  # noqa: F401  Public here.

_SQUASHING = {
    activations.softmax: "softmax",
    activations.sigmoid: "sigmoid",
    # `keras.ops`' own functions, given as an activation (their softmax
    # normalizes the last axis, as `activations.softmax` does).
    keras.ops.softmax: "softmax",
    keras.ops.sigmoid: "sigmoid",
    # A piecewise-linear sigmoid: each value a probability in [0, 1] too.
    activations.hard_sigmoid: "sigmoid",
    keras.ops.hard_sigmoid: "sigmoid",
}


def _final_layer(model):
    """The layer that produces the model's (first) output, when it can be known.

    A model used as a layer (a teacher wrapped in another model), or a
    layer that wraps a whole model (`keras_kd.compression`'s quantization-
    or pruning-aware wrapper) is looked through: its head is its model's.
    """
    outputs = getattr(model, "outputs", None)
    if outputs:
        try:
            return _head_of(outputs[0])
        except AttributeError:  # Not a symbolic tensor: no graph to read.
            pass
    model_layers = getattr(model, "layers", None)
    if model_layers and isinstance(model, keras.Sequential):
        return model_layers[-1]
    return None


def _head_of(tensor):
    """The layer (or `keras.ops` operation) whose squashing, if any, makes
    the values of the symbolic `tensor`."""
    layer = _producer(_unsqueezed(tensor))
    if _squashing_of(layer) is None:
        # A sigmoid squashes each value alone: any reshape of its
        # outputs (Dense(T, "sigmoid") then Reshape((T, 1))) is one.
        reshaped = _producer(_unsqueezed(tensor, any_axis=True))
        layer = reshaped if _squashing_of(reshaped) == "sigmoid" else layer
    return layer


def _producer(tensor):
    """The operation that produced `tensor`; for a model used as a layer
    (or a layer wrapping a model), the head of the model's output that
    `tensor` is (a model of several outputs: the one taken)."""
    layer = _keras_compat.producing_operation(tensor)
    inner = layer if isinstance(layer, keras.Model) else getattr(layer, "model", None)
    if not isinstance(inner, keras.Model):
        return layer
    inner_outputs = getattr(inner, "outputs", None)
    index = _keras_compat.producing_index(tensor) if inner is layer else 0
    if inner_outputs and index < len(inner_outputs):
        try:
            return _head_of(inner_outputs[index])
        except AttributeError:
            pass
    return _final_layer(inner)


# The operations of `keras.ops` that squash, by class name.
_SQUASHING_OPS = {"Sigmoid": "sigmoid", "Softmax": "softmax", "HardSigmoid": "sigmoid"}

# Operations that only reshape their one input, or pass its values on
# (layers, and `keras.ops`): a squashed head seen through them is one.
# The noise layers pass their values on outside training, as Dropout does.
_RESHAPING = (
    layers.Reshape,
    layers.Flatten,
    layers.Dropout,
    layers.Identity,
    layers.GaussianNoise,
    layers.GaussianDropout,
    layers.AlphaDropout,
    layers.ActivityRegularization,
)
_RESHAPING_OPS = ("Squeeze", "Reshape", "ExpandDims", "Cast")
# Operations that move values across axes: looked through only for an
# activation of each value alone (a sigmoid), never for a softmax.
_PERMUTING = (layers.Permute,)
_PERMUTING_OPS = ("Transpose",)


def _only_reshapes(operation, any_axis=False):
    """Whether `operation` only reshapes (or passes on) its input's values:
    an `Activation("linear")` too (e.g. in float32 for mixed precision);
    with `any_axis`, a transpose too."""
    if isinstance(operation, _RESHAPING + (_PERMUTING if any_axis else ())):
        return True
    if isinstance(operation, layers.Activation):
        return operation.activation is activations.linear
    names = _RESHAPING_OPS + (_PERMUTING_OPS if any_axis else ())
    return not isinstance(operation, layers.Layer) and type(operation).__name__ in names


def _unsqueezed(tensor, any_axis=False):
    """The tensor a one-unit head's outputs were squeezed (or reshaped) from:
    `Dense(1, "sigmoid")` then `Reshape(())` is a sigmoid head. Only a
    reshape of a last axis of one unit, or one that keeps the last axis, is
    looked through (a softmax reshaped across its classes is not one),
    unless `any_axis` (for an activation of each value alone)."""
    while True:
        if not _only_reshapes(_keras_compat.producing_operation(tensor), any_axis):
            return tensor
        inputs = _keras_compat.producing_inputs(tensor)
        if len(inputs) != 1 or not _keras_compat.has_producer(inputs[0]):
            return tensor
        before, after = tuple(inputs[0].shape), tuple(tensor.shape)
        keeps_classes = before and (before[-1] == 1 or (after and after[-1] == before[-1]))
        if not (any_axis or keeps_classes):
            return tensor
        tensor = inputs[0]


def _squashing_of(layer):
    """Returns "softmax", "sigmoid" or None for the activation a layer ends in.

    A `TimeDistributed` layer is read by the layer it applies (a model
    too, by its head); a `Lambda` by its function."""
    if isinstance(layer, layers.TimeDistributed):
        inner = layer.layer
        if isinstance(inner, keras.Model):
            inner = _final_layer(inner)
        return None if inner is None else _squashing_of(inner)
    if isinstance(layer, layers.Softmax):
        return "softmax"
    if not isinstance(layer, layers.Layer):  # keras.ops.sigmoid / softmax in a graph
        return _SQUASHING_OPS.get(type(layer).__name__)
    function = layer.function if isinstance(layer, layers.Lambda) else None
    activation = getattr(layer, "activation", function)
    try:
        return _SQUASHING.get(activation)
    except TypeError:  # An unhashable callable: no squashing function known.
        return None


def detect_output_kind(model, sample_outputs=None):
    """Tells whether a model outputs logits or probabilities.

    The model's graph is read first: a final `Softmax` layer, an `Activation`
    of softmax or sigmoid, or a layer whose `activation` is softmax or sigmoid
    mean probabilities (a sigmoid over several units is a multi-label head:
    see `check_heads` for the losses that read one). For a subclassed model,
    whose graph cannot be read, `sample_outputs` (the model's outputs on a
    real batch) decide: rows that are non-negative and sum to one are
    probabilities.

    Args:
        model: A built Keras model.
        sample_outputs: Optional NumPy array of the model's outputs, used
            only when the graph cannot be read.

    Returns:
        `"logits"` or `"probabilities"`.

    Example:

    >>> model = keras.Sequential([keras.Input((4,)),
    ...                           keras.layers.Dense(3, activation="softmax")])
    >>> detect_output_kind(model)
    'probabilities'
    """
    layer = _final_layer(model)
    if layer is not None:
        return PROBABILITIES if _squashing_of(layer) else LOGITS
    if sample_outputs is not None:
        return _kind_from_values(np.asarray(sample_outputs, dtype="float64"))
    return LOGITS


def probed_output_kind(model):
    """`detect_output_kind`, a subclassed model's outputs probed.

    A one-unit logit head can land in [0, 1] on one small batch (about one
    freshly initialized ReLU network in fifteen), read as a sigmoid: a
    reading of probabilities off values is confirmed on a wider batch (16
    samples, ten times the spread), where logits leave [0, 1] and
    probabilities stay in it.

    Args:
        model: A built Keras model.

    Returns:
        `"logits"` or `"probabilities"`.
    """
    kind = detect_output_kind(model, sample_outputs=validation.probe_outputs(model))
    if kind != PROBABILITIES or _final_layer(model) is not None:
        return kind  # Read off the graph, or logits already.
    try:
        wider = validation.probe_outputs(model, batch_size=16, seed=1, scale=10.0)
    except Exception:  # A model that cannot take such inputs: the first reading.
        return kind
    return detect_output_kind(model, sample_outputs=wider) if wider is not None else kind


def multi_label_units(model):
    """The number of units of a multi-label head, else `None`.

    A multi-label head ends in a sigmoid over more than one unit: each unit
    is its own yes/no probability, and the units do not sum to one.

    Args:
        model: A built Keras model.

    Returns:
        An int, or `None` when the head is not (known to be) multi-label.

    Example:

    >>> model = keras.Sequential([keras.Input((4,)),
    ...                           keras.layers.Dense(5, activation="sigmoid")])
    >>> multi_label_units(model)
    5
    """
    layer = _final_layer(model)
    units = _last_dim(model)
    if layer is None or _squashing_of(layer) != "sigmoid" or units in (None, 1):
        return None
    return units


def _softmaxing(distillation_losses):
    """The losses that read the final outputs and soft-max them."""
    return [
        loss
        for loss in distillation_losses
        if not getattr(loss, "per_unit", False)
        and None in loss.teacher_layers
        and None in loss.student_layers
    ]


def check_not_multi_label(model, reader):
    """Raises if `model` has a multi-label head, which `reader` cannot read.

    Args:
        model: A built Keras model.
        reader: What would soft-max its outputs, and how, for the message
            (e.g. `"TeacherCache.write stores soft-maxed targets"`).

    Raises:
        ValueError: naming the head and pointing to `"binary_kd"`.
    """
    units = multi_label_units(model)
    if units is not None:
        raise ValueError(
            f"Model '{model.name}' ends in a sigmoid over {units} units "
            f"(a multi-label head), but {reader}. Use "
            "distillation_loss='binary_kd' (per-class binary soft targets, "
            "keras_kd.losses.BinaryKD) with a live teacher, or 'mse' to "
            "match the probabilities; or give both models a softmax head "
            "for single-label classes."
        )


def check_not_one_unit_softmax(model):
    """Raises if `model` ends in a softmax over one unit: it outputs 1.0 always.

    A softmax normalizes over the last axis; over one unit every output is
    1.0 whatever the input, so nothing can be learned from it or distilled
    into it (the hard loss and the soft targets are constants).

    Args:
        model: A built Keras model.

    Raises:
        ValueError: naming the model and the sigmoid that fits.

    Example:

    >>> model = keras.Sequential([keras.Input((4,)),
    ...                           keras.layers.Dense(1, activation="softmax")])
    >>> check_not_one_unit_softmax(model)
    Traceback (most recent call last):
    ...
    ValueError: Model 'sequential...' ends in a softmax over one unit, ...
    """
    layer = _final_layer(model)
    if layer is None or _squashing_of(layer) != "softmax" or _last_dim(model) != 1:
        return
    axis = getattr(layer, "axis", -1)
    axes = tuple(axis) if isinstance(axis, (list, tuple)) else (axis,)
    if any(a not in (-1, len(model.output_shape) - 1) for a in axes):
        return  # A softmax over another axis (e.g. over time) varies.
    raise ValueError(
        f"Model '{model.name}' ends in a softmax over one unit, which outputs "
        "1.0 for every input: nothing can be learned from its labels or "
        "distilled into it. For a binary classifier use one sigmoid unit "
        "(keras.layers.Dense(1, activation='sigmoid')) or one logit "
        "(keras.layers.Dense(1)); for classes, one softmax unit per class."
    )


def check_heads(distillation_losses, models, kinds):
    """Refuses a loss that cannot read the heads it is given.

    Any model ending in a softmax over one unit is refused first
    (`check_not_one_unit_softmax`). Losses that read the final outputs
    soft-max them over the classes (`"kd"`, `"dkd"`, ...), unless they
    declare `per_unit = True` (they compare the outputs unit by unit:
    `"binary_kd"`, `"mse"`, `"huber"`).
    A multi-label head has no single distribution per sample to soft-max.
    Losses that compare raw values (`same_kind = True`: `"mse"`, `"huber"`)
    need every model's outputs to be of the same kind.

    Args:
        distillation_losses: The `DistillationLoss` objects of a Distiller.
        models: The teacher's models and the student.
        kinds: What the teacher's outputs are (one `"logits"` or
            `"probabilities"` per teacher model, or per stored set of
            targets), then what the student's are.

    Raises:
        ValueError: naming the head and the loss, and how to fix it.

    Example:

    >>> from keras_kd import losses
    >>> tagger = keras.Sequential([keras.Input((4,)),
    ...                            keras.layers.Dense(5, activation="sigmoid")])
    >>> check_heads([losses.get("binary_kd")], [tagger], ["probabilities"])
    >>> check_heads([losses.get("kd")], [tagger], ["probabilities"])
    Traceback (most recent call last):
    ...
    ValueError: Model 'sequential...' ends in a sigmoid over 5 units (a multi-label head)...
    """
    for model in models:
        check_not_one_unit_softmax(model)
    softmaxing = _softmaxing(distillation_losses)
    for model in models if softmaxing else ():
        reader = softmaxing[0]
        check_not_multi_label(
            model,
            f"the distillation loss {type(reader).__name__} ('{reader.name}') "
            "soft-maxes the outputs into one distribution per sample",
        )
    for loss in softmaxing:
        # A loss that needs more classes than some heads have says so
        # (standardize=True needs 3: see `_numerics.check_standardizable`).
        check_classes = getattr(loss, "check_classes", None)
        for model in models if check_classes else ():
            shape = validation.output_shape(model)
            if shape and shape[-1] is not None:
                check_classes(max(shape[-1], 2), model.name)
    raw = [loss for loss in distillation_losses if getattr(loss, "same_kind", False)]
    stored = [kind for kind in kinds if kind not in ("logits", "probabilities")]
    if raw and stored:
        raise ValueError(
            f"The distillation loss {type(raw[0]).__name__} ('{raw[0].name}') "
            "compares the teacher's and the student's outputs value for value, "
            f"but the teacher's targets are {stored[0]}, which keep no raw "
            "outputs. Write a dense cache (TeacherCache.write(..., top_k=None)) "
            "or use a loss on distributions (e.g. 'kd')."
        )
    if raw and len(set(kinds)) > 1:
        raise ValueError(
            f"The distillation loss {type(raw[0]).__name__} ('{raw[0].name}') "
            "compares the teacher's and the student's outputs value for "
            f"value, but the teacher outputs {' and '.join(kinds[:-1])} and "
            f"the student {kinds[-1]}. Give them "
            "the same head (e.g. both linear), or set `teacher_outputs=` / "
            "`student_outputs=` on the Distiller if one was misread."
        )


# The hard losses (given to `compile`) that mark a regression head, by the
# names of their Keras functions, classes and strings.
_REGRESSION_LOSSES = frozenset(
    name.lower()
    for name in (
        "mse",
        "mae",
        "mape",
        "msle",
        "huber",
        "log_cosh",
        "logcosh",
        "mean_squared_error",
        "mean_absolute_error",
        "mean_absolute_percentage_error",
        "mean_squared_logarithmic_error",
        "huber_loss",
        "MeanSquaredError",
        "MeanAbsoluteError",
        "MeanAbsolutePercentageError",
        "MeanSquaredLogarithmicError",
        "Huber",
        "LogCosh",
    )
)


def _regression_loss_name(loss):
    """How to name `loss` in a message if it is a regression loss, else `None`."""
    if isinstance(loss, str):
        name, shown = loss, repr(loss)
    elif isinstance(loss, keras.losses.Loss):
        name = shown = type(loss).__name__
    else:
        name = shown = getattr(loss, "__name__", "")
    return shown if name.lower() in _REGRESSION_LOSSES else None


def warn_regression_with_soft_targets(hard_loss, distillation_losses):
    """Warns when a regression hard loss meets a loss that soft-maxes outputs.

    A hard loss such as `"mse"` or `keras.losses.Huber()` says the head is a
    regression head; soft-target losses (`"kd"`, ...) would read its values
    as class scores and soft-max them, which is almost surely a mistake.

    Args:
        hard_loss: The `loss` given to `Distiller.compile`.
        distillation_losses: The `DistillationLoss` objects of the Distiller.

    Returns:
        `True` if it warned.

    Example:

    >>> import warnings
    >>> from keras_kd import losses
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     warn_regression_with_soft_targets("mse", [losses.get("kd")])
    True
    >>> warn_regression_with_soft_targets("mse", [losses.get("huber")])
    False
    """
    shown = _regression_loss_name(hard_loss)
    if shown is None:
        return False
    softmaxing = _softmaxing(distillation_losses)
    if not softmaxing:
        return False
    warnings.warn(
        f"compile() received the regression loss {shown}, but the "
        f"distillation loss {type(softmaxing[0]).__name__} "
        f"('{softmaxing[0].name}') soft-maxes the outputs as class scores. "
        "For a regression head use distillation_loss='mse' or 'huber' "
        "(output matching).",
        UserWarning,
        stacklevel=3,
    )
    return True


def _last_dim(model):
    """The width of a graph model's output: 1 for one score per sample
    (`output_shape` `(None,)`, the unit axis squeezed)."""
    shape = getattr(model, "output_shape", None)
    if isinstance(shape, tuple) and shape:
        return shape[-1] if len(shape) > 1 else 1
    return None


def _kind_from_values(values):
    if values.size == 0 or values.min() < 0 or values.max() > 1:
        return LOGITS
    if values.ndim == 1 or values.shape[-1] == 1:
        # A one-unit head in [0, 1] everywhere is almost surely a sigmoid
        # (shape (samples,): its unit axis squeezed, one score per sample).
        return PROBABILITIES
    row_sums = values.sum(axis=-1)
    return PROBABILITIES if np.allclose(row_sums, 1.0, atol=1e-3) else LOGITS


# Keras' losses with a `from_logits` argument, by function and class name;
# given by name (a string) they take its default, `from_logits=False`.
_FROM_LOGITS_LOSSES = frozenset(
    (
        "sparse_categorical_crossentropy",
        "categorical_crossentropy",
        "binary_crossentropy",
        "binary_focal_crossentropy",
        "categorical_focal_crossentropy",
        "SparseCategoricalCrossentropy",
        "CategoricalCrossentropy",
        "BinaryCrossentropy",
        "BinaryFocalCrossentropy",
        "CategoricalFocalCrossentropy",
    )
)


def hard_loss_from_logits(loss):
    """What a Keras hard loss assumes of the outputs it reads.

    Args:
        loss: A loss as given to `compile()`: a string, a `keras.losses.Loss`
            or a function.

    Returns:
        `True` (it reads logits), `False` (probabilities: the default of a
        cross-entropy given by name or as a function), or `None` when the
        loss has no `from_logits` (e.g. `"mse"`, or a list of losses).

    Example:

    >>> hard_loss_from_logits("sparse_categorical_crossentropy")
    False
    >>> hard_loss_from_logits(keras.losses.CategoricalCrossentropy(from_logits=True))
    True
    >>> hard_loss_from_logits("mse") is None
    True
    """
    if isinstance(loss, str):
        try:
            loss = keras.losses.get(loss)
        except (ValueError, TypeError):
            return None
    if isinstance(loss, keras.losses.Loss):
        if type(loss).__name__ not in _FROM_LOGITS_LOSSES:
            return None
        return bool(loss.get_config().get("from_logits", False))
    if getattr(loss, "__name__", None) in _FROM_LOGITS_LOSSES:
        return False
    return None


def reads_binary_labels(loss) -> bool:
    """True for a hard loss that reads its labels as probabilities in [0, 1].

    Binary cross-entropy and its focal variant, given as a `keras.losses.Loss`
    (or a subclass), by name or as Keras' function, alone or as the one loss
    of a list or dict; `False` for anything else (several losses included).

    Example:

    >>> reads_binary_labels("binary_crossentropy"), reads_binary_labels("mse")
    (True, False)
    """
    loss = _resolved_loss(loss)
    if loss is None or isinstance(loss, (list, tuple, dict)):
        return False
    if isinstance(loss, (keras.losses.BinaryCrossentropy, keras.losses.BinaryFocalCrossentropy)):
        return True  # Subclasses included.
    name = (
        type(loss).__name__
        if isinstance(loss, keras.losses.Loss)
        else getattr(loss, "__name__", None)
    )
    return _FROM_LOGITS_CLASS.get(name) in _BINARY_LOSSES


def reads_class_indices(loss) -> bool:
    """True for sparse categorical cross-entropy: labels read as class indices.

    Given as a `keras.losses.Loss` (or a subclass), by name or as Keras'
    function, alone or as the one loss of a list or dict.

    Example:

    >>> reads_class_indices("sparse_categorical_crossentropy"), reads_class_indices("mse")
    (True, False)
    """
    loss = _resolved_loss(loss)
    if isinstance(loss, keras.losses.SparseCategoricalCrossentropy):
        return True
    return getattr(loss, "__name__", None) == "sparse_categorical_crossentropy"


def ignored_class(loss):
    """The label a sparse cross-entropy skips (its `ignore_class`), or `None`.

    Example:

    >>> ignored_class(keras.losses.SparseCategoricalCrossentropy(ignore_class=-1))
    -1
    >>> ignored_class("sparse_categorical_crossentropy") is None
    True
    """
    loss = _only_loss(loss)
    if not isinstance(loss, keras.losses.SparseCategoricalCrossentropy):
        return None
    return loss.get_config().get("ignore_class")


def _resolved_loss(loss):
    """The one loss (`_only_loss`), a name resolved to Keras' own; `None`
    for a name Keras does not know."""
    loss = _only_loss(loss)
    if isinstance(loss, str):
        try:
            return keras.losses.get(loss)
        except (ValueError, TypeError):
            return None
    return loss


def _only_loss(loss):
    """The one loss of a one-element list, tuple or dict (as Keras reads it
    for a single-output model), else `loss` itself."""
    if isinstance(loss, (list, tuple)) and len(loss) == 1:
        return loss[0]
    if isinstance(loss, dict) and len(loss) == 1:
        return next(iter(loss.values()))
    return loss


def one_score_per_sample(model) -> bool:
    """True for a one-unit head: outputs of shape `(samples, ..., 1)`, or
    `(samples,)` (the unit squeezed). Subclassed models included (probed).

    Example:

    >>> one_score_per_sample(keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)]))
    True
    """
    return validation.output_units(model) == 1


def check_hard_loss_fits_units(loss, student) -> None:
    """Refuses a class-index loss on a one-unit student.

    Sparse categorical cross-entropy over one unit is 0 whatever the label
    (one class, always right): a one-unit student compiled with it learns
    nothing from its labels, without an error.

    Args:
        loss: The `loss` given to `Distiller.compile`.
        student: The student model.

    Raises:
        ValueError: naming the loss and the binary cross-entropy that fits.

    Example:

    >>> student = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    >>> check_hard_loss_fits_units("sparse_categorical_crossentropy", student)
    Traceback (most recent call last):
    ...
    ValueError: compile() received a sparse categorical cross-entropy, but the student ...
    """
    if not reads_class_indices(loss) or not one_score_per_sample(student):
        return
    raise ValueError(
        "compile() received a sparse categorical cross-entropy, but the student "
        f"'{student.name}' has one output unit: over one class that loss is 0 "
        "whatever the label, so nothing would be learned from the labels. For a "
        "binary classifier (labels 0 and 1) pass loss=keras.losses.BinaryCrossentropy("
        "from_logits=True) (from_logits=False after a sigmoid); for classes, give "
        "the student one output per class."
    )


def check_hard_loss_matches_head(loss, student_kind, student):
    """Refuses a hard loss that reads the student's outputs as the wrong kind.

    A cross-entropy with `from_logits=False` (Keras' default, and what a loss
    given by name such as `"sparse_categorical_crossentropy"` means) on a
    student that outputs logits trains silently on the wrong loss; so does
    `from_logits=True` on a softmax or sigmoid head.

    Args:
        loss: The `loss` given to `Distiller.compile`.
        student_kind: `"logits"` or `"probabilities"`, as the Distiller read
            the student's head (or as `student_outputs=` set it).
        student: The student model, for the message.

    Raises:
        ValueError: naming the loss, the head and the fix.

    Example:

    >>> student = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    >>> check_hard_loss_matches_head("sparse_categorical_crossentropy", "logits", student)
    Traceback (most recent call last):
    ...
    ValueError: compile() received loss='sparse_categorical_crossentropy', which reads ...
    """
    loss = _only_loss(loss)
    from_logits = hard_loss_from_logits(loss)
    if from_logits is None or from_logits == (student_kind == LOGITS):
        return
    shown = repr(loss) if isinstance(loss, str) else type(loss).__name__
    if not isinstance(loss, (str, keras.losses.Loss)):
        shown = f"keras.losses.{loss.__name__}"
    name = _FROM_LOGITS_CLASS.get(_name_of(loss), "SparseCategoricalCrossentropy")
    if student_kind == LOGITS:
        raise ValueError(
            f"compile() received loss={shown}, which reads the student's "
            "outputs as probabilities (from_logits=False, Keras' default for a "
            f"loss given by name), but the student '{student.name}' outputs "
            "logits (its last layer applies no softmax or sigmoid): it would "
            f"train on the wrong loss. Pass loss=keras.losses.{name}"
            "(from_logits=True), or set student_outputs='probabilities' on "
            "the Distiller if the student's head was misread."
        )
    raise ValueError(
        f"compile() received loss={shown} with from_logits=True, but the "
        f"student '{student.name}' outputs probabilities (its last layer "
        "applies a softmax or sigmoid): it would train on the wrong loss. "
        f"Pass loss=keras.losses.{name}(from_logits=False) (or its name, "
        f"e.g. {_FROM_LOGITS_NAME.get(name, 'sparse_categorical_crossentropy')!r}), "
        "or set student_outputs='logits' on the Distiller if the head was misread."
    )


def _name_of(loss):
    if isinstance(loss, str):
        loss = keras.losses.get(loss)
    if isinstance(loss, keras.losses.Loss):
        return type(loss).__name__
    return loss.__name__


# Each function name's class, and each class's name as a string.
_FROM_LOGITS_NAME = {
    "SparseCategoricalCrossentropy": "sparse_categorical_crossentropy",
    "CategoricalCrossentropy": "categorical_crossentropy",
    "BinaryCrossentropy": "binary_crossentropy",
    "BinaryFocalCrossentropy": "binary_focal_crossentropy",
    "CategoricalFocalCrossentropy": "categorical_focal_crossentropy",
}
_FROM_LOGITS_CLASS = {
    **{name: name for name in _FROM_LOGITS_NAME},
    **{function: cls for cls, function in _FROM_LOGITS_NAME.items()},
}

# The hard losses whose labels are probabilities of the positive class.
_BINARY_LOSSES = ("BinaryCrossentropy", "BinaryFocalCrossentropy")
