"""A teacher on other inputs than the student's: the dict form and the preprocessor.

`x` reaches the teacher as it is, as `x["teacher"]` when `x` is
`{"teacher": ..., "student": ...}` (the student then reads `x["student"]`),
or as `teacher_preprocessor(x)`. The checks here name what was received and
how to fix it. See docs/inputs.md.
"""

import keras
import numpy as np

from keras_kd import validation

KEYS = ("student", "teacher")


def name_of(preprocessor):
    """What messages call a preprocessor: its layer name, function name or type."""
    if preprocessor is None:
        return None
    return getattr(preprocessor, "name", None) or getattr(
        preprocessor, "__name__", type(preprocessor).__name__
    )


def check_preprocessor(preprocessor):
    """Returns `preprocessor` after checking it is `None`, a layer or a function."""
    if preprocessor is None or isinstance(preprocessor, keras.layers.Layer):
        return preprocessor
    if callable(preprocessor) and not isinstance(preprocessor, type):
        return preprocessor
    raise ValueError(
        "`teacher_preprocessor` must be a Keras layer (e.g. "
        "keras.layers.Resizing(28, 28)) or a function of the student's "
        "inputs written with keras.ops. Received: teacher_preprocessor="
        f"{preprocessor!r} (of type {type(preprocessor).__name__})."
    )


def serialize_preprocessor(preprocessor):
    """The config of a preprocessor, for `Distiller.get_config`.

    A layer is serialized as any Keras layer. A function is saved by its
    registered name, so it must be registered with
    `keras.saving.register_keras_serializable`; any other function is
    refused here, that is when the `Distiller` is saved.
    """
    if preprocessor is None:
        return None
    if not isinstance(preprocessor, keras.layers.Layer):
        name = keras.saving.get_registered_name(preprocessor)
        if keras.saving.get_registered_object(name) is not preprocessor:
            raise ValueError(
                "The Distiller's teacher_preprocessor is the plain Python "
                f"function {getattr(preprocessor, '__qualname__', preprocessor)!r}, "
                "which a saved file cannot hold (its code is not part of the "
                "config). Register it, e.g. @keras.saving.register_keras_"
                "serializable(package='my_package') above its `def`, or use "
                "a Keras layer such as keras.layers.Resizing; then save again."
            )
    return keras.saving.serialize_keras_object(preprocessor)


def split(inputs, teacher):
    """`(student inputs, teacher inputs)`; see `Teacher.split_inputs`."""
    if isinstance(inputs, dict) and _is_pair(inputs, teacher._student_spec):
        _check_pair(inputs, teacher.preprocessor)
        _check_student_fits(inputs["student"], teacher, "x['student']")
        return inputs["student"], inputs["teacher"]
    _check_student_fits(inputs, teacher, "x")
    if teacher.preprocessor is None and not all(
        _fits(validation.input_shape(model), _shape(inputs)) for model in teacher.models
    ):
        return inputs, None  # Student inputs alone: see unreadable_message.
    return inputs, inputs


def _check_student_fits(inputs, teacher, where):
    """Raises unless the student can read `inputs`, in keras-kd's words."""
    name, shape = teacher._student_spec or ("student", None)
    received = _shape(inputs)
    if _fits(shape, received):
        return
    models = ", ".join(
        f"teacher '{m.name}' input shape {(None,) + validation.input_shape(m)}"
        for m in teacher.models
        if validation.input_shape(m) is not None
    )
    raise ValueError(
        f"The student '{name}' reads inputs of shape {(None,) + tuple(shape)}, "
        f"but {where} in this step has shape {received}: the input shapes "
        f"differ ({models or 'a teacher of stored targets'}). If {where} holds "
        "the teacher's inputs, pass x={'teacher': x_teacher, 'student': "
        "x_student} (see docs/inputs.md); otherwise give inputs of the shape "
        "the student was built for."
    )


def check_preprocessor_batch(teacher, student_shape, batch=3):
    """Raises unless the teacher's preprocessor keeps the number of samples
    of a batch and gives every model of the teacher inputs it reads.

    Probed once, on zeros shaped like a batch of the student's inputs: a
    preprocessor that drops or repeats samples (`x[:1]`) would have its
    targets broadcast over the batch, one of the wrong shape would fail in
    the first step.
    """
    preprocessor = teacher.preprocessor
    if preprocessor is None or student_shape is None or None in student_shape:
        return
    probe = np.zeros((batch,) + tuple(student_shape), "float32")
    preprocessed = preprocess(preprocessor, probe)
    outputs = keras.tree.flatten(preprocessed)
    sizes = {_batch_size(o) for o in outputs}
    if sizes != {batch}:
        name = name_of(preprocessor)
        raise ValueError(
            f"teacher_preprocessor '{name}' must give one teacher input per "
            f"student input, but on a batch of {batch} it gave a batch of "
            f"{sorted(s for s in sizes if s is not None) or 'unknown size'}: "
            "the teacher's targets would not match the samples. Transform each "
            "sample (resize, rescale, ...), never select or repeat samples."
        )
    for model in teacher.models:
        check_fits(model, preprocessed, teacher, when="on a batch of the student's inputs")


def _is_pair(inputs, student_spec):
    """Whether a dict `x` means `{"teacher": ..., "student": ...}`.

    It does if it holds either key, or if the student reads one tensor (a
    dict is then no input of its own); a dict of named inputs of a
    multi-input student passes through to both models as before.
    """
    if set(inputs) & set(KEYS):
        return True
    return student_spec is not None and student_spec[1] is not None


def _check_pair(inputs, preprocessor):
    if sorted(inputs) != list(KEYS):
        raise ValueError(
            "A dict `x` gives the teacher and the student inputs of their "
            "own, under exactly the keys 'teacher' and 'student'. Received "
            f"a dict with keys {sorted(inputs)}. Pass x={{'teacher': "
            "x_teacher, 'student': x_student}, or a plain array that both "
            "read."
        )
    if preprocessor is not None:
        raise ValueError(
            "The Distiller has a teacher_preprocessor, which makes the "
            "teacher's inputs from the student's, but `x` is a dict that "
            "also gives the teacher inputs of its own (x['teacher']). Use "
            "one of the two: pass the student's inputs alone, or construct "
            "the Distiller without teacher_preprocessor."
        )
    sizes = [_batch_size(inputs[key]) for key in KEYS]
    if None not in sizes and sizes[0] != sizes[1]:
        raise ValueError(
            "The teacher's and the student's inputs must hold the same "
            f"samples, one for one, but this batch holds {sizes[1]} teacher "
            f"inputs (x['teacher']) and {sizes[0]} student inputs "
            "(x['student']). Batch both entries together, e.g. "
            "tf.data.Dataset.from_tensor_slices(({'teacher': x_teacher, "
            "'student': x_student}, y)).batch(n)."
        )


def _batch_size(tensor):
    shape = getattr(tensor, "shape", None)
    return None if not shape else shape[0]


def _shape(inputs):
    shape = getattr(inputs, "shape", None)
    return None if shape is None else tuple(shape)


def _fits(model_shape, received):
    """Whether inputs of shape `received` (batch axis included) fit `model_shape`."""
    if model_shape is None or received is None:
        return True
    received = received[1:]
    return len(model_shape) == len(received) and all(
        m is None or r is None or m == r for m, r in zip(model_shape, received)
    )


def preprocess(preprocessor, inputs):
    """`preprocessor(inputs)`: a layer runs in inference mode, like the teacher."""
    if isinstance(preprocessor, keras.layers.Layer):
        return preprocessor(inputs, training=False)
    return preprocessor(inputs)


def check_fits(model, inputs, teacher, when="in this step"):
    """Raises unless `model` can read `inputs`, naming both shapes."""
    model_shape = validation.input_shape(model)
    received = _shape(inputs)
    if _fits(model_shape, received):
        return
    raise ValueError(
        f"The teacher '{model.name}' reads inputs of shape "
        f"{(None,) + model_shape}, but its inputs {when} have shape "
        f"{received}{_source(teacher)}"
    )


def _source(teacher):
    if teacher.preprocessor is not None:
        name = name_of(teacher.preprocessor)
        return (
            f": the output of teacher_preprocessor '{name}'. Make the "
            "preprocessor output the teacher's input shape."
        )
    return ": x['teacher']. Pass teacher inputs of the shape the teacher was built for."


def unreadable_message(teacher):
    """Why the teacher cannot read a batch that holds the student's inputs alone."""
    student_name, student_shape = teacher._student_spec or ("student", None)
    shapes = ", ".join(
        f"teacher '{m.name}' input shape {(None,) + validation.input_shape(m)}"
        for m in teacher.models
        if validation.input_shape(m) is not None
    )
    return (
        "The teacher and the student read the same inputs `x` in every "
        f"step, but their input shapes differ. Received: {shapes}, student "
        f"'{student_name}' input shape {(None,) + tuple(student_shape or ())}. "
        "Give the teacher inputs of its own: x as a dict {'teacher': "
        "x_teacher, 'student': x_student}, or Distiller(..., "
        "teacher_preprocessor=keras.layers.Resizing(...)) to make them from "
        "the student's inputs in the step (see docs/inputs.md)."
    )
