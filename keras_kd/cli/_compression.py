"""The native engine of `keras-kd qat` and `keras-kd prune`.

Quantization-aware or pruning-aware distillation with
`keras_kd.compression` and `keras_kd.Distiller`, on the process's own Keras
backend, then `tflite_export.convert`. The TFMOT engine (`--engine tfmot`)
is in `_tfmot`; both read the same arguments and print the same table.
"""

import math

from keras_kd.apps import render
from keras_kd.cli import _loaders
from keras_kd.cli._errors import UsageError
from keras_kd.cli._export import FILE_OPTIONS

# The sparsity reaches its target after this share of the steps, as in the
# TFMOT engine; the rest lets the student recover at the final sparsity.
RAMP_SHARE = 0.7


def _teacher(kwargs):
    teacher = kwargs["teacher"]
    if not hasattr(teacher, "predict"):
        raise UsageError(
            "The native engine distills from a teacher model: pass --teacher "
            "teacher.keras, or --engine tfmot to fine-tune on a .npy of its outputs."
        )
    return teacher


def _distill(student, kwargs):
    """Fits `student` (already compressed) as the Distiller's student."""
    import keras

    from keras_kd import losses
    from keras_kd.classification import compile_classifier
    from keras_kd.distiller import Distiller

    keras.utils.set_random_seed(kwargs["seed"])
    y = kwargs["y"]
    loss = losses.with_temperature("kd", kwargs["temperature"])
    distiller = Distiller(
        _teacher(kwargs),
        student,
        distillation_loss=loss,
        alpha=kwargs["alpha"] if y is not None else 0.0,
        teacher_outputs=kwargs["teacher_outputs"],
    )
    compile_classifier(
        distiller, keras.optimizers.Adam(kwargs["learning_rate"]), labelled=y is not None
    )
    distiller.fit(
        kwargs["x"],
        y,
        epochs=kwargs["epochs"],
        batch_size=kwargs["batch_size"],
        verbose=kwargs["verbose"],
    )
    return student


def check_before_training(tflite_export, student, quantization, kwargs):
    """The labels and the file's options (`--labels`, ...), checked against
    the student and the inputs before the fine-tuning (a refused combination
    costs no training), each named as the command line names it; either
    engine. Returns the file's options as `convert` takes them."""
    inputs = {"--data": kwargs["x"]}
    labelled = {"--data": (kwargs["x"], kwargs["y"])}
    if kwargs["validation_data"] is not None:
        inputs["--validation"] = kwargs["validation_data"][0]
        labelled["--validation"] = kwargs["validation_data"]
    # Integer classes, as the accuracy table (and the TFMOT engine) reads them.
    _loaders.check_student_reads(student, labelled, one_class_per_sample=True)
    return tflite_export.check_file_options(
        student, quantization, **{name: kwargs[name] for name in FILE_OPTIONS}, x=inputs
    )


def _report(tflite_export, path, quantization, kwargs, float_accuracy, sparsity, options):
    """The rows the TFMOT engine prints, measured on the written file (given
    as pixels when it takes uint8 RGB images)."""
    import gzip

    x, y = kwargs["validation_data"] or (kwargs["x"], kwargs["y"])
    if options["image_input"]:
        x = tflite_export.image_pixels(x, options["normalization"])
    accuracy = tflite_export.evaluate(path, x, y).accuracy if y is not None else None
    with open(path, "rb") as f:
        content = f.read()
    percent = render.percent
    rows = [
        ("file", path),
        ("engine", "native (keras_kd.compression)"),
        ("quantization", quantization or "float32"),
        ("float accuracy (before)", percent(float_accuracy)),
        ("final accuracy (LiteRT)", percent(accuracy)),
        ("sparsity", f"{100 * sparsity:.1f}%"),
        ("bytes", f"{len(content):,}"),
        ("gzip bytes", f"{len(gzip.compress(content)):,}"),
    ]
    print(render.two_columns(rows))
    if kwargs["validation_data"] is None and y is not None:
        print("(accuracies on the --data set; pass --validation for held-out ones)")


def _float_accuracy(tflite_export, student, kwargs):
    """The Keras student's accuracy, read as the file's is (a one-unit head
    by its threshold, not an arg-max over one column)."""
    x, y = kwargs["validation_data"] or (kwargs["x"], kwargs["y"])
    if y is None:
        return None
    from keras_kd import outputs as outputs_lib

    predictions = student.predict(x, batch_size=256, verbose=0)
    kind = outputs_lib.detect_output_kind(student)
    return tflite_export.top1_accuracy(predictions, y, output_kind=kind)


def run_qat(tflite_export, kwargs):
    """Quantization-aware distillation, then the int8 file and its table."""
    from keras_kd import compression

    student = kwargs["student"]
    options = check_before_training(tflite_export, student, "int8", kwargs)
    float_accuracy = _float_accuracy(tflite_export, student, kwargs)
    qat = _distill(compression.quantization_aware(student), kwargs)
    tflite_export.convert(qat, kwargs["output_path"], quantization="int8", verbose=0, **options)
    _report(tflite_export, kwargs["output_path"], "int8", kwargs, float_accuracy, 0.0, options)
    return 0


def pruning_steps(num_samples, batch_size, epochs):
    """`(end_step, frequency)` of the native schedule: the target is reached
    after 70% of the steps, in about ten updates.

    Example:

    >>> pruning_steps(60000, 64, 3)
    (1960, 196)
    """
    total = epochs * math.ceil(num_samples / batch_size)
    ramp = max(1, int(total * RAMP_SHARE))
    frequency = max(1, ramp // 10)
    return (ramp // frequency) * frequency, frequency


def run_prune(tflite_export, kwargs, target_sparsity, quantization):
    """Pruning-aware distillation, then the stripped model's file and table."""
    import numpy as np

    from keras_kd import compression

    student = kwargs["student"]
    options = check_before_training(tflite_export, student, quantization, kwargs)
    float_accuracy = _float_accuracy(tflite_export, student, kwargs)
    end_step, frequency = pruning_steps(len(kwargs["x"]), kwargs["batch_size"], kwargs["epochs"])
    pruned = compression.pruning_aware(
        student,
        target_sparsity=target_sparsity,
        begin_step=0,
        end_step=end_step,
        frequency=frequency,
    )
    pruned = _distill(pruned, kwargs)
    plain = compression.strip(pruned)
    mode = tflite_export.modes.get(quantization)
    calibration = kwargs["x"][:500] if mode.needs_calibration else None
    tflite_export.convert(
        plain,
        kwargs["output_path"],
        quantization=quantization,
        representative_data=calibration,
        verbose=0,
        **options,
    )
    shares = list(compression.sparsity(pruned).values())
    _report(
        tflite_export,
        kwargs["output_path"],
        quantization,
        kwargs,
        float_accuracy,
        float(np.mean(shares)),
        options,
    )
    return 0
