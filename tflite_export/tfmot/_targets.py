"""The teacher's soft targets, computed in the user's process for TFMOT.

The teacher runs here, on the user's backend; its outputs are turned into
logits, checked against the student's shape and packed with the labels into
the one `y` array that tf-keras `fit` gets in the TensorFlow child.
"""

import keras
import numpy as np

from keras_kd import checks
from keras_kd import outputs as outputs_lib

# The label stored for an unlabeled sample.
NO_LABEL = -1.0


def teacher_logits(teacher, x, student, teacher_outputs="auto", batch_size=256):
    """The teacher's outputs on `x` as logits (NumPy), checked against the student.

    Args:
        teacher: A Keras model (any backend) or an array of its outputs on `x`.
        x: The inputs.
        student: The student, whose output shape the teacher must share.
        teacher_outputs: `"auto"`, `"logits"` or `"probabilities"`.
        batch_size: Batch size of the teacher's forward passes.

    Returns:
        Float32 array `(len(x), max(classes, 2))`.
    """
    checks.validate_output_kind(teacher_outputs, "teacher_outputs")
    if isinstance(teacher, keras.Model):
        values = teacher.predict(x, batch_size=batch_size, verbose=0)
        model = teacher
    elif isinstance(teacher, np.ndarray) or hasattr(teacher, "__array__"):
        values, model = np.asarray(teacher, dtype="float32"), None
    else:
        raise ValueError(
            "`teacher` must be a Keras model or a NumPy array of the "
            "teacher's outputs on `x`. Received: an object of type "
            f"{type(teacher).__name__}."
        )
    _check_teacher_shape(values, x, student)
    kind = teacher_outputs
    if kind == "auto":
        kind = outputs_lib.detect_output_kind(model, sample_outputs=values)
    return keras.ops.convert_to_numpy(outputs_lib.as_logits(values, kind))


def pack_targets(teacher_logits, y=None):
    """`[teacher logits | label]` rows: the `y` given to tf-keras `fit`.

    Args:
        teacher_logits: Float array `(n, classes)`.
        y: Optional integer labels `(n,)`; missing labels are stored as -1.

    Returns:
        Float32 array `(n, classes + 1)`.
    """
    teacher_logits = np.asarray(teacher_logits, dtype="float32")
    labels = np.full((len(teacher_logits), 1), NO_LABEL, dtype="float32")
    if y is not None:
        labels[:, 0] = np.asarray(y).reshape(-1)
    return np.concatenate([teacher_logits, labels], axis=-1)


def _check_teacher_shape(values, x, student):
    student_shape = tuple(student.output_shape[1:])
    if values.shape[1:] != student_shape or len(values) != len(x):
        raise ValueError(
            "The teacher's outputs must match the student's, one row per "
            f"sample of `x`: expected shape ({len(x)},) + {student_shape} "
            f"(student '{student.name}'), received {values.shape}. Give the "
            "student the teacher's number of classes, and pass the "
            "teacher's outputs on exactly `x`."
        )


def labels_only(x, y, student):
    """Targets for fine-tuning without a teacher: the labels alone."""
    if y is None:
        raise ValueError(
            "Without a teacher (teacher=None) the student can only be "
            "fine-tuned on labels, but y is None. Pass the labels, or a "
            "teacher model or its outputs."
        )
    classes = max(int(student.output_shape[-1]), 2)
    return pack_targets(np.zeros((len(x), classes), "float32"), y)
