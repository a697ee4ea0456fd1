"""Checks on what a user hands the Distiller, each with an error that says
what was received and what is expected."""

import keras
import numpy as np

from keras_kd._keras_compat import built_input_shape
from keras_kd._keras_compat import is_graph_model
from keras_kd._keras_compat import producing_operation
from keras_kd.checks import check_number


def check_model(model, role):
    """Raises unless `model` is a built Keras model."""
    if not isinstance(model, keras.Model):
        raise ValueError(
            f"The {role} must be a keras.Model (Sequential, Functional or "
            f"subclassed). Received: an object of type "
            f"{type(model).__module__}.{type(model).__name__}. Wrap the "
            "network in a Keras model, or load it with "
            "keras.saving.load_model()."
        )
    if not model.built:
        raise ValueError(
            f"The {role} '{model.name}' is not built: it has no weights yet, "
            "so it cannot be distilled. Build it first, e.g. by calling it "
            f"on a batch (`{role}(x[:1])`), by `{role}.build(input_shape)`, "
            "or by giving it a `keras.Input`. A teacher should also be "
            "trained before distillation."
        )
    check_single_output(model, role)
    return model


def build_from_teacher(student, teacher_models):
    """Builds an unbuilt student on a batch shaped like the teacher's inputs.

    A subclassed student that has never been called has no weights: its
    outputs (their kind and shape) cannot be read. Like
    `keras.distillation.Distiller`, which builds it on the first batch, it
    is built here by one call on zeros shaped like one batch of the
    teacher's inputs (the teacher and the student read the same `x`), so
    every check of the `Distiller` reads real outputs. A built student, or
    anything that is not a Keras model, is returned untouched.

    Args:
        student: The student model.
        teacher_models: The teacher's Keras models (may be empty, e.g. for
            stored targets).

    Returns:
        `student`.

    Example:

    >>> class Net(keras.Model):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.head = keras.layers.Dense(3)
    ...     def call(self, x):
    ...         return self.head(x)
    >>> teacher = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    >>> build_from_teacher(Net(), [teacher]).built
    True
    """
    if not isinstance(student, keras.Model) or student.built:
        return student
    for model in teacher_models:
        shape = input_shape(model)
        if shape is not None:
            dtype = "float32"
            if is_graph_model(model):
                dtype = model.inputs[0].dtype
            batch = np.zeros((2,) + tuple(d or 1 for d in shape), dtype=dtype)
            student(batch, training=False)
            return student
    raise ValueError(
        f"The student '{student.name}' is not built (it has no weights "
        "yet), and the teacher gives no input shape to build it from "
        f"(teacher models: {[m.name for m in teacher_models]}). Build the "
        "student first, e.g. by calling it on a batch (`student(x[:1])`) "
        "or by `student.build(input_shape)`."
    )


def check_single_output(model, role):
    """Raises unless `model` has one output tensor (a single head).

    Distillation compares one head of the teacher with one of the student;
    a model with several outputs (a list or a dict of them) would have its
    heads silently averaged, so it is refused with the names of its outputs.
    """
    if isinstance(model, keras.Sequential):
        return
    if is_graph_model(model):
        names = [producing_operation(t).name for t in keras.tree.flatten(model.outputs)]
        structure = model.output
    else:
        structure = probe_outputs(model)
        names = None
    if isinstance(structure, dict):
        names = names if names else list(structure)
        kind = f"a dict of {len(structure)} outputs (keys {sorted(structure)})"
    elif isinstance(structure, (list, tuple)) and len(structure) > 1:
        kind = f"{len(structure)} outputs"
    else:
        return
    listed = f" named {names}" if names else ""
    raise ValueError(
        f"The {role} '{model.name}' has {kind}{listed}, but distillation "
        "compares a single output of the teacher with a single output of "
        "the student. Select the head to distil, e.g. "
        f"`keras.Model({role}.inputs, {role}.get_layer(name).output)` "
        f"or `keras.Model({role}.inputs, {role}.outputs[0])`, and pass "
        "that model."
    )


def check_alpha(alpha):
    """Returns `alpha` as a float after checking it lies in [0, 1]."""
    return check_number(
        "",
        "alpha",
        alpha,
        0,
        1,
        role="is the weight of the student's hard-label loss and",
    )


def check_distillation_scale(scale):
    """Returns `scale` as a float after checking it is a number >= 0."""
    return check_number(
        "",
        "distillation_scale",
        scale,
        low=0,
        role="multiplies the distillation term and",
    )


def probe_outputs(model, batch_size=8, seed=0, scale=1.0):
    """Outputs of a subclassed model on a random batch, as NumPy.

    A subclassed model's graph cannot be read, so its head (logits or
    probabilities) and output shape are read off real outputs: the batch is
    drawn from a normal distribution of standard deviation `scale`. Returns
    `None` for Functional and Sequential models, or when the input shape of
    a subclassed model is unknown.
    """
    if is_graph_model(model):
        return None
    input_shape = built_input_shape(model)
    if input_shape is None:
        return None
    shape = (batch_size,) + tuple(d or 1 for d in input_shape[1:])
    x = np.random.default_rng(seed).normal(scale=scale, size=shape).astype("float32")
    outputs = model(x, training=False)
    if isinstance(outputs, dict):
        return {k: keras.ops.convert_to_numpy(v) for k, v in outputs.items()}
    if isinstance(outputs, (list, tuple)):
        return [keras.ops.convert_to_numpy(v) for v in outputs]
    return keras.ops.convert_to_numpy(outputs)


def output_shape(model):
    """The per-sample output shape of `model`, or `None` if unknown."""
    if is_graph_model(model):
        shape = model.output_shape
        if isinstance(shape, tuple) and all(isinstance(d, int) or d is None for d in shape):
            return tuple(shape[1:])
        return None
    outputs = probe_outputs(model)
    return None if outputs is None else tuple(outputs.shape[1:])


def rows_array(values, who, what, entry, rows):
    """`values` as a NumPy array, a ragged nested list refused by name.

    NumPy's own error ("inhomogeneous shape") names neither the argument nor
    the fix.

    Args:
        values: Array-like, one entry per row.
        who: The receiver, for the message (e.g. `"ViewBatches"`).
        what: The argument, for the message (e.g. ``"labels `y`"``).
        entry: What one row is, e.g. `"label per image"`.
        rows: How many rows are expected.

    Returns:
        The NumPy array.

    Example:

    >>> rows_array([[0], [1, 2]], "ViewBatches", "labels `y`", "label per image", 2)
    Traceback (most recent call last):
    ...
    ValueError: ViewBatches received labels `y` as a ragged nested list ... an array of 2 rows.
    """
    try:
        return np.asarray(values)
    except ValueError:
        raise ValueError(
            f"{who} received {what} as a ragged nested list (its rows differ in "
            f"length). Give one {entry}: an array of {rows} rows."
        ) from None


def output_units(model):
    """The width of `model`'s (per-sample) output, or `None` if unknown.

    The last axis of `output_shape`; `1` for one score per sample squeezed
    to shape `(samples,)` (a one-unit head whose last layer drops the unit
    axis), which has no last axis to read. Subclassed models are probed.

    Example:

    >>> inputs = keras.Input((4,))
    >>> squeezed = keras.layers.Reshape(())(keras.layers.Dense(1)(inputs))
    >>> output_units(keras.Model(inputs, squeezed))
    1
    """
    shape = output_shape(model)
    if shape is None:
        return None
    return shape[-1] if shape else 1


def check_same_output_shape(teacher, student):
    """Raises when teacher and student outputs cannot be compared."""
    teacher_shape, student_shape = output_shape(teacher), output_shape(student)
    if None in (teacher_shape, student_shape):
        return
    if teacher_shape != student_shape:
        raise ValueError(
            "Soft-target distillation compares the teacher's and the "
            "student's outputs class by class, so their shapes must match. "
            f"Received: teacher '{teacher.name}' outputs shape "
            f"{(None,) + teacher_shape}, student '{student.name}' outputs "
            f"shape {(None,) + student_shape}. Give the student the "
            "teacher's number of classes."
        )


def input_shape(model):
    """The per-sample input shape of a single-input model, or `None`."""
    if is_graph_model(model):
        inputs = model.inputs
        if len(inputs) != 1:
            return None
        return tuple(inputs[0].shape[1:])
    shape = built_input_shape(model)
    return None if shape is None else tuple(shape[1:])


def check_not_shared(teacher_models, student):
    """Raises if the student is a teacher model, or shares weights with one.

    The teacher is frozen for distillation: a student that is the teacher
    (`Distiller(m, m)`), or holds one of its layers, would be frozen too and
    train nothing.
    """
    for model in teacher_models:
        if model is student:
            raise ValueError(
                f"The teacher and the student are the same model '{student.name}', "
                "but distillation freezes the teacher and trains the student. "
                "Give the student a model of its own, e.g. "
                "student = keras.models.clone_model(teacher) (fresh weights), "
                "then student.set_weights(teacher.get_weights()) to start from "
                "the teacher's."
            )
        shared = {id(v) for v in model.weights} & {id(v) for v in student.weights}
        if shared:
            raise ValueError(
                f"The student '{student.name}' shares {len(shared)} weights with "
                f"the teacher '{model.name}' (a layer used in both), but "
                "distillation freezes the teacher's weights: the student could "
                "not train them. Build the student from layers of its own "
                "(keras.models.clone_model copies a model)."
            )
