"""Quantization-aware distillation. The same file runs under each
KERAS_BACKEND: the teacher's targets are computed in this process, on its
backend, and the QAT file is produced by the TensorFlow worker."""

import os

import keras
import numpy as np
import pytest
from _tfmot_models import L
from _tfmot_models import problem

import tflite_export
from keras_kd.losses import soft_target_kd
from tflite_export import _litert_compat
from tflite_export._worker._job import Job
from tflite_export._worker._job import Training
from tflite_export._worker._runner import run_job
from tflite_export.tfmot import _distill
from tflite_export.tfmot import _targets
from tflite_export.tfmot import _train


@pytest.fixture(scope="module")
def setup():
    return problem()


@pytest.fixture(scope="module")
def qat(setup, tmp_path_factory):
    x, y, validation, teacher, student = setup
    path = tmp_path_factory.mktemp("qat") / "student_qat.tflite"
    return tflite_export.quantization_aware_distill(
        student,
        teacher,
        x,
        y,
        path,
        epochs=2,
        learning_rate=1e-3,
        validation_data=validation,
        verbose=0,
    )


def _kernel_dtypes(path):
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path))
    interpreter.allocate_tensors()
    tensors = {t["index"]: t for t in interpreter.get_tensor_details()}
    return {
        op["op_name"]: tensors[op["inputs"][1]]["dtype"].__name__
        for op in _litert_compat.ops_details(interpreter)
        if op["op_name"] in ("CONV_2D", "FULLY_CONNECTED")
    }


@pytest.mark.slow
def test_qat_file_has_int8_kernels(qat):
    assert os.path.getsize(qat.path) == qat.bytes > 0
    assert 0 < qat.gzip_bytes < qat.bytes
    assert qat.quantization == "int8"
    assert _kernel_dtypes(qat.path) == {"CONV_2D": "int8", "FULLY_CONNECTED": "int8"}


@pytest.mark.slow
def test_qat_accuracy_at_least_post_training_int8(qat):
    assert qat.evaluated_on == "validation_data"
    assert qat.ptq_accuracy is not None and qat.float_accuracy is not None
    assert qat.accuracy >= qat.ptq_accuracy
    assert qat.accuracy > 0.6  # chance is 1/3
    assert len(qat.history["loss"]) == 2


def test_tensorflow_loss_agrees_with_keras_kd_and_numpy():
    rng = np.random.default_rng(3)
    teacher_logits = rng.normal(scale=3.0, size=(16, 5)).astype("float32")
    student_logits = rng.normal(scale=3.0, size=(16, 5)).astype("float32")
    labels = rng.integers(0, 5, size=16)
    labels[:4] = -1  # unlabeled rows: soft targets only
    packed = _targets.pack_targets(teacher_logits, labels)
    temperature, alpha = 3.0, 0.25
    loss = _train.distillation_loss(temperature, alpha)(packed, student_logits)

    def log_softmax(z):
        z = z - z.max(-1, keepdims=True)
        return z - np.log(np.exp(z).sum(-1, keepdims=True))

    p_t = np.exp(log_softmax(teacher_logits / temperature))
    soft = temperature**2 * np.sum(
        p_t * (np.log(p_t) - log_softmax(student_logits / temperature)), -1
    )
    hard = -log_softmax(student_logits)[np.arange(16), np.maximum(labels, 0)]
    expected = np.where(labels >= 0, alpha * hard + (1 - alpha) * soft, soft)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loss), expected, rtol=1e-5, atol=1e-6)
    keras_kd_soft = keras.ops.convert_to_numpy(
        soft_target_kd(teacher_logits, student_logits, temperature)
    )
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(loss)[:4], keras_kd_soft[:4], rtol=1e-5, atol=1e-6
    )


def test_probability_students_are_read_as_log_probabilities():
    logits = np.random.default_rng(4).normal(size=(6, 3)).astype("float32")
    probabilities = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    packed = _targets.pack_targets(logits)
    from_logits = _train.distillation_loss(2.0, 0.1)(packed, logits)
    from_probabilities = _train.distillation_loss(2.0, 0.1, "probabilities")(packed, probabilities)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(from_probabilities), 0.0, atol=1e-5)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(from_logits), 0.0, atol=1e-5)


def test_teacher_targets_are_logits_from_model_or_array(setup):
    x, _, _, teacher, student = setup
    probabilities = keras.ops.convert_to_numpy(teacher.predict(x[:32], verbose=0))
    from_model = _targets.teacher_logits(teacher, x[:32], student)
    from_array = _targets.teacher_logits(probabilities, x[:32], student)
    np.testing.assert_allclose(from_model, np.log(probabilities), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(from_array, from_model, rtol=1e-6)


def test_teacher_with_other_classes_is_refused(setup):
    x, y, _, _, student = setup
    with pytest.raises(ValueError, match=r"expected shape \(384,\) \+ \(3,\).*received \(384, 4\)"):
        tflite_export.quantization_aware_distill(student, np.zeros((384, 4)), x, y)
    with pytest.raises(ValueError, match=r"received \(10, 3\)"):
        tflite_export.quantization_aware_distill(student, np.zeros((10, 3)), x, y)


def test_subclassed_student_is_refused_before_any_work(setup):
    x, y, _, teacher, _ = setup

    class Mine(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = L.Dense(3)

        def call(self, inputs):
            return self.dense(keras.ops.reshape(inputs, (-1, 64)))

    mine = Mine()
    mine(x[:1])
    with pytest.raises(ValueError, match="subclassed model .* needs a Sequential or Functional"):
        tflite_export.quantization_aware_distill(mine, teacher, x, y)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"epochs": 0}, "`epochs` must be an integer >= 1"),
        ({"alpha": 1.5}, "`alpha` .* must be a number in \\[0, 1\\]"),
        ({"temperature": 0}, "temperature must be a number > 0"),
        ({"learning_rate": -1.0}, "`learning_rate` must be a number > 0"),
        ({"seed": -1}, "`seed` must be an integer >= 0"),
    ],
)
def test_bad_settings_are_refused(setup, kwargs, message):
    x, y, _, teacher, student = setup
    with pytest.raises(ValueError, match=message):
        tflite_export.quantization_aware_distill(student, teacher, x, y, **kwargs)


NAMES = ["circle", "square", "triangle"]


@pytest.fixture
def no_child(monkeypatch):
    """The TFMOT child may not start: what is checked is checked before it."""

    def started(*args, **kwargs):
        raise AssertionError("the TFMOT child started before the checks")

    monkeypatch.setattr(_distill, "run_job", started)


def _assert_refused_before_the_child(function, student, teacher, x, y, folder, kwargs, message):
    """`function` ("qat" or "prune") refuses with `message`, writing nothing
    (with `no_child`: before its child starts)."""
    distill = {
        "qat": tflite_export.quantization_aware_distill,
        "prune": tflite_export.prune_distill,
    }[function]
    with pytest.raises(ValueError, match=message):
        distill(student, teacher, x, y, folder / "out.tflite", **kwargs)
    assert not (folder / "out.tflite").exists()


@pytest.mark.parametrize(
    "function, kwargs, message",
    [
        # Each was a TypeError (no such argument): the file had no metadata.
        ("qat", {"labels": NAMES, "normalization": (0, 1)}, "Pass image_input='uint8_rgb'"),
        ("prune", {"labels": NAMES, "normalization": (0, 1)}, "Pass image_input='uint8_rgb'"),
        ("qat", {"image_input": "uint8_rgb"}, "needs normalization="),
        (
            "qat",
            {"labels": NAMES[:2], "image_input": "uint8_rgb", "normalization": (0, 1)},
            "labels has 2 names but the model outputs 3 classes",
        ),
        (
            "prune",
            {"quantization": "int8_io", "image_input": "uint8_rgb", "normalization": (0, 1)},
            "makes the input int8",
        ),
        ("qat", {"image_input": "rgb"}, "image_input must be None or one of"),
        # x (normal, std about 1.8) as pixels x * 255: half clipped to 0. Was:
        # trained, then calibrated and measured on the clipped images.
        (
            "prune",
            {"labels": NAMES, "normalization": (0, 255), "image_input": "uint8_rgb"},
            r"x does not fit normalization=.* \(127.5, 127.5\) for \[-1, 1\]",
        ),
        (
            "qat",
            {
                "normalization": (127.5, 18),
                "image_input": "uint8_rgb",
                "validation_data": (np.full((4, 8, 8, 1), 9.0, "float32"), np.zeros(4, "int32")),
            },
            r"100% of the values of validation_data lie outside",
        ),
        ("qat", {"probabilities": "yes"}, "probabilities must be True or False"),
        ("qat", {"metadata": {"colour": "red"}}, "metadata as a dict takes non-empty strings"),
        (
            "qat",
            {"normalization": {"mean": 0, "std": -1}},
            r"normalization\['std'\] must be positive",
        ),
    ],
)
def test_bad_file_options_are_refused_before_the_child_starts(
    setup, tmp_path, no_child, function, kwargs, message
):
    x, y, _, teacher, student = setup
    _assert_refused_before_the_child(function, student, teacher, x, y, tmp_path, kwargs, message)


def _one_unit(name, squeezed=False):
    """A one-unit student; `squeezed`: its outputs reshaped to `(samples,)`."""
    layers = [keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(1)]
    return keras.Sequential(layers + [keras.layers.Reshape(())] * squeezed, name=name)


@pytest.mark.parametrize(
    "function, units, labels, validation_labels, message",
    [
        # Each started the child first; the one-unit case then failed in its
        # evaluation ("y holds labels from 0 to 9, but the model has 2 classes").
        ("qat", 3, [0, 1, 7], None, r"^y: every class label must be in \[0, 2\]"),
        ("prune", 3, [0, 1, 2], [0, -1, 2], r"^validation_data's labels: every class label"),
        (
            "qat",
            1,
            [0, 4, 9],
            None,
            r"^y: binary cross-entropy reads labels in \[0, 1\].*Labels 0 to 9 name 10 classes",
        ),
        # Was: NumPy's "all the input arrays must have same number of
        # dimensions" (packing the targets), for labels 0-1 as for 0-9.
        (
            "qat",
            "squeezed",
            [0, 1, 1],
            None,
            r"^The TFMOT engine reads the student's outputs as \(samples, units\), but "
            r"'student' outputs shape \(None,\).*Reshape",
        ),
        ("prune", "squeezed", [0, 4, 9], None, r"^The TFMOT engine reads"),
        (
            "prune",
            1,
            [0, 1, 1],
            [0.0, 2.5, 1.0],
            r"^validation_data's labels: .*not whole numbers or not finite \(e\.g\. 2\.5\)",
        ),
        # Were packed as they came: the child read 0.5 as class 0, 1.5 as
        # class 1 and NaN as "no label" (soft-target loss only), or NumPy
        # failed to broadcast the labels into the packed targets.
        ("qat", 1, [0.5, 1.0], None, r"^y: the labels are read as integer classes.*e\.g\. 0\.5"),
        ("prune", 3, [0.0, 1.5, 2.0], None, r"^y: .*\(e\.g\. 1\.5\): a label 0\.5 would be read"),
        ("qat", 3, [0, 1, 2], [np.nan, 1.0], r"^validation_data's labels: .*\(e\.g\. nan\)"),
        ("qat", 3, "one-hot", None, r"^y: one integer class label per sample is read.*One-hot"),
        (
            "prune",
            3,
            [0, 1, 2],
            (2, [0, 1, 2, 0]),
            r"shape \(2,\) for 2 inputs\. Received: shape \(4,\)",
        ),
    ],
)
def test_labels_the_student_cannot_read_are_refused_before_the_child_starts(
    setup, tmp_path, no_child, function, units, labels, validation_labels, message
):
    x, _, _, teacher, student = setup
    if units in (1, "squeezed"):
        squeezed = units == "squeezed"
        teacher, student = _one_unit("teacher", squeezed), _one_unit("student", squeezed)
    if isinstance(labels, str):  # one-hot
        y = np.eye(units)[np.arange(len(x)) % units]
    else:
        y = np.resize(np.asarray(labels), len(x))
    kwargs = {}
    if validation_labels is not None:
        # (inputs, labels) when they differ in number, else the labels.
        samples, validation_labels = (
            validation_labels
            if isinstance(validation_labels, tuple)
            else (len(validation_labels), validation_labels)
        )
        kwargs["validation_data"] = (x[:samples], np.asarray(validation_labels))
    _assert_refused_before_the_child(function, student, teacher, x, y, tmp_path, kwargs, message)


@pytest.mark.parametrize(
    "output, label_file, message",
    [
        # Each trained, then the child's file overwrote the label file, or
        # its convert refused the .json output after the training.
        ("names.txt", "names.txt", "is also an input of this work"),
        ("names.tflite", "names.json", "Its sidecar .* is also an input"),
        ("out.json", None, "ends in .json, the name of its own sidecar"),
    ],
)
def test_an_output_that_would_overwrite_the_labels_is_refused_before_the_child(
    setup, tmp_path, no_child, output, label_file, message
):
    x, y, _, teacher, student = setup

    labels = NAMES
    if label_file is not None:
        labels = tmp_path / label_file
        labels.write_text("\n".join(NAMES) + "\n")
    options = {"labels": labels, "normalization": (0, 1), "image_input": "uint8_rgb"}
    with pytest.raises(ValueError, match=message):
        tflite_export.prune_distill(student, teacher, x, y, tmp_path / output, **options)
    if label_file is not None:
        assert labels.read_text() == "\n".join(NAMES) + "\n"


def test_file_options_of_numpy_types_reach_the_child_as_json(setup, tmp_path, monkeypatch):
    x, y, _, teacher, student = setup
    received = {}

    def child(job, *args, **kwargs):
        received.update(Job.from_json(job.to_json()).file_options)
        raise RuntimeError("stop before training")

    monkeypatch.setattr(_distill, "run_job", child)
    with pytest.raises(RuntimeError, match="stop before training"):
        # Was a TypeError: Object of type bool is not JSON serializable.
        tflite_export.quantization_aware_distill(
            student,
            teacher,
            x,
            y,
            tmp_path / "out.tflite",
            labels=np.array(NAMES),
            normalization={"mean": np.full(1, 127.5), "std": np.float32(18)},
            image_input="uint8_rgb",
            probabilities=np.bool_(True),
        )
    assert received == {
        "labels": NAMES,
        "normalization": {"mean": [127.5], "std": 18.0},
        "image_input": "uint8_rgb",
        "probabilities": True,
        "metadata": None,
    }


@pytest.mark.slow
def test_worker_failure_shows_its_stderr(tmp_path):
    """A TFMOT child that crashes (here: its arrays are missing) raises
    ExportError with the child's stderr, like a failed conversion."""
    training = Training(
        seed=0, epochs=1, batch_size=8, temperature=4.0, alpha=0.1, learning_rate=1e-3
    )
    job = Job(
        "qat",
        str(tmp_path),
        str(tmp_path / "student.keras"),
        str(tmp_path / "out.tflite"),
        "int8",
        training=training,
    )
    keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)]).save(job.model)
    with pytest.raises(
        tflite_export.ExportError, match=r"(?s)runs TFMOT failed \(exit code 1\).*arrays.npz"
    ):
        run_job(job, "runs TFMOT")


def test_without_teacher_labels_are_required(setup):
    x, _, _, _, student = setup
    with pytest.raises(ValueError, match=r"Without a teacher \(teacher=None\) .* but y is None"):
        tflite_export.quantization_aware_distill(student, None, x)
